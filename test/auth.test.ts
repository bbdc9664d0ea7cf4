import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { SQL_BACKENDS, TEST_JWT_SECRET, call, signup, startTestServer, type TestServer } from './harness.js';
import { WsTestClient } from './support/ws-client.js';

for (const backend of SQL_BACKENDS) {
  describe(`auth & users (${backend})`, () => {
    let s: TestServer;
    before(async () => {
      // A short refresh grace period, so the reuse tests below see it end.
      s = await startTestServer({ sql: backend, env: { REFRESH_GRACE_PERIOD: '1s' } });
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

    test('a reused refresh token revokes the whole session (once its grace period is over)', async () => {
      const u = await signup(s.url, 'carol');
      const r1 = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
      assert.equal(r1.status, 200);
      // Within the grace period the spent token answers with the very same pair; once it
      // is over, presenting it again is reuse.
      let reuse = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
      for (const deadline = Date.now() + 30_000; reuse.status === 200 && Date.now() < deadline; ) {
        assert.deepEqual(reuse.body, r1.body);
        await new Promise((r) => setTimeout(r, 100)); // poll interval
        reuse = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } });
      }
      assert.equal(reuse.status, 401);
      assert.equal(reuse.body.error.code, 'unauthorized');
      // the legitimate holder's newer tokens are dead too
      assert.equal((await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: r1.body.refreshToken } })).status, 401);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: r1.body.accessToken })).status, 401);
      // another session of the same user is untouched
      const li = await call(s.url, 'POST', '/v1/auth/login', { body: { login: u.username, password: u.password } });
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: li.body.accessToken })).status, 200);
    });

    test('concurrent refreshes with one token (two tabs, a retry): all get the same new pair, the session lives', async () => {
      const u = await signup(s.url, 'dave');
      const rs = await Promise.all([1, 2, 3].map(() => call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: u.refreshToken } })));
      assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
      assert.equal(new Set(rs.map((r) => r.body.refreshToken)).size, 1);
      assert.equal(new Set(rs.map((r) => r.body.accessToken)).size, 1);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: rs[0]!.body.accessToken })).status, 200);
      const next = await call(s.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: rs[0]!.body.refreshToken } });
      assert.equal(next.status, 200);
      assert.notEqual(next.body.refreshToken, rs[0]!.body.refreshToken);
    });

    test("an access token naming another user's live session is refused", async () => {
      const b = await signup(s.url, 'subject_b');
      const c = await signup(s.url, 'session_c');
      const sidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).sid as string;
      const key = new TextEncoder().encode(TEST_JWT_SECRET);
      const forge = () => new SignJWT({ sid: sidOf(c.accessToken) }).setProtectedHeader({ alg: 'HS256' }).setSubject(b.id).setIssuer('parley').setAudience('parley').setIssuedAt().setExpirationTime('10m').sign(key);
      // Before and after C's own token warmed the session cache.
      const cold = await call(s.url, 'GET', '/v1/me', { token: await forge() });
      assert.deepEqual([cold.status, cold.body.error.code], [401, 'unauthorized']);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: c.accessToken })).body.id, c.id);
      const warm = await call(s.url, 'GET', '/v1/me', { token: await forge() });
      assert.deepEqual([warm.status, warm.body.error.code], [401, 'unauthorized']);
      await assert.rejects(WsTestClient.connect(s.wsUrl, await forge()), /401/);
      // Nothing of it stuck: C's and B's own tokens still work.
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: c.accessToken })).status, 200);
      assert.equal((await call(s.url, 'GET', '/v1/me', { token: b.accessToken })).status, 200);
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

