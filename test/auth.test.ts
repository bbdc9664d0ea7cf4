import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup, startTestServer, type TestServer } from './harness.js';

for (const backend of SQL_BACKENDS) {
  describe(`auth & users (${backend})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ sql: backend });
    });
    after(async () => {
      await s?.stop();
    });

    test('signup, login, refresh, me, logout', async () => {
      const email = `Alice.${backend}@Example.test`;
      const su = await call(s.url, 'POST', '/v1/auth/signup', { body: { email, username: `alice_${backend}`, password: 'password123', displayName: 'Alice' } });
      assert.equal(su.status, 201);
      assert.equal(su.body.user.username, `alice_${backend}`);
      assert.equal(su.body.user.email, email);
      assert.equal(su.body.user.displayName, 'Alice');
      assert.ok(su.body.accessToken && su.body.refreshToken);
      assert.equal(su.body.expiresIn, 900);
      assert.equal(JSON.stringify(su.body).includes('password'), false);

      const me = await call(s.url, 'GET', '/v1/me', { token: su.body.accessToken });
      assert.equal(me.status, 200);
      assert.equal(me.body.email, email);

      // login by email (any case) and by username
      for (const login of [email.toLowerCase(), `alice_${backend}`]) {
        const li = await call(s.url, 'POST', '/v1/auth/login', { body: { login, password: 'password123' } });
        assert.equal(li.status, 200, JSON.stringify(li.body));
        assert.equal(li.body.user.id, su.body.user.id);
      }

      const rf = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: su.body.refreshToken } });
      assert.equal(rf.status, 200);
      assert.notEqual(rf.body.refreshToken, su.body.refreshToken);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: rf.body.accessToken })).status, 200);

      const lo = await call(s.url, 'POST', '/v1/auth/logout', { token: rf.body.accessToken });
      assert.equal(lo.status, 204);
      // logout takes effect at once, for every access token of the session
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: rf.body.accessToken })).status, 401);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: su.body.accessToken })).status, 401);
      assert.equal((await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: rf.body.refreshToken } })).status, 401);
    });

    test('bad credentials get the same 401 for unknown user and wrong password', async () => {
      const u = await signup(s.url, 'bob');
      const wrong = await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: 'nope-nope-nope' } });
      const unknown = await call(s.url, 'POST', '/v1/auth/login', { body: { login: 'nobody_here', password: 'nope-nope-nope' } });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.deepEqual(wrong.body, unknown.body);
    });

    test('a reused refresh token revokes the whole session', async () => {
      const u = await signup(s.url, 'carol');
      const r1 = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
      assert.equal(r1.status, 200);
      const reuse = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.error.code, 'unauthorized');
      // the legitimate holder's newer tokens are dead too
      assert.equal((await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: r1.body.refreshToken } })).status, 401);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: r1.body.accessToken })).status, 401);
      // another session of the same user is untouched
      const li = await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } });
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: li.body.accessToken })).status, 200);
    });

    test('concurrent refreshes with one token: one wins, the session is revoked', async () => {
      const u = await signup(s.url, 'dave');
      const rs = await Promise.all([1, 2, 3].map(() => call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } })));
      const ok = rs.filter((r) => r.status === 200);
      assert.equal(ok.length, 1);
      assert.ok(rs.every((r) => r.status === 200 || r.status === 401));
    });

    test('tampered, expired, foreign-key and malformed access tokens are refused', async () => {
      const u = await signup(s.url, 'erin');
      const [h, p, sig] = u.accessToken.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const tamperedPayload = Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url');
      const key = new TextEncoder().encode(TEST_JWT_SECRET);
      const expired = await new SignJWT({ sid: payload.sid }).setProtectedHeader({ alg: 'HS256' }).setSubject(payload.sub).setIssuer('parley').setAudience('parley').setIssuedAt(1_000).setExpirationTime(2_000).sign(key);
      const foreign = await new SignJWT({ sid: payload.sid }).setProtectedHeader({ alg: 'HS256' }).setSubject(payload.sub).setIssuer('parley').setAudience('parley').setExpirationTime('1h').sign(new TextEncoder().encode('another-key-another-key-another-key-xx'));
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      for (const token of [`${h}.${tamperedPayload}.${sig}`, `${h}.${p}.${sig.slice(0, -2)}AA`, expired, foreign, none, 'garbage', 'a.b.c']) {
        const r = await call(s.url, 'GET', '/v1/me', { token });
        assert.equal(r.status, 401, token);
        assert.equal(r.body.error.code, 'unauthorized');
      }
      assert.equal((await call(s.url, 'GET', '/v1/me')).status, 401);
      assert.equal((await call(s.url, 'GET', '/v1/me', { headers: { authorization: 'Basic abc' } })).status, 401);
      assert.equal((await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: 'x.y' } })).status, 401);
    });

    test('bad input gets the documented 4xx, never a 500', async () => {
      const base = { email: 'x@example.test', username: 'valid_name', password: 'password123' };
      const cases: [unknown, number][] = [
        [{}, 400],
        [{ ...base, email: undefined }, 400],
        [{ ...base, username: 42 }, 400],
        [{ ...base, password: ['password123'] }, 400],
        [{ ...base, password: 'short' }, 400],
        [{ ...base, email: 'not-an-email' }, 400],
        [{ ...base, username: "x'; DROP TABLE users;--" }, 400],
        [{ ...base, username: 'Robert' }, 400],
        [{ ...base, username: 'ab' }, 400],
        [{ ...base, username: 'a'.repeat(33) }, 400],
        [{ ...base, username: 'ａｌｉｃｅ' }, 400],
        [{ ...base, username: 'al\u0000ce' }, 400],
        [{ ...base, username: 'e\u0301tienne' }, 400],
        [{ ...base, displayName: 'bad\u0000name' }, 400],
        [{ ...base, displayName: '' }, 400],
        [null, 400],
        [[base], 400],
      ];
      for (const [body, status] of cases) {
        const r = await call(s.url, 'POST', '/v1/auth/signup', { body });
        assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'invalid_request');
      }
      const malformed = await call(s.url, 'POST', '/v1/auth/signup', { rawBody: '{"email": "a@b.c", ' });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.code, 'invalid_request');
      const huge = await call(s.url, 'POST', '/v1/auth/signup', { rawBody: JSON.stringify({ ...base, displayName: 'x'.repeat(2 * 1024 * 1024) }) });
      assert.equal(huge.status, 413);
      assert.equal(huge.body.error.code, 'payload_too_large');
      const wrongType = await call(s.url, 'POST', '/v1/auth/signup', { rawBody: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(wrongType.status, 415);
      // unicode display names that are fine are kept exactly
      const ok = await call(s.url, 'POST', '/v1/auth/signup', { body: { ...base, email: `u.${backend}@example.test`, displayName: 'Zoë 👩‍💻 مرحبا' } });
      assert.equal(ok.status, 201);
      assert.equal(ok.body.user.displayName, 'Zoë 👩‍💻 مرحبا');
      // the server still serves
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);
    });

    test('duplicate signup is 409, case-insensitively for email', async () => {
      const u = await signup(s.url, 'frank');
      const dupName = await call(s.url, 'POST', '/v1/auth/signup', { body: { email: `other.${u.email}`, username: u.username, password: 'password123' } });
      assert.equal(dupName.status, 409);
      assert.equal(dupName.body.error.code, 'conflict');
      const dupEmail = await call(s.url, 'POST', '/v1/auth/signup', { body: { email: u.email.toUpperCase(), username: `${u.username.slice(0, 28)}_x`, password: 'password123' } });
      assert.equal(dupEmail.status, 409);
    });

    test('profiles: others never see email; update; prefix search', async () => {
      const a = await signup(s.url, 'gina');
      const b = await signup(s.url, 'hank');
      const pub = await call(s.url, 'GET', `/v1/users/${a.id}`, { token: b.accessToken });
      assert.equal(pub.status, 200);
      assert.equal(pub.body.email, undefined);
      assert.equal(JSON.stringify(pub.body).includes(a.email), false);
      assert.equal((await call(s.url, 'GET', '/v1/users/nope', { token: b.accessToken })).status, 404);

      const patched = await call(s.url, 'PATCH', '/v1/me', { token: a.accessToken, body: { displayName: 'Gina G', statusText: 'busy' } });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.displayName, 'Gina G');
      assert.equal(patched.body.statusText, 'busy');
      assert.equal((await call(s.url, 'PATCH', '/v1/me', { token: a.accessToken, body: { displayName: 7 } })).status, 400);

      const found = await call(s.url, 'GET', `/v1/users?query=${encodeURIComponent(a.username.slice(0, 8))}&limit=5`, { token: b.accessToken });
      assert.equal(found.status, 200);
      assert.ok(found.body.users.some((x: { id: string }) => x.id === a.id));
      assert.ok(found.body.users.every((x: Record<string, unknown>) => x.email === undefined));
      const byDisplay = await call(s.url, 'GET', `/v1/users?query=gina%20g`, { token: b.accessToken });
      assert.ok(byDisplay.body.users.some((x: { id: string }) => x.id === a.id));
      // LIKE wildcards and SQL-ish text are literal: people search matches any part of a name,
      // so a result must contain the text itself (usernames may hold "_"; none holds the rest).
      for (const q of ['%', '_', "' OR 1=1 --", '\\']) {
        const r = await call(s.url, 'GET', `/v1/users?query=${encodeURIComponent(q)}`, { token: b.accessToken });
        assert.equal(r.status, 200);
        for (const u of r.body.users as { username: string; displayName: string }[]) assert.ok(`${u.username} ${u.displayName}`.toLowerCase().includes(q.toLowerCase()), `${q} matched ${u.username}`);
        if (q !== '_') assert.equal(r.body.users.length, 0, q);
      }
      assert.equal((await call(s.url, 'GET', '/v1/users?query=', { token: b.accessToken })).status, 400);
      assert.equal((await call(s.url, 'GET', '/v1/users?query=a&limit=1000', { token: b.accessToken })).status, 400);
      assert.equal((await call(s.url, 'GET', '/v1/users?query=a')).status, 401);
    });

    test('push devices: register, re-register, delete only own', async () => {
      const a = await signup(s.url, 'ivy');
      const b = await signup(s.url, 'jack');
      const fcm = await call(s.url, 'POST', '/v1/me/devices', { token: a.accessToken, body: { platform: 'fcm', token: `fcm-token-${backend}` } });
      assert.equal(fcm.status, 201);
      assert.equal(fcm.body.platform, 'fcm');
      const wp = await call(s.url, 'POST', '/v1/me/devices', {
        token: a.accessToken,
        body: { platform: 'webpush', subscription: { endpoint: `https://push.example.test/${backend}`, keys: { p256dh: 'BPkey', auth: 'authkey' } } },
      });
      assert.equal(wp.status, 201);
      assert.equal(wp.body.subscription.endpoint, `https://push.example.test/${backend}`);
      for (const body of [{ platform: 'fcm' }, { platform: 'webpush', token: 'x' }, { platform: 'sms', token: 'x' }, { platform: 'apns', token: 'not-hex' }]) {
        assert.equal((await call(s.url, 'POST', '/v1/me/devices', { token: a.accessToken, body })).status, 400, JSON.stringify(body));
      }
      assert.equal((await call(s.url, 'DELETE', `/v1/me/devices/${fcm.body.id}`, { token: b.accessToken })).status, 404);
      assert.equal((await call(s.url, 'DELETE', `/v1/me/devices/${fcm.body.id}`, { token: a.accessToken })).status, 204);
      assert.equal((await call(s.url, 'DELETE', `/v1/me/devices/${fcm.body.id}`, { token: a.accessToken })).status, 404);
    });

    test('the VAPID public key is 404 until Web Push is configured', async () => {
      const r = await call(s.url, 'GET', '/v1/push/vapid-public-key');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_found');
      const pub = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url');
      const withPush = await startTestServer({
        sql: backend,
        env: { WEB_PUSH_VAPID_PUBLIC_KEY: pub, WEB_PUSH_VAPID_PRIVATE_KEY: Buffer.alloc(32, 3).toString('base64url'), WEB_PUSH_SUBJECT: 'mailto:ops@example.test' },
      });
      try {
        const ok = await call(withPush.url, 'GET', '/v1/push/vapid-public-key');
        assert.deepEqual(ok.body, { publicKey: pub });
      } finally {
        await withPush.stop();
      }
    });

    test('openapi describes every route with schemas', async () => {
      const r = await call(s.url, 'GET', '/openapi.json');
      assert.equal(r.status, 200);
      const paths = r.body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
      for (const [p, m] of [
        ['/v1/auth/signup', 'post'],
        ['/v1/auth/login', 'post'],
        ['/v1/auth/refresh', 'post'],
        ['/v1/auth/logout', 'post'],
        ['/v1/me', 'get'],
        ['/v1/me', 'patch'],
        ['/v1/users/{id}', 'get'],
        ['/v1/users', 'get'],
        ['/v1/me/devices', 'post'],
        ['/v1/me/devices/{id}', 'delete'],
      ] as const) {
        assert.ok(paths[p]?.[m], `${m} ${p} missing`);
        assert.ok(Object.keys(paths[p]![m]!.responses).length > 0);
      }
    });

    test('health, readiness and metrics', async () => {
      assert.equal((await call(s.url, 'GET', '/healthz')).status, 200);
      const ready = await call(s.url, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.sql, 'ok');
      const m = await call(s.url, 'GET', '/metrics');
      assert.match(m.body as string, /parley_http_request_duration_seconds_bucket/);
      const nf = await call(s.url, 'GET', '/v1/nothing-here');
      assert.equal(nf.status, 404);
      assert.equal(nf.body.error.code, 'not_found');
    });
  });
}

