// Shared e2e plumbing: a fresh database, the real peregrine binary, an MQTT
// publisher and headless Debian Chromium through playwright-core (never a
// downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// npm packages live in web/node_modules (one package.json for the dashboard and its tests).
const requireWeb = createRequire(path.join(ROOT, 'web/package.json'));
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const { chromium } = requireWeb('playwright-core');
const mqtt = requireWeb('mqtt');

export const SHOTS = path.join(ROOT, 'docs/screenshots');
export const CHROMIUM = process.env.PEREGRINE_CHROMIUM || '/usr/bin/chromium';

/** Why the e2e run cannot happen here, or null. */
export function skipReason() {
  const missing = ['PEREGRINE_TEST_PG_URL', 'PEREGRINE_TEST_REDIS_URL', 'PEREGRINE_TEST_MQTT_URL'].filter((v) => !process.env[v]);
  if (missing.length) return `${missing.join(', ')} not set: run through scripts/test`;
  if (!fs.existsSync(binary())) return `no peregrine binary at ${binary()} (set PEREGRINE_BINARY)`;
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  if (!fs.existsSync(path.join(ROOT, 'web/dist/app.js'))) return 'web/dist/app.js missing: run web_build first';
  return null;
}

export const binary = () => process.env.PEREGRINE_BINARY || path.join(ROOT, 'build/peregrine');
export const rand = (n = 4) => randomBytes(n).toString('hex');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

/** A fresh PostgreSQL database on the test server; drop() removes it. */
export function createDatabase() {
  const admin = process.env.PEREGRINE_TEST_PG_URL;
  const name = 'e2e_' + rand(5);
  execFileSync('psql', [admin, '-qAtc', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
  return {
    url: withDatabase(admin, name),
    drop() {
      try {
        execFileSync('psql', [admin, '-qAtc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'pipe' });
      } catch (e) {
        console.error(`could not drop ${name}: ${e.message}`);
      }
    },
  };
}

/** The real server. start()/stop() may be called repeatedly (same port, same data). */
export class Peregrine {
  constructor({ dbUrl, port, email, password, logName = 'peregrine' }) {
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.logFile = path.join(os.tmpdir(), `peregrine-e2e-${logName}-${process.pid}-${rand(2)}.log`);
    this.env = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PEREGRINE_'))),
      PEREGRINE_PG_URL: dbUrl,
      PEREGRINE_REDIS_URL: process.env.PEREGRINE_TEST_REDIS_URL,
      PEREGRINE_MQTT_URL: process.env.PEREGRINE_TEST_MQTT_URL,
      PEREGRINE_MQTT_CLIENT_ID: `peregrine-e2e-${rand()}`,
      PEREGRINE_HTTP_ADDR: `127.0.0.1:${port}`,
      PEREGRINE_ADMIN_EMAIL: email,
      PEREGRINE_ADMIN_PASSWORD: password,
      // Fixed per run so sessions survive the restart case.
      PEREGRINE_JWT_SECRET: rand(32),
      PEREGRINE_WEB_ROOT: path.join(ROOT, 'web'),
      PEREGRINE_LOG_LEVEL: 'info',
    };
    this.proc = null;
  }

  async start(timeoutMs = 60000) {
    const log = fs.openSync(this.logFile, 'a');
    this.proc = spawn(binary(), ['serve'], { cwd: ROOT, env: this.env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise((r) => this.proc.once('exit', (code) => r(code)));
    this.exited = exited;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const code = await Promise.race([exited, sleep(250).then(() => undefined)]);
      if (code !== undefined) throw new Error(`peregrine exited (${code}) during start; see ${this.logFile}:\n${this.tail()}`);
      try {
        const r = await fetch(this.base + '/readyz');
        if (r.status === 200) return;
      } catch {
        /* not listening yet */
      }
    }
    throw new Error(`peregrine not ready after ${timeoutMs} ms; see ${this.logFile}:\n${this.tail()}`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const code = await Promise.race([this.exited, sleep(30000).then(() => 'timeout')]);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    this.proc = null;
  }

  tail(n = 25) {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  }

  /** JSON call with a bearer token; returns {status, body}. */
  async call(method, p, token, body) {
    const r = await fetch(this.base + '/api/v1' + p, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: r.status, body: json };
  }

  async login(email, password) {
    const r = await this.call('POST', '/auth/login', null, { email, password });
    if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.access_token;
  }
}

export async function connectMqtt() {
  const client = await mqtt.connectAsync(process.env.PEREGRINE_TEST_MQTT_URL.replace(/^tcp:/, 'mqtt:'), {
    clientId: `e2e-pub-${rand()}`,
    reconnectPeriod: 1000,
  });
  return {
    client,
    publish: (device, payload, qos = 1) => client.publishAsync(`sensors/${device}/telemetry`, JSON.stringify(payload), { qos }),
    end: () => client.endAsync(),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright gives every launch a fresh temporary --user-data-dir of its own.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/** Polls fn until it returns a truthy value. */
export async function eventually(fn, { timeout = 15000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

export async function loginInPage(page, base, email, password) {
  await page.goto(base + '/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('who').waitFor({ state: 'attached', timeout: 15000 });
}
