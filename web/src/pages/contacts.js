// Contacts: the people a rule's notify action reaches (operators read,
// admins create, edit and delete). A contact is linked to devices and
// groups; "the device's contacts" of an alert are those linked to its
// device or to one of the device's groups.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast, idList } from '../util.js';
import { getAll, post, patch, del, enc, role } from '../api.js';
import { devices, devicesVersion } from '../live.js';
import { ErrorBox, Field } from '../components.js';

export const CONTACT_KINDS = ['personal', 'secondary', 'emergency'];

function toForm(c) {
  return { name: c?.name || '', email: c?.email || '', phone: c?.phone || '', kind: c?.kind || 'personal',
    device_ids: (c?.device_ids || []).join(', '), group_ids: (c?.group_ids || []).map(String) };
}

function toBody(f, editing) {
  const b = { name: f.name.trim(), kind: f.kind, device_ids: idList(f.device_ids), group_ids: f.group_ids.map(Number) };
  for (const k of ['email', 'phone']) {
    const v = f[k].trim();
    if (v) b[k] = v;
    else if (editing) b[k] = null;
  }
  return b;
}

export function ContactsPage() {
  const [list, setList] = useState(null);
  const [groups, setGroups] = useState([]);
  const [err, setErr] = useState(null);
  const [edit, setEdit] = useState(null); // null (new) | contact
  const [device, setDevice] = useState('');
  const [group, setGroup] = useState('');
  const canAdmin = roleAtLeast(role.value, 'admin');
  const load = () => {
    const qs = new URLSearchParams();
    if (device) qs.set('device', device);
    if (group) qs.set('group', group);
    return getAll('/contacts' + (String(qs) ? '?' + qs : ''), 5000, 500).then(setList, (e) => { setErr(e); setList([]); });
  };
  useEffect(load, [device, group]);
  useEffect(() => {
    getAll('/groups', 5000, 500).then(setGroups, setErr);
  }, []);
  if (!roleAtLeast(role.value, 'operator')) return html`<section><h1>Contacts</h1><p>Your role (${role.value}) cannot see contacts.</p></section>`;
  const groupName = (id) => groups.find((g) => String(g.id) === String(id))?.name || `group ${id}`;
  const remove = async (c) => {
    if (!confirm(`Delete contact "${c.name}"? Past deliveries keep the name and address.`)) return;
    setErr(null);
    try {
      await del(`/contacts/${enc(c.id)}`);
      if (edit?.id === c.id) setEdit(null);
      load();
    } catch (e) {
      setErr(e);
    }
  };
  return html`<section class="contacts">
    <div class="toolbar"><h1>Contacts</h1>
      <input type="search" aria-label="Device" placeholder="Device id" value=${device} onChange=${(e) => setDevice(e.target.value.trim())} />
      <select aria-label="Group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">Any group</option>${groups.map((g) => html`<option value=${String(g.id)}>${g.name}</option>`)}</select>
      <span class="muted small">${list ? `${list.length} contacts` : ''}</span>
      <div class="spacer"></div>${canAdmin && edit ? html`<button onClick=${() => setEdit(null)} data-testid="new-contact">New contact</button>` : null}</div>
    <${ErrorBox} error=${err} label="Contacts" />
    <div class=${canAdmin ? 'cols' : ''}>
      <div class="table-wrap"><table data-testid="contact-table"><thead><tr><th>Name</th><th>Kind</th><th>Email</th><th>Phone</th><th>Devices</th><th>Groups</th><th>Created</th>
        ${canAdmin ? html`<th>Actions</th>` : null}</tr></thead>
        <tbody>${(list || []).map((c) => html`<tr data-testid=${'contact-' + c.id} data-name=${c.name}>
          <td>${c.name}</td><td><span class=${'pill kind-' + c.kind}>${c.kind}</span></td><td>${c.email || '—'}</td><td>${c.phone || '—'}</td>
          <td class="small">${(c.device_ids || []).map((d, i) => html`${i ? ', ' : ''}<a href=${'#/device/' + enc(d)}>${d}</a>`)}</td>
          <td class="small">${(c.group_ids || []).map((g, i) => html`${i ? ', ' : ''}<a href=${'#/groups/' + enc(g)}>${groupName(g)}</a>`)}</td>
          <td><${Time} t=${c.created_at} /></td>
          ${canAdmin ? html`<td class="actions"><button onClick=${() => setEdit(c)} data-testid="edit-contact">Edit</button>
            <button onClick=${() => remove(c)} data-testid="delete-contact">Delete</button></td>` : null}</tr>`)}</tbody></table>
        ${list && list.length === 0 ? html`<p class="muted empty">No contacts${device || group ? ' match' : ' yet'}.</p>` : null}
        ${list === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
      ${canAdmin ? html`<${ContactForm} key=${edit?.id ?? 'new'} c=${edit} groups=${groups} onSaved=${(c) => { setEdit(c); load(); }} />` : null}
    </div>
  </section>`;
}