describe('rate limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ env: { RATE_LIMIT_SIGNUP_IP: '3/10m', RATE_LIMIT_LOGIN_ACCOUNT: '3/15m' } });
  });
  after(async () => s?.stop());

  test('signups per address: 429 with Retry-After past the limit', async () => {
    for (let i = 0; i < 3; i++) await signup(s.url, 'rl');
    const r = await call(s.url, 'POST', '/v1/auth/signup', { body: { email: 'late@example.test', username: 'late_one', password: 'password123' } });
    assert.equal(r.status, 429);
    assert.equal(r.body.error.code, 'rate_limited');
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra > 0 && ra <= 600, String(ra));
  });
});

describe('account lockout', () => {
  test('after N failures the account answers 429 with Retry-After', async () => {
    const s = await startTestServer({ env: { RATE_LIMIT_LOGIN_ACCOUNT: '3/15m' } });
    try {
      const u = await signup(s.url, 'locked');
      for (let i = 0; i < 3; i++) {
        assert.equal((await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: `wrong-${i}-wrong` } })).status, 401);
      }
      const r = await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } });
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      // by email too: the lock is per account, whatever name is presented
      assert.equal((await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.email.toUpperCase(), password: u.password } })).status, 429);
      const other = await signup(s.url, 'free');
      assert.equal((await call(s.url, 'POST', '/v1/auth/login', { body: { login: other.username, password: other.password } })).status, 200);
    } finally {
      await s.stop();
    }
  });
});
