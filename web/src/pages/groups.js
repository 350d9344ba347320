// Groups: list and create (admin); a group's page renames it, edits its
// members and deletes it (admin), sends a batch command to every member
// (operator) and follows the resulting job live.
import { useEffect, useState } from 'preact/hooks';
import { html, Time, roleAtLeast, navigate, idList } from '../util.js';
import { get, getAll, post, patch, del, enc, role } from '../api.js';
import { devices, devicesVersion, loadDevices, useFrames } from '../live.js';
import { ErrorBox, Field } from '../components.js';
import { CommandFields, useCommandForm } from '../commands.js';
import { JobView, newerJob } from './job_view.js';

const MAX_MEMBERS_SHOWN = 1000;

export function GroupsPage({ args }) {
  if (args[0]) return html`<${GroupDetail} key=${args[0]} id=${args[0]} />`;
  return html`<${GroupList} />`;
}

function GroupList() {
  const [groups, setGroups] = useState(null);
  const [err, setErr] = useState(null);
  const [f, setF] = useState({ name: '', description: '', members: '' });
  const [saving, setSaving] = useState(false);
  const canAdmin = roleAtLeast(role.value, 'admin');
  useEffect(() => {
    getAll('/groups', 5000, 500).then(setGroups, (e) => { setErr(e); setGroups([]); });
  }, []);
  const create = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setSaving(true);
    try {
      const members = idList(f.members);
      const g = await post('/groups', { name: f.name.trim(), description: f.description, ...(members.length ? { device_ids: members } : {}) });
      if (members.length) loadDevices();
      navigate('#/groups/' + enc(g.id));
    } catch (e) {
      setErr(e);
    } finally {
      setSaving(false);
    }
  };
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`<section class="groups">
    <div class="toolbar"><h1>Groups</h1><span class="muted small">${groups ? `${groups.length} groups` : ''}</span></div>
    <${ErrorBox} error=${err} label="Groups" />
    <div class=${canAdmin ? 'cols' : ''}>
      <div class="table-wrap"><table data-testid="group-table"><thead><tr><th>Name</th><th>Description</th><th class="num">Devices</th><th>Created</th></tr></thead>
        <tbody>${(groups || []).map((g) => html`<tr data-testid=${'group-' + g.id} data-name=${g.name}>
          <td><a href=${'#/groups/' + enc(g.id)}>${g.name}</a></td><td>${g.description}</td>
          <td class="num" data-testid="device-count">${g.device_count}</td><td><${Time} t=${g.created_at} /></td></tr>`)}</tbody></table>
        ${groups && groups.length === 0 ? html`<p class="muted empty">No groups yet.</p>` : null}
        ${groups === null ? html`<p class="muted empty">Loading…</p>` : null}</div>
      ${canAdmin ? html`<form class="card" onSubmit=${create} data-testid="group-form"><h2>New group</h2>
        <${Field} label="Name" hint="unique in the tenant, up to 200 characters"><input name="name" required maxlength="200" value=${f.name} onInput=${set('name')} /></${Field}>
        <${Field} label="Description"><input name="description" maxlength="2000" value=${f.description} onInput=${set('description')} /></${Field}>
        <${Field} label="Members" hint="device ids, comma separated (optional)"><input name="members" list="group-devices" value=${f.members} onInput=${set('members')} /></${Field}>
        <${DeviceOptions} exclude=${[]} />
        <button class="primary" disabled=${saving} data-testid="create-group">Create group</button>
      </form>` : null}
    </div>
  </section>`;
}

function DeviceOptions({ exclude }) {
  devicesVersion.value;
  const skip = new Set(exclude);
  return html`<datalist id="group-devices">${[...devices.keys()].filter((d) => !skip.has(d)).slice(0, 500).map((d) => html`<option value=${d} />`)}</datalist>`;
}

