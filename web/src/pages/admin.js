// Admin: devices (create shows the token once, edit, delete), bulk import,
// users and roles, tenants and tenant switch (superadmin).
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast } from '../util.js';
import { getAll, post, patch, del, enc, role, session, tenantOverride, setTenant } from '../api.js';
import { devices, devicesVersion, loadDevices, reconnectNow } from '../live.js';
import { ErrorBox, Field, Modal } from '../components.js';
import { BulkImport } from './bulk_import.js';

export function AdminPage() {
  const [tab, setTab] = useState('devices');
  if (!roleAtLeast(role.value, 'admin')) return html`<section><h1>Admin</h1><p>Your role (${role.value}) cannot administer this tenant.</p></section>`;
  const tabs = [['devices', 'Devices'], ['import', 'Bulk import'], ['users', 'Users'], ...(role.value === 'superadmin' ? [['tenants', 'Tenants']] : [])];
  const Tab = { devices: Devices, import: BulkImport, users: Users, tenants: Tenants }[tab];
  return html`<section class="admin">
    <div class="toolbar"><h1>Admin</h1>
      <div role="tablist">${tabs.map(([k, l]) => html`<button role="tab" aria-selected=${tab === k} class=${tab === k ? 'tab active' : 'tab'} onClick=${() => setTab(k)}>${l}</button>`)}</div>
    </div>
    <${Tab} />
  </section>`;
}

function parseJson(s, what) {
  try {
    return JSON.parse(s || '{}');
  } catch (e) {
    throw Object.assign(new Error(`${what} must be JSON: ${e.message}`), { problem: { title: 'Invalid input', detail: `${what} must be JSON: ${e.message}` } });
  }
}

function deviceForm(d) {
  return { id: d?.id || '', name: d?.name || '', type: d?.type || '', lat: d?.location?.lat ?? '', lon: d?.location?.lon ?? '',
    group_ids: (d?.group_ids || []).join(', '), metadata: JSON.stringify(d?.metadata || {}) };
}
function deviceBody(f, create) {
  const b = { name: f.name || undefined, type: f.type || undefined, metadata: parseJson(f.metadata, 'metadata') };
  if (create) b.id = f.id;
  if (f.lat !== '' && f.lon !== '') b.location = { lat: Number(f.lat), lon: Number(f.lon) };
  const g = f.group_ids.split(',').map((x) => x.trim()).filter(Boolean);
  if (g.length || !create) b.group_ids = g.map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  return b;
}

