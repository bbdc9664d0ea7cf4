import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_SPEC, ConfigError, configTableMarkdown, loadConfig, parseDurationSeconds } from '../src/config.js';
import { ERROR_CATALOG } from '../src/errors.js';

test('no configuration at all is the embedded profile', () => {
  const c = loadConfig({}, { dotenvPath: null });
  assert.equal(c.PORT, 8080);
  assert.equal(c.DATABASE_URL, '');
  assert.deepEqual(c.ROLES, ['api', 'ws', 'worker']);
  assert.equal(c.ACCESS_TOKEN_TTL, 900);
  assert.ok(c.RATE_LIMIT_SIGNUP_IP.max >= 20 && c.RATE_LIMIT_SIGNUP_IP.windowSeconds <= 600, 'a team behind one address can sign up');
  assert.ok(Object.isFrozen(c));
});

test('invalid and unknown values stop startup with a list of every problem', () => {
  try {
    loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', ROLES: 'api,cron', RATE_LIMIT_LOGIN_IP: 'lots', PARLEY_TYPO: '1', JWT_SECRET: 'short' }, { dotenvPath: null });
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const k of ['PORT', 'DATABASE_URL', 'ROLES', 'RATE_LIMIT_LOGIN_IP', 'PARLEY_TYPO', 'JWT_SECRET']) assert.match(text, new RegExp(k));
    assert.equal(err.problems.length, 6);
  }
});

test('durations', () => {
  assert.equal(parseDurationSeconds('15m'), 900);
  assert.equal(parseDurationSeconds('30d'), 2_592_000);
  assert.equal(parseDurationSeconds('250ms'), 0.25);
  assert.throws(() => parseDurationSeconds('soon'));
});

test('the README documents every variable, as generated from the spec', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configTableMarkdown()), 'README configuration table is stale: run `npm run config:table` and paste it');
  for (const key of Object.keys(CONFIG_SPEC)) assert.ok(readme.includes(`\`${key}\``), key);
});

test('every error code is documented', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ERROR_CATALOG)) assert.ok(doc.includes(`\`${code}\``), code);
});

test('VAPID keys: both or neither, well-formed, with a subject', () => {
  const pub = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
  const priv = Buffer.alloc(32, 2).toString('base64url');
  const ok = loadConfig({ WEB_PUSH_VAPID_PUBLIC_KEY: pub, WEB_PUSH_VAPID_PRIVATE_KEY: priv, WEB_PUSH_SUBJECT: 'mailto:ops@example.com' }, { dotenvPath: null });
  assert.equal(ok.WEB_PUSH_VAPID_PUBLIC_KEY, pub);
  assert.throws(() => loadConfig({ WEB_PUSH_VAPID_PUBLIC_KEY: pub }, { dotenvPath: null }), /both or neither/);
  assert.throws(() => loadConfig({ WEB_PUSH_VAPID_PUBLIC_KEY: 'short', WEB_PUSH_VAPID_PRIVATE_KEY: priv, WEB_PUSH_SUBJECT: 'mailto:a@b.c' }, { dotenvPath: null }), /65 bytes/);
  assert.throws(() => loadConfig({ WEB_PUSH_VAPID_PUBLIC_KEY: pub, WEB_PUSH_VAPID_PRIVATE_KEY: priv }, { dotenvPath: null }), /WEB_PUSH_SUBJECT/);
});
