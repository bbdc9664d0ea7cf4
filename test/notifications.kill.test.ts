/**
 * Nothing lost between a stored message and its push: a process commits sends (and their
 * outbox rows) and is killed with SIGKILL before relaying them; another process, started
 * after, relays the jobs to RabbitMQ and its worker pushes. The offline recipient's FCM
 * device (the loopback FCM stand-in, which checks the OAuth assertion and bearer token)
 * gets exactly one alert per message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup } from './harness.js';
import { createTestDatabase } from './support/postgres.js';
import { spawnParley, waitExit } from './support/process.js';
import { FcmStandIn } from './support/push-standins.js';
import { waitFor } from '../src/platform/jobs/jobs.contract.js';

const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);
const rabbitmqctl = async (...args: string[]) => (await run('rabbitmqctl', ['--quiet', ...args], { timeout: 30_000, killSignal: 'SIGKILL' })).stdout;

if (SQL_BACKENDS.includes('postgres')) {
  describe('notifications: kill -9 between commit and relay', () => {
    const vhost = `parley_notify_kill_${randomBytes(5).toString('hex')}`;
    const amqpUrl = (() => {
      const u = new URL(AMQP_TEST_URL);
      u.pathname = `/${encodeURIComponent(vhost)}`;
      return u.toString();
    })();
    let fcm: FcmStandIn;
    let dir: string;
    before(async () => {
      await rabbitmqctl('add_vhost', vhost);
      await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
      fcm = await FcmStandIn.start();
      dir = mkdtempSync(join(tmpdir(), 'parley-notify-kill-'));
    });
    after(async () => {
      await fcm?.close();
      await rabbitmqctl('delete_vhost', vhost);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('the offline recipient still gets exactly one push per message after the committing process died', async () => {
      const t = await createTestDatabase();
      const env = {
        DATABASE_URL: t.url,
        AMQP_URL: amqpUrl,
        AMQP_QUEUE_TYPE: 'classic',
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: join(dir, 'data'),
        RATE_LIMIT_SIGNUP_IP: '1000/1m',
        OUTBOX_POLL_INTERVAL: '200ms',
        FCM_SERVICE_ACCOUNT_FILE: fcm.writeServiceAccount(dir),
        FCM_BASE_URL: fcm.baseUrl,
      };
      const db = new pg.Client({ connectionString: t.url });
      await db.connect();
      const children: { child: ChildProcess }[] = [];
      try {
        // 1. Commits sends but never relays them, and runs no worker.
        const first = await spawnParley({ ...env, OUTBOX_RELAY: 'false' }, { args: ['--roles', 'api,ws'] });
        children.push(first);
        const a = await signup(first.url, 'ka');
        const b = await signup(first.url, 'kb');
        const token = `fcm-${randomBytes(12).toString('hex')}`;
        assert.equal((await call(first.url, 'POST', '/v1/me/devices', { token: b.accessToken, body: { platform: 'fcm', token } })).status, 201);
        const c = await call(first.url, 'POST', '/v1/conversations', { token: a.accessToken, body: { type: 'direct', userId: b.id } });
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await call(first.url, 'POST', `/v1/conversations/${c.body.id}/messages`, { token: a.accessToken, body: { clientMsgId: `kill-${i}`, text: `while you were away ${i}` } });
          assert.equal(r.status, 201);
          ids.push(r.body.id as string);
        }
        first.child.kill('SIGKILL');
        assert.ok(await waitExit(first.child, 10_000));
        assert.equal(fcm.received.length, 0, 'nothing was pushed before the kill');

        // 2. A process with the default roles (relay and worker on) picks up what was left.
        const second = await spawnParley(env);
        children.push(second);
        const alerts = () => fcm.received.filter((m) => m.token === token && m.notification);
        await waitFor('a push for every message', () => ids.every((id) => alerts().some((m) => m.data?.messageId === id)), 60_000);
        // Every push job of those messages finished: B's one device recorded as pushed for each
        // (so a second push would have been sent by now).
        const pushSteps = async () => (await db.query<{ id: string }>("SELECT id FROM processed_jobs WHERE id LIKE 'notify.push:%#device:%'")).rows.map((r) => r.id);
        await waitFor('the push of every message recorded for the device', async () => (await pushSteps()).length >= ids.length, 60_000);
        assert.deepEqual((await pushSteps()).map((x) => x.slice('notify.push:'.length, x.indexOf('#'))).sort(), [...ids].sort(), 'one recorded push per message');
        for (const id of ids) assert.equal(alerts().filter((m) => m.data?.messageId === id).length, 1, `one push for ${id}`);
        assert.deepEqual(fcm.rejected, [], 'the FCM stand-in accepted every request (assertion, bearer token, body)');
      } finally {
        for (const ch of children) if (ch.child.exitCode === null && ch.child.signalCode === null) ch.child.kill('SIGTERM');
        await Promise.all(children.map((ch) => waitExit(ch.child, 15_000)));
        await db.end();
        await t.drop();
      }
    });
  });
}
