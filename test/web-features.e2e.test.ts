/**
 * The conversation features of the web client, end to end in Debian's Chromium (through
 * playwright-core) against the real server: message search with Ctrl+K (grouped results,
 * opening an old message highlighted), pins, edit history from "(edited)", group settings
 * (rename, roles), blocking from the profile card (the blocked user's send is refused, their
 * group messages collapse) and reporting from the message menu. The data is set up through
 * the REST API, as other clients would; the signed-in user acts in the browser.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { call, signup, startTestServer, type TestServer, type TestUser } from './harness.js';
import { UsersRepository } from '../src/modules/users/users.repository.js';
import { ensureWebBuild } from './support/browser.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = join(ROOT, 'build', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = 15_000;

let server: TestServer;
let browser: Browser;
const pageErrors: string[] = [];

before(async () => {
  execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
  server = await startTestServer({ sql: 'pglite', env: { RATE_LIMIT_WS_SEND: '100000/10s' } });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'] });
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** A browser page signed in as `u` (the session the client keeps in localStorage). */
async function signedIn(u: TestUser): Promise<Page> {
  const me = (await call(server.url, 'GET', '/v1/me', { token: u.accessToken })).body;
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, baseURL: server.url });
  await context.addInitScript((session) => {
    if (!localStorage.getItem('parley.session')) localStorage.setItem('parley.session', session);
  }, JSON.stringify({ tokens: { accessToken: u.accessToken, refreshToken: u.refreshToken }, user: me }));
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (d) => void d.accept());
  await page.goto('/');
  return page;
}

let n = 0;
const send = (u: TestUser, cid: string, text: string) =>
  call(server.url, 'POST', `/v1/conversations/${cid}/messages`, { token: u.accessToken, body: { clientMsgId: `e2e-${++n}`, text } });