function Devices() {
  const [q, setQ] = useState('');
  const [edit, setEdit] = useState(null); // null | 'new' | device
  const [token, setToken] = useState(null);
  const [err, setErr] = useState(null);
  devicesVersion.value;
  const needle = q.toLowerCase();
  const list = [...devices.values()].filter((d) => !needle || d.id.toLowerCase().includes(needle) || (d.name || '').toLowerCase().includes(needle))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const remove = async (d) => {
    if (!confirm(`Delete device ${d.id}? Its readings stay in storage.`)) return;
    setErr(null);
    try {
      await del(`/devices/${enc(d.id)}`);
      devices.delete(d.id);
      loadDevices();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<div>
    <div class="toolbar"><input type="search" aria-label="Search devices" placeholder="Search" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <button class="primary" onClick=${() => setEdit('new')} data-testid="new-device">New device</button>
      <span class="muted small">${list.length} devices${list.length > 300 ? ' (first 300 shown)' : ''}</span></div>
    <${ErrorBox} error=${err} label="Devices" />
    <div class="table-wrap"><table data-testid="admin-devices"><thead><tr><th>Id</th><th>Name</th><th>Type</th><th>Groups</th><th>Location</th><th>Last seen</th><th>Actions</th></tr></thead>
      <tbody>${list.slice(0, 300).map((d) => html`<tr><td><a href=${'#/device/' + enc(d.id)}>${d.id}</a></td><td>${d.name}</td><td>${d.type}</td>
        <td>${(d.group_ids || []).join(', ')}</td><td>${d.location ? `${d.location.lat}, ${d.location.lon}` : '—'}</td><td><${Time} t=${d.last_seen} /></td>
        <td class="actions"><button onClick=${() => setEdit(d)}>Edit</button> <button onClick=${() => remove(d)}>Delete</button></td></tr>`)}</tbody></table></div>
    ${edit ? html`<${DeviceDialog} d=${edit === 'new' ? null : edit} onClose=${() => setEdit(null)} onToken=${setToken} />` : null}
    ${token ? html`<${Modal} title="Device token" onClose=${() => setToken(null)}>
      <p>This token for <b>${token.id}</b> is shown <b>once</b>. Store it on the device now (HTTP header <code>X-Device-Token</code>, MQTT password).</p>
      <pre class="token" data-testid="device-token">${token.token}</pre>
      <button onClick=${() => navigator.clipboard?.writeText(token.token)}>Copy</button> <button class="primary" onClick=${() => setToken(null)}>Done</button>
    </${Modal}>` : null}
  </div>`;
}

function DeviceDialog({ d, onClose, onToken }) {
  const [f, setF] = useState(deviceForm(d));
  const [err, setErr] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const fe = err?.fields || {};
  const save = async (ev) => {
    ev.preventDefault();
    setErr(null);
    try {
      const body = deviceBody(f, !d);
      if (d) await patch(`/devices/${enc(d.id)}`, body);
      else {
        const r = await post('/devices', body);
        onToken({ id: r?.id || f.id, token: r?.token || '(the server returned no token)' });
      }
      await loadDevices();
      onClose();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<${Modal} title=${d ? 'Edit ' + d.id : 'New device'} onClose=${onClose}>
    <form onSubmit=${save} data-testid="device-form">
      ${d ? null : html`<${Field} label="Id" error=${fe.id} hint="[A-Za-z0-9_.-], up to 64"><input name="id" required value=${f.id} onInput=${set('id')} /></${Field}>`}
      <${Field} label="Name" error=${fe.name}><input name="name" value=${f.name} onInput=${set('name')} /></${Field}>
      <${Field} label="Type" error=${fe.type}><input name="type" value=${f.type} onInput=${set('type')} /></${Field}>
      <div class="row"><${Field} label="Latitude" error=${fe['location.lat'] || fe.location}><input name="lat" type="number" step="any" min="-90" max="90" value=${f.lat} onInput=${set('lat')} /></${Field}>
        <${Field} label="Longitude" error=${fe['location.lon']}><input name="lon" type="number" step="any" min="-180" max="180" value=${f.lon} onInput=${set('lon')} /></${Field}></div>
      <${Field} label="Group ids" error=${fe.group_ids} hint="comma separated"><input name="group_ids" value=${f.group_ids} onInput=${set('group_ids')} /></${Field}>
      <${Field} label="Metadata (JSON)" error=${fe.metadata} hint='e.g. {"interval_s": 10}'><textarea name="metadata" rows="3" value=${f.metadata} onInput=${set('metadata')}></textarea></${Field}>
      <${ErrorBox} error=${err} label="Not saved" />
      <div class="row"><button class="primary" type="submit">Save</button><button type="button" onClick=${onClose}>Cancel</button></div>
    </form></${Modal}>`;
}

const ROLES = ['viewer', 'operator', 'admin'];

function Users() {
  const [users, setUsers] = useState(null);
  const [err, setErr] = useState(null);
  const [f, setF] = useState({ email: '', password: '', role: 'viewer', tenant_id: '' });
  const superadmin = role.value === 'superadmin';
  const load = () => getAll('/users', 5000, 500).then(setUsers, (e) => { setErr(e); setUsers([]); });
  useEffect(load, [tenantOverride.value]);
  const create = async (ev) => {
    ev.preventDefault();
    setErr(null);
    try {
      const body = { email: f.email, password: f.password, role: f.role };
      if (superadmin && f.tenant_id) body.tenant_id = /^\d+$/.test(f.tenant_id) ? Number(f.tenant_id) : f.tenant_id;
      await post('/users', body);
      setF({ ...f, email: '', password: '' });
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const setRole = async (u, r) => {
    setErr(null);
    try {
      await patch(`/users/${enc(u.id)}`, { role: r });
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const remove = async (u) => {
    if (!confirm(`Delete user ${u.email}?`)) return;
    try {
      await del(`/users/${enc(u.id)}`);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const fe = err?.fields || {};
  const roles = superadmin ? [...ROLES, 'superadmin'] : ROLES;
  return html`<div class="cols">
    <div class="table-wrap"><table data-testid="admin-users"><thead><tr><th>Email</th><th>Role</th>${superadmin ? html`<th>Tenant</th>` : null}<th>Created</th><th>Actions</th></tr></thead>
      <tbody>${(users || []).map((u) => html`<tr><td>${u.email}</td>
        <td><select aria-label=${'Role of ' + u.email} value=${u.role} onChange=${(e) => setRole(u, e.target.value)} disabled=${u.email === session.value?.email}>
          ${roles.map((r) => html`<option value=${r}>${r}</option>`)}</select></td>
        ${superadmin ? html`<td>${u.tenant_id}</td>` : null}<td><${Time} t=${u.created_at} /></td>
        <td><button onClick=${() => remove(u)} disabled=${u.email === session.value?.email}>Delete</button></td></tr>`)}</tbody></table></div>
    <form class="card" onSubmit=${create} data-testid="user-form"><h2>Add user</h2>
      <${Field} label="Email" error=${fe.email}><input type="email" required value=${f.email} onInput=${(e) => setF({ ...f, email: e.target.value })} /></${Field}>
      <${Field} label="Password" error=${fe.password}><input type="password" required autocomplete="new-password" value=${f.password} onInput=${(e) => setF({ ...f, password: e.target.value })} /></${Field}>
      <${Field} label="Role" error=${fe.role}><select value=${f.role} onChange=${(e) => setF({ ...f, role: e.target.value })}>${roles.map((r) => html`<option value=${r}>${r}</option>`)}</select></${Field}>
      ${superadmin ? html`<${Field} label="Tenant id" error=${fe.tenant_id} hint="empty = your tenant"><input value=${f.tenant_id} onInput=${(e) => setF({ ...f, tenant_id: e.target.value })} /></${Field}>` : null}
      <${ErrorBox} error=${err} label="Users" />
      <button class="primary">Add user</button>
    </form>
  </div>`;
}

function Tenants() {
  const [tenants, setTenants] = useState(null);
  const [name, setName] = useState('');
  const [err, setErr] = useState(null);
  const load = () => getAll('/tenants', 1000, 500).then(setTenants, (e) => { setErr(e); setTenants([]); });
  useEffect(load, []);
  const create = async (ev) => {
    ev.preventDefault();
    try {
      await post('/tenants', { name });
      setName('');
      load();
    } catch (e) {
      setErr(e);
    }
  };
  const switchTo = (id) => {
    setTenant(id);
    reconnectNow();
  };
  return html`<div class="cols">
    <div class="table-wrap"><table><thead><tr><th>Id</th><th>Name</th><th>View</th></tr></thead>
      <tbody>${(tenants || []).map((t) => html`<tr><td>${t.id}</td><td>${t.name}</td><td>
        ${String(tenantOverride.value) === String(t.id) ? html`<b>viewing</b> <button onClick=${() => switchTo('')}>Back to own</button>`
          : html`<button onClick=${() => switchTo(String(t.id))}>Switch to</button>`}</td></tr>`)}</tbody></table>
      <p class="muted small">Switching sends <code>X-Peregrine-Tenant</code> with every REST call (superadmin only); the live feed stays on your own tenant.</p></div>
    <form class="card" onSubmit=${create}><h2>New tenant</h2>
      <${Field} label="Name" error=${err?.fields?.name}><input required value=${name} onInput=${(e) => setName(e.target.value)} /></${Field}>
      <${ErrorBox} error=${err} label="Tenants" />
      <button class="primary">Create</button></form>
  </div>`;
}
