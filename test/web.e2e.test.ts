/**
 * The web client end to end, in Debian's Chromium driven by playwright-core, against the
 * real server: three people sign up in three browser contexts, talk in a direct
 * conversation (live delivery, typing, "seen", reactions, replies, edits, deletes), make a
 * group (members, mentions, system messages), go offline and come back (missed messages
 * arrive, an offline-typed message survives a reload and is delivered once), and markup in
 * a message stays text. Screenshots of the main screens go to build/screenshots/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tmpdir } from 'node:os';
import Fastify from 'fastify';
import { registerWebClient } from '../src/gateway/web.js';
import type { HttpApp } from '../src/gateway/http.js';
import { call, signup, startTestServer, type TestServer } from './harness.js';
import { IN_CI } from './support/process.js';
import { WAIT, composer, launchBrowser, log, messageWith, row, send, shot, sidebar, signUp, startDirect, testPng, until } from './support/browser.js';

let server: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
let alerts = 0;

before(async () => {
  browser = await launchBrowser();
  server = await startTestServer({ sql: 'pglite', env: { RATE_LIMIT_WS_SEND: '100000/10s' } });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

async function newPerson(viewport = { width: 1100, height: 720 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: server.url });
  contexts.push(context);
  const page = await context.newPage();
  watch(page);
  return { context, page };
}

function watch(page: Page): void {
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (d) => {
    if (d.type() === 'alert') alerts += 1;
    void d.accept();
  });
}

async function mediaRoutes(): Promise<boolean> {
  const r = await call(server.url, 'GET', '/openapi.json');
  return r.status === 200 && Object.keys(r.body?.paths ?? {}).includes('/v1/media/uploads');
}

test('without a build, / explains how to build the client and the API keeps its 404s', async () => {
  const app = Fastify() as unknown as HttpApp;
  registerWebClient(app, join(tmpdir(), `parley-no-web-${process.pid}`));
  try {
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 404);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /npm run build:web/);
    const deep = await app.inject({ method: 'GET', url: '/c/abc' });
    assert.match(deep.body, /not built/);
    const api = await app.inject({ method: 'GET', url: '/v1/unknown' });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json().error.code, 'not_found');
    const traversal = await app.inject({ method: 'GET', url: '/..%2f..%2fetc%2fpasswd' });
    assert.notEqual(traversal.statusCode, 200);
  } finally {
    await app.close();
  }
});

test('the web client, end to end in Chromium', { timeout: 170_000 }, async (t) => {
  const alice = await newPerson();
  const bob = await newPerson();
  const carol = await newPerson();
  let bobName = '';
  let carolName = '';

  await t.test('the server serves the client, with SPA fallback and cache headers', async () => {
    const index = await fetch(`${server.url}/c/some-conversation`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html references a hashed script');
    const js = await fetch(server.url + asset);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    const api404 = await fetch(`${server.url}/v1/nope`);
    assert.equal(api404.status, 404);
    assert.equal(((await api404.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.equal((await fetch(`${server.url}/assets/missing.js`)).status, 404);
    const outside = await fetch(`${server.url}/..%2f..%2fpackage.json`);
    assert.equal(outside.status, 404);
    assert.doesNotMatch(await outside.text(), /"name": "parley"/);
  });

  await t.test('three people sign up', async () => {
    await signUp(alice.page, 'Alice');
    await shot(alice.page, '01-sign-up');
    await alice.page.getByRole('button', { name: 'Create account' }).click();
    bobName = await signUp(bob.page, 'Bob');
    await bob.page.getByRole('button', { name: 'Create account' }).click();
    carolName = await signUp(carol.page, 'Carol');
    await carol.page.getByRole('button', { name: 'Create account' }).click();
    for (const p of [alice.page, bob.page, carol.page]) await sidebar(p).waitFor();
    await alice.page.getByText('Welcome to Parley').waitFor();
  });

  await t.test('a direct conversation: live messages, unread badge, typing, seen', async () => {
    await startDirect(alice.page, bobName);
    await send(alice.page, 'Hello Bob!');
    await messageWith(alice.page, 'Hello Bob!').waitFor();
    // Bob was not looking: the conversation appears with an unread badge.
    await row(bob.page, 'Alice').getByTestId('unread-badge').filter({ hasText: '1' }).waitFor();
    await shot(bob.page, '02-conversation-list-unread');
    await row(bob.page, 'Alice').click();
    await messageWith(bob.page, 'Hello Bob!').waitFor();
    await until(async () => assert.equal(await row(bob.page, 'Alice').getByTestId('unread-badge').count(), 0), 'the badge to clear');
    // Bob opened it: Alice sees it was seen.
    await messageWith(alice.page, 'Hello Bob!').getByTestId('seen').filter({ hasText: 'Seen' }).waitFor();
    // Bob types: Alice sees it.
    await composer(bob.page).pressSequentially('Hi Al', { delay: 20 });
    await alice.page.getByTestId('typing').filter({ hasText: 'Bob is typing' }).waitFor();
    await composer(bob.page).pressSequentially('ice', { delay: 20 });
    await composer(bob.page).press('Enter');
    await messageWith(alice.page, 'Hi Alice').waitFor();
    await until(async () => assert.equal(await alice.page.getByTestId('typing').textContent(), ''), 'the typing indicator to go');
    // Presence: Bob is online for Alice.
    await alice.page.getByTestId('conversation-subtitle').filter({ hasText: 'Online' }).waitFor();
  });

  await t.test('reactions, replies, edits and deletes', async () => {
    const hello = messageWith(bob.page, 'Hello Bob!');
    await hello.hover();
    await hello.getByRole('button', { name: 'Add reaction' }).click();
    await bob.page.getByRole('menuitem', { name: 'React with 👍' }).click();
    await messageWith(alice.page, 'Hello Bob!').getByRole('button', { name: /👍 1/ }).waitFor();

    const hi = messageWith(alice.page, 'Hi Alice');
    await hi.hover();
    await hi.getByRole('button', { name: 'Reply' }).click();
    await alice.page.getByRole('status').filter({ hasText: 'Replying to' }).waitFor();
    await send(alice.page, 'Glad you are here');
    const reply = messageWith(bob.page, 'Glad you are here');
    await reply.locator('.reply-quote', { hasText: 'Hi Alice' }).waitFor();

    await send(alice.page, 'Typo mesage');
    const typo = messageWith(alice.page, 'Typo mesage');
    await typo.waitFor();
    await typo.hover();
    await typo.getByRole('button', { name: 'Edit' }).click();
    const box = alice.page.getByRole('textbox', { name: 'Edit message' });
    await box.fill('Typo message, fixed');
    await box.press('Enter');
    await messageWith(bob.page, 'Typo message, fixed').getByText('(edited)').waitFor();

    await send(alice.page, 'This one goes away');
    const gone = messageWith(alice.page, 'This one goes away');
    await gone.waitFor();
    await messageWith(bob.page, 'This one goes away').waitFor();
    await gone.hover();
    await gone.getByRole('button', { name: 'Delete' }).click();
    // A styled confirmation, not the browser's confirm().
    await alice.page.getByRole('dialog', { name: 'Delete message?' }).getByRole('button', { name: 'Delete' }).click();
    await until(async () => assert.equal(await messageWith(bob.page, 'This one goes away').count(), 0), 'the deleted message to go');
    await log(bob.page).getByText('This message was deleted').waitFor();
    await shot(alice.page, '03-direct-conversation');
  });

  await t.test('markup in a message is shown as text, never run', async () => {
    const evil = '<b>bold</b><img src=x onerror=alert(1)>';
    await send(alice.page, evil);
    const m = messageWith(bob.page, '<b>bold</b>');
    await m.waitFor();
    assert.equal((await m.locator('.message-text').textContent())?.trim(), evil);
    assert.equal(await log(bob.page).locator('b').count(), 0);
    assert.equal(await log(bob.page).locator('img[src="x"]').count(), 0);
    assert.equal(await log(alice.page).locator('img[src="x"]').count(), 0);
    assert.equal(alerts, 0);
  });

  await t.test('an image attachment with upload progress and a preview', async (st) => {
    if (!(await mediaRoutes())) {
      // Under CI=true a missing route fails the step: a green run means the upload ran.
      if (IN_CI) assert.fail('media routes are not on this server (/v1/media/uploads missing from /openapi.json)');
      st.diagnostic('media routes are not on this server (/v1/media/uploads missing from /openapi.json): upload step skipped');
      assert.equal(await alice.page.getByRole('button', { name: 'Attach a file' }).count(), 0, 'no attach button without media');
      return;
    }
    const png = await testPng(alice.page);
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: png });
    await alice.page.getByRole('list', { name: 'Attachments' }).getByText('Ready').waitFor();
    await shot(alice.page, '04-attachment-ready');
    await composer(alice.page).fill('A picture');
    await composer(alice.page).press('Enter');
    const pic = messageWith(bob.page, 'A picture').getByRole('img', { name: 'gradient.png' });
    await pic.waitFor();
    await until(async () => assert.ok(await pic.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)), 'the preview to load');
    await shot(bob.page, '04-image-attachment-received');
  });

  await t.test('a group: created, a third person added, mentions, system messages', async () => {
    await alice.page.getByRole('button', { name: 'New group' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('Weekend plans');
    await dialog.getByLabel('Add people').fill(bobName);
    await dialog.getByRole('button', { name: new RegExp(bobName) }).click();
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { name: 'Weekend plans' }).waitFor();
    await row(bob.page, 'Weekend plans').waitFor();

    // Alice (owner) adds Carol from the members dialog.
    await alice.page.getByRole('button', { name: 'Members' }).click();
    const members = alice.page.getByRole('dialog', { name: /Members of/ });
    await members.getByLabel('Add people to the group').fill(carolName);
    await members.getByRole('button', { name: new RegExp(carolName) }).click();
    await members.getByRole('list', { name: 'Members' }).getByText('Carol').waitFor();
    await shot(alice.page, '05-group-members');
    await members.getByRole('button', { name: 'Close' }).click();
    await log(alice.page).locator('.system-message', { hasText: 'added Carol' }).waitFor();

    // A mention, completed from the members list.
    await row(carol.page, 'Weekend plans').waitFor();
    await composer(alice.page).pressSequentially('Are you in, @car', { delay: 10 });
    await alice.page.getByRole('option', { name: /Carol/ }).waitFor();
    await composer(alice.page).press('Enter'); // picks the suggestion
    assert.equal(await composer(alice.page).inputValue(), `Are you in, @${carolName} `);
    await composer(alice.page).pressSequentially('?');
    await composer(alice.page).press('Enter');
    await row(carol.page, 'Weekend plans').getByTestId('mention-badge').waitFor();
    await row(carol.page, 'Weekend plans').click();
    await messageWith(carol.page, 'Are you in').locator('.mention').waitFor();
    await log(carol.page).locator('.system-message', { hasText: 'added Carol' }).waitFor();
    await send(carol.page, 'Count me in');
    await messageWith(alice.page, 'Count me in').waitFor();
    await messageWith(bob.page, 'Count me in').count(); // Bob is elsewhere; his list shows it:
    await row(bob.page, 'Weekend plans').getByTestId('unread-badge').waitFor();
    await shot(carol.page, '06-group-conversation');
  });

  await t.test('offline and back: missed messages arrive, an offline message survives a reload and is sent once', async () => {
    await row(bob.page, 'Alice').click();
    await messageWith(bob.page, 'Glad you are here').waitFor();
    await row(alice.page, 'Bob').click();
    await messageWith(alice.page, 'Glad you are here').waitFor();
    await bob.context.setOffline(true);
    await bob.page.getByTestId('connection-banner').filter({ hasText: 'offline' }).waitFor();
    await send(alice.page, 'Sent while Bob was away');
    await send(bob.page, 'Typed while offline');
    await bob.page.getByTestId('pending-message').filter({ hasText: 'Typed while offline' }).waitFor();
    await shot(bob.page, '07-offline');

    // A reload while still offline: the service worker serves the app, IndexedDB the outbox.
    const swReady = await bob.page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.active);
    if (swReady) {
      await bob.page.reload();
      await bob.page.getByTestId('pending-message').filter({ hasText: 'Typed while offline' }).waitFor();
    } else {
      console.log('# no active service worker: the offline reload is skipped');
    }
    await bob.context.setOffline(false);
    await messageWith(bob.page, 'Sent while Bob was away').waitFor({ timeout: 30_000 });
    await messageWith(alice.page, 'Typed while offline').waitFor({ timeout: 30_000 });
    await until(async () => assert.equal(await bob.page.getByTestId('pending-message').count(), 0), 'the outbox to empty');
    // Exactly once, on screen and on the server.
    assert.equal(await messageWith(alice.page, 'Typed while offline').count(), 1);
    assert.equal(await messageWith(bob.page, 'Typed while offline').count(), 1);
    const convId = decodeURIComponent(new URL(alice.page.url()).pathname.split('/')[2] ?? '');
    const token = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('parley.session')!) as { tokens: { accessToken: string } }).tokens.accessToken);
    const res = await call(server.url, 'GET', `/v1/conversations/${encodeURIComponent(convId)}/messages?limit=100`, { token });
    assert.equal(res.status, 200);
    assert.equal((res.body.messages as { text: string | null }[]).filter((m) => m.text === 'Typed while offline').length, 1);
  });

  await t.test('a browser notification for a new message while the tab is hidden', async () => {
    // The tab is "hidden" and notifications are "allowed": the page's Notification is a recorder.
    // A string, so the test runner's transpiler adds no helpers the page lacks.
    await bob.page.evaluate(`(() => {
      const calls = [];
      window.__notifications = calls;
      function FakeNotification(title, opts) {
        calls.push({ title, body: opts && opts.body });
        this.onclick = null;
        this.close = () => {};
      }
      FakeNotification.permission = 'granted';
      FakeNotification.requestPermission = async () => 'granted';
      window.Notification = FakeNotification;
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    })()`);
    await send(alice.page, 'Are you still there?');
    await until(async () => assert.deepEqual(await bob.page.evaluate(() => (window as any).__notifications), [{ title: 'Alice', body: 'Are you still there?' }]), 'a notification');
    // Not seen while hidden: unread; seen once visible again.
    await row(bob.page, 'Alice').getByTestId('unread-badge').waitFor();
    await bob.page.evaluate(() => {
      delete (document as any).visibilityState;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await until(async () => assert.equal(await row(bob.page, 'Alice').getByTestId('unread-badge').count(), 0), 'the badge to clear');
  });

  await t.test('narrow screens: one pane at a time', async () => {
    await carol.page.setViewportSize({ width: 390, height: 760 });
    await composer(carol.page).waitFor();
    assert.equal(await sidebar(carol.page).isVisible(), false);
    await shot(carol.page, '08-narrow-conversation');
    await carol.page.getByRole('button', { name: 'Back to conversations' }).click();
    await sidebar(carol.page).waitFor();
    await shot(carol.page, '09-narrow-list');
  });

  await t.test('history: older pages load when scrolling up', async () => {
    const session = await carol.page.evaluate(() => JSON.parse(localStorage.getItem('parley.session')!) as { user: { id: string } });
    const dave = await signup(server.url, 'Dave');
    const conv = await call(server.url, 'POST', '/v1/conversations', { token: dave.accessToken, body: { type: 'direct', userId: session.user.id } });
    assert.ok(conv.status === 201 || conv.status === 200);
    for (let i = 1; i <= 120; i++) {
      const r = await call(server.url, 'POST', `/v1/conversations/${encodeURIComponent(conv.body.id)}/messages`, { token: dave.accessToken, body: { clientMsgId: `history-${i}`, text: `History ${i}` } });
      assert.equal(r.status, 201);
    }
    await row(carol.page, 'Dave').getByTestId('unread-badge').filter({ hasText: '120' }).waitFor();
    // They arrived live; a fresh page starts from the newest page of history instead.
    await carol.page.reload();
    await row(carol.page, 'Dave').getByTestId('unread-badge').filter({ hasText: '120' }).waitFor();
    await row(carol.page, 'Dave').click();
    await messageWith(carol.page, 'History 120').waitFor();
    const history = log(carol.page).locator('li.message', { hasText: 'History' });
    assert.ok((await history.count()) < 120, 'the first page is not everything');
    await until(
      async () => {
        await carol.page.locator('.messages').evaluate((el) => (el.scrollTop = 0));
        assert.equal(await history.count(), 120);
      },
      'every page to load',
    );
    await carol.page.getByText('This is the beginning of the conversation.').waitFor();
    assert.equal(await history.first().locator('.message-text').textContent(), 'History 1');
  });

  await t.test('keyboard: Escape closes a dialog and focus returns', async () => {
    const profile = alice.page.getByRole('button', { name: 'Edit profile' });
    await profile.click();
    const dialog = alice.page.getByRole('dialog', { name: 'Your profile' });
    await dialog.getByLabel('Display name').fill('Alice Liddell');
    if (await mediaRoutes()) {
      await dialog.getByLabel('Change picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await testPng(alice.page) });
      await dialog.getByRole('img', { name: 'New avatar preview' }).waitFor();
      await dialog.getByRole('button', { name: 'Save' }).and(alice.page.locator(':enabled')).waitFor();
    }
    await shot(alice.page, '10-profile');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await until(async () => assert.equal(await dialog.count(), 0), 'the dialog to close');
    await sidebar(alice.page).getByText('Alice Liddell').waitFor();
    if (await mediaRoutes()) {
      const img = sidebar(alice.page).locator('.me .avatar img');
      await until(async () => assert.ok(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)), 'the new avatar to show');
    }
    await profile.click();
    await alice.page.keyboard.press('Escape');
    await until(async () => assert.equal(await alice.page.getByRole('dialog').count(), 0), 'Escape to close the dialog');
    assert.equal(await profile.evaluate((el) => el === document.activeElement), true);
  });

  await t.test('log out', async () => {
    await alice.page.getByRole('button', { name: 'Log out' }).click();
    await alice.page.getByRole('tab', { name: 'Log in' }).waitFor();
    assert.equal(await alice.page.evaluate(() => localStorage.getItem('parley.session')), null);
  });

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
});
