/* Parley's service worker: keeps the app shell so the client opens offline (its outbox
 * lives in IndexedDB and is sent on reconnect), and shows Web Push notifications.
 * API calls are never cached. */
const CACHE = 'parley-shell-v1';

async function cacheShell() {
  const cache = await caches.open(CACHE);
  const res = await fetch('/index.html', { cache: 'no-store' });
  if (!res.ok) return;
  const html = await res.clone().text();
  await cache.put('/index.html', res);
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  await cache.addAll([...new Set(assets)]);
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().catch(() => undefined).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

function isApi(url) {
  return url.pathname.startsWith('/v1') || ['/openapi.json', '/healthz', '/readyz', '/metrics'].includes(url.pathname);
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || isApi(url)) return;
  if (req.mode === 'navigate') {
    // Network first, so a new version is picked up at once; the cached shell offline.
    event.respondWith(
      (async () => {
        try {
          const res = await fetch(req);
          if (res.ok && (res.headers.get('content-type') || '').includes('text/html')) {
            const cache = await caches.open(CACHE);
            await cache.put('/index.html', res.clone());
          }
          return res;
        } catch (err) {
          const cached = await caches.match('/index.html');
          if (cached) return cached;
          throw err;
        }
      })(),
    );
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    // Content-hashed: a cached copy is always right.
    event.respondWith(
      (async () => {
        const cached = await caches.match(req);
        if (cached) return cached;
        const res = await fetch(req);
        if (res.ok) {
          const cache = await caches.open(CACHE);
          await cache.put(req, res.clone());
        }
        return res;
      })(),
    );
  }
});

// The payload (decrypted by the browser) is what the notification worker sends:
// {kind, title, body, badge, conversationId, messageId, seq}; body is "New message" when the
// user turned previews off.
self.addEventListener('push', (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  const title = typeof data.title === 'string' ? data.title : 'Parley';
  const body = typeof data.body === 'string' ? data.body : 'New message';
  const conversationId = typeof data.conversationId === 'string' ? data.conversationId : undefined;
  event.waitUntil(
    (async () => {
      // The badge is the server's total unread count.
      if (typeof data.badge === 'number' && self.navigator.setAppBadge) await self.navigator.setAppBadge(data.badge).catch(() => undefined);
      // No notification when a window of the app is focused: it shows the message itself.
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      if (windows.some((w) => w.focused)) return;
      // One notification per conversation (tag), replaced by the newest, which alerts again.
      await self.registration.showNotification(title, {
        body,
        tag: conversationId || 'parley',
        renotify: Boolean(conversationId),
        icon: '/favicon.svg',
        data: { conversationId, messageId: data.messageId, seq: data.seq },
      });
    })(),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = event.notification.data && event.notification.data.conversationId;
  const target = id ? `/c/${encodeURIComponent(id)}` : '/';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const win = windows[0];
      if (win) {
        await win.focus();
        win.postMessage({ type: 'open', conversationId: id });
        return;
      }
      await self.clients.openWindow(target);
    })(),
  );
});
