import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { PushPlatform, PushSender, RetryPolicy } from './push.port.js';

export interface PushSenders {
  senders: Record<PushPlatform, PushSender>;
  /** The VAPID public key browsers subscribe with ('' when Web Push is off). */
  vapidPublicKey: string;
  close(): Promise<void>;
}

/**
 * The VAPID keys: the configured pair, or (WEB_PUSH_GENERATE_KEYS) a pair generated once
 * and kept in DATA_DIR/vapid.json, or none.
 */
async function resolveVapid(config: Config, logger: Logger): Promise<{ publicKey: string; privateKey: string; subject: string } | null> {
  const subject = config.WEB_PUSH_SUBJECT || 'mailto:admin@localhost';
  if (config.WEB_PUSH_VAPID_PUBLIC_KEY) return { publicKey: config.WEB_PUSH_VAPID_PUBLIC_KEY, privateKey: config.WEB_PUSH_VAPID_PRIVATE_KEY, subject };
  if (!config.WEB_PUSH_GENERATE_KEYS) return null;
  const file = join(config.DATA_DIR, 'vapid.json');
  if (existsSync(file)) {
    try {
      const k = JSON.parse(readFileSync(file, 'utf8')) as { publicKey?: string; privateKey?: string };
      if (typeof k.publicKey === 'string' && typeof k.privateKey === 'string') return { publicKey: k.publicKey, privateKey: k.privateKey, subject };
    } catch {
      /* reported below */
    }
    throw new ConfigError([`${file}: not a VAPID key pair ({"publicKey","privateKey"}); fix or delete it`]);
  }
  const { generateVapidKeys } = await import('./push.webpush.js');
  const keys = generateVapidKeys();
  mkdirSync(config.DATA_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  logger.info({ file }, 'generated a VAPID key pair for Web Push');
  return { ...keys, subject };
}

function readCa(path: string, name: string): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${name}: cannot read ${path}: ${(err as Error).message}`]);
  }
}

/**
 * Opens one sender per platform, chosen once at boot: the provider when configured, else
 * the log adapter. Bad key material is a ConfigError (startup stops with the message).
 * Only the chosen providers' code is loaded.
 */
export async function openPushSenders(config: Config, logger: Logger): Promise<PushSenders> {
  const log = logger.child({ component: 'push' });
  const retry: RetryPolicy = { attempts: config.PUSH_RETRY_ATTEMPTS, maxDelaySeconds: config.PUSH_RETRY_MAX_DELAY };
  const { LogPushSender } = await import('./push.log.js');
  const senders: Record<PushPlatform, PushSender> = {
    fcm: new LogPushSender('fcm', log),
    apns: new LogPushSender('apns', log),
    webpush: new LogPushSender('webpush', log),
  };
  const problems: string[] = [];
  if (config.FCM_SERVICE_ACCOUNT_FILE) {
    const { FcmPushSender, loadServiceAccount } = await import('./push.fcm.js');
    try {
      const { account, key } = await loadServiceAccount(config.FCM_SERVICE_ACCOUNT_FILE);
      senders.fcm = new FcmPushSender({ account, key, baseUrl: config.FCM_BASE_URL, ...(config.FCM_TOKEN_URL ? { tokenUrl: config.FCM_TOKEN_URL } : {}), retry, logger: log });
    } catch (err) {
      problems.push(`FCM_SERVICE_ACCOUNT_FILE: ${(err as Error).message}`);
    }
  }
  if (config.APNS_KEY_FILE) {
    const { ApnsPushSender, loadApnsKey } = await import('./push.apns.js');
    try {
      const key = await loadApnsKey(config.APNS_KEY_FILE);
      const ca = readCa(config.APNS_CA_FILE, 'APNS_CA_FILE');
      senders.apns = new ApnsPushSender({ key, keyId: config.APNS_KEY_ID, teamId: config.APNS_TEAM_ID, topic: config.APNS_TOPIC, url: config.APNS_URL, ...(ca ? { ca } : {}), retry, logger: log });
    } catch (err) {
      problems.push(err instanceof ConfigError ? err.problems.join('; ') : `APNS_KEY_FILE: ${(err as Error).message}`);
    }
  }
  let vapidPublicKey = '';
  try {
    const vapid = await resolveVapid(config, log);
    if (vapid) {
      const { WebPushSender } = await import('./push.webpush.js');
      const ca = readCa(config.WEB_PUSH_CA_FILE, 'WEB_PUSH_CA_FILE');
      senders.webpush = new WebPushSender({ vapid, ...(ca ? { ca } : {}), retry, logger: log });
      vapidPublicKey = vapid.publicKey;
    }
  } catch (err) {
    problems.push(err instanceof ConfigError ? err.problems.join('; ') : `WEB_PUSH_VAPID_*: ${(err as Error).message}`);
  }
  if (problems.length) {
    await Promise.all(Object.values(senders).map((s) => s.close()));
    throw new ConfigError(problems);
  }
  log.info({ fcm: senders.fcm.adapter, apns: senders.apns.adapter, webpush: senders.webpush.adapter }, 'push senders');
  return {
    senders,
    vapidPublicKey,
    async close() {
      await Promise.all(Object.values(senders).map((s) => s.close()));
    },
  };
}

export type { PushMessage, PushPlatform, PushResult, PushSender, PushTarget } from './push.port.js';
export { PushRetryableError } from './push.port.js';
