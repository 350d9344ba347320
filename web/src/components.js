// Small shared components: live indicator, uPlot chart, sparkline, errors, dialog.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html, fmtTime, fmtUtc, fmtAgo } from './util.js';
import { link, now, reconnectNow } from './live.js';

/** Honest connection state: live / reconnecting / stale since … */
export function LiveIndicator() {
  const l = link.value;
  const t = now.value;
  let cls = 'live-ok';
  let text = 'live';
  let title = `last message ${fmtAgo(l.lastMsg, t)}`;
  if (l.state !== 'live') {
    const down = t - l.since;
    if (l.state === 'connecting' && !l.lastMsg) {
      cls = 'live-warn';
      text = 'connecting…';
    } else if (down < 5000) {
      cls = 'live-warn';
      text = `reconnecting${l.attempt > 1 ? ` (try ${l.attempt})` : ''}…`;
    } else {
      cls = 'live-bad';
      text = `stale since ${fmtTime(l.lastMsg || l.since, false)}`;
      title = `no live data since ${fmtUtc(l.lastMsg || l.since)}; reconnecting (try ${l.attempt})`;
    }
  }
  return html`<button class=${'live ' + cls} data-testid="live" data-state=${l.state} title=${title}
    onClick=${() => l.state !== 'live' && reconnectNow()} aria-live="polite">
    <span class="dot" aria-hidden="true"></span>${text}</button>`;
}

export function ErrorBox({ error, label }) {
  if (!error) return null;
  const p = error.problem || {};
  return html`<div class="error" role="alert" data-testid="error">
    <strong>${label ? label + ': ' : ''}${p.title || 'Error'}${error.status ? ` (${error.status})` : ''}</strong>
    ${p.detail ? html` — ${p.detail}` : error.message && !p.title ? html` — ${error.message}` : null}
  </div>`;
}

export function Modal({ title, onClose, children }) {
  const ref = useRef();
  useEffect(() => {
    ref.current?.querySelector('input,select,textarea,button')?.focus();
    const k = (e) => e.key === 'Escape' && onClose?.();
    addEventListener('keydown', k);
    return () => removeEventListener('keydown', k);
  }, []);
  return html`<div class="modal-bg" onClick=${(e) => e.target === e.currentTarget && onClose?.()}>
    <div class="modal" role="dialog" aria-modal="true" aria-label=${title} ref=${ref}>
      <header><h2>${title}</h2><button class="icon" aria-label="Close" onClick=${onClose}>✕</button></header>
      ${children}
    </div></div>`;
}

