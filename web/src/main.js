// Shell: hash router, session gate, navigation.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html, roleAtLeast } from './util.js';
import { session, sessionState, refresh, logout, role } from './api.js';
import { startLive, stopLive, alertsVersion, worstAlerts } from './live.js';
import { LiveIndicator } from './components.js';
import { LoginPage } from './pages/login.js';
import { FleetPage } from './pages/fleet.js';
import { DevicePage } from './pages/device.js';
import { AlertsPage } from './pages/alerts.js';
import { AlertDetail } from './pages/alert_detail.js';
import { GroupsPage } from './pages/groups.js';
import { RulesPage } from './pages/rules.js';
import { AdminPage } from './pages/admin.js';
import { MapPage } from './pages/map.js';
import { IncidentsPage } from './pages/incidents.js';
import { SilencesPage } from './pages/silences.js';
import { ContactsPage } from './pages/contacts.js';
import { ChannelsPage } from './pages/channels.js';
import { OeePage } from './pages/oee.js';

function parseHash() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'fleet', args: parts.slice(1), query: new URLSearchParams(query) };
}

function useRoute() {
  const [r, setR] = useState(parseHash());
  useEffect(() => {
    const f = () => setR(parseHash());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

const NAV = [
  ['fleet', 'Fleet'],
  ['alerts', 'Alerts'],
  ['incidents', 'Incidents'],
  ['silences', 'Silences'],
  ['map', 'Map'],
  ['oee', 'OEE'],
  ['groups', 'Groups'],
  ['rules', 'Rules'],
  ['contacts', 'Contacts', 'operator'],
  ['channels', 'Channels', 'admin'],
  ['admin', 'Admin', 'admin'],
];

function OpenAlertCount() {
  alertsVersion.value;
  const n = worstAlerts().size;
  return n ? html`<span class="badge" title="devices with open alerts">${n}</span>` : null;
}

function Shell({ route }) {
  const [menu, setMenu] = useState(false);
  const s = session.value;
  let page;
  switch (route.page) {
    case 'device': page = html`<${DevicePage} id=${route.args[0]} query=${route.query} />`; break;
    case 'alerts': page = route.args[0] ? html`<${AlertDetail} key=${route.args[0]} id=${route.args[0]} />` : html`<${AlertsPage} query=${route.query} />`; break;
    case 'groups': page = html`<${GroupsPage} args=${route.args} />`; break;
    case 'rules': page = html`<${RulesPage} args=${route.args} />`; break;
    case 'incidents': page = html`<${IncidentsPage} args=${route.args} />`; break;
    case 'silences': page = html`<${SilencesPage} />`; break;
    case 'contacts': page = html`<${ContactsPage} />`; break;
    case 'channels': page = html`<${ChannelsPage} />`; break;
    case 'admin': page = html`<${AdminPage} />`; break;
    case 'map': page = html`<${MapPage} />`; break;
    case 'oee': page = html`<${OeePage} />`; break;
    default: page = html`<${FleetPage} query=${route.query} />`;
  }
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/fleet">Peregrine</a>
      <button class="menu-btn icon" aria-label="Menu" aria-expanded=${menu} onClick=${() => setMenu(!menu)}>☰</button>
      <nav class=${menu ? 'open' : ''} aria-label="Main">
        ${NAV.filter(([, , min]) => !min || roleAtLeast(role.value, min)).map(
          ([k, label]) => html`<a href=${'#/' + k} class=${route.page === k || (k === 'fleet' && route.page === 'device') ? 'active' : ''}
            aria-current=${route.page === k ? 'page' : undefined} onClick=${() => setMenu(false)}>${label}${k === 'alerts' ? html` <${OpenAlertCount} />` : null}</a>`,
        )}
      </nav>
      <div class="spacer"></div>
      <${LiveIndicator} />
      <span class="who" data-testid="who" title=${s?.email}>${s?.email} <span class="role" data-testid="role">${s?.role}</span></span>
      <button onClick=${logout} data-testid="logout">Log out</button>
    </header>
    <main id="main" tabindex="-1">${page}</main>`;
}

function App() {
  const route = useRoute();
  const st = sessionState.value;
  useEffect(() => {
    if (st === 'unknown') {
      // A kept refresh token with the server unreachable: keep trying rather than ask for a password.
      const attempt = () =>
        refresh().then((ok) => {
          if (ok || sessionState.peek() !== 'unknown') return;
          if (localStorage.getItem('peregrine.refresh_token')) setTimeout(attempt, 2000);
          else sessionState.value = 'out';
        });
      attempt();
    }
    if (st === 'in') startLive();
    if (st === 'out') stopLive();
  }, [st]);
  if (st === 'unknown') return html`<div class="center muted" role="status">Connecting to Peregrine…</div>`;
  if (st === 'out') return html`<${LoginPage} />`;
  return html`<${Shell} route=${route} />`;
}

render(html`<${App} />`, document.getElementById('app'));
