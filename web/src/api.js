// REST client for /api/v1 with the session: access token in memory, refresh
// token in localStorage; a 401 triggers one shared silent refresh and a retry,
// so an expired token never loses the page.
import { signal, computed } from '@preact/signals';

const REFRESH_KEY = 'peregrine.refresh_token';
const TENANT_KEY = 'peregrine.tenant';

export const session = signal(null); // {access, exp, role, email, tenant, sub}
export const sessionState = signal('unknown'); // unknown | in | out
export const role = computed(() => session.value?.role || 'viewer');
export const tenantOverride = signal(localStorage.getItem(TENANT_KEY) || '');

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  /** Field errors from a problem+json body, as {field: message}. */
  get fields() {
    const p = this.problem;
    const out = {};
    const list = p.errors || p.invalid_params || p.fields;
    if (Array.isArray(list)) {
      for (const e of list) {
        const k = e.field || e.name || e.path || e.pointer;
        if (k) out[String(k).replace(/^\/|^params\.|^body\./, '').replace(/\//g, '.')] = e.message || e.reason || e.detail || 'invalid';
      }
    } else if (list && typeof list === 'object') {
      for (const [k, v] of Object.entries(list)) out[k] = String(v);
    }
    if (p.field) out[p.field] = p.detail || 'invalid';
    // "params.value: must be a number" (or "actions[0].on_timeout[1].to: …", or "'secret' must be at least
    // 16 characters") names the field in the detail itself.
    const m = !Object.keys(out).length && typeof p.detail === 'string'
      && (p.detail.match(/^([A-Za-z_][\w.[\]]*): (.+)$/) || p.detail.match(/^'([A-Za-z_][\w.]*)' (.+)$/));
    if (m) out[m[1]] = m[2];
    return out;
  }
}

function decodeJwt(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return {};
  }
}

function adopt(tokens) {
  const claims = decodeJwt(tokens.access_token);
  const expiresIn = Number(tokens.expires_in) || 900;
  session.value = {
    access: tokens.access_token,
    exp: claims.exp ? claims.exp * 1000 : Date.now() + expiresIn * 1000,
    role: tokens.role || tokens.user?.role || claims.role || (Array.isArray(claims.roles) ? claims.roles[0] : null) || 'viewer',
    email: tokens.email || tokens.user?.email || claims.email || claims.sub || '',
    tenant: tokens.tenant_id || tokens.user?.tenant_id || claims.tenant_id || claims.tenant || claims.tid || '',
  };
  if (tokens.refresh_token) localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  sessionState.value = 'in';
}

async function rawJson(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await parseBody(res);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

async function parseBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

export async function login(email, password) {
  adopt(await rawJson('POST', '/api/v1/auth/login', { email, password }));
}

let refreshing = null;
/** One refresh at a time; resolves true when a fresh access token is held. */
export function refresh() {
  if (refreshing) return refreshing;
  const rt = localStorage.getItem(REFRESH_KEY);
  if (!rt) {
    sessionState.value = 'out';
    return Promise.resolve(false);
  }
  refreshing = rawJson('POST', '/api/v1/auth/refresh', { refresh_token: rt })
    .then((t) => {
      adopt({ refresh_token: rt, ...t });
      return true;
    })
    .catch((e) => {
      // A server that is down is not a rejected session: keep the token and retry later.
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 400)) {
        localStorage.removeItem(REFRESH_KEY);
        session.value = null;
        sessionState.value = 'out';
      }
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Access token valid for at least 30 s more (refreshing if needed), or null. */
export async function freshToken() {
  const s = session.value;
  if (s && s.exp - Date.now() > 30000) return s.access;
  if (await refresh()) return session.value.access;
  return null;
}

export async function logout() {
  const s = session.value;
  const rt = localStorage.getItem(REFRESH_KEY);
  localStorage.removeItem(REFRESH_KEY);
  try {
    if (s) {
      await fetch('/api/v1/auth/logout', {
        method: 'POST',
        headers: { Authorization: `Bearer ${s.access}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: rt }),
      });
    }
  } catch {
    /* logging out locally is enough when the server is unreachable */
  }
  session.value = null;
  sessionState.value = 'out';
}

export function setTenant(id) {
  tenantOverride.value = id || '';
  if (id) localStorage.setItem(TENANT_KEY, id);
  else localStorage.removeItem(TENANT_KEY);
}

/**
 * Authenticated call; throws ApiError (status 0 = network). `body` is sent as
 * JSON, or as it is when `contentType` is given (a CSV upload).
 */
export async function api(method, path, body, { raw = false, contentType } = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = await freshToken();
    if (!token) throw new ApiError(401, { title: 'Unauthorized', detail: 'session expired: please log in' });
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = contentType || 'application/json';
    if (tenantOverride.value && role.value === 'superadmin') headers['X-Peregrine-Tenant'] = tenantOverride.value;
    let res;
    try {
      res = await fetch('/api/v1' + path, {
        method,
        headers,
        body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, { title: 'Network error', detail: `server unreachable (${e.message})` });
    }
    if (res.status === 401 && attempt === 0) {
      // Expired or revoked access token: refresh once and retry.
      if (session.value) session.value = { ...session.value, exp: 0 };
      continue;
    }
    if (raw) return res;
    const data = await parseBody(res);
    if (!res.ok) throw new ApiError(res.status, data || { title: res.statusText });
    return data;
  }
  throw new ApiError(401, { title: 'Unauthorized', detail: 'session expired: please log in' });
}

export const get = (p) => api('GET', p);
export const post = (p, b = {}) => api('POST', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);
/** POST of a body that is not JSON built here (an uploaded file's text). */
export const postText = (p, text, contentType) => api('POST', p, text, { contentType });

/** Every page of a list endpoint (`items` + `next` cursor), up to `max` items. */
export async function getAll(path, max = 20000, pageSize = 1000) {
  const out = [];
  let cursor = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const q = `${sep}limit=${pageSize}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
    const page = await get(path + q);
    out.push(...(page?.items || []));
    cursor = page?.next ?? null;
  } while (cursor && out.length < max);
  return out;
}

export const enc = encodeURIComponent;
