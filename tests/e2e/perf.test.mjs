// Fleet page under load: 5,000 devices, 5,000 readings/s over MQTT. Measures
// in the page frames per second, long tasks (>50 ms) and WebSocket frames
// handled, and prints them (no pass/fail threshold: machines differ).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { skipReason, createDatabase, Peregrine, freePort, connectMqtt, launchBrowser, eventually, loginInPage, rand, sleep, SHOTS, ROOT } from './harness.mjs';

const skip = skipReason();
const DEVICES = Number(process.env.PEREGRINE_E2E_PERF_DEVICES || 5000);
const RATE = Number(process.env.PEREGRINE_E2E_PERF_RATE || 5000);
const SECONDS = Number(process.env.PEREGRINE_E2E_PERF_SECONDS || 15);
const ADMIN = { email: 'perf@e2e.test', password: 'e2e-' + rand(8) };

describe('fleet performance', { skip: skip || false, timeout: 600000 }, () => {
  let db, srv, mq, browser;
  before(async () => {
    db = createDatabase();
    srv = new Peregrine({ dbUrl: db.url, port: await freePort(), ...ADMIN, logName: 'perf' });
    await srv.start();
    mq = await connectMqtt();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await mq?.end();
    await srv?.stop();
    db?.drop();
  });

  test(`${DEVICES} devices at ${RATE} readings/s`, async () => {
    const ids = Array.from({ length: DEVICES }, (_, i) => `perf-${String(i).padStart(5, '0')}`);
    // Auto-provision every device first, so the page starts with the whole fleet.
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(ids.slice(i, i + 500).map((id) => mq.publish(id, { co: 1, temperature: 20 }, 0)));
      await sleep(50);
    }
    const token = await srv.login(ADMIN.email, ADMIN.password);
    await eventually(async () => {
      const r = await srv.call('GET', '/devices?limit=1000&cursor=perf-04998', token);
      return r.status === 200 && r.body.items.length >= 1;
    }, { timeout: 60000, what: 'devices provisioned' });

    const page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
    await page.addInitScript(() => {
      const m = (window.__perf = { frames: 0, longTasks: 0, longMs: 0, maxLong: 0 });
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) {
          m.longTasks++;
          m.longMs += e.duration;
          m.maxLong = Math.max(m.maxLong, e.duration);
        }
      }).observe({ type: 'longtask', buffered: false });
      const tick = () => {
        m.frames++;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await loginInPage(page, srv.base, ADMIN.email, ADMIN.password);
    await eventually(async () => (await page.getByTestId('fleet-count').textContent()).includes(`${DEVICES} of ${DEVICES}`), { timeout: 60000, what: 'fleet loaded' });

    // Publisher: RATE messages/s spread over 20 ticks per second, round robin.
    let sent = 0;
    let stop = false;
    const publisher = (async () => {
      const perTick = Math.ceil(RATE / 20);
      let next = Date.now();
      let k = 0;
      while (!stop) {
        const batch = [];
        for (let i = 0; i < perTick; i++, k++) batch.push(mq.publish(ids[k % ids.length], { co: Math.round(Math.random() * 100) / 10, temperature: 20 + Math.random() }, 0));
        await Promise.all(batch);
        sent += perTick;
        next += 50;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
      }
    })();
    await sleep(3000); // warm-up
    const start = await page.evaluate(() => ({ ...window.__perf, ws: window.__peregrineStats.readings, t: performance.now() }));
    const sent0 = sent;
    await sleep(SECONDS * 1000);
    const end = await page.evaluate(() => ({ ...window.__perf, ws: window.__peregrineStats.readings, t: performance.now() }));
    const sentN = sent - sent0;
    stop = true;
    await publisher;
    await page.screenshot({ path: path.join(SHOTS, 'fleet-5000.png') });

    const secs = (end.t - start.t) / 1000;
    const result = {
      devices: DEVICES,
      target_rate: RATE,
      published_per_s: Math.round(sentN / secs),
      ws_readings_per_s: Math.round((end.ws - start.ws) / secs),
      fps: Math.round(((end.frames - start.frames) / secs) * 10) / 10,
      long_tasks: end.longTasks - start.longTasks,
      long_task_ms_per_s: Math.round((end.longMs - start.longMs) / secs),
      main_thread_busy_pct_by_long_tasks: Math.round(((end.longMs - start.longMs) / (secs * 1000)) * 1000) / 10,
      max_long_task_ms: Math.round(end.maxLong),
      seconds: Math.round(secs * 10) / 10,
    };
    console.log('# perf ' + JSON.stringify(result));
    fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    fs.writeFileSync(path.join(path.resolve(ROOT, process.env.PEREGRINE_BUILD_DIR || 'build'), 'e2e-perf.json'), JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2) + '\n');
    assert.ok(end.frames > start.frames, 'the page stopped rendering');
  });
});
