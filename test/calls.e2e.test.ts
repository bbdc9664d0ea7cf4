/**
 * Calls in the web client, end to end: two Chromium contexts (Debian's chromium driven by
 * playwright-core, fake camera and microphone) make p2p calls through the real server.
 * A video call rings in both of the callee's tabs, is accepted in one (the other stops
 * ringing), media flows both ways (getStats: audio and video bytes received > 0 on both
 * sides), hang up ends it for both, and the timeline says so. Then an audio call forced
 * through a real TURN server (coturn on loopback, use-auth-secret) still connects, over
 * relay candidates; and a ring nobody answers shows "Missed audio call".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { call, startTestServer, type TestServer } from './harness.js';
import { startCoturn, type Coturn } from './support/coturn.js';
import { ensureWebBuild } from './support/browser.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(ROOT, 'build', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = 20_000;
const TURN_SECRET = 'parley-e2e-turn-secret';

let server: TestServer;
let browser: Browser;
let turn: Coturn;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

before(async () => {
  execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
  execFileSync('bash', [join(ROOT, 'scripts', 'ensure-coturn.sh')], { stdio: 'inherit' });
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
  turn = await startCoturn(TURN_SECRET);
  server = await startTestServer({
    sql: 'pglite',
    env: { CALLS_TURN_URLS: turn.urls.join(','), CALLS_TURN_SECRET: TURN_SECRET, CALLS_RING_TIMEOUT: '6s' },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
  await turn?.stop();
});

interface Person {
  id: string;
  name: string;
  context: BrowserContext;
  pages: Page[];
}

/** Signs up over REST and opens a browser context already signed in (the client's stored session). */
async function person(name: string, opts: { relay?: boolean } = {}): Promise<Person> {
  const username = `${name.toLowerCase()}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const r = await call(server.url, 'POST', '/v1/auth/signup', { body: { email: `${username}@example.test`, username, password: 'correct horse battery', displayName: name } });
  assert.equal(r.status, 201);
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1100, height: 720 }, permissions: ['microphone', 'camera'] });
  contexts.push(context);
  const session = JSON.stringify({ tokens: { accessToken: r.body.accessToken, refreshToken: r.body.refreshToken }, user: r.body.user });
  await context.addInitScript(
    ([s, relay]) => {
      if (!localStorage.getItem('parley.session')) localStorage.setItem('parley.session', s as string);
      if (relay) localStorage.setItem('parley.iceTransportPolicy', 'relay');
    },
    [session, opts.relay ?? false] as const,
  );
  return { id: r.body.user.id, name, context, pages: [] };
}

async function openTab(p: Person, path: string): Promise<Page> {
  const page = await p.context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(`${p.name}: ${err.message}`));
  await page.goto(path);
  p.pages.push(page);
  return page;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface InboundStats {
  audio: number;
  video: number;
  candidateTypes: string[];
}

const stats = (page: Page): Promise<InboundStats> =>
  page.evaluate(async () => {
    const c = (globalThis as unknown as { parleyCalls?: { inboundStats(): Promise<{ audio: number; video: number; candidateTypes: string[] }> } }).parleyCalls;
    return c ? c.inboundStats() : { audio: 0, video: 0, candidateTypes: [] as string[] };
  });

const incoming = (page: Page) => page.getByRole('alertdialog', { name: /Incoming (audio|video) call/ });
const callView = (page: Page) => page.locator('section.call-view');
const timeline = (page: Page) => page.getByRole('log', { name: 'Messages' });
const composer = (page: Page) => page.getByRole('combobox', { name: /^Message / });

async function directConversation(a: Person, b: Person): Promise<string> {
  const token = await a.pages[0]!.evaluate(() => (JSON.parse(localStorage.getItem('parley.session')!) as { tokens: { accessToken: string } }).tokens.accessToken);
  const r = await call(server.url, 'POST', '/v1/conversations', { token, body: { type: 'direct', userId: b.id } });
  assert.ok(r.status === 201 || r.status === 200);
  return r.body.id;
}

test('p2p calls in the browser: video with two tabs ringing, audio through TURN relay, a missed call', { timeout: 240_000 }, async (t) => {
  const ann = await person('Ann');
  const bob = await person('Bob');
  await openTab(ann, '/');
  const conv = await directConversation(ann, bob);
  const annPage = ann.pages[0]!;
  await annPage.goto(`/c/${conv}`);
  const bob1 = await openTab(bob, `/c/${conv}`);
  const bob2 = await openTab(bob, '/');
  await composer(annPage).waitFor();
  await composer(bob1).waitFor();
  // Both of Bob's tabs are connected before the call starts (the ring goes to open connections).
  for (const pg of [annPage, bob1, bob2]) await until(async () => (await pg.locator('[data-testid="connection-banner"]').count()) === 0, 'connection online');

  await t.test('video call: rings in both tabs, accept in one, media both ways, hang up ends it for both', async () => {
    await annPage.getByRole('button', { name: 'Start video call' }).click();
    await callView(annPage).waitFor();
    assert.match((await annPage.getByTestId('call-status').textContent()) ?? '', /Ringing/);
    await incoming(bob1).waitFor();
    await incoming(bob2).waitFor();
    assert.match((await incoming(bob1).textContent()) ?? '', /Ann is calling \(video\)/);
    await shot(bob1, 'call-incoming');
    await incoming(bob1).getByRole('button', { name: 'Accept' }).click();
    // Answered in one tab: the other stops ringing.
    await incoming(bob2).waitFor({ state: 'detached' });
    assert.equal(await callView(bob2).count(), 0);

    for (const pg of [annPage, bob1]) await pg.getByTestId('call-status').filter({ hasText: 'Connected' }).waitFor();
    let measured: Record<string, { audio: number; video: number }> = {};
    await until(async () => {
      const [a, b] = await Promise.all([stats(annPage), stats(bob1)]);
      measured = { ann: a, bob: b };
      return a.audio > 0 && a.video > 0 && b.audio > 0 && b.video > 0;
    }, 'audio and video bytes on both sides');
    console.log(`# video call getStats bytes received: ${JSON.stringify(measured)}`);
    await until(async () => /^0:0[1-9]|^0:[1-5]\d/.test((await annPage.getByTestId('call-timer').textContent()) ?? ''), 'timer running');
    assert.equal(await callView(annPage).getByRole('list', { name: 'In the call' }).getByRole('listitem').count(), 2);

    // Mute and camera off act on the local tracks.
    await bob1.getByRole('button', { name: 'Mute' }).click();
    await bob1.getByRole('button', { name: 'Unmute' }).waitFor();
    await bob1.getByRole('button', { name: 'Camera off' }).click();
    await bob1.getByRole('button', { name: 'Camera on' }).waitFor();
    await shot(annPage, 'call-video');

    await annPage.getByRole('button', { name: 'Hang up' }).click();
    await callView(annPage).waitFor({ state: 'detached' });
    await callView(bob1).waitFor({ state: 'detached' });
    for (const pg of [annPage, bob1]) await timeline(pg).locator('.system-message', { hasText: /^Video call, \d+ (s|min)/ }).waitFor();
  });

  await t.test('audio call forced through the TURN server (relay only) still connects', async () => {
    const cy = await person('Cy', { relay: true });
    const dee = await person('Dee', { relay: true });
    await openTab(cy, '/');
    const conv2 = await directConversation(cy, dee);
    const cyPage = cy.pages[0]!;
    await cyPage.goto(`/c/${conv2}`);
    const deePage = await openTab(dee, `/c/${conv2}`);
    await composer(deePage).waitFor();
    for (const pg of [cyPage, deePage]) await until(async () => (await pg.locator('[data-testid="connection-banner"]').count()) === 0, 'connection online');
    await cyPage.getByRole('button', { name: 'Start audio call' }).click();
    await incoming(deePage).getByRole('button', { name: 'Accept' }).click();
    let measured: Record<string, { audio: number; video: number; candidateTypes: string[] }> = {};
    await until(async () => {
      const [a, b] = await Promise.all([stats(cyPage), stats(deePage)]);
      measured = { cy: a, dee: b };
      return a.audio > 0 && b.audio > 0 && a.candidateTypes.includes('relay') && b.candidateTypes.includes('relay');
    }, 'audio over relay candidates on both sides', 30_000);
    console.log(`# relay call getStats: ${JSON.stringify(measured)}`);
    assert.ok(measured.cy!.candidateTypes.every((c) => c === 'relay'));
    await deePage.getByRole('button', { name: 'Hang up' }).click();
    await callView(cyPage).waitFor({ state: 'detached' });
    await timeline(cyPage).locator('.system-message', { hasText: /^Audio call, / }).waitFor();
  });

  await t.test('a ring nobody answers: "Missed audio call" in the timeline of both', async () => {
    await annPage.getByRole('button', { name: 'Start audio call' }).click();
    await incoming(bob1).waitFor();
    await incoming(bob1).waitFor({ state: 'detached', timeout: 30_000 });
    await callView(annPage).waitFor({ state: 'detached' });
    for (const pg of [annPage, bob1]) await timeline(pg).locator('.system-message', { hasText: 'Missed audio call' }).waitFor();
    await shot(bob1, 'call-missed');
  });

  assert.deepEqual(pageErrors, []);
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
