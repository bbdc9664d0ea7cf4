/**
 * The web client's finish, end to end in Debian's Chromium (playwright-core) against the
 * real server, on a desktop window and a 390 px touch phone. The pages are opened at
 * http://127.0.0.1:PORT while PUBLIC_URL says http://localhost:PORT, so every upload,
 * download, thumbnail and avatar is cross-origin (the blob routes' CORS). Covered: uploads
 * (and a refused and an empty one), the phone action sheet, no horizontal overflow at
 * 320–430 px, the unread divider / jump / new-messages pill / scroll memory, Markdown and
 * shortcodes, the emoji picker for the composer and for reactions, the image lightbox with
 * download, link previews from a loopback page, dark mode, the profile card, the quick
 * switcher, the notification menu (hidden while the server lacks its route), no UI icon made
 * of colour emoji, and the glitches of issue 13 (names after an offline reload, a removed
 * member's name, the attach button after reconnecting, an avatar changed in another tab).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { call, signup, startTestServer, type TestServer } from './harness.js';
import { WAIT, composer, launchBrowser, log, messageWith, row, send, shot, sidebar, signUp, startDirect, testPng, until } from './support/browser.js';
import { freeLoopbackPort } from './support/process.js';

let server: TestServer;
let browser: Browser;
let pageServer: Server;
let pageBase = '';
let origin = '';
let publicUrl = '';
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

const DESKTOP = { width: 1100, height: 720 };
const PHONE = { width: 390, height: 780 };

before(async () => {
  browser = await launchBrowser();
  // A page with Open Graph data, on loopback, allow-listed for the preview fetcher.
  pageServer = createServer((req, res) => {
    if (req.url === '/article') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        '<html><head><title>x</title><meta property="og:title" content="Loopback article"><meta property="og:site_name" content="Test Times"><meta property="og:description" content="A page the tests serve on 127.0.0.1."></head><body></body></html>',
      );
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
  pageBase = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  const port = await freeLoopbackPort();
  publicUrl = `http://localhost:${port}`;
  origin = `http://127.0.0.1:${port}`;
  server = await startTestServer({
    sql: 'pglite',
    env: { PORT: String(port), PUBLIC_URL: publicUrl, RATE_LIMIT_WS_SEND: '100000/10s', LINK_PREVIEW_ALLOW_HOSTS: new URL(pageBase).host },
  });
  assert.equal(server.url, origin, 'the pages are opened at 127.0.0.1, not at PUBLIC_URL');
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
  pageServer?.closeAllConnections();
  await new Promise((r) => pageServer?.close(r));
});

async function person(viewport: { width: number; height: number }, opts: { touch?: boolean; dark?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: origin, hasTouch: !!opts.touch, isMobile: !!opts.touch, colorScheme: opts.dark ? 'dark' : 'light' });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return { context, page };
}

async function tokenOf(page: Page): Promise<{ token: string; id: string }> {
  return page.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('parley.session')!) as { tokens: { accessToken: string }; user: { id: string } };
    return { token: s.tokens.accessToken, id: s.user.id };
  });
}

const convIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');

async function imageLoaded(page: Page, selector: string): Promise<void> {
  await until(async () => assert.ok(await page.locator(selector).first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)), `${selector} to load`);
}

/** Every part of the UI outside message content: no text drawn with an emoji glyph. */
async function noEmojiIcons(page: Page, where: string): Promise<void> {
  const offenders = await page.evaluate(() => {
    const content = '.message-text, .reactions, .emoji-grid, .sheet-quick, .reaction-picker, .reply-quote, .row-preview, .link-preview, .emoji-picker input, .composer-input, .jump-unread, .profile-card .status, textarea';
    const out: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest(content) || el.closest('.visually-hidden')) continue;
      if (/\p{Extended_Pictographic}/u.test(n.textContent ?? '')) out.push(`${el.tagName}.${el.className}: ${n.textContent}`);
    }
    // Icon buttons carry an SVG, not a character.
    document.querySelectorAll('.icon-button').forEach((b) => {
      if (!b.querySelector('svg')) out.push(`icon-button without svg: ${b.getAttribute('aria-label')}`);
    });
    return out;
  });
  assert.deepEqual(offenders, [], `UI icons drawn with emoji (${where})`);
}

