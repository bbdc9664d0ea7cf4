import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyError, RestClient } from './rest.js';

function jwt(expSeconds: number): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256' })}.${b64({ sub: 'u', exp: expSeconds })}.sig`;
}

/** A fake server for `/v1/me` and `/v1/auth/refresh` with rotating tokens. */
function fakeFetch() {
  let valid = 'a0';
  let refresh = 'r0';
  let n = 0;
  const log: string[] = [];
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const f: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const auth = (init?.headers as Record<string, string> | undefined)?.authorization;
    log.push(`${init?.method} ${url.pathname}`);
    await new Promise((r) => setTimeout(r, 2));
    if (url.pathname === '/v1/auth/refresh') {
      const body = JSON.parse(String(init?.body)) as { refreshToken: string };
      if (body.refreshToken !== refresh) return json(401, { error: { code: 'unauthorized', message: 'spent' } });
      n += 1;
      valid = `a${n}`;
      refresh = `r${n}`;
      return json(200, { accessToken: valid, refreshToken: refresh, expiresIn: 900 });
    }
    if (url.pathname === '/v1/busy') return json(429, { error: { code: 'rate_limited', message: 'slow' } }, { 'retry-after': '7' });
    if (auth !== `Bearer ${valid}`) return json(401, { error: { code: 'unauthorized', message: 'expired' } });
    return json(200, { id: 'u', q: url.search });
  };
  return { f, log, expire: () => (valid = 'nope') };
}

describe('RestClient', () => {
  test('a 401 refreshes once and retries; concurrent 401s share one refresh (rotation-safe)', async () => {
    const srv = fakeFetch();
    const seen: unknown[] = [];
    const rest = new RestClient({ baseUrl: 'http://x/', tokens: { accessToken: 'a0', refreshToken: 'r0' }, fetch: srv.f, onTokens: (t) => seen.push(t) });
    srv.expire();
    const results = await Promise.all([rest.me(), rest.me(), rest.me(), rest.getUser('u')]);
    assert.equal(results.length, 4);
    assert.equal(srv.log.filter((l) => l.endsWith('/v1/auth/refresh')).length, 1);
    assert.equal(rest.refreshToken, 'r1');
    assert.deepEqual(seen, [{ accessToken: 'a1', refreshToken: 'r1' }]);
  });

  test('a refused refresh ends the session: tokens dropped, onSessionEnded called once', async () => {
    const srv = fakeFetch();
    let ended = 0;
    const rest = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: 'a0', refreshToken: 'stolen' }, fetch: srv.f, onSessionEnded: () => (ended += 1) });
    srv.expire();
    await assert.rejects(Promise.all([rest.me(), rest.me()]), (e: any) => e instanceof ParleyError && e.status === 401);
    assert.equal(ended, 1);
    assert.equal(rest.accessToken, null);
  });

  test('errors carry status, code, message and Retry-After; network failures are status 0', async () => {
    const srv = fakeFetch();
    const rest = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: 'a0', refreshToken: 'r0' }, fetch: srv.f });
    await assert.rejects(rest.request('GET', '/v1/busy'), (e: any) => e.status === 429 && e.code === 'rate_limited' && e.retryAfter === 7 && e.message === 'slow');
    const down = new RestClient({ baseUrl: 'http://x', fetch: async () => Promise.reject(new TypeError('fetch failed')) });
    await assert.rejects(down.me(), (e: any) => e.status === 0 && e.code === 'network_error');
  });

  test('query strings skip undefined and are encoded', async () => {
    const srv = fakeFetch();
    const rest = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: 'a0', refreshToken: 'r0' }, fetch: srv.f });
    const r = await rest.request<{ q: string }>('GET', '/v1/x', { query: { a: 'x y&z', b: undefined, c: 3 } });
    assert.equal(r.q, '?a=x%20y%26z&c=3');
  });

  test('accessTokenExpiresSoon reads the JWT exp claim', () => {
    const now = Date.now();
    const soon = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: jwt(now / 1000 + 10), refreshToken: 'r' } });
    const later = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: jwt(now / 1000 + 600), refreshToken: 'r' } });
    const opaque = new RestClient({ baseUrl: 'http://x', tokens: { accessToken: 'not-a-jwt', refreshToken: 'r' } });
    assert.equal(soon.accessTokenExpiresSoon(30_000, now), true);
    assert.equal(later.accessTokenExpiresSoon(30_000, now), false);
    assert.equal(opaque.accessTokenExpiresSoon(30_000, now), false);
  });
});