describe('login throttling', () => {
  const login = (s: TestServer, ip: string, loginName: string, password: string) =>
    call(s.url, 'POST', '/v1/auth/login', { body: { login: loginName, password }, headers: { 'x-forwarded-for': ip } });
  const retryAfter = (r: { headers: Headers }) => Number(r.headers.get('retry-after'));

  test('per (name, address): growing delays; another address is not locked out; a correct password resets', async () => {
    const s = await startTestServer({ env: { TRUST_PROXY: 'true', LOGIN_FREE_FAILURES: '2', RATE_LIMIT_LOGIN_ACCOUNT: '1000/1h' } });
    try {
      const u = await signup(s.url, 'throttled');
      const attacker = '198.51.100.7';
      // Free failures, then every further one doubles the wait: 1 s, 2 s, ...
      assert.equal((await login(s, attacker, u.username, 'wrong-password-1')).status, 401);
      assert.equal((await login(s, attacker, u.username, 'wrong-password-2')).status, 401);
      const waits: number[] = [];
      for (let i = 0; i < 2; i++) {
        const refused = await login(s, attacker, u.username, u.password);
        assert.deepEqual([refused.status, refused.body.error.code], [429, 'rate_limited'], 'even the right password waits');
        waits.push(retryAfter(refused));
        // Wait for the delay to pass (polling the condition), then fail once more.
        let r = refused;
        for (const deadline = Date.now() + 60_000; r.status === 429 && Date.now() < deadline; ) {
          await new Promise((res) => setTimeout(res, 250)); // poll interval
          r = await login(s, attacker, u.username, `wrong-again-${i}`);
        }
        assert.equal(r.status, 401);
      }
      assert.ok(waits[0]! >= 1 && waits[1]! >= 2 * waits[0]! - 1, `growing delays: ${waits}`);
      assert.ok(retryAfter(await login(s, attacker, u.username, u.password)) >= 3, 'the third delay is longer still');

      // The owner, from another address, is not locked out (no denial of service)...
      const owner = await login(s, '203.0.113.9', u.username, u.password);
      assert.equal(owner.status, 200);
      // ...and the email of the same account shares no state with the username (no reveal).
      assert.equal((await login(s, attacker, u.email, u.password)).status, 200);

      // A correct password resets the count: fail, succeed, fail is one failure, not three.
      const v = await signup(s.url, 'resets');
      assert.equal((await login(s, attacker, v.username, 'wrong-password-1')).status, 401);
      assert.equal((await login(s, attacker, v.username, v.password)).status, 200);
      assert.equal((await login(s, attacker, v.username, 'wrong-password-2')).status, 401);
      assert.equal((await login(s, attacker, v.username, v.password)).status, 200);
    } finally {
      await s.stop();
    }
  });

  test('the same answers for a known and an unknown name, by username or email', async () => {
    const s = await startTestServer({ env: { TRUST_PROXY: 'true', LOGIN_FREE_FAILURES: '2', RATE_LIMIT_LOGIN_ACCOUNT: '1000/1h' } });
    try {
      const u = await signup(s.url, 'known');
      const answers = async (name: string) => {
        const out: unknown[] = [];
        for (let i = 0; i < 4; i++) {
          const r = await login(s, '192.0.2.44', name, `wrong-password-${i}`);
          out.push([r.status, r.body.error.code, r.body.error.message, r.headers.get('retry-after') === null ? null : 'set']);
        }
        return out;
      };
      const known = await answers(u.username);
      assert.deepEqual(await answers('nobody_at_all'), known);
      assert.deepEqual(await answers(u.email), known);
      assert.deepEqual(await answers('nobody@example.test'), known);
      assert.deepEqual(known.map((a) => (a as unknown[])[0]), [401, 401, 429, 429]);
    } finally {
      await s.stop();
    }
  });

  test('a far higher ceiling per name across all addresses', async () => {
    const s = await startTestServer({ env: { TRUST_PROXY: 'true', LOGIN_FREE_FAILURES: '100', RATE_LIMIT_LOGIN_ACCOUNT: '5/1h' } });
    try {
      const u = await signup(s.url, 'ceiling');
      for (let i = 0; i < 5; i++) assert.equal((await login(s, `198.51.100.${i + 1}`, u.username, `wrong-password-${i}`)).status, 401);
      const r = await login(s, '203.0.113.50', u.username, u.password);
      assert.deepEqual([r.status, r.body.error.code], [429, 'rate_limited']);
      assert.ok(retryAfter(r) > 0);
      const other = await signup(s.url, 'free');
      assert.equal((await login(s, '198.51.100.1', other.username, other.password)).status, 200);
    } finally {
      await s.stop();
    }
  });
});
