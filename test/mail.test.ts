/**
 * The embedded mail default: with no SMTP_URL every mail is an `.eml` file in
 * DATA_DIR/mail/outbox, built exactly as SMTP would send it (parsed back here).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { waitFor } from '../src/platform/jobs/jobs.contract.js';
import { call, signup, startTestServer, type TestServer } from './harness.js';

describe('mail outbox (embedded default)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MAIL_FROM: 'Parley <no-reply@parley.test>' } });
  });
  after(async () => server?.stop());

  test('signup and password reset mails land in DATA_DIR/mail/outbox as complete .eml files', async () => {
    const u = await signup(server.url, 'Outbox');
    const dir = join(server.dataDir, 'mail', 'outbox');
    const files = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.eml') && !f.startsWith('.')) : []);
    await waitFor('verification .eml', () => files().length === 1, 20_000);
    assert.equal((await call(server.url, 'POST', '/v1/auth/password/forgot', { body: { email: u.email } })).status, 202);
    await waitFor('reset .eml', () => files().length === 2, 20_000);
    const mails = await Promise.all(files().map(async (f) => simpleParser(readFileSync(join(dir, f)))));
    const subjects = mails.map((m) => m.subject).sort();
    assert.deepEqual(subjects, ['Confirm your email address for Parley', 'Reset your Parley password']);
    for (const m of mails) {
      assert.equal(m.from?.value[0]?.address, 'no-reply@parley.test');
      assert.equal((Array.isArray(m.to) ? m.to[0] : m.to)?.value[0]?.address, u.email);
      assert.ok(m.text && m.html, 'text and HTML parts');
    }
    const token = /token=([A-Za-z0-9_-]+)/.exec(mails.find((m) => /Reset/.test(m.subject ?? ''))!.text!)![1]!;
    assert.equal((await call(server.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'a new password' } })).status, 204);
  });
});
