// Device configuration end to end: a type's schema drives the device page's
// form; a value the schema refuses comes back as a 422 whose paths show on
// their fields; a good one is saved, published retained on
// devices/{id}/config, and the badge follows the device's report over the
// WebSocket (pending → in sync); the version history shows the diff.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, SHOTS,
} from './harness.mjs';

const skip = skipReason();
if (skip) console.log(`# e2e skipped: ${skip}`);

const ADMIN = { email: 'admin@config.e2e.test', password: 'e2e-' + rand(8) };
const DEV = `e2e-${rand(3)}-board`;
const TYPE = `panel-${rand(2)}`;
const SCHEMA = {
  type: 'object',
  properties: {
    interval_s: { type: 'integer', minimum: 1, maximum: 3600, title: 'Interval (s)' },
    mode: { enum: ['eco', 'full'] },
    display: { type: 'object', properties: { brightness: { type: 'number', minimum: 0, maximum: 100 } } },
  },
  required: ['interval_s'],
};

describe('device configuration', { skip: skip || false, timeout: 300000 }, () => {
  let db, srv, mq, browser, page, token;
  const seen = []; // messages on devices/DEV/config

  before(async () => {
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'config' });
    await srv.start();
    token = await srv.login(ADMIN.email, ADMIN.password);
    mq = await connectMqtt();
    await mq.client.subscribeAsync(`devices/${DEV}/config`, { qos: 1 });
    mq.client.on('message', (topic, payload) => topic === `devices/${DEV}/config` && seen.push(JSON.parse(payload.toString())));
    await mq.publish(DEV, [{ ts: Date.now(), co: 1 }]);
    await eventually(async () => (await srv.call('PATCH', `/devices/${DEV}`, token, { type: TYPE })).status === 200,
      { what: 'device stored and typed' });
    const s = await srv.call('PUT', `/device-types/${TYPE}/schema`, token, SCHEMA);
    assert.equal(s.status, 201, JSON.stringify(s.body));

    browser = await launchBrowser();
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('# page error:', e.message));
    await loginInPage(page, srv.base, ADMIN.email, ADMIN.password);
  });

  after(async () => {
    await browser?.close();
    await mq?.end();
    await srv?.stop();
    if (srv) console.log(`# peregrine log: ${srv.logFile}`);
    db?.drop();
  });

  test('the form follows the schema; refused values show on their fields; nothing is pushed', async () => {
    await page.evaluate((d) => (location.hash = '#/device/' + d), DEV);
    const card = page.getByTestId('config-card');
    await card.getByTestId('config-none').waitFor({ timeout: 15000 });
    // Fields from the schema: a number input, a select of the enum, a nested group.
    await card.getByLabel('Interval (s)').fill('0');
    await card.locator('select').selectOption({ label: 'full' });
    await card.getByLabel('brightness').fill('300');
    const answered = page.waitForResponse((r) => r.url().endsWith(`/devices/${DEV}/config`) && r.request().method() === 'POST');
    await card.getByTestId('config-save').click();
    const resp = await answered;
    assert.equal(resp.status(), 422);
    const problem = await resp.json();
    assert.deepEqual(problem.errors.map((e) => e.path).sort(), ['/display/brightness', '/interval_s']);
    await card.getByTestId('cfg-error/interval_s').waitFor();
    await card.getByTestId('cfg-error/display/brightness').waitFor();
    assert.equal(seen.length, 0, 'nothing published');
  });

  test('a valid configuration is pushed retained; the badge follows the device', async () => {
    const card = page.getByTestId('config-card');
    await card.getByLabel('Interval (s)').fill('30');
    await card.getByLabel('brightness').fill('70');
    await card.getByTestId('config-save').click();
    await eventually(async () => (await card.getByTestId('config-state').textContent()) === 'pending', { what: 'pending badge' });
    await eventually(() => seen.length === 1, { what: 'published on devices/{id}/config' });
    assert.deepEqual(seen[0], { version: 1, config: { interval_s: 30, mode: 'full', display: { brightness: 70 } } });
    // The device applies it: the badge turns without a reload (a config frame).
    await mq.client.publishAsync(`devices/${DEV}/config/applied`, JSON.stringify({ version: 1 }), { qos: 1 });
    await eventually(async () => (await card.getByTestId('config-state').textContent()) === 'in sync', { what: 'in sync badge' });
  });

  test('a second version shows in the history with its diff', async () => {
    const card = page.getByTestId('config-card');
    await card.getByLabel('Interval (s)').fill('60');
    await card.getByTestId('config-save').click();
    await eventually(async () => (await card.getByTestId('config-versions').locator('li').count()) === 2, { what: 'two versions' });
    await card.getByTestId('config-diff-2').click();
    const diff = await card.getByTestId('config-diff').textContent();
    assert.match(diff, /v1 → v2/);
    assert.match(diff, /replace \/interval_s = 60/);
    await eventually(() => seen.length === 2 && seen[1].version === 2, { what: 'version 2 published' });
    await card.screenshot({ path: path.join(SHOTS, 'device-config.png') });
  });
});
