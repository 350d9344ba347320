// History charts from aggregates end to end: two days of readings published
// over MQTT with their own ts, the device page's 7-day range drawn from
// /aggregates (avg line over the min–max band), drag-zoom asking again for the
// narrower stretch (buckets, then raw readings), reset, and the chart as the
// server's SVG (a link that needs the token, and an export the page fetches).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, SHOTS,
} from './harness.mjs';

const skip = skipReason();
if (skip) console.log(`# e2e skipped: ${skip}`);

const ADMIN = { email: 'admin@analytics.e2e.test', password: 'e2e-' + rand(8) };
const DEV = `e2e-${rand(3)}-hist`;
const STEP_MS = 10 * 60e3;
const DAY_MS = 86400e3;

const timeOf = (v) => (/^\d+$/.test(v) ? Number(v) : Date.parse(v));
const UNIT_MS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: DAY_MS };
const durationMs = (text) => {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text || '');
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
};
/** The window a response was asked for, {from, to} in ms. */
const windowOf = (resp) => {
  const q = new URL(resp.url()).searchParams;
  return { from: timeOf(q.get('from')), to: timeOf(q.get('to')) };
};
/** A predicate for page.waitForResponse: GET …/{name}?metric=co over a window whose span passes `spanOk`. */
const isCall = (name, spanOk = () => true) => (resp) => {
  if (resp.request().method() !== 'GET') return false;
  const u = new URL(resp.url());
  if (u.pathname !== `/api/v1/devices/${DEV}/${name}` || u.searchParams.get('metric') !== 'co') return false;
  const w = windowOf(resp);
  return spanOk(w.to - w.from);
};
const aboutAWeek = (span) => Math.abs(span - 7 * DAY_MS) < 60e3;

