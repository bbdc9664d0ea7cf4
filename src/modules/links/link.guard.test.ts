/**
 * The SSRF guard against real sockets on loopback: private, loopback, link-local and
 * IPv4-mapped addresses are refused (by literal and after "DNS"), a redirect to a private
 * address is refused, oversized and slow pages are cut off, and an allow-listed loopback
 * page is fetched. Resolution is stubbed only to name private addresses: nothing here
 * connects anywhere but 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GuardError, guardedFetch, isPublicAddress, type GuardOptions } from './link.guard.js';
import { extractUrls, parsePageMeta } from './link.parse.js';

let server: Server;
let base = '';
let hostPort = '';
const PAGE = '<html><head><title>Fallback</title><meta property="og:title" content="A &amp; B"><meta property="og:description" content="Described"><meta property="og:image" content="/img.png"></head><body>hi</body></html>';

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/page':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
        return;
      case '/redirect-private':
        res.writeHead(302, { location: 'http://10.1.2.3/secret' }).end();
        return;
      case '/redirect-mapped':
        res.writeHead(301, { location: 'http://[::ffff:169.254.169.254]/latest/meta-data' }).end();
        return;
      case '/redirect-page':
        res.writeHead(302, { location: '/page' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(2_000_000) });
        res.write('<html>'.padEnd(1000, ' '));
        // The guard hangs up on the declared length; nothing more is sent.
        return;
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'text/html' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let sent = 0;
        const pump = () => {
          while (sent < 4_000_000) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => {});
        pump();
        return;
      }
      case '/slow':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<html><head>');
        // Never finishes: the guard's deadline must end it.
        return;
      case '/image':
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(10));
        return;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  hostPort = `127.0.0.1:${port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const opts = (over: Partial<GuardOptions> = {}): GuardOptions => ({ allowHosts: [hostPort], maxBytes: 512 * 1024, timeoutMs: 3000, maxRedirects: 3, ...over });

async function refused(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof GuardError, `a GuardError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

test('address classification: only public unicast passes', () => {
  for (const ip of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2001:4860:4860::8888']) assert.equal(isPublicAddress(ip), true, ip);
  for (const ip of [
    '127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1',
    '192.0.2.1', '198.18.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:7f00:1::1', 'not-an-ip',
  ]) {
    assert.equal(isPublicAddress(ip), false, ip);
  }
  assert.equal(isPublicAddress('::ffff:8.8.8.8'), true, 'a mapped public address is public');
});

test('literal private, loopback, link-local and mapped addresses are refused before connecting', async () => {
  const noAllow = opts({ allowHosts: [] });
  await refused(guardedFetch(`${base}/page`, noAllow), 'blocked_address');
  await refused(guardedFetch('http://[::1]:9/', noAllow), 'blocked_address');
  await refused(guardedFetch('http://[::ffff:127.0.0.1]:9/', noAllow), 'blocked_address');
  await refused(guardedFetch('http://169.254.169.254/latest/meta-data', noAllow), 'blocked_address');
  await refused(guardedFetch('http://192.168.0.1/', noAllow), 'blocked_address');
  await refused(guardedFetch('http://0x7f000001/', noAllow), 'blocked_address');
  await refused(guardedFetch('ftp://example.test/', noAllow), 'bad_url');
  await refused(guardedFetch('http://user:pw@example.test/', noAllow), 'bad_url');
});

test('names are judged by what they resolve to (every address)', async () => {
  const table: Record<string, string[]> = {
    'intranet.test': ['10.0.0.7'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'mixed.test': ['8.8.8.8', '127.0.0.1'],
    'v6local.test': ['fe80::1'],
  };
  const resolve = async (h: string) => table[h] ?? [];
  for (const host of Object.keys(table)) await refused(guardedFetch(`http://${host}/`, opts({ allowHosts: [], resolve })), 'blocked_address');
  await refused(guardedFetch('http://nowhere.test/', opts({ allowHosts: [], resolve })), 'dns_failed');
});

test('an allow-listed loopback page is fetched and parsed', async () => {
  const page = await guardedFetch(`${base}/page`, opts());
  assert.equal(page.url, `${base}/page`);
  const meta = parsePageMeta(page.body.toString(), page.url);
  assert.deepEqual(meta, { title: 'A & B', description: 'Described', imageUrl: `${base}/img.png`, siteName: null });
  // Same-host redirects are followed, and checked again.
  assert.equal((await guardedFetch(`${base}/redirect-page`, opts())).url, `${base}/page`);
});

test('a redirect to a private or mapped address is refused, and redirects are bounded', async () => {
  await refused(guardedFetch(`${base}/redirect-private`, opts()), 'blocked_address');
  await refused(guardedFetch(`${base}/redirect-mapped`, opts()), 'blocked_address');
  await refused(guardedFetch(`${base}/loop`, opts()), 'too_many_redirects');
});

test('oversized bodies (declared or streamed), slow servers and non-pages get no preview', async () => {
  await refused(guardedFetch(`${base}/big-declared`, opts()), 'too_large');
  await refused(guardedFetch(`${base}/big-chunked`, opts()), 'too_large');
  const started = Date.now();
  await refused(guardedFetch(`${base}/slow`, opts({ timeoutMs: 400 })), 'timeout');
  assert.ok(Date.now() - started < 3000, 'the deadline ends a slow page');
  await refused(guardedFetch(`${base}/image`, opts()), 'not_html');
  await refused(guardedFetch(`${base}/missing`, opts()), 'http_status');
});

test('links are found in text without trailing punctuation, deduplicated, at most three', () => {
  assert.deepEqual(extractUrls('see https://a.example/x, and (https://b.example/y) or https://a.example/x.'), ['https://a.example/x', 'https://b.example/y']);
  assert.deepEqual(extractUrls('https://w.example/wiki/Foo_(bar) ok'), ['https://w.example/wiki/Foo_(bar)']);
  assert.deepEqual(extractUrls('no links here'), []);
  assert.equal(extractUrls('http://a.example/1 http://a.example/2 http://a.example/3 http://a.example/4').length, 3);
  assert.deepEqual(parsePageMeta('<title> Only &lt;title&gt; </title>', 'http://x.example/'), { title: 'Only <title>', description: null, imageUrl: null, siteName: null });
});
