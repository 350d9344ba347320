// Live store: devices, latest values, sparklines and alerts, fed by REST at
// start and by the WebSocket afterwards. Readings update plain Maps; views
// re-render from version signals bumped at most once per animation frame, so
// thousands of readings per second cost one render per frame, not one each.
// Pages that need more (commands, jobs) hold extra topics while they are open.
import { signal, batch, effect } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { get, getAll, freshToken, session, enc, ApiError } from './api.js';
import { sevRank, toMs } from './util.js';

export const devices = new Map(); // id -> device (REST shape)
export const latest = new Map(); // id -> {metrics: {m: {value, ts}}, lastTs, intervalMs, spark: {m: [[t, v]…]}}
export const alerts = new Map(); // id -> alert
export const devicesVersion = signal(0);
export const readingsVersion = signal(0);
export const alertsVersion = signal(0);
export const loadError = signal(null);
export const link = signal({ state: 'connecting', since: Date.now(), lastMsg: 0, attempt: 0 });
export const now = signal(Date.now());
export const resyncCount = signal(0);

const SPARK_POINTS = 60;
const DEFAULT_INTERVAL_MS = 60000;

setInterval(() => (now.value = Date.now()), 2000);

// ---------------------------------------------------------------- batching
let pending = { d: false, r: false, a: false };
let scheduled = false;
function bump(kind) {
  pending[kind] = true;
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    const p = pending;
    pending = { d: false, r: false, a: false };
    batch(() => {
      if (p.d) devicesVersion.value++;
      if (p.r) readingsVersion.value++;
      if (p.a) alertsVersion.value++;
    });
  };
  // rAF pauses in background tabs; the timeout keeps the store moving there.
  if (typeof requestAnimationFrame === 'function' && !document.hidden) requestAnimationFrame(run);
  else setTimeout(run, 250);
}

const readingListeners = new Set();
const alertListeners = new Set();
export function onReading(fn) {
  readingListeners.add(fn);
  return () => readingListeners.delete(fn);
}
export function onAlert(fn) {
  alertListeners.add(fn);
  return () => alertListeners.delete(fn);
}

// Frames the store does not keep (command, job, alert_event) go to whoever
// listens for their type; the topics they come on are held by reference count.
const frameListeners = new Map(); // type -> Set(fn)
const heldTopics = new Map(); // topic -> holders
const BASE_TOPICS = ['readings:*', 'alerts', 'devices'];

export function onFrame(type, fn) {
  if (!frameListeners.has(type)) frameListeners.set(type, new Set());
  frameListeners.get(type).add(fn);
  return () => frameListeners.get(type).delete(fn);
}

/** Subscribes the socket to `topic` (now, and after every reconnect) until the returned release is called. */
export function holdTopic(topic) {
  const n = heldTopics.get(topic) || 0;
  heldTopics.set(topic, n + 1);
  if (n === 0 && !BASE_TOPICS.includes(topic) && ws?.readyState === 1) ws.send(JSON.stringify({ op: 'subscribe', topics: [topic] }));
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = heldTopics.get(topic) - 1;
    if (left > 0) {
      heldTopics.set(topic, left);
      return;
    }
    heldTopics.delete(topic);
    if (!BASE_TOPICS.includes(topic) && ws?.readyState === 1) ws.send(JSON.stringify({ op: 'unsubscribe', topics: [topic] }));
  };
}

/** While the calling component is mounted: hold `topic` and pass every frame of `type` to `fn`. */
export function useFrames(topic, type, fn, deps) {
  useEffect(() => {
    const release = holdTopic(topic);
    const off = onFrame(type, fn);
    return () => {
      off();
      release();
    };
  }, deps);
}

// ---------------------------------------------------------------- readings
function entry(id) {
  let e = latest.get(id);
  if (!e) {
    e = { metrics: {}, lastTs: 0, intervalMs: 0, spark: {} };
    latest.set(id, e);
  }
  return e;
}

function applyReading(id, tsMs, values) {
  const e = entry(id);
  if (e.lastTs && tsMs > e.lastTs) {
    const gap = tsMs - e.lastTs;
    // Smoothed gap between readings: the device's own expected interval.
    e.intervalMs = e.intervalMs ? e.intervalMs * 0.8 + gap * 0.2 : gap;
  }
  if (tsMs >= e.lastTs) e.lastTs = tsMs;
  for (const [m, v] of Object.entries(values)) {
    const cur = e.metrics[m];
    if (!cur || toMs(cur.ts) <= tsMs) e.metrics[m] = { value: v, ts: tsMs };
    let s = e.spark[m];
    if (!s) s = e.spark[m] = [];
    s.push([tsMs, v]);
    if (s.length > SPARK_POINTS) s.splice(0, s.length - SPARK_POINTS);
  }
  const d = devices.get(id);
  if (d) {
    if (!d.online) {
      d.online = true;
      bump('d');
    }
    d.last_seen = tsMs;
  } else {
    // Auto-provisioned device the list has not seen yet.
    devices.set(id, { id, name: id, type: '', group_ids: [], metadata: {}, online: true, last_seen: tsMs });
    bump('d');
  }
}

