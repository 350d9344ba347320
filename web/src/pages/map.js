// Map: devices on a plain SVG equirectangular projection (no tile server),
// coloured and shaped by their worst open alert; click opens the device.
import { useMemo, useState } from 'preact/hooks';
import { html, SEV_ICON, navigate } from '../util.js';
import { devices, devicesVersion, alertsVersion, worstAlerts } from '../live.js';

const W = 1000;
const H = 500;
const SEV_COLOR = { critical: '#dc2626', warning: '#d97706', info: '#2563eb', ok: '#059669', offline: '#6b7280' };

export function MapPage() {
  const [fit, setFit] = useState(true);
  const dv = devicesVersion.value;
  const av = alertsVersion.value;
  const worst = worstAlerts();
  const placed = useMemo(() => [...devices.values()].filter((d) => d.location && Number.isFinite(d.location.lat) && Number.isFinite(d.location.lon)), [dv]);

  // Viewport in degrees: the whole world, or the devices' bounding box with a margin.
  let [lon0, lon1, lat0, lat1] = [-180, 180, -90, 90];
  if (fit && placed.length) {
    lon0 = Math.min(...placed.map((d) => d.location.lon));
    lon1 = Math.max(...placed.map((d) => d.location.lon));
    lat0 = Math.min(...placed.map((d) => d.location.lat));
    lat1 = Math.max(...placed.map((d) => d.location.lat));
    const span = Math.max(lon1 - lon0, (lat1 - lat0) * 2, 0.02);
    const cx = (lon0 + lon1) / 2, cy = (lat0 + lat1) / 2;
    lon0 = cx - span * 0.6; lon1 = cx + span * 0.6;
    lat0 = cy - span * 0.3; lat1 = cy + span * 0.3;
  }
  const x = (lon) => ((lon - lon0) / (lon1 - lon0)) * W;
  const y = (lat) => ((lat1 - lat) / (lat1 - lat0)) * H;
  const step = niceStep((lon1 - lon0) / 8);
  const grid = [];
  for (let g = Math.ceil(lon0 / step) * step; g <= lon1; g += step) grid.push(html`<line x1=${x(g)} x2=${x(g)} y1="0" y2=${H} /><text x=${x(g) + 2} y=${H - 4}>${round(g)}°</text>`);
  for (let g = Math.ceil(lat0 / step) * step; g <= lat1; g += step) grid.push(html`<line y1=${y(g)} y2=${y(g)} x1="0" x2=${W} /><text x="2" y=${y(g) - 2}>${round(g)}°</text>`);

  return html`<section class="map">
    <div class="toolbar"><h1>Map</h1>
      <label class="check"><input type="checkbox" checked=${fit} onChange=${(e) => setFit(e.target.checked)} /> Fit to devices</label>
      <span class="muted small">${placed.length} of ${devices.size} devices have a location</span>
      <span class="legend">${['critical', 'warning', 'info', 'ok', 'offline'].map((k) => html`<span><span style=${'color:' + SEV_COLOR[k]} aria-hidden="true">${SEV_ICON[k] || '○'}</span> ${k}</span>`)}</span>
    </div>
    <svg viewBox=${`0 0 ${W} ${H}`} class="mapsvg" role="img" aria-label="Device map" data-testid="map">
      <rect width=${W} height=${H} class="sea" />
      <g class="grid">${grid}</g>
      ${placed.map((d) => {
        const a = worst.get(d.id);
        const k = a ? a.severity : d.online ? 'ok' : 'offline';
        const px = x(d.location.lon), py = y(d.location.lat);
        const go = () => navigate('#/device/' + encodeURIComponent(d.id));
        return html`<g class="pin" tabindex="0" role="link" aria-label=${`${d.name || d.id}: ${k}`} data-testid=${'pin-' + d.id}
            onClick=${go} onKeyDown=${(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), go())}>
          <title>${d.name || d.id} — ${k}${a ? ': ' + (a.message || a.metric) : ''}</title>
          ${k === 'critical' ? html`<path d=${`M${px},${py - 9} L${px + 8},${py + 6} L${px - 8},${py + 6} Z`} fill=${SEV_COLOR[k]} />`
            : k === 'warning' ? html`<path d=${`M${px},${py - 8} L${px + 7},${py} L${px},${py + 8} L${px - 7},${py} Z`} fill=${SEV_COLOR[k]} />`
            : html`<circle cx=${px} cy=${py} r="6" fill=${k === 'offline' ? 'white' : SEV_COLOR[k]} stroke=${SEV_COLOR[k]} stroke-width="2" />`}
        </g>`;
      })}
    </svg>
  </section>`;
}

function niceStep(raw) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 45];
  return steps.find((s) => s >= raw) || 45;
}
const round = (v) => Math.round(v * 1000) / 1000;
