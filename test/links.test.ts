/**
 * Link previews through the real server: a message with a link to an allow-listed
 * loopback page gets a preview (a `link.previews` event, then readable over REST by
 * members only); a link to a private address gets none; LINK_PREVIEWS=false turns the
 * feature off. Also the local blob adapter's CORS: a page on another origin than
 * PUBLIC_URL can preflight, PUT and GET its signed URLs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, signup, startTestServer, type TestServer } from './harness.js';
import { freeLoopbackPort } from './support/process.js';
import { WsTestClient, settle } from './support/ws-client.js';

let page: Server;
let pageBase = '';
let fetches = 0;

before(async () => {
  page = createServer((req, res) => {
    fetches += 1;
    if (req.url === '/article') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><meta property="og:title" content="The article"><meta property="og:site_name" content="Loopback News"><meta name="description" content="What it says"></head></html>');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageBase = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
});

after(async () => {
  page.closeAllConnections();
  await new Promise((r) => page.close(r));
});

async function direct(server: TestServer) {
  const alice = await signup(server.url, 'alice');
  const bob = await signup(server.url, 'bob');
  const eve = await signup(server.url, 'eve');
  const conv = await call(server.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } });
  assert.equal(conv.status, 201);
  return { alice, bob, eve, convId: conv.body.id as string };
}

const send = (server: TestServer, token: string, convId: string, text: string) =>
  call(server.url, 'POST', `/v1/conversations/${convId}/messages`, { token, body: { clientMsgId: `c${Math.random().toString(36).slice(2)}`, text } });

test('link previews: fetched, cached, attached, announced; members only; private links get none', async () => {
  const server = await startTestServer({ env: { LINK_PREVIEW_ALLOW_HOSTS: new URL(pageBase).host } });
  try {
    const { alice, bob, eve, convId } = await direct(server);
    const ws = await WsTestClient.connect(server.wsUrl, bob.accessToken);
    try {
      const priv = await send(server, alice.accessToken, convId, 'internal: http://10.0.0.5/admin');
      assert.equal(priv.status, 201);
      const sent = await send(server, alice.accessToken, convId, `read this: ${pageBase}/article.`);
      assert.equal(sent.status, 201);
      const ev = await ws.waitFor((f) => f.type === 'link.previews' && f.messageId === sent.body.id, 15_000);
      assert.equal(ev.conversationId, convId);
      assert.deepEqual(ev.previews, [{ url: `${pageBase}/article`, title: 'The article', description: 'What it says', imageUrl: null, siteName: 'Loopback News' }]);

      const ids = `${priv.body.id},${sent.body.id}`;
      const got = await call(server.url, 'GET', `/v1/conversations/${convId}/link-previews?messageIds=${ids}`, { token: bob.accessToken });
      assert.equal(got.status, 200);
      assert.deepEqual(Object.keys(got.body.previews), [sent.body.id], 'only the public-or-allowed link has a preview');
      assert.equal(got.body.previews[sent.body.id][0].title, 'The article');

      // Not a member: not_found, nothing else.
      const foreign = await call(server.url, 'GET', `/v1/conversations/${convId}/link-previews?messageIds=${ids}`, { token: eve.accessToken });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.body.error.code, 'not_found');
      const bad = await call(server.url, 'GET', `/v1/conversations/${convId}/link-previews?messageIds=<x>`, { token: bob.accessToken });
      assert.equal(bad.status, 400);

      // The same link again comes from the cache: the page is not fetched again.
      const before = fetches;
      const again = await send(server, bob.accessToken, convId, `${pageBase}/article`);
      await ws.waitFor((f) => f.type === 'link.previews' && f.messageId === again.body.id, 15_000);
      assert.equal(fetches, before);
    } finally {
      ws.close();
    }
  } finally {
    await server.stop();
  }
});

test('LINK_PREVIEWS=false: no fetch, no event', async () => {
  const server = await startTestServer({ env: { LINK_PREVIEWS: 'false', LINK_PREVIEW_ALLOW_HOSTS: new URL(pageBase).host } });
  try {
    const { alice, bob, convId } = await direct(server);
    const ws = await WsTestClient.connect(server.wsUrl, bob.accessToken);
    const before = fetches;
    const sent = await send(server, alice.accessToken, convId, `${pageBase}/article`);
    await ws.waitFor((f) => f.type === 'message.new' && f.message.id === sent.body.id);
    await settle(800);
    assert.equal(ws.frames.filter((f) => f.type === 'link.previews').length, 0);
    assert.equal(fetches, before);
    ws.close();
  } finally {
    await server.stop();
  }
});

test('local blob URLs answer CORS: preflight, PUT and GET from another origin than PUBLIC_URL', async () => {
  const port = await freeLoopbackPort();
  const server = await startTestServer({ env: { PORT: String(port), PUBLIC_URL: `http://localhost:${port}` } });
  try {
    const alice = await signup(server.url, 'alice');
    const bytes = Buffer.from('hello from another origin');
    const t = await call(server.url, 'POST', '/v1/media/uploads', { token: alice.accessToken, body: { filename: 'a.txt', contentType: 'text/plain', size: bytes.length } });
    assert.equal(t.status, 201);
    assert.ok(String(t.body.uploadUrl).startsWith(`http://localhost:${port}/v1/blobs/`), 'signed for PUBLIC_URL');
    const origin = `http://127.0.0.1:${port}`;
    const pre = await fetch(t.body.uploadUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /PUT/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/);
    const put = await fetch(t.body.uploadUrl, { method: 'PUT', body: bytes, headers: { ...t.body.uploadHeaders, origin } });
    assert.equal(put.status, 200);
    assert.equal(put.headers.get('access-control-allow-origin'), '*');
    // A refusal is readable too, so the page can say why.
    const tampered = await fetch(String(t.body.uploadUrl).replace(/sig=[^&]+/, 'sig=AAAA'), { method: 'PUT', body: bytes, headers: { ...t.body.uploadHeaders, origin } });
    assert.equal(tampered.status, 403);
    assert.equal(tampered.headers.get('access-control-allow-origin'), '*');
    const done = await call(server.url, 'POST', `/v1/media/${t.body.mediaId}/complete`, { token: alice.accessToken });
    assert.equal(done.status, 200);
    const get = await fetch(done.body.url, { headers: { origin } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('access-control-allow-origin'), '*');
    assert.equal(await get.text(), bytes.toString());
    // The API itself stays same-origin only (no CORS headers added there).
    const me = await fetch(`${server.url}/v1/me`, { headers: { origin, authorization: `Bearer ${alice.accessToken}` } });
    assert.equal(me.headers.get('access-control-allow-origin'), null);
  } finally {
    await server.stop();
  }
});
