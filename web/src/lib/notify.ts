/**
 * Browser notifications for new messages while the tab is hidden, and Web Push through a
 * service worker when the server publishes a VAPID public key
 * (`GET /v1/push/vapid-public-key`, 404 when Web Push is not configured: then push is
 * skipped quietly).
 */
import type { Conversation, Message } from '../../../sdk/index.js';
import type { ChatModel } from './model.js';
import { plainText } from './markdown.js';

export function notificationsSupported(): boolean {
  return typeof Notification !== 'undefined';
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

/** Asks for permission (must run from a user gesture). */
export async function requestNotifications(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

/** Shows a notification for `m` if the tab is hidden and the user allowed it. */
export function notifyIncoming(model: ChatModel, m: Message, conv: Conversation | undefined, open: (id: string) => void): void {
  if (!notificationsSupported() || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible') return;
  const sender = model.displayName(m.senderId);
  const title = conv && conv.type === 'group' ? `${sender} in ${model.titleOf(conv)}` : sender;
  const body = m.deletedAt ? '' : m.text ? plainText(m.text).slice(0, 200) : m.attachments.length ? 'Sent an attachment' : '';
  try {
    // Notification bodies are plain text: no markup is interpreted.
    const n = new Notification(title, { body, tag: m.conversationId, icon: '/favicon.svg' });
    n.onclick = () => {
      window.focus();
      open(m.conversationId);
      n.close();
    };
  } catch {
    /* some platforms allow notifications only from a service worker */
  }
}

function base64UrlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The server's VAPID public key; undefined when Web Push is not configured (404). */
async function vapidPublicKey(model: ChatModel): Promise<string | undefined> {
  const res = await fetch(new URL('/v1/push/vapid-public-key', model.client.rest.baseUrl));
  if (!res.ok) return undefined;
  const body = (await res.json()) as { publicKey?: unknown };
  return typeof body.publicKey === 'string' ? body.publicKey : undefined;
}

const DEVICE_KEY = 'parley.webpushDevice';

/**
 * Subscribes this browser to Web Push and registers it as a device, when the server is
 * configured for it and the user granted notifications. Returns what happened, for the UI.
 */
export async function enableWebPush(model: ChatModel): Promise<'subscribed' | 'not-configured' | 'unsupported' | 'denied'> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) return 'unsupported';
  if (notificationPermission() !== 'granted') return 'denied';
  let key: string | undefined;
  try {
    key = await vapidPublicKey(model);
  } catch {
    key = undefined;
  }
  if (!key) return 'not-configured';
  const reg = await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  const sub = (await reg.pushManager.getSubscription()) ?? (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) }));
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) return 'unsupported';
  const device = await model.client.rest.registerDevice({
    platform: 'webpush',
    subscription: { endpoint: json.endpoint, expirationTime: json.expirationTime ?? null, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } },
  });
  localStorage.setItem(DEVICE_KEY, device.id);
  return 'subscribed';
}

/** On logout: the server forgets this browser, the browser forgets the subscription. */
export async function disableWebPush(model: ChatModel): Promise<void> {
  const id = localStorage.getItem(DEVICE_KEY);
  localStorage.removeItem(DEVICE_KEY);
  if (id) await model.client.rest.deleteDevice(id).catch(() => {});
  if ('serviceWorker' in navigator) {
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = await reg?.pushManager.getSubscription();
    await sub?.unsubscribe().catch(() => {});
  }
}