/** Inline SVG sparkline of [[t, v]…]; stale data drawn dashed and grey. */
export function Sparkline({ points, stale, w = 120, h = 28 }) {
  if (!points || points.length < 2) return html`<svg class="spark" width="100%" height=${h} aria-hidden="true"></svg>`;
  let t0 = Infinity, t1 = -Infinity, v0 = Infinity, v1 = -Infinity;
  for (const [t, v] of points) {
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const dt = t1 - t0 || 1, dv = v1 - v0 || 1;
  let d = '';
  for (const [t, v] of points) d += `${((t - t0) / dt) * (w - 2) + 1},${h - 1 - ((v - v0) / dv) * (h - 2)} `;
  return html`<svg class=${'spark' + (stale ? ' stale' : '')} viewBox=${`0 0 ${w} ${h}`} preserveAspectRatio="none"
    width="100%" height=${h} aria-hidden="true">
    <polyline points=${d} fill="none" stroke-width="1.5" vector-effect="non-scaling-stroke" /></svg>`;
}

/**
 * uPlot chart. `data` = [xs(seconds), ys…]; `series` labels; `bands` =
 * [{from, to, color}] (seconds) shaded behind; `hline` = a horizontal level.
 * `minmax`: data is [xs, mins, maxs, values] and the values line (labelled
 * series[0]) is drawn over the shaded min–max band. `xRange` = [from, to]
 * (seconds) fixes the x axis, else it spans the data. `onSelect(from, to)`
 * (seconds) receives a drag across the plot instead of uPlot zooming itself.
 * The plot is created once and fed with setData, so live updates are cheap.
 * The element carries data-points, data-series and data-bands for tests.
 */
export function Chart({ data, series = ['value'], height = 240, bands, hline, minmax = false, xRange, onSelect, testid }) {
  const el = useRef();
  const plot = useRef();
  const extra = useRef({});
  extra.current = { bands, hline, xRange, onSelect };
  useEffect(() => {
    const width = Math.max(280, el.current.clientWidth || 600);
    const colors = ['#2563eb', '#d97706', '#059669', '#7c3aed'];
    const edge = (label) => ({ label, stroke: 'rgba(37,99,235,0.35)', width: 1, spanGaps: false, points: { show: false } });
    const opts = {
      width,
      height,
      series: [
        { value: (u, v) => (v == null ? '—' : fmtTime(v * 1000)) },
        ...(minmax
          ? [edge('min'), edge('max'), { label: series[0], stroke: colors[0], width: 1.5, spanGaps: false }]
          : series.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false }))),
      ],
      // Filled from the max edge down to the min edge, before the line is drawn on top.
      bands: minmax ? [{ series: [2, 1], fill: 'rgba(37,99,235,0.14)' }] : [],
      cursor: onSelect ? { drag: { x: true, y: false, setScale: false } } : {},
      axes: [{}, { size: 60 }],
      scales: {
        // A single point (or none) would give uPlot an empty x range.
        x: {
          time: true,
          range: (u, min, max) => {
            const xr = extra.current.xRange;
            if (xr) return [xr[0], xr[1]];
            return min == null ? [Date.now() / 1000 - 900, Date.now() / 1000] : min === max ? [min - 60, max + 60] : [min, max];
          },
        },
        y: { range: (u, min, max) => (min == null ? [0, 1] : min === max ? [min - 1, max + 1] : uPlot.rangeNum(min, max, 0.1, true)) },
      },
      hooks: {
        setSelect: [
          (u) => {
            const cb = extra.current.onSelect;
            if (!cb || u.select.width < 3) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            cb(from, to);
          },
        ],
        drawClear: [
          (u) => {
            const { bands: bs, hline: hl } = extra.current;
            const ctx = u.ctx;
            ctx.save();
            for (const b of bs || []) {
              const x0 = u.valToPos(b.from, 'x', true);
              const x1 = u.valToPos(b.to ?? u.scales.x.max, 'x', true);
              ctx.fillStyle = b.color || 'rgba(220,38,38,0.18)';
              ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
            }
            if (hl != null && Number.isFinite(hl)) {
              const y = u.valToPos(hl, 'y', true);
              ctx.strokeStyle = '#dc2626';
              ctx.setLineDash([6, 4]);
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data, el.current);
    el.current.dataset.series = String(plot.current.series.length - 1);
    el.current.dataset.bands = String(plot.current.bands.length);
    const ro = new ResizeObserver(() => {
      const w2 = el.current?.clientWidth;
      if (w2 && plot.current && Math.abs(w2 - plot.current.width) > 4) plot.current.setSize({ width: w2, height });
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.join('|'), height, minmax, !onSelect]);
  useEffect(() => {
    // setData rescales x, which reads the current xRange.
    plot.current?.setData(data);
  }, [data, xRange?.[0], xRange?.[1]]);
  useEffect(() => {
    plot.current?.redraw(false, false);
  }, [bands, hline]);
  return html`<div class="chart" ref=${el} data-testid=${testid} data-points=${data?.[0]?.length || 0}></div>`;
}

export function Field({ label, error, children, hint }) {
  return html`<label class=${'field' + (error ? ' invalid' : '')}>
    <span class="label">${label}</span>${children}
    ${error ? html`<span class="field-error" role="alert">${error}</span>` : hint ? html`<span class="hint">${hint}</span>` : null}
  </label>`;
}
