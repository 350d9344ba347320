// The dashboard end to end: real peregrine, PostgreSQL, Redis and Mosquitto,
// driven in headless Debian Chromium. Screenshots go to docs/screenshots/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, sleep, SHOTS,
} from './harness.mjs';

const skip = skipReason();
if (skip) console.log(`# e2e skipped: ${skip}`);

const ADMIN = { email: 'admin@e2e.test', password: 'e2e-' + rand(8) };
const VIEWER = { email: 'viewer@e2e.test', password: 'e2e-' + rand(8) };
const run = rand(3);
const DEV = `e2e-${run}-a`; // live tile/chart and alert device
const BT = `e2e-${run}-bt`; // backtest device

describe('dashboard', { skip: skip || false, timeout: 300000 }, () => {
  let db, srv, mq, browser, ctx, page, adminToken;

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'dashboard' });
    await srv.start();
    adminToken = await srv.login(ADMIN.email, ADMIN.password);
    mq = await connectMqtt();
    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('# page error:', e.message));
  });

  after(async () => {
    await browser?.close();
    await mq?.end();
    await srv?.stop();
    if (srv) console.log(`# peregrine log: ${srv.logFile}`);
    db?.drop();
  });

  test('login', async () => {
    await page.goto(srv.base + '/');
    await page.getByTestId('login-form').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'login.png') });
    // A wrong password is refused with the API's message, and the form stays.
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('error').waitFor();
    await loginInPage(page, srv.base, ADMIN.email, ADMIN.password);
    assert.equal(await page.getByTestId('role').textContent(), 'superadmin');
    await eventually(async () => (await page.getByTestId('live').getAttribute('data-state')) === 'live', { what: 'live indicator' });
    // Marker that would vanish on a page reload.
    await page.evaluate(() => (window.__noReload = 1));
  });

  test('a reading published over MQTT appears on the fleet tile and the device chart without reload', async () => {
    await mq.publish(DEV, { co: 3.1, temperature: 21.5 });
    const tile = page.getByTestId('tile-' + DEV);
    await tile.waitFor({ timeout: 15000 });
    await eventually(async () => (await tile.locator('[data-metric=co] .v').textContent({ timeout: 1000 })) === '3.1', { timeout: 25000, what: 'co 3.1 on tile' });
    await page.screenshot({ path: path.join(SHOTS, 'fleet.png') });
    await tile.click();
    await page.getByTestId('chart-co').waitFor();
    // An operator and above get the command form (the viewer case checks it is absent).
    await page.getByTestId('command-form').waitFor({ timeout: 10000 });
    const before = Number(await page.getByTestId('uplot-co').getAttribute('data-points'));
    await mq.publish(DEV, { co: 4.2, temperature: 21.7 });
    await eventually(async () => (await page.getByTestId('current-co').textContent()) === '4.2', { what: 'co 4.2 on device page' });
    await eventually(async () => Number(await page.getByTestId('uplot-co').getAttribute('data-points')) > before, { what: 'chart point added' });
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
    await page.screenshot({ path: path.join(SHOTS, 'device.png') });
  });

  test('a rule created in the form applies to the next reading; the alert appears in the feed and ack updates it', async () => {
    await page.evaluate(() => (location.hash = '#/rules/new'));
    const form = page.getByTestId('rule-form');
    await form.waitFor();
    // Validation messages come from the API (problem+json): submit without a metric.
    await form.locator('input[name=name]').fill('e2e co high');
    await page.getByTestId('save-rule').click();
    await page.getByTestId('error').first().waitFor({ timeout: 10000 });
    await form.locator('input[name=metric]').fill('co');
    await form.locator('select[name=scope]').selectOption('device');
    await form.locator('input[name=scope_value]').fill(DEV);
    await form.locator('select[name=op]').selectOption('>');
    await form.locator('input[name=value]').fill('50');
    await form.locator('input[name=clear]').fill('45');
    await form.locator('select[name=severity]').selectOption('critical');
    await page.getByTestId('save-rule').click();
    await page.getByTestId('rule-table').waitFor();
    await page.getByText('e2e co high').waitFor();
    // An admin gets the edit controls (the viewer case checks they are absent).
    await page.getByTestId('new-rule').waitFor({ timeout: 10000 });
    await page.getByRole('link', { name: 'Edit' }).first().waitFor({ timeout: 10000 });
    await page.screenshot({ path: path.join(SHOTS, 'rules.png') });

    await page.evaluate(() => (location.hash = '#/alerts'));
    await page.getByTestId('alert-table').waitFor();
    await mq.publish(DEV, { co: 80 });
    const row = page.locator(`[data-device="${DEV}"]`).first();
    await row.waitFor({ timeout: 15000 });
    assert.equal(await row.getAttribute('data-state'), 'active');
    assert.match(await row.textContent(), /critical/);
    await page.screenshot({ path: path.join(SHOTS, 'alerts.png') });
    await row.getByTestId('ack').click();
    await eventually(async () => (await row.getAttribute('data-state')) === 'acknowledged', { what: 'acknowledged' });
    assert.match(await row.textContent(), new RegExp(ADMIN.email.replace('.', '\\.')));
    // Acknowledged: no more ack button, a resolve button still (the viewer case checks both absent).
    await row.getByTestId('resolve').waitFor({ timeout: 10000 });
    assert.equal(await row.getByTestId('ack').count(), 0, 'ack button still shown after ack');
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
  });

  test('the backtest preview shows the expected number of would-be alerts', async () => {
    // Three excursions above 50 (each back under 45 before the next) in the last hour.
    const values = [10, 60, 62, 10, 70, 10, 12, 55, 20, 20];
    const t0 = Date.now() - 30 * 60e3;
    for (let i = 0; i < values.length; i++) await mq.publish(BT, { ts: t0 + i * 60e3, seq: i + 1, co: values[i] });
    await eventually(async () => {
      const r = await srv.call('GET', `/devices/${BT}/readings?metric=co&from=${new Date(t0 - 1000).toISOString()}&to=${new Date().toISOString()}`, adminToken);
      return r.status === 200 && r.body.points.length === values.length;
    }, { timeout: 20000, what: 'backtest readings stored' });

    await page.evaluate(() => (location.hash = '#/rules/new'));
    const form = page.getByTestId('rule-form');
    await form.waitFor();
    await form.locator('input[name=name]').fill('e2e backtest');
    await form.locator('input[name=metric]').fill('co');
    await form.locator('select[name=scope]').selectOption('device');
    await form.locator('input[name=scope_value]').fill(BT);
    await form.locator('input[name=value]').fill('50');
    await form.locator('input[name=clear]').fill('45');
    await page.getByTestId('run-backtest').click();
    await page.getByTestId('backtest-result').waitFor({ timeout: 15000 });
    assert.equal(await page.getByTestId('backtest-count').textContent(), '3');
    await page.getByTestId('backtest-chart').waitFor();
    await eventually(async () => Number(await page.getByTestId('backtest-chart').getAttribute('data-points')) === values.length, { what: 'backtest chart' });
    await page.screenshot({ path: path.join(SHOTS, 'rule-backtest.png'), fullPage: true });
  });

  test('admin and map pages', async () => {
    await srv.call('PATCH', `/devices/${DEV}`, adminToken, { location: { lat: 48.85, lon: 2.35 } });
    await srv.call('PATCH', `/devices/${BT}`, adminToken, { location: { lat: 51.5, lon: -0.12 } });
    // An admin has the Admin link (the viewer case checks it is absent).
    await page.locator('nav a[href="#/admin"]').waitFor({ state: 'attached', timeout: 10000 });
    await page.evaluate(() => (location.hash = '#/admin'));
    await page.getByTestId('admin-devices').waitFor();
    await page.getByTestId('new-device').click();
    const form = page.getByTestId('device-form');
    await form.locator('input[name=id]').fill(`e2e-${run}-made`);
    await form.locator('input[name=name]').fill('Made in the form');
    await form.locator('input[name=lat]').fill('40.4');
    await form.locator('input[name=lon]').fill('-3.7');
    await form.getByRole('button', { name: 'Save' }).click();
    const token = page.getByTestId('device-token');
    await token.waitFor({ timeout: 10000 });
    assert.ok((await token.textContent()).length >= 16, 'device token shown once');
    await page.screenshot({ path: path.join(SHOTS, 'admin-device-token.png') });
    await page.getByRole('button', { name: 'Done' }).click();
    await page.screenshot({ path: path.join(SHOTS, 'admin.png') });
    await page.evaluate(() => (location.hash = '#/map'));
    // The device made in the form carries its location onto the map.
    const pin = page.getByTestId(`pin-e2e-${run}-made`);
    await pin.waitFor({ timeout: 15000 });
    await page.screenshot({ path: path.join(SHOTS, 'map.png') });
    await pin.click();
    await page.getByTestId('device-title').waitFor();
  });

  test('a viewer sees no edit controls and the API refuses them', async () => {
    const r = await srv.call('POST', '/users', adminToken, { email: VIEWER.email, password: VIEWER.password, role: 'viewer' });
    assert.ok(r.status === 201 || r.status === 200, `create viewer: ${r.status} ${JSON.stringify(r.body)}`);
    // The rule case left exactly one alert on DEV, acknowledged (its row must show to the viewer, without buttons).
    const acked = await eventually(async () => {
      const a = await srv.call('GET', `/alerts?state=acknowledged&device=${DEV}`, adminToken);
      return a.status === 200 && a.body.items.length === 1 && a.body.items[0];
    }, { what: `one acknowledged alert on ${DEV} from the rule case` });
    const vctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const vp = await vctx.newPage();
    try {
      await loginInPage(vp, srv.base, VIEWER.email, VIEWER.password);
      await vp.getByTestId('role').waitFor({ state: 'attached', timeout: 10000 });
      assert.equal(await vp.getByTestId('role').textContent(), 'viewer');
      await vp.evaluate(() => (location.hash = '#/rules'));
      await vp.getByTestId('rule-table').waitFor();
      // The rule table has rendered its rows before the absence of edit controls is checked.
      await vp.getByText('e2e co high').waitFor({ timeout: 10000 });
      assert.equal(await vp.getByTestId('new-rule').count(), 0, 'viewer sees "New rule"');
      assert.equal(await vp.getByRole('link', { name: 'Edit' }).count(), 0, 'viewer sees rule edit');
      await vp.evaluate(() => (location.hash = '#/alerts'));
      await vp.getByTestId('alert-table').waitFor();
      const vrow = vp.getByTestId('alert-' + acked.id);
      await vrow.waitFor({ timeout: 15000 });
      assert.equal(await vrow.getAttribute('data-state'), 'acknowledged');
      assert.equal(await vrow.getAttribute('data-device'), DEV);
      assert.equal(await vp.getByTestId('ack').count() + (await vp.getByTestId('resolve').count()), 0, 'viewer sees ack/resolve');
      await vp.evaluate((d) => (location.hash = '#/device/' + d), DEV);
      await vp.getByTestId('device-title').waitFor();
      assert.equal(await vp.getByTestId('command-form').count(), 0, 'viewer sees the command form');
      // The nav has rendered (hidden behind the menu on a phone, but attached) before Admin's absence is checked.
      await vp.locator('nav a[href="#/fleet"]').waitFor({ state: 'attached', timeout: 10000 });
      assert.equal(await vp.locator('nav a[href="#/admin"]').count(), 0, 'viewer sees Admin');
      await vp.evaluate(() => (location.hash = '#/fleet'));
      await vp.getByTestId('tile-' + DEV).waitFor();
      await vp.screenshot({ path: path.join(SHOTS, 'fleet-phone-viewer.png') });
    } finally {
      await vctx.close();
    }
    const vt = await srv.login(VIEWER.email, VIEWER.password);
    const rule = { name: 'nope', metric: 'co', scope: { all: true }, kind: 'threshold', params: { op: '>', value: 1 }, severity: 'info', enabled: true };
    assert.equal((await srv.call('POST', '/rules', vt, rule)).status, 403, 'viewer created a rule');
    // The viewer reads the acknowledged alert but may not resolve it, and it stays acknowledged.
    const open = await srv.call('GET', `/alerts?state=acknowledged&device=${DEV}`, vt);
    assert.equal(open.status, 200, `viewer lists alerts: ${JSON.stringify(open.body)}`);
    assert.deepEqual(open.body.items.map((a) => a.id), [acked.id], 'viewer sees the acknowledged alert');
    assert.equal((await srv.call('POST', `/alerts/${acked.id}/resolve`, vt, {})).status, 403, 'viewer resolved an alert');
    const still = await srv.call('GET', `/alerts/${acked.id}`, adminToken);
    assert.equal(still.status, 200);
    assert.equal(still.body.state, 'acknowledged', 'the refused resolve changed the alert');
    assert.equal((await srv.call('POST', '/devices', vt, { id: `e2e-${run}-viewer` })).status, 403, 'viewer created a device');
    assert.equal((await srv.call('POST', '/users', vt, { email: 'x@e2e.test', password: 'xxxxxxxxxxxx', role: 'admin' })).status, 403, 'viewer created a user');
  });

  test('the page recovers after the server restarts', async () => {
    await page.evaluate(() => (location.hash = '#/fleet'));
    await page.getByTestId('tile-' + DEV).waitFor();
    await srv.stop();
    await eventually(async () => (await page.getByTestId('live').getAttribute('data-state')) !== 'live', { what: 'indicator leaves live' });
    await eventually(async () => /stale since/.test(await page.getByTestId('live').textContent()), { what: '"stale since …"' });
    await page.screenshot({ path: path.join(SHOTS, 'fleet-stale.png') });
    await srv.start();
    await eventually(async () => (await page.getByTestId('live').getAttribute('data-state')) === 'live', { timeout: 40000, what: 'live again' });
    await mq.publish(DEV, { co: 5.5 });
    const tile = page.getByTestId('tile-' + DEV);
    await eventually(async () => (await tile.locator('[data-metric=co] .v').textContent({ timeout: 1000 })) === '5.5', { what: 'co 5.5 after restart' });
    assert.equal(await page.evaluate(() => window.__noReload), 1, 'page was reloaded');
  });
});