function GroupDetail({ id }) {
  const [g, setG] = useState(null);
  const [err, setErr] = useState(null);
  const [jobs, setJobs] = useState([]);
  const [shown, setShown] = useState(null); // the job in the JobView
  const canAdmin = roleAtLeast(role.value, 'admin');
  const canOperate = roleAtLeast(role.value, 'operator');
  devicesVersion.value;

  useEffect(() => {
    get(`/groups/${enc(id)}`).then(setG, setErr);
    getAll('/jobs?kind=batch_command', 200, 100).then(
      (list) => setJobs(list.filter((j) => String(j.params?.group) === String(id))),
      setErr,
    );
  }, [id]);

  const putJob = (j) => setJobs((list) => {
    const i = list.findIndex((x) => x.id === j.id);
    if (i < 0) return [j, ...list];
    const copy = list.slice();
    copy[i] = newerJob(list[i], j);
    return copy;
  });
  useFrames('jobs', 'job', (msg) => {
    if (String(msg.job?.params?.group) === String(id)) putJob(msg.job);
  }, [id]);

  const changed = (next) => {
    setG(next);
    loadDevices(); // members' group_ids
  };
  const remove = async () => {
    if (!confirm(`Delete group "${g.name}"? Its devices stay; rules scoped to it must be changed first.`)) return;
    setErr(null);
    try {
      await del(`/groups/${enc(id)}`);
      loadDevices();
      navigate('#/groups');
    } catch (e) {
      setErr(e);
    }
  };

  if (!g) return html`<section><${ErrorBox} error=${err} label="Group" />${err ? null : html`<p class="muted">Loading…</p>`}</section>`;
  return html`<section class="group" data-testid="group-detail" data-group=${g.id}>
    <div class="toolbar"><h1><a href="#/groups" class="muted">Groups</a> / <span data-testid="group-title">${g.name}</span></h1>
      <span class="muted">${g.device_ids.length} device${g.device_ids.length === 1 ? '' : 's'}</span>
      <div class="spacer"></div>
      ${canAdmin ? html`<button onClick=${remove} data-testid="delete-group">Delete group</button>` : null}</div>
    ${g.description ? html`<p class="muted">${g.description}</p>` : null}
    <${ErrorBox} error=${err} label="Group" />
    <div class="cols">
      <div>
        <${Members} g=${g} canAdmin=${canAdmin} onChange=${changed} />
        ${shown ? html`<${JobView} key=${shown.id} job=${shown} onChange=${putJob} />` : null}
        <${JobList} jobs=${jobs} shown=${shown} onShow=${setShown} />
      </div>
      <aside>
        ${canAdmin ? html`<${RenameForm} g=${g} onChange=${changed} />` : null}
        ${canOperate ? html`<${BatchForm} g=${g} onJob=${(j) => { putJob(j); setShown(j); }} />` : null}
      </aside>
    </div>
  </section>`;
}

