/**
 * Helpers for the browser tests (Debian's Chromium driven by playwright-core): build the
 * web client when its sources changed, launch the browser, sign up in a page, find the
 * usual parts of the screen, poll for a condition, take screenshots.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHOTS = join(ROOT, 'build', 'screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const WAIT = 15_000;

/**
 * Builds web/dist when it is missing or older than its sources (scripts/build-web.sh: one
 * build at a time, so test files running in parallel never rebuild under each other).
 */
export function ensureWebBuild(): void {
  execFileSync('bash', [join(ROOT, 'scripts', 'build-web.sh')], { cwd: ROOT, stdio: 'inherit' });
}

/** Installs Chromium if missing, builds the client, launches a headless browser. */
export async function launchBrowser(): Promise<Browser> {
  execFileSync('bash', [join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core starts it with a fresh, empty profile directory of its own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Polls `check` until it stops throwing. */
export async function until(check: () => Promise<void> | void, what: string, timeoutMs = WAIT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await check();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : String(last)}`);
}

export const unique = (name: string) => `${name}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;

/** Fills the sign-up form (the caller clicks "Create account"); returns the username. */
export async function signUp(page: Page, name: string): Promise<string> {
  const username = unique(name.toLowerCase());
  await page.goto('/');
  await page.getByRole('tab', { name: 'Sign up' }).click();
  await page.getByLabel('Email').fill(`${username}@example.test`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('Password').fill('correct horse battery');
  return username;
}

export const sidebar = (page: Page) => page.getByRole('navigation', { name: 'Conversations' });
export const log = (page: Page) => page.getByRole('log', { name: 'Messages' });
export const composer = (page: Page) => page.getByRole('combobox', { name: /^Message / });
export const messageWith = (page: Page, text: string): Locator => log(page).locator('li.message', { hasText: text });
export const row = (page: Page, title: string): Locator => sidebar(page).locator('.conversation-list button', { hasText: title });

export async function send(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

export async function startDirect(page: Page, username: string): Promise<void> {
  await page.getByLabel('Find people').fill(username);
  await page.getByRole('list', { name: 'People found' }).getByRole('button', { name: new RegExp(username) }).click();
  await composer(page).waitFor();
}

/** A small valid PNG (a gradient with a word on it), made here by the browser. */
export async function testPng(page: Page): Promise<Buffer> {
  const b64 = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 180;
    const g = c.getContext('2d')!;
    const grad = g.createLinearGradient(0, 0, 320, 180);
    grad.addColorStop(0, '#3b5bdb');
    grad.addColorStop(1, '#e8590c');
    g.fillStyle = grad;
    g.fillRect(0, 0, 320, 180);
    g.fillStyle = '#fff';
    g.font = 'bold 40px sans-serif';
    g.fillText('Parley', 95, 105);
    return c.toDataURL('image/png').split(',')[1]!;
  });
  return Buffer.from(b64, 'base64');
}