/** Expected interval between readings of a device (metadata wins over the estimate). */
export function expectedIntervalMs(id) {
  const d = devices.get(id);
  const meta = d?.metadata?.interval_s ?? d?.metadata?.expected_interval_s;
  if (Number(meta) > 0) return Number(meta) * 1000;
  const e = latest.get(id);
  return e?.intervalMs > 0 ? e.intervalMs : DEFAULT_INTERVAL_MS;
}

/** True when data last seen at `tsMs` is older than the device's expected cadence allows. */
export function isStale(id, tsMs, at = Date.now()) {
  if (!Number.isFinite(tsMs) || tsMs <= 0) return true;
  return at - tsMs > Math.max(3 * expectedIntervalMs(id), 15000);
}

const stateInflight = new Map();
/** Latest values of one device from REST (deduplicated, at most every 10 s). */
export function fetchState(id, force = false) {
  const e = latest.get(id);
  if (!force && e && (e.stateFetched > Date.now() - 8000 || e.lastTs)) return stateInflight.get(id) || Promise.resolve();
  if (stateInflight.has(id)) return stateInflight.get(id);
  const p = get(`/devices/${enc(id)}/state`)
    .then((st) => {
      const en = entry(id);
      en.stateFetched = Date.now();
      for (const [m, v] of Object.entries(st?.metrics || {})) {
        const ts = toMs(v.ts);
        const cur = en.metrics[m];
        if (!cur || toMs(cur.ts) < ts) en.metrics[m] = { value: v.value, ts };
        if (ts > en.lastTs) en.lastTs = ts;
        if (!en.spark[m]?.length) en.spark[m] = [[ts, v.value]];
      }
      const d = devices.get(id);
      if (d && typeof st?.online === 'boolean') d.online = st.online;
      bump('r');
    })
    .catch(() => {
      entry(id).stateFetched = Date.now();
    })
    .finally(() => stateInflight.delete(id));
  stateInflight.set(id, p);
  return p;
}

// ---------------------------------------------------------------- alerts
export function putAlert(a) {
  if (!a || a.id == null) return;
  const old = alerts.get(a.id);
  alerts.set(a.id, { ...old, ...a });
  bump('a');
}

/** Worst open (not resolved) alert per device. */
let worstCache = { v: -1, map: new Map() };
export function worstAlerts() {
  if (worstCache.v === alertsVersion.peek()) return worstCache.map;
  const map = new Map();
  for (const a of alerts.values()) {
    if (a.state === 'resolved') continue;
    const cur = map.get(a.device);
    if (!cur || sevRank(a.severity) > sevRank(cur.severity)) map.set(a.device, a);
  }
  worstCache = { v: alertsVersion.peek(), map };
  return map;
}

// ---------------------------------------------------------------- REST loads
export async function loadDevices() {
  try {
    const list = await getAll('/devices', 50000);
    const seen = new Set();
    for (const d of list) {
      seen.add(d.id);
      devices.set(d.id, { ...devices.get(d.id), ...d, last_seen: toMs(d.last_seen) || devices.get(d.id)?.last_seen || 0 });
    }
    for (const id of [...devices.keys()]) if (!seen.has(id)) devices.delete(id);
    loadError.value = null;
    bump('d');
  } catch (e) {
    loadError.value = e;
  }
}

export async function loadAlerts() {
  try {
    const open = [];
    for (const st of ['active', 'acknowledged']) open.push(...(await getAll(`/alerts?state=${st}`, 5000, 500)));
    const keep = new Set(open.map((a) => a.id));
    // Open alerts this client held but the server no longer lists were resolved meanwhile.
    for (const [id, a] of alerts) if (a.state !== 'resolved' && !keep.has(id)) alerts.set(id, { ...a, state: 'resolved' });
    for (const a of open) putAlert(a);
    bump('a');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) loadError.value = e;
  }
}

export function reloadAll() {
  resyncCount.value++;
  for (const e of latest.values()) e.stateFetched = 0;
  return Promise.all([loadDevices(), loadAlerts()]);
}

// ---------------------------------------------------------------- WebSocket
let ws = null;
let lastSeq = null;
let retry = 0;
let retryTimer = null;
let watchdog = null;
let pingTimer = null;
let started = false;
let stopped = false;
let sentToken = null; // the access token the open socket last authenticated with