describe('history charts from aggregates', { skip: skip || false, timeout: 300000 }, () => {
  let db, srv, mq, browser, ctx, page, token;
  const readings = [];
  let week; // {resp, body, win} of the 7-day request

  /** Drags across the co chart's plot area between two fractions of its width. */
  const drag = async (x0, x1) => {
    const box = await page.getByTestId('uplot-co').locator('.u-over').boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * x0, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * ((x0 + x1) / 2), y, { steps: 4 });
    await page.mouse.move(box.x + box.width * x1, y, { steps: 4 });
    await page.mouse.up();
  };
  /** The co chart card shows what `resp` answered for its window. */
  const cardShows = async (source, bucket, win) => {
    const card = page.getByTestId('chart-co');
    await eventually(async () => (await card.getAttribute('data-source')) === source
      && (await card.getAttribute('data-bucket')) === bucket
      && Number(await card.getAttribute('data-from')) === win.from
      && Number(await card.getAttribute('data-to')) === win.to, { what: `chart drawn from ${source} (${bucket})` });
  };

  before(async () => {
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'analytics' });
    await srv.start();
    token = await srv.login(ADMIN.email, ADMIN.password);
    mq = await connectMqtt();
    // One reading every 10 minutes over the last two days, a few per bucket
    // with a spread, so each bucket's min and max differ.
    const t0 = Date.now() - 2 * DAY_MS;
    for (let i = 1; t0 + i * STEP_MS < Date.now() - 60e3; i++) {
      readings.push({ ts: t0 + i * STEP_MS, co: Math.round((5 + 3 * Math.sin(i / 12) + (i % 3)) * 100) / 100 });
    }
    for (let i = 0; i < readings.length; i += 100) await mq.publish(DEV, readings.slice(i, i + 100));
    await eventually(async () => {
      const r = await srv.call('GET', `/devices/${DEV}/aggregates?metric=co&from=${t0}&to=${Date.now()}&bucket=1d&fn=count`, token);
      return r.status === 200 && r.body.points.reduce((n, p) => n + p.count, 0) === readings.length;
    }, { timeout: 30000, what: `${readings.length} readings stored` });

    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log('# page error:', e.message));
    await loginInPage(page, srv.base, ADMIN.email, ADMIN.password);
    // Live first, so the start-up resync (which reloads the charts) is behind us.
    await eventually(async () => (await page.getByTestId('live').getAttribute('data-state')) === 'live', { what: 'live indicator' });
  });

  after(async () => {
    await browser?.close();
    await mq?.end();
    await srv?.stop();
    if (srv) console.log(`# peregrine log: ${srv.logFile}`);
    db?.drop();
  });

  test('the 7-day range is drawn from aggregates: avg line over a min–max band', async () => {
    await page.evaluate((d) => (location.hash = '#/device/' + d), DEV);
    await page.getByTestId('chart-co').waitFor({ timeout: 15000 });
    const answered = page.waitForResponse(isCall('aggregates', aboutAWeek));
    await page.getByTestId('range').selectOption('7d');
    const resp = await answered;
    assert.equal(resp.status(), 200);
    const q = new URL(resp.url()).searchParams;
    assert.equal(q.get('bucket'), 'auto');
    const points = Number(q.get('points'));
    assert.ok(points >= 50 && points <= 2000, `points=${points}`);
    assert.deepEqual(q.get('fn').split(',').sort(), ['avg', 'count', 'max', 'min']);
    const win = windowOf(resp);
    const body = await resp.json();
    assert.equal(body.metric, 'co');
    assert.ok(durationMs(body.bucket) >= 60e3, `bucket ${body.bucket}`);
    assert.ok(body.points.length > 0, 'no points');
    assert.equal(body.points.reduce((n, p) => n + p.count, 0), readings.length, 'buckets count every reading');
    assert.ok(body.points.some((p) => p.max > p.min), 'no bucket with a spread');
    week = { resp, body, win };

    await cardShows('aggregates', body.bucket, win);
    const chart = page.getByTestId('uplot-co');
    assert.equal(await chart.getAttribute('data-series'), '3', 'min, max and avg series');
    assert.equal(await chart.getAttribute('data-bands'), '1', 'min–max band');
    assert.ok(Number(await chart.getAttribute('data-points')) >= body.points.length);
    assert.match(await page.getByTestId('source-co').textContent(), new RegExp(`avg per ${body.bucket}`));
  });

  test('dragging across the chart asks for the selected stretch at a finer resolution; reset returns', async () => {
    // 75–95 % of the week: from 1.75 to 0.35 days ago, inside the two days of data.
    let answered = page.waitForResponse(isCall('aggregates', (span) => span < 0.5 * 7 * DAY_MS));
    await drag(0.75, 0.95);
    const zoomed = await answered;
    assert.equal(zoomed.status(), 200);
    const zwin = windowOf(zoomed);
    assert.ok(zwin.from > week.win.from && zwin.to < week.win.to, 'zoom stays inside the week');
    const frac = (zwin.to - zwin.from) / (week.win.to - week.win.from);
    assert.ok(frac > 0.15 && frac < 0.25, `zoomed to ${frac} of the week`);
    const zbody = await zoomed.json();
    assert.ok(zbody.points.length > 0, 'no points in the zoomed stretch');
    assert.ok(durationMs(zbody.bucket) < durationMs(week.body.bucket), `bucket ${zbody.bucket} not finer than ${week.body.bucket}`);
    await cardShows('aggregates', zbody.bucket, zwin);
    await page.getByTestId('zoomed').waitFor();

    // A stretch under an hour is drawn from the raw readings.
    const share = (40 * 60e3) / (zwin.to - zwin.from);
    answered = page.waitForResponse(isCall('readings', (span) => span < 0.9 * 3600e3));
    await drag(0.5, 0.5 + share);
    const raw = await answered;
    assert.equal(raw.status(), 200);
    const rwin = windowOf(raw);
    assert.ok(rwin.to - rwin.from < 3600e3, `raw stretch of ${rwin.to - rwin.from} ms`);
    const rbody = await raw.json();
    assert.deepEqual(rbody.points.map((p) => p.value), readings.filter((r) => r.ts >= rwin.from && r.ts < rwin.to).map((r) => r.co));
    await cardShows('readings', 'raw', rwin);
    assert.equal(await page.getByTestId('uplot-co').getAttribute('data-series'), '1');
    assert.equal(await page.getByTestId('uplot-co').getAttribute('data-bands'), '0');

    answered = page.waitForResponse(isCall('aggregates', aboutAWeek));
    await page.getByTestId('reset-zoom').click();
    const back = await answered;
    const bwin = windowOf(back);
    assert.ok(bwin.to >= week.win.to, 'reset takes the week up to now again');
    const bbody = await back.json();
    assert.equal(bbody.bucket, week.body.bucket);
    await cardShows('aggregates', bbody.bucket, bwin);
    await page.getByTestId('zoomed').waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('uplot-co').getAttribute('data-bands'), '1');
  });

  test('the SVG link is the server chart of the shown range; export fetches it with the token', async () => {
    await page.getByTestId('svg-copy-co').click();
    const field = page.getByTestId('svg-link-co');
    await field.waitFor();
    const url = await field.inputValue();
    assert.ok(url.startsWith(`${srv.base}/api/v1/devices/${DEV}/chart.svg?`), url);
    const q = new URL(url).searchParams;
    assert.equal(q.get('metric'), 'co');
    const card = page.getByTestId('chart-co');
    assert.equal(timeOf(q.get('from')), Number(await card.getAttribute('data-from')));
    assert.equal(timeOf(q.get('to')), Number(await card.getAttribute('data-to')));
    if ((await field.getAttribute('data-copied')) === 'true') {
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url, 'clipboard holds the link');
    }
    assert.equal((await fetch(url)).status, 401, 'the link works only with a token');
    const r = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^image\/svg\+xml/);
    assert.ok((await r.text()).startsWith('<svg'), 'an SVG document');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('svg-export-co').click()]);
    assert.equal(download.suggestedFilename(), `${DEV}-co.svg`);
    assert.ok(fs.readFileSync(await download.path(), 'utf8').startsWith('<svg'), 'exported file is an SVG');
  });

  test('the shown range exports as CSV (the server names the file) and as PNG', async () => {
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv-export-co').click()]);
    assert.match(csv.suggestedFilename(), new RegExp(`^peregrine-${DEV}-\\d{8}T\\d{6}Z-\\d{8}T\\d{6}Z\\.csv$`));
    const lines = fs.readFileSync(await csv.path(), 'utf8').split('\r\n');
    assert.match(lines[0], /^time,device_id,metric,/, 'a header row');
    assert.ok(lines.length > 2 && lines[1].includes(`,${DEV},co,`), 'records of the device');
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('png-export-co').click()]);
    assert.equal(png.suggestedFilename(), `${DEV}-co.png`);
    assert.deepEqual([...fs.readFileSync(await png.path()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  });

  test('OEE page: a machine by shift shows the API figures with a downtime bar; no calendar is explained', async () => {
    const machine = `e2e-${rand(3)}-press`, lone = `e2e-${rand(3)}-lone`;
    const now = Date.now();
    await mq.publish(machine, [{ ts: now - 3 * 3600e3, state: 1, count_total: 0, count_good: 0 },
      { ts: now - 3600e3, state: 0, count_total: 100, count_good: 90 }, { ts: now - 1800e3, state: 1, count_total: 150, count_good: 140 }]);
    await mq.publish(lone, [{ ts: now - 3600e3, state: 1 }]);
    await eventually(async () => (await srv.call('GET', `/devices/${machine}`, token)).status === 200
      && (await srv.call('GET', `/devices/${lone}`, token)).status === 200, { what: 'devices provisioned' });
    const g = await srv.call('POST', '/groups', token, { name: `line-${rand(3)}`, device_ids: [machine] });
    assert.equal(g.status, 201);
    const shift = await srv.call('POST', '/shifts', token, { name: 'All day', start: '00:00', end: '24:00', tz: 'UTC', group: g.body.id });
    assert.equal(shift.status, 201, JSON.stringify(shift.body));

    await page.evaluate(() => (location.hash = '#/oee'));
    const form = page.getByTestId('oee-form');
    await form.waitFor();
    await form.locator('input[name=device]').fill(machine);
    await form.locator('select[name=range]').selectOption('7d');
    await form.locator('input[name=ideal_rate]').fill('120');
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1/devices/${machine}/oee`);
    await page.getByTestId('oee-run').click();
    const resp = await answered;
    assert.equal(resp.status(), 200);
    const same = await fetch(resp.url(), { headers: { Authorization: `Bearer ${token}` } });
    const want = await same.json();
    const pct = (v) => (v == null ? '—' : `${(v * 100).toFixed(1)} %`);
    await page.getByTestId('oee-result').waitFor();
    assert.equal(await page.getByTestId('oee-total').textContent(), pct(want.oee));
    assert.equal(await page.getByTestId('oee-availability').textContent(), pct(want.availability));
    assert.equal(await page.getByTestId('oee-performance').textContent(), pct(want.performance));
    assert.equal(await page.getByTestId('oee-quality').textContent(), pct(want.quality));
    assert.equal(await page.getByTestId('oee-row').count(), want.rows.length);
    assert.ok(want.rows.length >= 1 && want.total_count === 150, JSON.stringify(want));
    assert.ok(await page.getByTestId('downtime-bar').first().isVisible(), 'a downtime bar per row');
    await page.getByTestId('shift-table').getByText('All day').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'oee.png') });

    await form.locator('input[name=device]').fill(lone);
    await page.getByTestId('oee-run').click();
    await page.getByTestId('oee-no-calendar').waitFor();
    assert.match(await page.locator('.oee').textContent(), /no shift calendar applies/);
  });
});
