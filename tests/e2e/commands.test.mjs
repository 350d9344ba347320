// Groups, commands, batch jobs, bulk import and command rule actions end to
// end: real peregrine, PostgreSQL, Redis and Mosquitto, headless Chromium.
// Devices that answer commands are played by an MQTT client in this file
// (the test broker is anonymous); screenshots go to docs/screenshots/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, SHOTS,
} from './harness.mjs';

const skip = skipReason();
if (skip) console.log(`# e2e skipped: ${skip}`);

const ADMIN = { email: 'admin@commands.e2e.test', password: 'e2e-' + rand(8) };
const run = rand(3);
const dev = (name) => `e2e-${run}-${name}`;
const G = [dev('g1'), dev('g2'), dev('g3')]; // group CRUD members
const ACK = dev('ack'); // acks every command
const SILENT = dev('silent'); // online, never acks
const OFFLINE = dev('offline'); // provisioned, never connects
const B = [dev('b1'), dev('b2'), dev('b3')]; // batch members, ack one after another
const IMPORTED = [dev('i1'), dev('i2'), dev('i3'), dev('i4')];

describe('commands, groups, jobs, bulk import', { skip: skip || false, timeout: 600000 }, () => {
  let db, srv, mq, browser, ctx, page, token;
  const answers = new Map(); // device -> {delayMs, status, detail}
  const received = []; // {device, id, name, params}
  const requests = []; // {method, url, contentType, at}

  const call = async (method, p, body, want) => {
    const r = await srv.call(method, p, token, body);
    if (want !== undefined) assert.equal(r.status, want, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  /** Publishes a reading so the device is provisioned and online, and waits until the server says so. */
  const bringOnline = async (id) => {
    await mq.publish(id, { co: 1 });
    await eventually(async () => (await srv.call('GET', `/devices/${id}`, token)).body?.online === true, { what: `${id} online` });
    // Auto-provisioned devices are answered from memory until the writer
    // stored them; groups name stored devices only (the list reads the table).
    await eventually(async () => ((await srv.call('GET', `/devices?q=${encodeURIComponent(id)}`, token)).body?.items ?? [])
      .some((d) => d.id === id), { what: `${id} stored` });
  };
  const goto = async (hash) => {
    await page.evaluate((h) => (location.hash = h), hash);
  };
  const requestsSince = (t, method, re) => requests.filter((r) => r.at >= t && r.method === method && re.test(r.url));

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'commands' });
    await srv.start();
    token = await srv.login(ADMIN.email, ADMIN.password);
    mq = await connectMqtt();
    // The devices' side of commands: answer on devices/{id}/commands/ack after a delay.
    mq.client.on('message', (topic, payload) => {
      const [root, device, leaf, extra] = topic.split('/');
      if (root !== 'devices' || leaf !== 'commands' || extra !== undefined) return;
      const cmd = JSON.parse(payload.toString());
      received.push({ device, ...cmd });
      const a = answers.get(device);
      if (!a) return;
      setTimeout(() => {
        mq.client.publishAsync(`devices/${device}/commands/ack`, JSON.stringify({ id: cmd.id, status: a.status, detail: a.detail }), { qos: 1 })
          .then(null, (e) => console.error(`# ack for ${device} not published: ${e.message}`));
      }, a.delayMs);
    });
    await mq.client.subscribeAsync('devices/+/commands', { qos: 1 });
    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('# page error:', e.message));
    page.on('dialog', (d) => d.accept());
    page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), contentType: r.headers()['content-type'], at: Date.now() }));
    await loginInPage(page, srv.base, ADMIN.email, ADMIN.password);
    await eventually(async () => (await page.getByTestId('live').getAttribute('data-state')) === 'live', { what: 'live indicator' });
    await page.evaluate(() => (window.__noReload = 1));
  });

  after(async () => {
    await browser?.close();
    await mq?.end();
    await srv?.stop();
    if (srv) console.log(`# peregrine log: ${srv.logFile}`);
    db?.drop();
  });

  test('groups: create with members, rename, add and remove members, delete (refused while a rule uses it)', async () => {
    for (const id of G) await bringOnline(id);
    await goto('#/groups');
    await page.getByTestId('group-table').waitFor();
    const form = page.getByTestId('group-form');
    await form.locator('input[name=name]').fill(`line ${run}`);
    await form.locator('input[name=description]').fill('packaging line');
    await form.locator('input[name=members]').fill(`${G[0]}, ${G[1]}`);
    await page.getByTestId('create-group').click();
    const detail = page.getByTestId('group-detail');
    await detail.waitFor({ timeout: 10000 });
    const gid = Number(await detail.getAttribute('data-group'));
    await page.getByTestId('member-' + G[1]).waitFor();
    assert.deepEqual((await call('GET', `/groups/${gid}`, undefined, 200)).body.device_ids, [G[0], G[1]].sort());

    // Rename.
    const rename = page.getByTestId('rename-group');
    await rename.locator('input[name=name]').fill(`line ${run} renamed`);
    await page.getByTestId('save-group').click();
    await eventually(async () => (await page.getByTestId('group-title').textContent()) === `line ${run} renamed`, { what: 'new name in the title' });
    assert.equal((await call('GET', `/groups/${gid}`, undefined, 200)).body.name, `line ${run} renamed`);

    // Add a member, remove another.
    await page.getByTestId('add-members').locator('input[name=add]').fill(G[2]);
    await page.getByTestId('add-member').click();
    await page.getByTestId('member-' + G[2]).waitFor({ timeout: 10000 });
    assert.deepEqual((await call('GET', `/groups/${gid}`, undefined, 200)).body.device_ids, [...G].sort());
    assert.deepEqual((await call('GET', `/devices/${G[2]}`, undefined, 200)).body.group_ids, [gid]);
    await page.getByTestId('remove-' + G[0]).click();
    await page.getByTestId('member-' + G[0]).waitFor({ state: 'detached', timeout: 10000 });
    assert.deepEqual((await call('GET', `/groups/${gid}`, undefined, 200)).body.device_ids, [G[1], G[2]].sort());
    assert.deepEqual((await call('GET', `/devices/${G[0]}`, undefined, 200)).body.group_ids, []);

    // The list shows it with its member count.
    await goto('#/groups');
    const row = page.getByTestId('group-' + gid);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.getByTestId('device-count').textContent(), '2');
    await row.getByRole('link').click();
    await detail.waitFor();

    // A rule scoped to the group blocks its deletion; the API's reason is shown.
    const rule = await call('POST', '/rules', { name: `uses group ${run}`, metric: 'co', scope: { group: gid }, kind: 'threshold',
      params: { op: '>', value: 1000 }, severity: 'info', enabled: true }, 201);
    await page.getByTestId('delete-group').click();
    const err = page.getByTestId('error');
    await err.waitFor({ timeout: 10000 });
    assert.match(await err.textContent(), /409/);
    assert.equal((await call('GET', `/groups/${gid}`)).status, 200, 'group deleted although a rule uses it');
    await call('DELETE', `/rules/${rule.body.id}`, undefined, 204);
    await page.getByTestId('delete-group').click();
    await page.getByTestId('group-table').waitFor({ timeout: 10000 });
    await eventually(async () => (await call('GET', `/groups/${gid}`)).status === 404, { what: 'group gone' });
    assert.equal(await page.getByTestId('group-' + gid).count(), 0, 'deleted group still listed');
  });

  test('a command sent from the device page turns ok live when the device acks', async () => {
    await bringOnline(ACK);
    answers.set(ACK, { delayMs: 1500, status: 'ok', detail: 'backup running' });
    await goto('#/device/' + ACK);
    const form = page.getByTestId('command-form');
    await form.waitFor({ timeout: 10000 });
    await page.getByTestId('command-history').locator('.empty').waitFor({ timeout: 10000 });
    await form.locator('input[name=command_name]').fill('activate_backup');
    await form.locator('textarea[name=command_params]').fill('{"level": 2}');
    await form.locator('input[name=ack_timeout_s]').fill('10');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/devices/${ACK}/commands`));
    const sentAt = Date.now();
    await page.getByTestId('send-command').click();
    const resp = await posted;
    assert.equal(resp.status(), 201);
    const cmd = await resp.json();
    const row = page.getByTestId('command-' + cmd.id);
    await row.waitFor({ timeout: 5000 });
    assert.equal(await row.getAttribute('data-status'), 'sent', 'the row starts as sent (the ack comes 1.5 s later)');
    await eventually(async () => (await row.getAttribute('data-status')) === 'ok', { timeout: 15000, what: 'status ok on the page' });
    assert.match(await row.textContent(), /backup running/);
    // The page learned it from the `commands` frame, not by asking again.
    assert.deepEqual(requestsSince(sentAt, 'GET', new RegExp(`/devices/${ACK}/commands`)), [], 'history re-fetched instead of live');
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
    const got = received.find((c) => c.id === cmd.id);
    assert.ok(got, 'the device never received the command');
    assert.deepEqual({ name: got.name, params: got.params }, { name: 'activate_backup', params: { level: 2 } });
    const stored = await call('GET', `/devices/${ACK}/commands/${cmd.id}`, undefined, 200);
    assert.equal(stored.body.status, 'ok');
    await page.screenshot({ path: path.join(SHOTS, 'device-commands.png'), fullPage: true });
  });

  test('a silent device\'s command times out live, and an offline device\'s expires', async () => {
    await bringOnline(SILENT);
    await goto('#/device/' + SILENT);
    let form = page.getByTestId('command-form');
    await form.waitFor({ timeout: 10000 });
    await form.locator('input[name=command_name]').fill('open_valve');
    await form.locator('input[name=ack_timeout_s]').fill('2');
    let posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/devices/${SILENT}/commands`));
    await page.getByTestId('send-command').click();
    const timed = await (await posted).json();
    let row = page.getByTestId('command-' + timed.id);
    await row.waitFor({ timeout: 5000 });
    assert.equal(await row.getAttribute('data-status'), 'sent');
    await eventually(async () => (await row.getAttribute('data-status')) === 'timed_out', { timeout: 20000, what: 'status timed_out on the page' });
    assert.ok(received.some((c) => c.id === timed.id), 'the silent device never received the command');

    await call('POST', '/devices', { id: OFFLINE, name: 'never connects' }, 201);
    await goto('#/device/' + OFFLINE);
    await page.getByTestId('device-title').waitFor();
    form = page.getByTestId('command-form');
    await form.waitFor({ timeout: 10000 });
    await form.locator('input[name=command_name]').fill('reboot');
    await form.locator('input[name=expires_s]').fill('2');
    posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/devices/${OFFLINE}/commands`));
    await page.getByTestId('send-command').click();
    const queued = await (await posted).json();
    assert.equal(queued.status, 'queued');
    row = page.getByTestId('command-' + queued.id);
    await row.waitFor({ timeout: 5000 });
    assert.equal(await row.getAttribute('data-status'), 'queued');
    await eventually(async () => (await row.getAttribute('data-status')) === 'expired', { timeout: 20000, what: 'status expired on the page' });
    assert.ok(!received.some((c) => c.id === queued.id), 'an offline device got a published command');
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
  });

  test('a batch command to a group shows a live progress bar up to N/N and every item ok', async () => {
    for (const [i, id] of B.entries()) {
      await bringOnline(id);
      answers.set(id, { delayMs: 800 * (i + 1), status: 'ok', detail: '' });
    }
    const g = await call('POST', '/groups', { name: `batch ${run}`, device_ids: B }, 201);
    await goto('#/groups/' + g.body.id);
    const form = page.getByTestId('batch-form');
    await form.waitFor({ timeout: 10000 });
    // Every value the progress bar shows, as the page renders it.
    await page.evaluate(() => {
      window.__progress = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid=job-progress]');
        const v = el && `${el.dataset.done}/${el.dataset.total}`;
        if (v && window.__progress[window.__progress.length - 1] !== v) window.__progress.push(v);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await form.locator('input[name=command_name]').fill('set_speed');
    await form.locator('textarea[name=command_params]').fill('{"rpm": 1200}');
    await form.locator('input[name=ack_timeout_s]').fill('15');
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/groups/${g.body.id}/commands`));
    await page.getByTestId('send-batch').click();
    const resp = await posted;
    assert.equal(resp.status(), 202);
    const job = await resp.json();
    const view = page.getByTestId('job-' + job.id);
    await view.waitFor({ timeout: 5000 });
    const bar = view.getByTestId('job-progress');
    await eventually(async () => (await bar.getAttribute('data-done')) === '3', { timeout: 20000, what: 'progress 3/3' });
    assert.equal(await bar.getAttribute('data-total'), '3');
    assert.equal(await view.getByTestId('job-failed').textContent(), '0');
    assert.equal(await view.getByTestId('job-ended').textContent(), '3/3');
    await eventually(async () => (await view.getAttribute('data-state')) === 'done', { what: 'job state done' });
    for (const id of B) {
      await eventually(async () => (await view.getByTestId('job-item-' + id).getAttribute('data-status')) === 'ok', { what: `item ${id} ok` });
    }
    const seen = await page.evaluate(() => window.__progress);
    assert.ok(seen.some((v) => v === '1/3' || v === '2/3'), `the bar never showed a partial value before 3/3: ${seen.join(' ')}`);
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
    const stored = await call('GET', `/jobs/${job.id}`, undefined, 200);
    assert.equal(stored.body.state, 'done');
    assert.deepEqual(stored.body.progress, { total: 3, done: 3, failed: 0 });
    assert.deepEqual(received.filter((c) => c.name === 'set_speed').map((c) => c.device).sort(), [...B].sort());
    await page.screenshot({ path: path.join(SHOTS, 'groups.png'), fullPage: true });
  });

  test('a bulk CSV import with one bad row creates the others and shows the bad row\'s error', async () => {
    const group = `bulk ${run}`;
    const g = await call('POST', '/groups', { name: group }, 201);
    const csv = [
      'id,name,type,group,lat,lon,site',
      `${IMPORTED[0]},Boiler 1,boiler,${group},48.1,11.5,north`,
      `${IMPORTED[1]},Boiler 2,boiler,,,,south`,
      `${IMPORTED[2]},Broken,boiler,,123,11.5,east`,
      `${IMPORTED[3]},Pump 4,pump,${g.body.id},,,west`,
    ].join('\n') + '\n';
    await goto('#/admin');
    await page.getByRole('tab', { name: 'Bulk import' }).click();
    await page.getByTestId('bulk-file').setInputFiles({ name: 'devices.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const before = Date.now();
    await page.getByTestId('bulk-upload').click();
    const result = page.getByTestId('bulk-result');
    await result.waitFor({ timeout: 15000 });
    const sent = requestsSince(before, 'POST', /\/api\/v1\/devices\/bulk$/);
    assert.equal(sent.length, 1);
    assert.match(sent[0].contentType, /^text\/csv/);
    assert.equal(await page.getByTestId('bulk-created').textContent(), '3');
    assert.equal(await page.getByTestId('bulk-failed').textContent(), '1');
    const bad = page.getByTestId('bulk-row-3');
    assert.equal(await bad.getAttribute('data-status'), 'error');
    assert.equal(await bad.getByTestId('bulk-field').textContent(), 'location');
    assert.match(await bad.getByTestId('bulk-detail').textContent(), /lat/);
    assert.equal(await bad.getByTestId('bulk-token').count(), 0);
    for (const n of [1, 2, 4]) {
      const r = page.getByTestId('bulk-row-' + n);
      assert.equal(await r.getAttribute('data-status'), 'created', `row ${n}`);
      assert.match(await r.getByTestId('bulk-token').textContent(), /^\S{16,}$/, `row ${n} token`);
    }
    assert.match(await result.getByRole('note').textContent(), /shown once/);
    await page.screenshot({ path: path.join(SHOTS, 'bulk-import.png'), fullPage: true });

    const d1 = (await call('GET', `/devices/${IMPORTED[0]}`, undefined, 200)).body;
    assert.deepEqual([d1.name, d1.type, d1.group_ids, d1.metadata.site], ['Boiler 1', 'boiler', [g.body.id], 'north']);
    assert.deepEqual((await call('GET', `/devices/${IMPORTED[3]}`, undefined, 200)).body.group_ids, [g.body.id]);
    assert.equal((await call('GET', `/devices/${IMPORTED[2]}`)).status, 404, 'the bad row created a device');
  });

  let ruleId;
  test('the rule editor builds a command action to a group with escalate and command fallbacks, and stores it', async () => {
    const sg = await call('POST', '/groups', { name: `silent ${run}`, device_ids: [SILENT] }, 201);
    const gid = sg.body.id;
    await goto('#/rules/new');
    const form = page.getByTestId('rule-form');
    await form.waitFor();
    await form.locator('input[name=name]').fill(`closed loop ${run}`);
    await form.locator('input[name=metric]').fill('co');
    await form.locator('select[name=scope]').selectOption('device');
    await form.locator('input[name=scope_value]').fill(SILENT);
    await form.locator('select[name=op]').selectOption('>');
    await form.locator('input[name=value]').fill('50');
    await form.locator('select[name=severity]').selectOption('warning');
    await page.getByTestId('add-command-actions').click();
    const a0 = page.getByTestId('actions[0]');
    await a0.waitFor();
    // Without a command name the API refuses; its message lands at the field.
    await page.getByTestId('save-rule').click();
    const nameErr = a0.locator('.field-error').first();
    await nameErr.waitFor({ timeout: 10000 });
    assert.match(await nameErr.textContent(), /must match \[A-Za-z0-9_.-\]\{1,64\}/);

    await a0.locator('input[name=action_name]').first().fill('activate_backup');
    assert.equal(await a0.locator('.field-error').count(), 0, 'the API error stays after the field changed');
    await a0.locator('textarea[name=action_params]').first().fill('{"level": 3}');
    await a0.locator('input[name=action_ack_timeout_s]').first().fill('5');
    await a0.locator('select[name=action_target]').first().selectOption('group');
    await a0.locator('select[name=action_group]').first().selectOption(String(gid));
    await page.getByTestId('add-escalate-actions[0].on_timeout').click();
    await page.getByTestId('actions[0].on_timeout[0]').locator('select[name=action_to]').selectOption('critical');
    await page.getByTestId('add-command-actions[0].on_timeout').click();
    const nested = page.getByTestId('actions[0].on_timeout[1]');
    await nested.locator('input[name=action_name]').first().fill('sound_alarm');
    await nested.locator('input[name=action_ack_timeout_s]').first().fill('3');
    assert.equal(await page.getByTestId('error').count(), 0, 'the refusal stays shown after its field was fixed');
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, 'rule-command-action.png'), fullPage: true });

    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/rules'));
    await page.getByTestId('save-rule').click();
    const resp = await posted;
    assert.equal(resp.status(), 201, `rule not created: ${await resp.text()}`);
    await page.getByTestId('rule-table').waitFor();
    const expected = [{
      type: 'command', name: 'activate_backup', params: { level: 3 }, target: { group: gid }, ack_timeout_s: 5,
      on_timeout: [{ type: 'escalate', to: 'critical' }, { type: 'command', name: 'sound_alarm', params: {}, target: 'device', ack_timeout_s: 3 }],
    }];
    const rules = (await call('GET', '/rules', undefined, 200)).body.items;
    const stored = rules.find((r) => r.name === `closed loop ${run}`);
    assert.ok(stored, 'rule not stored');
    ruleId = stored.id;
    assert.deepEqual(stored.actions, expected);

    // Opening it again shows the same actions in the builder.
    await page.getByTestId('rule-' + ruleId).getByRole('link', { name: 'Edit' }).click();
    const e0 = page.getByTestId('actions[0]');
    await e0.waitFor({ timeout: 10000 });
    assert.equal(await e0.locator('input[name=action_name]').first().inputValue(), 'activate_backup');
    assert.equal(await e0.locator('select[name=action_group]').first().inputValue(), String(gid));
    assert.equal(await page.getByTestId('actions[0].on_timeout[0]').getAttribute('data-type'), 'escalate');
    assert.equal(await page.getByTestId('actions[0].on_timeout[0]').locator('select[name=action_to]').inputValue(), 'critical');
    assert.equal(await page.getByTestId('actions[0].on_timeout[1]').locator('input[name=action_name]').inputValue(), 'sound_alarm');
  });

  test('the alert that rule opens shows its command steps and fallback live on its timeline', async () => {
    assert.ok(ruleId, 'needs the rule of the previous case');
    await goto('#/alerts');
    await page.getByTestId('alert-table').waitFor();
    await mq.publish(SILENT, { co: 80 });
    const row = page.locator(`[data-device="${SILENT}"]`).first();
    await row.waitFor({ timeout: 15000 });
    const alertId = (await row.getAttribute('data-testid')).replace('alert-', '');
    // When each timeline entry first shows, on the page's own clock (its resource timings use the same).
    await page.evaluate(() => {
      performance.clearResourceTimings();
      performance.setResourceTimingBufferSize(10000);
      window.__shown = new Map();
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('[data-testid=timeline] li')) {
          if (!window.__shown.has(li.textContent)) window.__shown.set(li.textContent, performance.now());
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await row.getByTestId('timeline-link').click();
    const detail = page.getByTestId('alert-detail');
    await detail.waitFor({ timeout: 10000 });
    const timeline = page.getByTestId('timeline');
    const hasEvent = (kind, re) => async () => {
      for (const li of await timeline.locator(`li[data-kind=${kind}]`).all()) if (re.test(await li.textContent())) return true;
      return false;
    };
    // The group command goes unanswered for 5 s; then the fallback escalates and sends sound_alarm.
    await eventually(hasEvent('action', /activate_backup to .*timed_out/), { timeout: 20000, what: 'activate_backup timed_out step' });
    await eventually(hasEvent('action', /fallback: command activate_backup/), { timeout: 10000, what: 'fallback step' });
    await eventually(hasEvent('action', /sound_alarm to .*sent/), { timeout: 10000, what: 'sound_alarm sent step' });
    await eventually(hasEvent('escalated', /escalate action/), { timeout: 10000, what: 'escalated event' });
    await eventually(async () => (await detail.getAttribute('data-severity')) === 'critical', { what: 'alert shown as critical' });
    // The timed-out step came in a frame: only the page's first read of the alert had answered when it showed.
    const { shown, reads } = await page.evaluate((re) => ({
      shown: [...window.__shown],
      reads: performance.getEntriesByType('resource').filter((e) => new RegExp(re).test(e.name)).map((e) => e.responseEnd),
    }), `/api/v1/alerts/${alertId}$`);
    const timedOutAt = shown.find(([text]) => /activate_backup to .*timed_out/.test(text))[1];
    assert.ok(reads.length >= 1, 'no read of the alert recorded');
    assert.equal(reads.filter((t) => t < timedOutAt).length, 1, `the timed-out step came from a re-read, not live (reads ${reads.join(', ')}; shown at ${timedOutAt})`);
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
    await page.screenshot({ path: path.join(SHOTS, 'alert-timeline.png'), fullPage: true });
    const a = (await call('GET', `/alerts/${alertId}`, undefined, 200)).body;
    assert.equal(a.rule_id, ruleId);
    assert.ok(a.events.some((e) => e.kind === 'action' && /activate_backup/.test(e.detail)), 'no stored action event');
  });
});
