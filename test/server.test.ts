import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, startTestServer } from './harness.js';
import { freeLoopbackPort } from './support/process.js';

test('embedded data survives a restart', async () => {
  const s1 = await startTestServer({ sql: 'pglite', env: { JWT_SECRET: '' } });
  const su = await call(s1.url, 'POST', '/v1/auth/signup', { body: { email: 'keep@example.test', username: 'keeper', password: 'password123' } });
  assert.equal(su.status, 201);
  await s1.stopKeepingData();
  // Same DATA_DIR: same database and the same generated JWT secret, so old tokens still work.
  const s2 = await startTestServer({ sql: 'pglite', dataDir: s1.dataDir, env: { JWT_SECRET: '' } });
  try {
    assert.equal((await call(s2.url, 'GET', '/v1/me', { token: su.body.accessToken })).status, 200);
    const li = await call(s2.url, 'POST', '/v1/auth/login', { body: { login: 'keeper', password: 'password123' } });
    assert.equal(li.status, 200);
    const rf = await call(s2.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: su.body.refreshToken } });
    assert.equal(rf.status, 200);
  } finally {
    await s2.stop();
    rmSync(s1.dataDir, { recursive: true, force: true });
  }
});


test('the CLI serves, migrates, refuses bad config, and exits cleanly on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  const port = await freeLoopbackPort();
  const { NODE_TEST_CONTEXT: _ctx, ...parentEnv } = process.env;
  const env = { ...parentEnv, DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx');
  try {
    const bad = spawn(tsx, ['src/cli.ts', 'serve'], { env: { ...env, PORT: 'x', DATABASE_URL: 'nope' } });
    let badErr = '';
    bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
    const badCode = await new Promise<number | null>((r) => bad.on('exit', r));
    assert.equal(badCode, 78);
    assert.match(badErr, /PORT/);
    assert.match(badErr, /DATABASE_URL/);

    const mig = spawn(tsx, ['src/cli.ts', 'migrate'], { env });
    assert.equal(await new Promise((r) => mig.on('exit', r)), 0);

    const child = spawn(tsx, ['src/cli.ts', 'serve', '--roles', 'api,ws'], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!out.includes('parley started') || !err.includes('\n')) {
      if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await call(`http://127.0.0.1:${port}`, 'GET', '/readyz');
    assert.equal(r.status, 200);
    // One plain line for a person, with the URL to open; stdout stays JSON lines.
    assert.equal(err, `Parley is running: open http://localhost:${port}\n`);
    for (const line of out.split('\n').filter(Boolean)) JSON.parse(line);
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.match(out, /shutting down/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
