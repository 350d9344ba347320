// Shared helpers: htm binding, time formatting (local zone, UTC on hover),
// severity presentation, role ranks.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

const pad = (n) => String(n).padStart(2, '0');

/** Epoch ms from an RFC 3339 string, a number (ms) or a Date; NaN if unknown. */
export function toMs(t) {
  if (t == null || t === '') return NaN;
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  return Date.parse(t);
}

export function fmtTime(t, withDate = true) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!withDate) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function fmtUtc(t) {
  const ms = toMs(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('.000Z', 'Z') + ' (UTC)' : '';
}

export function fmtAgo(t, now = Date.now()) {
  const ms = toMs(t);
  if (!Number.isFinite(ms) || ms <= 0) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** <time> in the browser's zone with the UTC instant on hover. */
export function Time({ t, date = true }) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return html`<span class="muted">—</span>`;
  return html`<time datetime=${new Date(ms).toISOString()} title=${fmtUtc(ms)}>${fmtTime(ms, date)}</time>`;
}

export function fmtValue(v) {
  if (v == null || Number.isNaN(v)) return '—';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Math.round(v * 100) / 100);
}

export const SEVERITIES = ['critical', 'warning', 'info'];
const SEV_RANK = { critical: 3, warning: 2, info: 1 };
export const sevRank = (s) => SEV_RANK[s] || 0;
// Icon + text as well as colour, for colour-blind operators.
export const SEV_ICON = { critical: '▲', warning: '◆', info: 'ℹ', ok: '●' };

export function Severity({ s }) {
  const k = SEV_RANK[s] ? s : 'ok';
  return html`<span class=${'sev sev-' + k}><span aria-hidden="true">${SEV_ICON[k]}</span> ${s || 'ok'}</span>`;
}

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3, superadmin: 4 };
export const roleAtLeast = (role, min) => (ROLE_RANK[role] || 0) >= ROLE_RANK[min];

/** datetime-local input value <-> epoch ms (local zone). */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export const fromLocalInput = (s) => new Date(s).getTime();

export const iso = (ms) => new Date(ms).toISOString();

/** Ids typed into one input: separated by commas, semicolons or white space, each once. */
export const idList = (s) => [...new Set(String(s).split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean))];
/** A typed id as the API wants it: a number when it is all digits. */
export const idOf = (s) => (/^\d+$/.test(s) ? Number(s) : s);

export function navigate(hash) {
  if (location.hash !== hash) location.hash = hash;
}
