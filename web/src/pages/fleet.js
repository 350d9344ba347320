// Fleet: one tile per device, virtualised (only visible rows are rendered),
// re-rendered at most once per frame from the live store.
import { useEffect, useRef, useState, useMemo } from 'preact/hooks';
import { html, fmtValue, fmtAgo, fmtUtc, Severity, sevRank, navigate } from '../util.js';
import { get, ApiError } from '../api.js';
import {
  devices, latest, devicesVersion, readingsVersion, alertsVersion, now, worstAlerts,
  isStale, fetchState, loadError, resyncCount,
} from '../live.js';
import { Sparkline, ErrorBox } from '../components.js';

const TILE_W = 230;
const ROW_H = 142;
const GAP = 10;

export function FleetPage() {
  const [q, setQ] = useState('');
  const [type, setType] = useState('');
  const [group, setGroup] = useState('');
  const [status, setStatus] = useState('');
  const [groups, setGroups] = useState(null);
  const [scroll, setScroll] = useState(0);
  const [size, setSize] = useState({ w: 1000, h: 600 });
  const box = useRef();
  const dv = devicesVersion.value;
  const rv = readingsVersion.value;
  const av = alertsVersion.value;
  const t = now.value;

  useEffect(() => {
    get('/groups?limit=1000').then((r) => setGroups(r.items || []), (e) => setGroups(e instanceof ApiError ? [] : []));
  }, []);
  useEffect(() => {
    const el = box.current;
    const ro = new ResizeObserver(() => setSize({ w: el.clientWidth, h: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const types = useMemo(() => [...new Set([...devices.values()].map((d) => d.type).filter(Boolean))].sort(), [dv]);
  const worst = worstAlerts();

  const list = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const out = [];
    for (const d of devices.values()) {
      if (type && d.type !== type) continue;
      if (group && !(d.group_ids || []).map(String).includes(group)) continue;
      if (needle && !d.id.toLowerCase().includes(needle) && !(d.name || '').toLowerCase().includes(needle)) continue;
      const lastTs = latest.get(d.id)?.lastTs || d.last_seen || 0;
      if (status === 'alerting' && !worst.has(d.id)) continue;
      if (status === 'offline' && d.online) continue;
      if (status === 'stale' && !isStale(d.id, lastTs, t)) continue;
      out.push(d);
    }
    out.sort((a, b) => sevRank(worst.get(b.id)?.severity) - sevRank(worst.get(a.id)?.severity) || (a.id < b.id ? -1 : 1));
    return out;
  }, [dv, av, q, type, group, status, status === 'stale' ? t : 0]);

  const cols = Math.max(1, Math.floor((size.w + GAP) / (TILE_W + GAP)));
  const rows = Math.ceil(list.length / cols);
  const first = Math.max(0, Math.floor(scroll / ROW_H) - 1);
  const last = Math.min(rows, Math.ceil((scroll + size.h) / ROW_H) + 1);
  const visible = list.slice(first * cols, last * cols);

  // Latest values of visible tiles that the WebSocket has not brought yet
  // (retried every 10 s while a tile has none: a reading may race the subscription).
  useEffect(() => {
    const id = setTimeout(() => visible.forEach((d) => fetchState(d.id)), 150);
    return () => clearTimeout(id);
  }, [first, last, list, resyncCount.value, Math.floor(t / 10000)]);

  return html`<section class="fleet">
    <div class="toolbar" role="search">
      <h1>Fleet <span class="muted small" data-testid="fleet-count">${list.length} of ${devices.size} devices</span></h1>
      <input type="search" placeholder="Search id or name" aria-label="Search devices" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <select aria-label="Type" value=${type} onChange=${(e) => setType(e.target.value)}>
        <option value="">All types</option>${types.map((x) => html`<option value=${x}>${x}</option>`)}
      </select>
      ${groups?.length ? html`<select aria-label="Group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">All groups</option>${groups.map((g) => html`<option value=${String(g.id)}>${g.name || g.id}</option>`)}
      </select>` : null}
      <select aria-label="Status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">Any status</option><option value="alerting">Alerting</option>
        <option value="offline">Offline</option><option value="stale">Stale</option>
      </select>
    </div>
    <${ErrorBox} error=${loadError.value} label="Could not load devices" />
    <div class="fleet-scroll" ref=${box} onScroll=${(e) => setScroll(e.currentTarget.scrollTop)} data-testid="fleet">
      <div style=${`height:${rows * ROW_H}px;position:relative`}>
        <div class="tiles" style=${`transform:translateY(${first * ROW_H}px);grid-template-columns:repeat(${cols}, minmax(0, 1fr))`}>
          ${visible.map((d) => html`<${Tile} key=${d.id} d=${d} worst=${worst.get(d.id)} t=${t} rv=${rv} />`)}
        </div>
      </div>
      ${devices.size === 0 ? html`<p class="muted empty">No devices yet. Devices appear here when they publish telemetry or are created under Admin.</p>` : null}
    </div>
  </section>`;
}

function Tile({ d, worst, t }) {
  const e = latest.get(d.id);
  const lastTs = e?.lastTs || d.last_seen || 0;
  const stale = isStale(d.id, lastTs, t);
  const metrics = e ? Object.entries(e.metrics).sort((a, b) => (a[0] < b[0] ? -1 : 1)) : [];
  const sparkMetric = metrics[0]?.[0];
  const cls = ['tile', worst ? 'tile-' + worst.severity : '', !d.online ? 'offline' : '', stale ? 'stale' : ''].join(' ');
  return html`<a class=${cls} href=${'#/device/' + encodeURIComponent(d.id)} data-testid=${'tile-' + d.id}
      style=${`height:${ROW_H - GAP}px`} onKeyDown=${(ev) => ev.key === ' ' && (ev.preventDefault(), navigate('#/device/' + encodeURIComponent(d.id)))}>
    <div class="tile-head">
      <span class="tile-name" title=${d.id}>${d.name || d.id}</span>
      <span class=${'pill ' + (d.online ? 'on' : 'off')}>${d.online ? 'online' : 'offline'}</span>
    </div>
    <div class="tile-sub">
      ${worst ? html`<${Severity} s=${worst.severity} />` : html`<span class="sev sev-ok"><span aria-hidden="true">●</span> ok</span>`}
      <span class=${stale ? 'stale-text' : 'muted'} title=${fmtUtc(lastTs)}>${stale ? 'stale · ' : ''}${fmtAgo(lastTs, t)}</span>
    </div>
    <div class="tile-values">
      ${metrics.slice(0, 3).map(([m, v]) => html`<span class="kv" data-metric=${m}><span class="k">${m}</span> <b class="v">${fmtValue(v.value)}</b></span>`)}
      ${metrics.length === 0 ? html`<span class="muted">no readings</span>` : null}
    </div>
    <${Sparkline} points=${sparkMetric ? e.spark[sparkMetric] : null} stale=${stale} w=${200} h=${26} />
  </a>`;
}