/** Nothing wider than the screen: the page never scrolls sideways. */
async function noOverflow(page: Page, where: string): Promise<void> {
  const r = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, vw: window.innerWidth }));
  assert.ok(r.doc <= r.vw && r.body <= r.vw, `${where}: the page is ${Math.max(r.doc, r.body)} px wide on a ${r.vw} px screen`);
}

async function inViewport(page: Page, loc: ReturnType<Page['locator']>, what: string): Promise<void> {
  const box = await loc.boundingBox();
  const vp = page.viewportSize()!;
  assert.ok(box, `${what} is shown`);
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= vp.width + 0.5 && box.y + box.height <= vp.height + 0.5, `${what} is inside the ${vp.width}×${vp.height} screen: ${JSON.stringify(box)}`);
}

test('the finished web client, desktop and phone, from another origin than PUBLIC_URL', { timeout: 600_000 }, async (t) => {
  const alice = await person(DESKTOP);
  const bob = await person(PHONE, { touch: true });
  const carol = await person(DESKTOP);
  let bobName = '';
  let carolName = '';

  await t.test('sign up (desktop and phone)', async () => {
    await signUp(alice.page, 'Alice');
    await alice.page.getByRole('button', { name: 'Create account' }).click();
    bobName = await signUp(bob.page, 'Bob');
    await bob.page.getByRole('button', { name: 'Create account' }).click();
    carolName = await signUp(carol.page, 'Carol');
    await carol.page.getByRole('button', { name: 'Create account' }).click();
    for (const p of [alice.page, bob.page, carol.page]) await sidebar(p).waitFor();
    const b = await tokenOf(bob.page);
    assert.equal((await call(origin, 'PATCH', '/v1/me', { token: b.token, body: { statusText: 'Sailing until Friday' } })).status, 200);
    await startDirect(alice.page, bobName);
    await send(alice.page, 'Hi Bob');
    await row(bob.page, 'Alice').click();
    await messageWith(bob.page, 'Hi Bob').waitFor();
    await noEmojiIcons(alice.page, 'desktop conversation');
    await noEmojiIcons(bob.page, 'phone conversation');
  });

  await t.test('uploads from 127.0.0.1 while PUBLIC_URL says localhost (desktop, then phone)', async () => {
    const puts: string[] = [];
    alice.page.on('request', (r) => r.method() === 'PUT' && puts.push(r.url()));
    const png = await testPng(alice.page);
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: png });
    await alice.page.getByRole('list', { name: 'Attachments' }).getByText('Ready').waitFor();
    assert.ok(puts.some((u) => u.startsWith(`${publicUrl}/v1/blobs/`)), `the PUT went cross-origin to PUBLIC_URL: ${puts.join(', ')}`);
    await send(alice.page, 'Cross-origin picture');
    await messageWith(bob.page, 'Cross-origin picture').getByRole('img', { name: 'gradient.png' }).waitFor();
    await imageLoaded(bob.page, 'li.message:has-text("Cross-origin picture") img');
    await imageLoaded(alice.page, 'li.message:has-text("Cross-origin picture") img');

    await bob.page.getByTestId('attach-input').setInputFiles({ name: 'from-phone.png', mimeType: 'image/png', buffer: png });
    await bob.page.getByRole('list', { name: 'Attachments' }).getByText('Ready').waitFor();
    await shot(bob.page, 'ui-01-phone-attachment-ready');
    await send(bob.page, 'Sent from the phone');
    await imageLoaded(alice.page, 'li.message:has-text("Sent from the phone") img');
  });

  await t.test('an empty file and a refused upload say so in words', async () => {
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
    const uploads = alice.page.getByRole('list', { name: 'Attachments' });
    await uploads.getByRole('alert').filter({ hasText: 'is empty (0 bytes)' }).waitFor();
    assert.equal(await uploads.getByText('body/size').count(), 0, 'no raw validation message');
    await alice.page.getByRole('button', { name: 'Remove empty.txt' }).click();

    // The storage itself refuses: the signed URL is altered on its way, and Parley's blob route answers 403.
    await alice.page.route('**/v1/blobs/**', (route) => {
      const req = route.request();
      if (req.method() !== 'PUT') return route.continue();
      return route.continue({ url: req.url().replace(/sig=[^&]+/, 'sig=forged') });
    });
    await alice.page.getByTestId('attach-input').setInputFiles({ name: 'refused.png', mimeType: 'image/png', buffer: await testPng(alice.page) });
    await uploads.getByRole('alert').filter({ hasText: 'The file storage refused the upload (403' }).waitFor();
    await shot(alice.page, 'ui-02-upload-refused');
    await alice.page.unroute('**/v1/blobs/**');
    await alice.page.getByRole('button', { name: 'Remove refused.png' }).click();
  });

  await t.test('image lightbox with download (desktop: Escape closes; phone: tap)', async () => {
    await messageWith(alice.page, 'Cross-origin picture').getByRole('button', { name: 'View gradient.png' }).click();
    const box = alice.page.getByRole('dialog', { name: 'Image gradient.png' });
    await box.waitFor();
    await imageLoaded(alice.page, '.lightbox img');
    const [download] = await Promise.all([alice.page.waitForEvent('download'), box.getByRole('button', { name: 'Download gradient.png' }).click()]);
    assert.equal(download.suggestedFilename(), 'gradient.png');
    await shot(alice.page, 'ui-03-lightbox');
    await alice.page.keyboard.press('Escape');
    await until(async () => assert.equal(await box.count(), 0), 'the lightbox to close');

    await messageWith(bob.page, 'Cross-origin picture').getByRole('button', { name: 'View gradient.png' }).tap();
    await bob.page.getByRole('dialog', { name: 'Image gradient.png' }).waitFor();
    await imageLoaded(bob.page, '.lightbox img');
    await inViewport(bob.page, bob.page.getByRole('button', { name: 'Download gradient.png' }), 'the download button');
    await shot(bob.page, 'ui-04-phone-lightbox');
    await bob.page.getByRole('button', { name: 'Close the image' }).tap();
  });

  await t.test('Markdown and emoji shortcodes, raw HTML stays text', async () => {
    const text = ['**bold** _italic_ ~~gone~~ `code` :tada: and a [link](https://example.com/docs)', '> quoted', '- one', '- two', '', '```', 'const x = 1;', '```', '<script>alert(1)</script>'].join('\n');
    await composer(alice.page).fill(text);
    await composer(alice.page).press('Enter');
    for (const p of [alice.page, bob.page]) {
      const m = messageWith(p, 'bold');
      await m.waitFor();
      await m.locator('strong', { hasText: 'bold' }).waitFor();
      await m.locator('em', { hasText: 'italic' }).waitFor();
      await m.locator('s', { hasText: 'gone' }).waitFor();
      await m.locator('code', { hasText: /^code$/ }).waitFor();
      await m.locator('blockquote', { hasText: 'quoted' }).waitFor();
      assert.equal(await m.locator('ul li').count(), 2);
      await m.locator('pre code', { hasText: 'const x = 1;' }).waitFor();
      assert.equal(await m.locator('a[href="https://example.com/docs"]').getAttribute('rel'), 'noopener noreferrer nofollow');
      await until(async () => assert.match((await m.locator('.message-text').textContent()) ?? '', /🎉/), 'the shortcode to become 🎉');
      assert.match((await m.locator('.message-text').textContent()) ?? '', /<script>alert\(1\)<\/script>/);
      assert.equal(await log(p).locator('script').count(), 0);
    }
    await shot(alice.page, 'ui-05-markdown');
    await shot(bob.page, 'ui-06-phone-markdown');
  });

  await t.test('phone: a tap opens the action sheet (react, reply, delete with a styled confirm)', async () => {
    const target = messageWith(bob.page, 'bold');
    await target.locator('.message-meta time').tap();
    const sheet = bob.page.getByRole('menu', { name: /Actions for the message from Alice/ });
    await sheet.waitFor();
    for (const name of ['Reply', 'Copy text']) await inViewport(bob.page, sheet.getByRole('menuitem', { name }), `the sheet's ${name}`);
    await shot(bob.page, 'ui-07-phone-action-sheet');
    await noEmojiIcons(bob.page, 'phone action sheet');
    await sheet.getByRole('menuitem', { name: 'React with 👍' }).tap();
    await messageWith(alice.page, 'bold').getByRole('button', { name: /👍 1/ }).waitFor();

    await target.locator('.message-meta time').tap();
    await sheet.getByRole('menuitem', { name: 'Reply' }).tap();
    await bob.page.getByRole('status').filter({ hasText: 'Replying to' }).waitFor();
    await send(bob.page, 'Replied from the phone');
    await messageWith(alice.page, 'Replied from the phone').locator('.reply-quote').waitFor();

    await send(bob.page, 'Phone message to delete');
    const mine = messageWith(bob.page, 'Phone message to delete');
    await mine.waitFor();
    await messageWith(alice.page, 'Phone message to delete').waitFor();
    await mine.locator('.message-text').tap();
    await bob.page.getByRole('menu', { name: /Actions for the message from Bob/ }).getByRole('menuitem', { name: 'Delete' }).tap();
    const confirm = bob.page.getByRole('dialog', { name: 'Delete message?' });
    await confirm.waitFor();
    await shot(bob.page, 'ui-08-phone-confirm');
    await confirm.getByRole('button', { name: 'Delete' }).tap();
    await until(async () => assert.equal(await messageWith(alice.page, 'Phone message to delete').count(), 0), 'the deleted message to go');
    // Desktop keeps the hover toolbar; the phone shows none.
    assert.equal(await bob.page.locator('.message-actions').count(), 0);
  });

  await t.test('the emoji picker: in the composer and for reactions (desktop and phone)', async () => {
    await alice.page.getByRole('button', { name: 'Insert emoji' }).click();
    const picker = alice.page.getByRole('dialog', { name: 'Emoji picker' });
    await picker.getByLabel('Search emoji').fill('rocket');
    await picker.getByRole('button', { name: /rocket/ }).first().click();
    assert.match(await composer(alice.page).inputValue(), /🚀/);
    await composer(alice.page).press('Enter');
    await messageWith(bob.page, '🚀').waitFor();

    const msg = messageWith(alice.page, 'Replied from the phone');
    await msg.hover();
    await msg.getByRole('button', { name: 'Add reaction' }).click();
    await alice.page.getByRole('menuitem', { name: 'More reactions' }).click();
    const full = alice.page.getByRole('dialog', { name: 'React with any emoji' });
    await full.waitFor();
    assert.ok((await full.locator('.emoji-grid button').count()) > 1000, 'the full Unicode set');
    await shot(alice.page, 'ui-09-emoji-picker');
    await noEmojiIcons(alice.page, 'emoji picker');
    await full.getByLabel('Search emoji').fill('avocado');
    await full.getByRole('button', { name: /avocado/ }).first().click();
    await messageWith(bob.page, 'Replied from the phone').getByRole('button', { name: /🥑 1/ }).waitFor();

    await messageWith(bob.page, 'Hi Bob').locator('.message-text').tap();
    await bob.page.getByRole('menuitem', { name: 'More reactions' }).tap();
    const phonePicker = bob.page.getByRole('dialog', { name: 'React with any emoji' });
    await phonePicker.waitFor();
    await inViewport(bob.page, phonePicker, 'the picker');
    await shot(bob.page, 'ui-10-phone-emoji-picker');
    await phonePicker.getByLabel('Search emoji').fill('sunflower');
    await phonePicker.getByRole('button', { name: /sunflower/ }).first().tap();
    await messageWith(alice.page, 'Hi Bob').getByRole('button', { name: /🌻 1/ }).waitFor();
  });

  await t.test('link previews: the server fetches the page and both sides show the card', async () => {
    await send(alice.page, `Have a look: ${pageBase}/article`);
    for (const p of [alice.page, bob.page]) {
      const card = messageWith(p, 'Have a look').getByTestId('link-preview');
      await card.waitFor({ timeout: 30_000 });
      await card.getByRole('link', { name: 'Loopback article' }).waitFor();
      await card.getByText('Test Times').waitFor();
    }
    await shot(bob.page, 'ui-11-phone-link-preview');
    await shot(alice.page, 'ui-12-link-preview');
  });

  await t.test('profile card: name, status, presence, "Message"; block hidden until the server has it', async () => {
    await messageWith(alice.page, 'Sent from the phone').getByRole('button', { name: 'Bob', exact: true }).click();
    const card = alice.page.getByTestId('profile-card');
    await card.getByText('Sailing until Friday').waitFor();
    await card.getByText('Online').waitFor();
    await card.getByText(`@${bobName}`).waitFor();
    const openapi = await call(origin, 'GET', '/openapi.json');
    const blocking = Object.keys(openapi.body.paths).some((p) => /\/blocks?(\/|$)/.test(p));
    assert.equal(await card.getByRole('button', { name: 'Block' }).count(), blocking ? 1 : 0);
    await shot(alice.page, 'ui-13-profile-card');
    await card.getByRole('button', { name: 'Message' }).click();
    await until(async () => assert.equal(await card.count(), 0), 'the card to close');
    await alice.page.getByRole('region', { name: 'Conversation with Bob' }).waitFor();

    await bob.page.getByRole('button', { name: 'Profile of Alice' }).first().tap();
    await bob.page.getByTestId('profile-card').getByRole('heading', { name: 'Alice' }).waitFor();
    await shot(bob.page, 'ui-14-phone-profile-card');
    await bob.page.getByRole('button', { name: 'Close' }).tap();
  });

  await t.test('quick switcher: Ctrl+K finds people and conversations', async () => {
    await alice.page.keyboard.press('Control+k');
    const box = alice.page.getByRole('dialog', { name: 'Jump to a conversation' });
    await box.getByRole('combobox').fill(carolName.slice(0, 8));
    await box.getByRole('option', { name: /Carol/ }).waitFor();
    await shot(alice.page, 'ui-15-quick-switcher');
    await alice.page.keyboard.press('Enter');
    await alice.page.getByRole('region', { name: 'Conversation with Carol' }).waitFor();
    await alice.page.keyboard.press('Control+k');
    await box.getByRole('combobox').fill('bo');
    await box.getByRole('option', { name: /Bob/ }).waitFor();
    await alice.page.keyboard.press('Enter');
    await alice.page.getByRole('region', { name: 'Conversation with Bob' }).waitFor();
    await alice.page.keyboard.press('Control+k');
    await alice.page.keyboard.press('Escape');
    await until(async () => assert.equal(await box.count(), 0), 'Escape to close it');
  });

  await t.test('notification settings in the header: shown only when the server has the route', async () => {
    const openapi = await call(origin, 'GET', '/openapi.json');
    const has = Object.keys(openapi.body.paths).includes('/v1/conversations/{id}/notifications');
    const bell = alice.page.getByRole('button', { name: 'Notification settings' });
    // Opening a conversation asks for its settings; the answer decides whether the bell shows.
    const asked = alice.page.waitForResponse((r) => r.url().includes('/notifications') && r.request().method() === 'GET');
    await row(alice.page, 'Carol').click();
    await alice.page.getByRole('region', { name: 'Conversation with Carol' }).waitFor();
    const answer = await asked;
    if (!has) {
      // Built against GET/PUT /v1/conversations/:id/notifications; this server does not have it yet.
      assert.equal(answer.status(), 404);
      await alice.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(await bell.count(), 0, 'no bell while the route 404s');
      await row(alice.page, 'Bob').click();
      return;
    }
    await bell.waitFor();
    await bell.click();
    await alice.page.getByRole('menu', { name: 'Notifications for this conversation' }).waitFor();
    await shot(alice.page, 'ui-24-notification-menu');
    await noEmojiIcons(alice.page, 'notification menu');
    await alice.page.getByRole('menuitemradio', { name: 'Mentions only' }).click();
    await until(async () => assert.equal(await bell.count(), 1), 'the bell');
    await bell.click();
    await alice.page.getByRole('menuitem', { name: 'For 1 hour' }).click();
    await until(async () => assert.equal(await bell.getAttribute('data-muted'), 'true'), 'the bell to show muted');
    const { token } = await tokenOf(alice.page);
    const r = await call(origin, 'GET', `/v1/conversations/${convIdOf(alice.page)}/notifications`, { token });
    assert.equal(r.body.level, 'mentions');
    assert.ok(Date.parse(r.body.mutedUntil) > Date.now());
    await row(alice.page, 'Bob').click();
  });

  await t.test('unread: divider, jump to the first unread, new-messages pill, scroll kept per conversation', async () => {
    const c = await tokenOf(carol.page);
    const dave = await signup(origin, 'Dave');
    const erin = await signup(origin, 'Erin');
    const post = async (from: { accessToken: string }, convId: string, n: number, prefix: string) => {
      for (let i = 1; i <= n; i++) {
        const r = await call(origin, 'POST', `/v1/conversations/${convId}/messages`, { token: from.accessToken, body: { clientMsgId: `${prefix.replace(/\W/g, '_')}-${i}-${Math.random().toString(36).slice(2)}`, text: `${prefix} ${i}` } });
        assert.equal(r.status, 201);
      }
    };
    const dc = (await call(origin, 'POST', '/v1/conversations', { token: dave.accessToken, body: { type: 'direct', userId: c.id } })).body.id as string;
    const ec = (await call(origin, 'POST', '/v1/conversations', { token: erin.accessToken, body: { type: 'direct', userId: c.id } })).body.id as string;
    await post(dave, dc, 10, 'Read');
    await row(carol.page, 'Dave').click();
    await messageWith(carol.page, 'Read 10').waitFor();
    await carol.page.goto('/');
    await sidebar(carol.page).waitFor();
    await post(dave, dc, 25, 'Dave');
    await post(erin, ec, 70, 'Erin');
    await row(carol.page, 'Dave').getByTestId('unread-badge').filter({ hasText: '25' }).waitFor();

    // 25 unread: opens at the divider, the first unread in view.
    await row(carol.page, 'Dave').click();
    const divider = log(carol.page).getByTestId('unread-divider');
    await divider.waitFor();
    await until(async () => inViewport(carol.page, messageWith(carol.page, 'Dave 1').first(), 'the first unread'), 'the first unread in view');
    await inViewport(carol.page, divider, 'the divider');
    await shot(carol.page, 'ui-16-unread-divider');
    // Scrolled up, a new message is counted on a pill instead of moving the view.
    await carol.page.locator('.messages').evaluate((el) => (el.scrollTop = 0));
    await post(dave, dc, 2, 'Later');
    const pill = carol.page.getByTestId('new-messages-pill');
    await pill.filter({ hasText: '2 new messages' }).waitFor();
    await shot(carol.page, 'ui-17-new-messages-pill');
    await pill.click();
    await until(async () => inViewport(carol.page, messageWith(carol.page, 'Later 2'), 'the newest message'), 'the bottom');
    await until(async () => assert.equal(await pill.count(), 0), 'the pill to go');
    // Scroll position kept per conversation.
    await carol.page.locator('.messages').evaluate((el) => (el.scrollTop = 150));
    await carol.page.waitForFunction(() => document.querySelector('.messages')!.scrollTop > 100);
    const kept = await carol.page.locator('.messages').evaluate((el) => el.scrollTop);
    await row(carol.page, 'Alice').click();
    await carol.page.getByRole('region', { name: 'Conversation with Alice' }).waitFor();
    await row(carol.page, 'Dave').click();
    await messageWith(carol.page, 'Dave 1').first().waitFor();
    await until(async () => assert.ok(Math.abs((await carol.page.locator('.messages').evaluate((el) => el.scrollTop)) - kept) < 40, 'scrollTop restored'), 'the scroll position to come back');

    // 70 unread, more than the first page of a fresh load: "Jump to first unread" loads back to it.
    await carol.page.goto('/');
    await row(carol.page, 'Erin').getByTestId('unread-badge').filter({ hasText: '70' }).waitFor();
    await row(carol.page, 'Erin').click();
    await messageWith(carol.page, 'Erin 70').waitFor();
    const jump = carol.page.getByTestId('jump-unread');
    await jump.waitFor();
    await shot(carol.page, 'ui-18-jump-to-unread');
    await jump.click();
    await until(async () => inViewport(carol.page, messageWith(carol.page, 'Erin 1').first(), 'Erin 1'), 'the jump to the first unread');
    await inViewport(carol.page, log(carol.page).getByTestId('unread-divider'), 'the divider after the jump');

    // Phone: 25 unread from Alice, opened from the list.
    await bob.page.getByRole('button', { name: 'Back to conversations' }).tap();
    const a = await tokenOf(alice.page);
    await post({ accessToken: a.token }, convIdOf(alice.page), 25, 'Phone unread');
    await row(bob.page, 'Alice').getByTestId('unread-badge').filter({ hasText: '25' }).waitFor();
    await row(bob.page, 'Alice').tap();
    await log(bob.page).getByTestId('unread-divider').waitFor();
    await until(async () => inViewport(bob.page, messageWith(bob.page, 'Phone unread 1').first(), 'the first unread on the phone'), 'the first unread on the phone');
    await shot(bob.page, 'ui-19-phone-unread-divider');
  });

  await t.test('no sideways overflow at 320–430 px, even with a very long URL as the last message', async () => {
    const long = `https://example.com/${'a-very-long-path-segment-without-spaces/'.repeat(12)}end`;
    await send(alice.page, long);
    await messageWith(bob.page, 'a-very-long-path').waitFor();
    await noOverflow(bob.page, '390 px conversation');
    assert.ok(await bob.page.locator('.messages').evaluate((el) => el.scrollWidth <= el.clientWidth + 1), 'the messages do not scroll sideways');
    await bob.page.getByRole('button', { name: 'Back to conversations' }).tap();
    await send(alice.page, `${long} again`);
    await row(bob.page, 'Alice').getByTestId('unread-badge').waitFor();
    for (const width of [320, 390, 430]) {
      await bob.page.setViewportSize({ width, height: 740 });
      await noOverflow(bob.page, `${width} px list`);
      await inViewport(bob.page, row(bob.page, 'Alice').getByTestId('unread-badge'), `the unread badge at ${width} px`);
      await inViewport(bob.page, bob.page.getByRole('button', { name: 'Log out' }), `the log-out button at ${width} px`);
      await shot(bob.page, `ui-20-list-${width}px`);
    }
    await row(bob.page, 'Alice').tap();
    await bob.page.setViewportSize({ width: 320, height: 740 });
    await noOverflow(bob.page, '320 px conversation');
    await inViewport(bob.page, bob.page.getByRole('button', { name: 'Send' }), 'the send button at 320 px');
    await shot(bob.page, 'ui-21-conversation-320px');
    await bob.page.setViewportSize(PHONE);
  });

  await t.test('dark mode: the system preference by default, and a toggle', async () => {
    const bg = (p: Page) => p.evaluate(() => {
      const m = /rgba?\((\d+), (\d+), (\d+)/.exec(getComputedStyle(document.querySelector('.sidebar')!).backgroundColor)!;
      return (0.2126 * Number(m[1]) + 0.7152 * Number(m[2]) + 0.0722 * Number(m[3])) / 255;
    });
    assert.ok((await bg(alice.page)) > 0.8, 'light by default on a light system');
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await until(async () => assert.ok((await bg(alice.page)) < 0.2), 'dark on a dark system');
    await shot(alice.page, 'ui-22-dark-desktop');
    const toggle = alice.page.getByTestId('theme-toggle');
    await toggle.click(); // system → light
    await until(async () => assert.ok((await bg(alice.page)) > 0.8), 'light when chosen');
    await toggle.click(); // light → dark
    await until(async () => assert.ok((await bg(alice.page)) < 0.2), 'dark when chosen');
    await alice.page.reload();
    await sidebar(alice.page).waitFor();
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await until(async () => assert.ok((await bg(alice.page)) < 0.2), 'the choice is kept over the system');
    await toggle.click(); // dark → system (light)
    await until(async () => assert.ok((await bg(alice.page)) > 0.8), 'back to the system');
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await until(async () => assert.ok((await bg(bob.page)) < 0.2 || !(await bob.page.locator('.sidebar').isVisible())), 'dark phone');
    await shot(bob.page, 'ui-23-dark-phone');
    await bob.page.emulateMedia({ colorScheme: 'light' });
  });

  await t.test('glitches: names after an offline reload, the attach button after reconnecting', async () => {
    await until(async () => assert.ok(await bob.page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.active)), 'the service worker', 30_000);
    await bob.context.setOffline(true);
    await bob.page.reload();
    await bob.page.getByTestId('connection-banner').filter({ hasText: 'offline' }).waitFor();
    await bob.page.getByRole('region', { name: 'Conversation with Alice' }).waitFor();
    assert.equal(await bob.page.getByText('Someone').count(), 0, 'no "Someone" for a known name');
    await bob.context.setOffline(false);
    await bob.page.getByRole('button', { name: 'Attach a file' }).waitFor({ timeout: 30_000 });
  });

  await t.test('glitches: a removed member keeps their name in the system message', async () => {
    const a = await tokenOf(alice.page);
    const b = await tokenOf(bob.page);
    const cc = await tokenOf(carol.page);
    const g = await call(origin, 'POST', '/v1/conversations', { token: a.token, body: { type: 'group', title: 'Removal test', memberIds: [b.id, cc.id] } });
    assert.equal(g.status, 201);
    assert.equal((await call(origin, 'DELETE', `/v1/conversations/${g.body.id}/members/${cc.id}`, { token: a.token })).status, 204);
    await bob.page.goto(`/c/${g.body.id}`);
    await log(bob.page).locator('.system-message', { hasText: 'removed Carol' }).waitFor();
    assert.equal(await log(bob.page).getByText('Someone').count(), 0);
  });

  await t.test('glitches: a new avatar shows in my other open tab', async () => {
    const other = await alice.context.newPage();
    other.on('pageerror', (err) => pageErrors.push(err.message));
    await other.goto('/');
    await sidebar(other).waitFor();
    assert.equal(await sidebar(other).locator('.me .avatar img').count(), 0);
    await alice.page.bringToFront();
    await alice.page.getByRole('button', { name: 'Edit profile' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Your profile' });
    await dialog.getByLabel('Change picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await testPng(alice.page) });
    await dialog.getByRole('img', { name: 'New avatar preview' }).waitFor();
    await dialog.getByRole('button', { name: 'Save' }).and(alice.page.locator(':enabled')).click();
    await until(async () => assert.equal(await dialog.count(), 0), 'the dialog to close');
    await other.bringToFront();
    await other.evaluate(() => window.dispatchEvent(new Event('focus')));
    await imageLoaded(other, '.me .avatar img');
    await other.close();
  });

  await t.test('no UI icon is a colour emoji (every screen seen)', async () => {
    await noEmojiIcons(alice.page, 'desktop end');
    await noEmojiIcons(bob.page, 'phone end');
    await noEmojiIcons(carol.page, 'desktop unread');
  });

  assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
});