test('conversation features in the web client', { timeout: 170_000 }, async () => {
  const alice = await signup(server.url, 'alice');
  const bob = await signup(server.url, 'bob');
  const group = (await call(server.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'group', title: 'Launch crew', memberIds: [bob.id] } })).body.id;
  const old = (await send(bob, group, 'the quokka plan is ready')).body;
  // Enough later messages that the old one is not on the first page the client loads.
  for (let i = 0; i < 70; i++) await send(alice, group, `status update number ${i}`);
  const edited = (await send(alice, group, 'first wording of the note')).body;
  await call(server.url, 'PATCH', `/v1/conversations/${group}/messages/${edited.id}`, { token: alice.accessToken, body: { text: 'better wording of the note' } });
  const fromBob = (await send(bob, group, 'bob says something reportable')).body;

  const page = await signedIn(alice);
  const log = page.getByRole('log', { name: 'Messages' });
  const messageById = (id: string) => log.locator(`li[data-message-id="${id}"]`);

  // Search: Ctrl+K, results grouped by conversation, the old message opened highlighted.
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
  // Ctrl+K is the quick switcher; its last entry searches the messages for what was typed.
  await page.keyboard.press('Control+k');
  await page.getByRole('combobox', { name: 'Jump to a conversation or person' }).fill('quok');
  await page.getByRole('option', { name: /Search messages for/ }).click();
  await page.getByRole('searchbox', { name: 'Search messages' }).waitFor();
  const results = page.getByTestId('search-results');
  const groupResults = results.getByRole('region', { name: 'Results in Launch crew' });
  await groupResults.waitFor();
  assert.equal(await groupResults.locator('mark').first().textContent(), 'quokka');
  await page.screenshot({ path: join(SHOTS, 'search.png') });
  await groupResults.getByRole('button', { name: /quokka plan/ }).click();
  await messageById(old.id).waitFor();
  await page.waitForFunction((id) => document.querySelector(`li[data-message-id="${id}"]`)?.classList.contains('highlighted'), old.id);

  // Edit history from "(edited)".
  await messageById(edited.id).getByRole('button', { name: '(edited)' }).click();
  const history = page.getByRole('dialog', { name: 'Edit history' });
  await history.getByText('first wording of the note').waitFor();
  await history.getByRole('button', { name: 'Close' }).click();

  // Pin from the message menu; the pins list shows it.
  await messageById(edited.id).hover();
  await messageById(edited.id).getByRole('button', { name: 'Pin' }).click();
  await log.getByText('pinned a message').waitFor();
  await page.getByRole('button', { name: 'Pins', exact: true }).click();
  const pins = page.getByRole('dialog', { name: 'Pinned messages' });
  await pins.getByText('better wording of the note').waitFor();
  await pins.getByRole('button', { name: 'Close' }).click();

  // Report bob's message.
  await messageById(fromBob.id).hover();
  await messageById(fromBob.id).getByRole('button', { name: 'Report' }).click();
  const report = page.getByRole('dialog', { name: 'Report message' });
  await report.getByLabel('Why are you reporting it?').fill('spam');
  await report.getByRole('button', { name: 'Report' }).click();
  await report.getByRole('status').waitFor();
  await report.getByRole('button', { name: 'Close' }).first().click();
  const root = await signup(server.url, 'root');
  await new UsersRepository(server.parley.platform.sql).setAdmin(root.username, true);
  const reports = (await call(server.url, 'GET', '/v1/admin/reports', { token: root.accessToken })).body.reports;
  assert.ok(reports.some((r: { messageId: string; reason: string }) => r.messageId === fromBob.id && r.reason === 'spam'));

  // Group settings: rename, and make bob an admin.
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const settings = page.getByRole('dialog', { name: 'Group settings' });
  await settings.getByLabel('Role of bob').selectOption('admin');
  await log.getByText(/made bob an admin/).waitFor();
  await settings.getByLabel('Name').fill('Launch crew 2');
  await settings.getByLabel('Topic').fill('ship it');
  await settings.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Launch crew 2' }).waitFor();
  const members = (await call(server.url, 'GET', `/v1/conversations/${group}/members`, { token: alice.accessToken })).body.members;
  assert.equal(members.find((m: { userId: string }) => m.userId === bob.id).role, 'admin');

  // Threads: reply in a side panel; "N replies" under the root; replies stay out of the timeline.
  await messageById(fromBob.id).hover();
  await messageById(fromBob.id).getByRole('button', { name: 'Open thread' }).click();
  const panel = page.getByRole('complementary', { name: 'Thread' });
  await panel.getByText('bob says something reportable').waitFor();
  await panel.getByLabel('Reply in thread').fill('replying in the thread');
  await panel.getByRole('button', { name: 'Reply', exact: true }).click();
  await panel.getByText('replying in the thread').waitFor();
  await messageById(fromBob.id).getByRole('button', { name: /^1 reply/ }).waitFor();
  const bobReply = await call(server.url, 'POST', `/v1/conversations/${group}/messages`, { token: bob.accessToken, body: { clientMsgId: 'thread-bob', text: 'bob answers in the thread', threadRootId: fromBob.id } });
  assert.equal(bobReply.status, 201);
  await panel.getByText('bob answers in the thread').waitFor();
  await messageById(fromBob.id).getByRole('button', { name: /^2 replies/ }).waitFor();
  assert.equal(await log.getByText('bob answers in the thread').count(), 0, 'thread replies are not in the timeline');
  await page.screenshot({ path: join(SHOTS, 'thread-panel.png') });
  await panel.getByRole('button', { name: 'Close the thread' }).click();

  // Block bob from his profile card in the direct conversation: his send is refused, his group messages collapse.
  const direct = (await call(server.url, 'POST', '/v1/conversations', { token: alice.accessToken, body: { type: 'direct', userId: bob.id } })).body.id;
  await page.goto(`/c/${direct}`);
  await page.getByRole('button', { name: 'Profile', exact: true }).click();
  const card = page.getByRole('dialog', { name: 'bob' });
  await card.getByRole('button', { name: 'Block' }).click();
  await card.getByRole('button', { name: 'Unblock' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'profile-card-blocked.png') });
  await card.getByRole('button', { name: 'Close' }).click();
  const refused = await send(bob, direct, 'can you hear me?');
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'blocked');
  await page.goto(`/c/${group}`);
  await messageById(fromBob.id).getByText('Message from a blocked user').waitFor();
  await messageById(fromBob.id).getByRole('button', { name: 'Show' }).click();
  await messageById(fromBob.id).getByText('bob says something reportable').waitFor();

  assert.deepEqual(pageErrors, []);
});