// The server closes the socket (1008 "token expired") when the token it last
// saw expires: every refreshed access token is handed to the open socket.
function renewAuth() {
  const access = session.peek()?.access;
  if (!ws || ws.readyState !== 1 || !access || access === sentToken) return;
  sentToken = access;
  ws.send(JSON.stringify({ op: 'auth', token: access }));
}
effect(() => {
  if (session.value) renewAuth();
});

function setLink(state, extra = {}) {
  const cur = link.peek();
  link.value = { ...cur, ...extra, state, since: cur.state === state ? cur.since : Date.now() };
}

// Counters for the e2e performance measurement (cheap enough to keep in production).
export const stats = { frames: 0, readings: 0 };
if (typeof window !== 'undefined') window.__peregrineStats = stats;

function handle(msg) {
  stats.frames++;
  if (typeof msg.seq === 'number') lastSeq = msg.seq;
  switch (msg.type) {
    case 'reading': {
      stats.readings++;
      const ts = toMs(msg.ts) || Date.now();
      applyReading(msg.device, ts, msg.values || {});
      for (const fn of readingListeners) fn(msg.device, ts, msg.values || {});
      bump('r');
      break;
    }
    case 'alert':
      putAlert(msg.alert);
      for (const fn of alertListeners) fn(msg.alert);
      break;
    case 'device': {
      const d = devices.get(msg.device);
      if (d) d.online = !!msg.online;
      else if (msg.device) loadDevices();
      bump('d');
      break;
    }
    case 'resync':
      reloadAll();
      break;
    default:
      break;
  }
  const fns = frameListeners.get(msg.type);
  if (fns) for (const fn of fns) fn(msg);
}

async function connect() {
  clearTimeout(retryTimer);
  if (stopped) return;
  const token = await freshToken();
  if (!token) {
    // Not logged in (or the server is down during refresh): try again later.
    scheduleReconnect();
    return;
  }
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${proto}//${location.host}/ws?token=${enc(token)}`;
  if (lastSeq != null) url += `&since=${lastSeq}`;
  let sock;
  try {
    sock = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  ws = sock;
  sentToken = token;
  sock.onopen = () => {
    const resumed = lastSeq != null;
    renewAuth(); // refreshed while connecting
    retry = 0;
    setLink('live', { lastMsg: Date.now(), attempt: 0 });
    sock.send(JSON.stringify({ op: 'subscribe', topics: [...new Set([...BASE_TOPICS, ...heldTopics.keys()])] }));
    // Readings are not replayed on resume; refresh the REST view of what we missed.
    if (resumed) reloadAll();
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (sock.readyState === 1) sock.send('{"op":"ping"}');
      // Refreshes the access token in its last 30 s even when no REST call
      // does; the effect above then renews the socket's.
      freshToken();
      // No frame (not even a pong) for 45 s: the link is dead even if TCP says otherwise.
      if (Date.now() - link.peek().lastMsg > 45000) sock.close();
    }, 15000);
  };
  sock.onmessage = (ev) => {
    const cur = link.peek();
    // Cheap path: avoid allocating a new link object for every frame.
    if (Date.now() - cur.lastMsg > 1000) link.value = { ...cur, lastMsg: Date.now() };
    else cur.lastMsg = Date.now();
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    handle(msg);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    clearInterval(pingTimer);
    // 1008: the server gave up on us (too slow); resynchronise through REST.
    // An expired token loses no alerts: `since` replays them on reconnect.
    if (ev.code === 1008 && ev.reason !== 'token expired') lastSeq = null;
    scheduleReconnect();
  };
  sock.onerror = () => {};
}

function scheduleReconnect() {
  if (stopped) return;
  retry++;
  const base = Math.min(15000, 500 * 2 ** Math.min(retry - 1, 5));
  const delay = base / 2 + Math.random() * (base / 2);
  setLink('reconnecting', { attempt: retry, nextAt: Date.now() + delay });
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    if (lastSeq == null && retry > 1) reloadAll();
    connect();
  }, delay);
}

export function startLive() {
  if (started) return;
  started = true;
  stopped = false;
  setLink('connecting');
  reloadAll();
  connect();
  clearInterval(watchdog);
  watchdog = setInterval(() => {
    const l = link.peek();
    if (!ws && l.state !== 'live' && Date.now() > (l.nextAt || 0) + 5000) connect();
  }, 30000);
}

export function stopLive() {
  stopped = true;
  started = false;
  clearTimeout(retryTimer);
  clearInterval(watchdog);
  clearInterval(pingTimer);
  if (ws) {
    const s = ws;
    ws = null;
    s.close();
  }
  lastSeq = null;
  devices.clear();
  latest.clear();
  alerts.clear();
}

/** Reconnect now (after a tenant switch, or from the indicator). */
export function reconnectNow() {
  if (ws) {
    const s = ws;
    ws = null;
    s.close();
  }
  lastSeq = null;
  retry = 0;
  connect();
  reloadAll();
}
