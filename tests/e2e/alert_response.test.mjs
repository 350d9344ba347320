// Alert response end to end: notification channels, contacts, silences,
// incidents and the deliveries of a rule's notify action, driven in the
// dashboard against the real peregrine, PostgreSQL, Redis and Mosquitto in
// headless Chromium. The webhook points at a local port nothing listens on,
// so every delivery attempt is refused. Screenshots go to docs/screenshots/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, SHOTS,
} from './harness.mjs';

const skip = skipReason();
if (skip) console.log(`# e2e skipped: ${skip}`);

const ADMIN = { email: 'admin@response.e2e.test', password: 'e2e-' + rand(8) };
const run = rand(3);
const dev = (name) => `e2e-${run}-${name}`;
const LINKED = dev('linked'); // a contact's device
const QUIET = dev('quiet'); // silenced
const INC = dev('inc'); // its alert becomes an incident
const NOTIFIED = dev('notified'); // its rule notifies the webhook
const SECRET = 'whsec-' + rand(12);

describe('alert response: channels, contacts, silences, incidents, deliveries', { skip: skip || false, timeout: 600000 }, () => {
  let db, srv, mq, browser, ctx, page, token, deadPort;
  let channelId;

  const call = async (method, p, body, want) => {
    const r = await srv.call(method, p, token, body);
    if (want !== undefined) assert.equal(r.status, want, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  /** Publishes a reading so the device is provisioned and online, and waits until it is stored. */
  const bringOnline = async (id) => {
    await mq.publish(id, { co: 1 });
    await eventually(async () => (await srv.call('GET', `/devices/${id}`, token)).body?.online === true, { what: `${id} online` });
    await eventually(async () => ((await srv.call('GET', `/devices?q=${encodeURIComponent(id)}`, token)).body?.items ?? [])
      .some((d) => d.id === id), { what: `${id} stored` });
  };
  /** Publishes co 80 until the device has an active alert (a rule applies from the next reading after it is loaded). */
  const openAlert = (id) => eventually(async () => {
    await mq.publish(id, { co: 80 });
    const r = await srv.call('GET', `/alerts?state=active&device=${encodeURIComponent(id)}`, token);
    return r.status === 200 && r.body.items[0];
  }, { timeout: 20000, interval: 1000, what: `an active alert on ${id}` });
  const goto = async (hash) => {
    await page.evaluate((h) => (location.hash = h), hash);
  };
  const posted = (re) => page.waitForResponse((r) => r.request().method() === 'POST' && re.test(new URL(r.url()).pathname));

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'alert-response' });
    await srv.start();
    token = await srv.login(ADMIN.email, ADMIN.password);
    deadPort = await freePort(); // closed again: connections to it are refused
    mq = await connectMqtt();
    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('# page error:', e.message));
    page.on('dialog', (d) => d.accept());
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

  test('a webhook channel made in the form keeps its secret write-only, and its test send reports the refusal', async () => {
    await page.locator('nav a[href="#/channels"]').waitFor({ state: 'attached', timeout: 10000 });
    await goto('#/channels');
    await page.getByTestId('channel-table').waitFor();
    const form = page.getByTestId('channel-form');
    await form.locator('input[name=name]').fill(`ops hook ${run}`);
    await form.locator('select[name=type]').selectOption('webhook');
    await form.locator('input[name=url]').fill(`http://127.0.0.1:${deadPort}/hook`);
    await form.locator('input[name=secret]').fill(SECRET);
    const created = posted(/\/api\/v1\/channels$/);
    await page.getByTestId('save-channel').click();
    const resp = await created;
    assert.equal(resp.status(), 201, `channel not created: ${await resp.text()}`);
    channelId = (await resp.json()).id;
    const row = page.getByTestId('channel-' + channelId);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.getByTestId('channel-secret').textContent(), '********');

    const stored = (await call('GET', `/channels/${channelId}`, undefined, 200)).body;
    assert.equal(stored.type, 'webhook');
    assert.equal(stored.url, `http://127.0.0.1:${deadPort}/hook`);
    assert.equal(stored.secret, '********', 'the secret came back unmasked');
    assert.ok(!JSON.stringify((await call('GET', '/channels', undefined, 200)).body).includes(SECRET), 'the list leaks the secret');

    // Saved, the form edits the channel and shows the mask; saving again does not send the secret.
    await eventually(async () => (await form.getAttribute('data-editing')) === String(channelId), { what: 'form in edit mode' });
    assert.equal(await form.locator('input[name=secret]').inputValue(), '********');
    await form.locator('input[name=name]').fill(`ops hook ${run} renamed`);
    const patched = page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/channels/${channelId}`));
    await page.getByTestId('save-channel').click();
    const body = JSON.parse((await patched).postData());
    assert.equal(body.name, `ops hook ${run} renamed`);
    assert.ok(!('secret' in body), `the edit sent the secret: ${JSON.stringify(body)}`);
    await form.getByRole('status').waitFor({ timeout: 10000 });
    assert.equal((await call('GET', `/channels/${channelId}`, undefined, 200)).body.name, `ops hook ${run} renamed`);

    await row.getByTestId('test-channel').click();
    await page.getByTestId('send-test').click();
    const result = page.getByTestId('test-result');
    await result.waitFor({ timeout: 30000 });
    assert.equal(await result.getAttribute('data-ok'), 'false', `a test to a closed port succeeded: ${await result.textContent()}`);
    await page.screenshot({ path: path.join(SHOTS, 'channel-test.png') });
    await page.keyboard.press('Escape');
    await page.getByTestId('test-form').waitFor({ state: 'detached' });
  });

  test('a contact made in the form is linked to a device and a group', async () => {
    await bringOnline(LINKED);
    const g = (await call('POST', '/groups', { name: `on call ${run}` }, 201)).body;
    await goto('#/contacts');
    await page.getByTestId('contact-table').waitFor();
    const form = page.getByTestId('contact-form');
    await form.locator('input[name=name]').fill(`Jo ${run}`);
    await form.locator('input[name=email]').fill(`jo-${run}@example.org`);
    await form.locator('input[name=phone]').fill('+4915112345678');
    await form.locator('select[name=kind]').selectOption('emergency');
    await form.locator('input[name=device_ids]').fill(LINKED);
    const box = form.getByTestId('contact-groups').locator(`input[value="${g.id}"]`);
    await box.waitFor({ timeout: 10000 });
    await box.check();
    const created = posted(/\/api\/v1\/contacts$/);
    await page.getByTestId('save-contact').click();
    const resp = await created;
    assert.equal(resp.status(), 201, `contact not created: ${await resp.text()}`);
    const id = (await resp.json()).id;
    const row = page.getByTestId('contact-' + id);
    await row.waitFor({ timeout: 10000 });
    assert.match(await row.textContent(), /emergency/);
    assert.match(await row.textContent(), new RegExp(`on call ${run}`));
    const c = (await call('GET', `/contacts/${id}`, undefined, 200)).body;
    assert.deepEqual([c.name, c.email, c.phone, c.kind, c.device_ids, c.group_ids],
      [`Jo ${run}`, `jo-${run}@example.org`, '+4915112345678', 'emergency', [LINKED], [g.id]]);
    const byDevice = (await call('GET', `/contacts?device=${LINKED}`, undefined, 200)).body.items;
    assert.deepEqual(byDevice.map((x) => x.id), [id]);
    await page.screenshot({ path: path.join(SHOTS, 'contacts.png') });
  });

  test('a silence made in the form is listed as active and its device\'s alert shows silenced', async () => {
    await bringOnline(QUIET);
    await goto('#/silences');
    await page.getByTestId('silence-table').waitFor();
    const form = page.getByTestId('silence-form');
    await form.locator('select[name=kind]').selectOption('device');
    await form.locator('input[name=device]').fill(QUIET);
    await form.locator('input[name=reason]').fill('pump swap');
    const created = posted(/\/api\/v1\/silences$/);
    await page.getByTestId('create-silence').click();
    const resp = await created;
    assert.equal(resp.status(), 201, `silence not created: ${await resp.text()}`);
    const s = await resp.json();
    const row = page.getByTestId('silence-' + s.id);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.getAttribute('data-phase'), 'active');
    assert.match(await row.textContent(), /pump swap/);
    assert.match(await row.textContent(), new RegExp(QUIET));
    const active = (await call('GET', '/silences?active=true', undefined, 200)).body.items;
    const mine = active.find((x) => x.id === s.id);
    assert.ok(mine, 'the silence is not active');
    assert.equal(mine.device, QUIET);
    assert.ok(Date.parse(mine.to) - Date.parse(mine.from) > 50 * 60e3, `the default length is about an hour: ${mine.from} .. ${mine.to}`);
    await page.screenshot({ path: path.join(SHOTS, 'silences.png') });

    await call('POST', '/rules', { name: `quiet co ${run}`, metric: 'co', scope: { device: QUIET }, kind: 'threshold',
      params: { op: '>', value: 50 }, severity: 'warning', enabled: true }, 201);
    const a = await openAlert(QUIET);
    await goto('#/alerts/' + a.id);
    await page.getByTestId('alert-detail').waitFor({ timeout: 10000 });
    await page.getByTestId('silenced').waitFor({ timeout: 10000 });
    assert.equal((await call('GET', `/alerts/${a.id}`, undefined, 200)).body.silenced, true);
  });

  test('an incident opened from an alert walks open → investigating → resolved with a comment and maintenance on its timeline', async () => {
    await bringOnline(INC);
    await call('POST', '/rules', { name: `incident co ${run}`, metric: 'co', scope: { device: INC }, kind: 'threshold',
      params: { op: '>', value: 50 }, severity: 'critical', enabled: true }, 201);
    const alert = await openAlert(INC);
    await goto('#/alerts/' + alert.id);
    await page.getByTestId('alert-detail').waitFor({ timeout: 10000 });
    await page.getByTestId('create-incident').click();
    const detail = page.getByTestId('incident-detail');
    await detail.waitFor({ timeout: 10000 });
    const id = Number(await detail.getAttribute('data-incident'));
    assert.equal(await detail.getAttribute('data-state'), 'open');
    await detail.getByTestId('incident-alert-' + alert.id).waitFor({ timeout: 10000 });
    const made = (await call('GET', `/incidents/${id}`, undefined, 200)).body;
    assert.deepEqual(made.alert_ids, [alert.id]);
    assert.equal(made.severity, 'critical');
    assert.equal(await page.getByTestId('to-resolved').count(), 0, 'open offers a move straight to resolved');

    for (const to of ['investigating', 'resolved']) {
      await page.getByTestId('to-' + to).click();
      await eventually(async () => (await detail.getAttribute('data-state')) === to, { what: `state ${to} on the page` });
    }
    // Resolved may reopen or close, nothing else.
    await page.getByTestId('to-closed').waitFor();
    await page.getByTestId('to-investigating').waitFor();
    assert.equal(await page.getByTestId('to-resolved').count(), 0);

    const users = (await call('GET', '/users', undefined, 200)).body.items;
    const me = users.find((u) => u.email === ADMIN.email);
    await page.getByTestId('assignee').locator(`option[value="${me.id}"]`).waitFor({ state: 'attached', timeout: 10000 });
    await page.getByTestId('assignee').selectOption(String(me.id));
    await eventually(async () => (await call('GET', `/incidents/${id}`)).body?.assignee?.email === ADMIN.email, { what: 'assignee stored' });

    const timeline = page.getByTestId('incident-timeline');
    const comment = `valve stuck open, swapping it (${run})`;
    await page.getByTestId('comment-form').locator('textarea[name=comment]').fill(comment);
    await page.getByTestId('add-comment').click();
    await timeline.locator('li[data-kind=comment]', { hasText: comment }).waitFor({ timeout: 10000 });

    const mform = page.getByTestId('maintenance-form');
    await mform.locator('textarea[name=note]').fill('replaced the valve');
    await mform.locator('input[name=performed_by]').fill('Jo Technician');
    await mform.locator('input[name=parts]').fill('valve V-12, gasket');
    await page.getByTestId('add-maintenance').click();
    await page.getByTestId('maintenance-table').locator('tbody tr', { hasText: 'replaced the valve' }).waitFor({ timeout: 10000 });
    await timeline.locator('li[data-kind=maintenance]').first().waitFor({ timeout: 10000 });

    const kinds = await timeline.locator('li').evaluateAll((els) => els.map((e) => e.dataset.kind));
    assert.equal(kinds[0], 'created', `the timeline does not start with its creation: ${kinds.join(' ')}`);
    assert.equal(kinds.filter((k) => k === 'state').length, 2, `two state moves expected: ${kinds.join(' ')}`);
    assert.ok(kinds.indexOf('comment') < kinds.lastIndexOf('maintenance'), `oldest first: ${kinds.join(' ')}`);
    const inc = (await call('GET', `/incidents/${id}`, undefined, 200)).body;
    assert.equal(inc.state, 'resolved');
    assert.deepEqual(inc.maintenance.map((m) => [m.note, m.performed_by, m.parts]), [['replaced the valve', 'Jo Technician', ['valve V-12', 'gasket']]]);
    assert.ok(inc.timeline.some((e) => e.kind === 'comment' && e.text === comment), 'comment not on the stored timeline');
    const at = inc.timeline.map((e) => Date.parse(e.at));
    assert.deepEqual(at, [...at].sort((x, y) => x - y), 'the stored timeline is not oldest first');
    await page.screenshot({ path: path.join(SHOTS, 'incident.png'), fullPage: true });

    // A change made elsewhere reaches the open page through the `incidents` topic.
    const changed = await call('PATCH', `/incidents/${id}`, { title: `valve ${run} (changed elsewhere)` });
    assert.ok(changed.status === 200 || changed.status === 204, `PATCH title: ${changed.status} ${JSON.stringify(changed.body)}`);
    await eventually(async () => (await page.getByTestId('incident-title').textContent()) === `valve ${run} (changed elsewhere)`,
      { what: 'the new title live' });
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');

    // The alert links back, and the list filters by state.
    await goto('#/alerts/' + alert.id);
    const link = page.getByTestId('incident-link');
    await link.waitFor({ timeout: 10000 });
    assert.equal(await link.getAttribute('href'), '#/incidents/' + id);
    await goto('#/incidents');
    const row = page.getByTestId('incident-' + id);
    await row.waitFor({ timeout: 10000 });
    assert.equal(await row.getAttribute('data-state'), 'resolved');
    await page.getByTestId('incident-filter').selectOption('open');
    await row.waitFor({ state: 'detached', timeout: 10000 });
    await page.getByTestId('incident-filter').selectOption('resolved');
    await row.waitFor({ timeout: 10000 });
  });

  test('a notify action built in the rule editor sends to the webhook; the alert lists the refused delivery', async () => {
    assert.ok(channelId, 'needs the channel of the first case');
    await bringOnline(NOTIFIED);
    await goto('#/rules/new');
    const form = page.getByTestId('rule-form');
    await form.waitFor();
    await form.locator('input[name=name]').fill(`notify ${run}`);
    await form.locator('input[name=metric]').fill('co');
    await form.locator('select[name=scope]').selectOption('device');
    await form.locator('input[name=scope_value]').fill(NOTIFIED);
    await form.locator('select[name=op]').selectOption('>');
    await form.locator('input[name=value]').fill('50');
    await form.locator('select[name=severity]').selectOption('warning');
    await page.getByTestId('add-notify-actions').click();
    const a0 = page.getByTestId('actions[0]');
    await a0.locator(`select[name=action_channel] option[value="${channelId}"]`).waitFor({ state: 'attached', timeout: 10000 });
    await a0.locator('select[name=action_channel]').selectOption(String(channelId));
    await a0.locator('select[name=action_contacts]').selectOption('all');
    await a0.locator('input[name=action_after_s]').fill('0');
    const saved = posted(/\/api\/v1\/rules$/);
    await page.getByTestId('save-rule').click();
    const resp = await saved;
    assert.equal(resp.status(), 201, `rule not created: ${await resp.text()}`);
    const rule = await resp.json();
    await page.getByTestId('rule-table').waitFor();
    const action = (await call('GET', `/rules/${rule.id}`, undefined, 200)).body.actions[0];
    assert.deepEqual([action.type, action.channel, action.contacts, action.after_s ?? 0], ['notify', channelId, 'all', 0]);

    const alert = await openAlert(NOTIFIED);
    await eventually(async () => (await call('GET', `/notifications?alert=${alert.id}`)).body?.items?.length > 0,
      { what: 'a notification stored for the alert' });
    await goto('#/alerts/' + alert.id);
    const deliveries = page.getByTestId('deliveries');
    await deliveries.waitFor({ timeout: 10000 });
    const row = deliveries.locator('tbody tr[data-status]').first();
    await row.waitFor({ timeout: 10000 });
    assert.match(await row.textContent(), /alert\.opened/);
    assert.match(await row.textContent(), new RegExp(`ops hook ${run}`));
    // Refused: retried (pending) or given up (failed), after at least one attempt; the page polls while pending.
    await eventually(async () => ['pending', 'failed'].includes(await row.getAttribute('data-status'))
      && Number(await row.getAttribute('data-attempts')) >= 1, { timeout: 40000, what: 'a refused delivery with an attempt' });
    const n = (await call('GET', `/notifications?alert=${alert.id}`, undefined, 200)).body.items[0];
    assert.ok(['pending', 'failed'].includes(n.status), `status ${n.status}`);
    assert.ok(n.attempts >= 1, `attempts ${n.attempts}`);
    assert.equal(n.channel_id, channelId);
    assert.ok(n.last_error, 'a refused delivery has no last_error');
    await page.screenshot({ path: path.join(SHOTS, 'alert-deliveries.png'), fullPage: true });
  });
});