function Members({ g, canAdmin, onChange }) {
  const [add, setAdd] = useState('');
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const change = async (body) => {
    setErr(null);
    setBusy(true);
    try {
      onChange(await patch(`/groups/${enc(g.id)}`, body));
      return true;
    } catch (e) {
      setErr(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const submit = async (ev) => {
    ev.preventDefault();
    const ids = idList(add);
    if (ids.length && (await change({ add: ids }))) setAdd('');
  };
  const members = g.device_ids;
  return html`<div class="card" data-testid="group-members">
    <div class="toolbar"><h2>Members</h2>
      ${canAdmin ? html`<form class="row" onSubmit=${submit} data-testid="add-members">
        <input name="add" aria-label="Device ids to add" placeholder="device ids, comma separated" list="group-devices" value=${add} onInput=${(e) => setAdd(e.target.value)} />
        <${DeviceOptions} exclude=${members} />
        <button disabled=${busy} data-testid="add-member">Add</button></form>` : null}</div>
    <${ErrorBox} error=${err} label="Members not changed" />
    <div class="table-wrap"><table><thead><tr><th>Device</th><th>Name</th><th>State</th>${canAdmin ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${members.slice(0, MAX_MEMBERS_SHOWN).map((d) => {
        const dev = devices.get(d);
        return html`<tr data-testid=${'member-' + d}><td><a href=${'#/device/' + enc(d)}>${d}</a></td><td>${dev?.name || ''}</td>
          <td><span class=${'pill ' + (dev?.online ? 'on' : 'off')}>${dev?.online ? 'online' : 'offline'}</span></td>
          ${canAdmin ? html`<td class="actions"><button disabled=${busy} onClick=${() => change({ remove: [d] })} aria-label=${'Remove ' + d}
            data-testid=${'remove-' + d}>Remove</button></td>` : null}</tr>`;
      })}</tbody></table>
      ${members.length === 0 ? html`<p class="muted empty">No devices in this group.</p>` : null}
      ${members.length > MAX_MEMBERS_SHOWN ? html`<p class="muted small">First ${MAX_MEMBERS_SHOWN} of ${members.length} shown.</p>` : null}</div>
  </div>`;
}

function RenameForm({ g, onChange }) {
  const [f, setF] = useState({ name: g.name, description: g.description || '' });
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  const save = async (ev) => {
    ev.preventDefault();
    setErr(null);
    setSaved(false);
    try {
      onChange(await patch(`/groups/${enc(g.id)}`, { name: f.name.trim(), description: f.description }));
      setSaved(true);
    } catch (e) {
      setErr(e);
    }
  };
  return html`<form class="card" onSubmit=${save} data-testid="rename-group"><h2>Name</h2>
    <${Field} label="Name"><input name="name" required maxlength="200" value=${f.name} onInput=${(e) => (setF({ ...f, name: e.target.value }), setSaved(false))} /></${Field}>
    <${Field} label="Description"><input name="description" maxlength="2000" value=${f.description} onInput=${(e) => (setF({ ...f, description: e.target.value }), setSaved(false))} /></${Field}>
    <button class="primary" data-testid="save-group">Save</button>
    ${saved ? html` <span class="ok" role="status">Saved.</span>` : null}
    <${ErrorBox} error=${err} label="Not saved" />
  </form>`;
}

function BatchForm({ g, onJob }) {
  const { f, setF, localErr, build } = useCommandForm();
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (ev) => {
    ev.preventDefault();
    setErr(null);
    const body = build();
    if (!body) return;
    setBusy(true);
    try {
      onJob(await post(`/groups/${enc(g.id)}/commands`, body));
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const n = g.device_ids.length;
  return html`<form class="card" onSubmit=${send} data-testid="batch-form"><h2>Batch command</h2>
    <p class="muted small">Sends the command to every member; offline members get it when they come online, until it expires.</p>
    <${CommandFields} f=${f} setF=${setF} error=${localErr} />
    <button class="primary" disabled=${busy || n === 0} data-testid="send-batch">${busy ? 'Sending…' : `Send to ${n} device${n === 1 ? '' : 's'}`}</button>
    <${ErrorBox} error=${err} label="Batch not sent" />
  </form>`;
}

function JobList({ jobs, shown, onShow }) {
  if (!jobs.length) return null;
  return html`<div class="card"><h2>Batch commands to this group</h2>
    <div class="table-wrap"><table data-testid="group-jobs"><thead><tr><th>Job</th><th>Command</th><th>State</th><th class="num">Ended</th><th class="num">Failed</th><th>Created</th><th></th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr data-testid=${'group-job-' + j.id} data-state=${j.state}>
        <td>${j.id}</td><td>${j.params?.command}</td><td>${j.state}</td>
        <td class="num">${(j.progress?.done || 0) + (j.progress?.failed || 0)}/${j.progress?.total ?? '?'}</td><td class="num">${j.progress?.failed || 0}</td>
        <td><${Time} t=${j.created_at} /></td>
        <td>${shown?.id === j.id ? html`<b>shown</b>` : html`<button onClick=${() => onShow(j)}>Show</button>`}</td></tr>`)}</tbody></table></div>
  </div>`;
}
