// Device: live chart per metric, history for any range up to a year (raw
// readings when short, aggregates when long; drag to zoom), readings table,
// open alerts, metadata/location, commands (history for all; sending for operators),
// configuration (state for all; writing for operators).
import { useEffect, useRef, useState, useMemo } from 'preact/hooks';
import { html, Time, fmtValue, fmtAgo, fmtUtc, Severity, roleAtLeast, toMs, toLocalInput } from '../util.js';
import { get, enc, role } from '../api.js';
import { devices, latest, alerts, alertsVersion, readingsVersion, onReading, fetchState, isStale, now, expectedIntervalMs, resyncCount } from '../live.js';
import { ErrorBox } from '../components.js';
import { CommandForm, CommandHistory } from './device_commands.js';
import { ConfigCard } from './device_config.js';
import { RANGES, LIVE_SPAN_MS, rangeWindow, pointsFor, loadSeries, HistoryChart, HistoryTable } from './device_history.js';

const LIVE_MAX_POINTS = 5000;

export function DevicePage({ id }) {
  const [dev, setDev] = useState(devices.get(id) || null);
  const [err, setErr] = useState(null);
  const [range, setRange] = useState('live');
  const [custom, setCustom] = useState({ from: toLocalInput(Date.now() - 86400e3), to: toLocalInput(Date.now()) });
  const [zoom, setZoom] = useState(null); // {from, to} (ms) dragged on a chart, inside the picked range
  const [picks, setPicks] = useState(0); // bumped to take the picked range again, ending now
  const [hist, setHist] = useState({}); // metric -> {source, bucket, from, to, points, error}
  const [tableMetric, setTableMetric] = useState('');
  const [ver, setVer] = useState(0);
  const [sent, setSent] = useState(null); // the command this page last sent
  const liveRef = useRef({}); // metric -> [[ms, v]…] in live mode
  const chartsRef = useRef();
  readingsVersion.value;
  alertsVersion.value;
  const t = now.value;

  useEffect(() => {
    setErr(null);
    get(`/devices/${enc(id)}`).then(setDev, setErr);
    fetchState(id, true);
  }, [id, resyncCount.value]);

  const e = latest.get(id);
  const metrics = useMemo(() => Object.keys(e?.metrics || {}).sort(), [id, Object.keys(e?.metrics || {}).join(',')]);

  // The picked range is fixed when picked (and on resync); a zoom narrows it until reset.
  const picked = useMemo(() => rangeWindow(range, custom), [range, custom.from, custom.to, picks, resyncCount.value]);
  const view = zoom || picked;
  const live = range === 'live' && !zoom;
  const pick = (r) => {
    setZoom(null);
    setRange(r);
  };
  const resetZoom = () => {
    setZoom(null);
    setPicks((n) => n + 1);
  };
  const onZoom = (fromS, toS) => {
    if ((toS - fromS) * 1000 >= 1000) setZoom({ from: Math.round(fromS * 1000), to: Math.round(toS * 1000) });
  };

  // History (or the live window's backfill), at the resolution the chart width can show.
  useEffect(() => {
    let cancelled = false;
    liveRef.current = {};
    if (!view) return undefined;
    // The live window always ends now (a metric may appear long after the pick).
    const win = live ? { from: Date.now() + 1000 - LIVE_SPAN_MS, to: Date.now() + 1000 } : view;
    const points = pointsFor((chartsRef.current?.clientWidth || 826) - 26);
    for (const m of metrics) {
      loadSeries(id, m, win.from, win.to, points).then(
        (s) => {
          if (cancelled) return;
          if (live) liveRef.current[m] = mergeLive(s.points, liveRef.current[m] || []);
          setHist((h) => ({ ...h, [m]: s }));
          setVer((v) => v + 1);
        },
        (error) => !cancelled && setHist((h) => ({ ...h, [m]: { error, points: [] } })),
      );
    }
    return () => (cancelled = true);
  }, [id, view?.from, view?.to, live, metrics.join(','), resyncCount.value]);

  // Live readings append to the live window.
  useEffect(() => {
    if (!live) return undefined;
    return onReading((dev2, ts, values) => {
      if (dev2 !== id) return;
      for (const [m, v] of Object.entries(values)) {
        const arr = (liveRef.current[m] ||= []);
        if (arr.length && arr[arr.length - 1][0] > ts) continue;
        arr.push([ts, v]);
        const cut = Date.now() - LIVE_SPAN_MS;
        while (arr.length > LIVE_MAX_POINTS || (arr.length && arr[0][0] < cut)) arr.shift();
      }
      setVer((x) => x + 1);
    });
  }, [id, live]);

  const open = [...alerts.values()].filter((a) => a.device === id && a.state !== 'resolved');
  const lastTs = e?.lastTs || toMs(dev?.last_seen) || 0;
  const stale = isStale(id, lastTs, t);
  const canOperate = roleAtLeast(role.value, 'operator');
  const tm = tableMetric || metrics[0];
  const tablePts = (live ? liveRef.current[tm] : hist[tm]?.points) || [];

  return html`<section class="device">
    <div class="toolbar">
      <h1><a href="#/fleet" class="muted">Fleet</a> / <span data-testid="device-title">${dev?.name || id}</span></h1>
      <span class=${'pill ' + (dev?.online ? 'on' : 'off')}>${dev?.online ? 'online' : 'offline'}</span>
      <span class=${stale ? 'stale-text' : 'muted'} title=${fmtUtc(lastTs)}>${stale ? 'stale — ' : ''}last reading ${fmtAgo(lastTs, t)}
         ${' '}(expected every ${Math.round(expectedIntervalMs(id) / 1000)} s)</span>
    </div>
    <${ErrorBox} error=${err} label="Device" />
    <div class="device-grid">
      <div class="charts" ref=${chartsRef}>
        <div class="toolbar">
          <label>Range <select value=${range} onChange=${(ev) => pick(ev.target.value)} data-testid="range">
            ${RANGES.map(([k, l]) => html`<option value=${k}>${l}</option>`)}</select></label>
          ${range === 'custom' ? html`
            <label>From <input type="datetime-local" value=${custom.from} onChange=${(ev) => (setZoom(null), setCustom({ ...custom, from: ev.target.value }))} /></label>
            <label>To <input type="datetime-local" value=${custom.to} onChange=${(ev) => (setZoom(null), setCustom({ ...custom, to: ev.target.value }))} /></label>
            ${picked ? null : html`<span class="field-error">From must be before To</span>`}` : null}
          ${zoom ? html`<span class="small" data-testid="zoomed">zoomed to <${Time} t=${zoom.from} /> – <${Time} t=${zoom.to} /></span>
            <button onClick=${resetZoom} data-testid="reset-zoom">Reset zoom</button>`
            : metrics.length ? html`<span class="muted small">drag across a chart to zoom</span>` : null}
        </div>
        ${metrics.length === 0 ? html`<p class="muted">No readings yet.</p>` : null}
        ${metrics.map((m) => html`<${HistoryChart} key=${m} id=${id} name=${dev?.name || id} m=${m} ver=${ver} live=${live}
            pts=${live ? liveRef.current[m] : hist[m]?.points} info=${hist[m]} cur=${e?.metrics[m]} stale=${stale}
            intervalMs=${expectedIntervalMs(id)} onZoom=${onZoom} />`)}
        <${CommandHistory} id=${id} added=${sent} />
        ${metrics.length ? html`<${HistoryTable} m=${tm} pts=${tablePts} agg=${!live && hist[tm]?.source === 'aggregates'}
            bucket=${hist[tm]?.bucket} metrics=${metrics} onMetric=${setTableMetric} />` : null}
      </div>
      <aside>
        <div class="card"><h2>Open alerts</h2>
          ${open.length ? html`<ul class="plain">${open.map((a) => html`<li><${Severity} s=${a.severity} /> ${a.metric} ${fmtValue(a.value)} — ${a.message || ''}
            <br /><span class="muted small">${a.state} · opened <${Time} t=${a.opened_at} /> · <a href=${'#/alerts/' + enc(a.id)}>timeline</a></span></li>`)}</ul>`
            : html`<p class="muted">None.</p>`}
          <a href=${'#/alerts?device=' + enc(id)}>Alert history</a></div>
        <div class="card"><h2>Details</h2>
          <dl class="kvlist">
            <dt>Id</dt><dd>${id}</dd>
            <dt>Type</dt><dd>${dev?.type || '—'}</dd>
            <dt>Groups</dt><dd>${(dev?.group_ids || []).length ? dev.group_ids.map((g, i) => html`${i ? ', ' : ''}<a href=${'#/groups/' + enc(g)}>${g}</a>`) : '—'}</dd>
            <dt>Location</dt><dd>${dev?.location ? html`${dev.location.lat}, ${dev.location.lon} <a href="#/map">map</a>` : '—'}</dd>
            <dt>Sequence gaps</dt><dd>${dev?.seq_gaps ?? '—'}</dd>
            ${Object.entries(dev?.metadata || {}).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>`)}
          </dl></div>
        ${canOperate ? html`<${CommandForm} id=${id} onSent=${setSent} />` : null}
        <${ConfigCard} id=${id} type=${dev?.type || ''} canWrite=${canOperate} />
      </aside>
    </div>
  </section>`;
}

function mergeLive(hist, live) {
  const lastHist = hist.length ? hist[hist.length - 1][0] : -Infinity;
  return hist.concat(live.filter(([ts]) => ts > lastHist));
}