function ContactForm({ c, groups, onSaved }) {
  const [f, setF] = useState(toForm(c));
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  devicesVersion.value;
  const set = (k) => (e) => (setF({ ...f, [k]: e.target.value }), setSaved(false));
  const toggleGroup = (id, on) => (setF({ ...f, group_ids: on ? [...f.group_ids, id] : f.group_ids.filter((g) => g !== id) }), setSaved(false));
  const fe = err?.fields || {};
  const save = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setSaved(false);
    setBusy(true);
    try {
      const r = c ? await patch(`/contacts/${enc(c.id)}`, toBody(f, true)) : await post('/contacts', toBody(f, false));
      setSaved(true);
      onSaved(r);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${save} data-testid="contact-form" data-editing=${c ? c.id : ''}>
    <h2>${c ? `Edit ${c.name}` : 'New contact'}</h2>
    <${Field} label="Name" error=${fe.name}><input name="name" required maxlength="200" value=${f.name} onInput=${set('name')} /></${Field}>
    <${Field} label="Email" error=${fe.email} hint="email or phone (or both)"><input name="email" type="email" value=${f.email} onInput=${set('email')} /></${Field}>
    <${Field} label="Phone" error=${fe.phone} hint="E.164, e.g. +4915112345678"><input name="phone" type="tel" value=${f.phone} onInput=${set('phone')} /></${Field}>
    <${Field} label="Kind" error=${fe.kind} hint="a notify action may reach only one kind"><select name="kind" value=${f.kind} onChange=${set('kind')}>
      ${CONTACT_KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select></${Field}>
    <${Field} label="Devices" error=${fe.device_ids} hint="device ids, comma separated"><input name="device_ids" list="contact-devices" value=${f.device_ids} onInput=${set('device_ids')} /></${Field}>
    <datalist id="contact-devices">${[...devices.keys()].slice(0, 500).map((d) => html`<option value=${d} />`)}</datalist>
    <fieldset class="checks" data-testid="contact-groups"><legend>Groups</legend>
      ${groups.map((g) => html`<label class="check"><input type="checkbox" name="group" value=${String(g.id)} checked=${f.group_ids.includes(String(g.id))}
        onChange=${(e) => toggleGroup(String(g.id), e.target.checked)} /> ${g.name}</label>`)}
      ${groups.length === 0 ? html`<span class="muted small">No groups.</span>` : null}
      ${fe.group_ids ? html`<span class="field-error" role="alert">${fe.group_ids}</span>` : null}</fieldset>
    <button class="primary" disabled=${busy} data-testid="save-contact">${c ? 'Save' : 'Create contact'}</button>
    ${saved ? html` <span class="ok" role="status">Saved.</span>` : null}
    <${ErrorBox} error=${err} label="Not saved" />
  </form>`;
}
