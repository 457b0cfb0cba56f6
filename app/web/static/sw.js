// Service worker: the shell and static files cache-first, listings network-first with the cached copy
// as the offline fallback, an offline page for other navigations. The version is a hash of the static
// files (inserted by the server), so a deploy replaces the cache.

const VERSION = "__ATP_VERSION__";
const SHELL_CACHE = `atp-shell-${VERSION}`;
const DATA_CACHE = "atp-listings-v1";
const SHELL = [
  "/offline.html",
  "/manifest.webmanifest",
  "/static/index.html",
  "/static/app.css",
  "/static/app.js",
  "/static/api.js",
  "/static/bell.js",
  "/static/chart.js",
  "/static/realtime.js",
  "/static/router.js",
  "/static/ui.js",
  "/static/views/account.js",
  "/static/views/admin.js",
  "/static/views/auth.js",
  "/static/views/broker_state.js",
  "/static/views/compare.js",
  "/static/views/dashboard.js",
  "/static/views/holds.js",
  "/static/views/deal.js",
  "/static/views/identities.js",
  "/static/views/listing.js",
  "/static/views/messages.js",
  "/static/views/market.js",
  "/static/views/notifications.js",
  "/static/views/reports.js",
  "/static/views/offers.js",
  "/static/views/plans.js",
  "/static/views/profile.js",
  "/static/views/saved.js",
  "/static/views/search.js",
  "/static/views/sell.js",
  "/static/views/verification.js",
  "/static/views/watchlist.js",
  "/static/icons/icon-192.png",
];
const LISTING = /^\/api\/listings\/[0-9a-f-]{36}(\/price-history|\/photos)?$/;
// Kept for offline reading too: a seller's profile (public) and the watchlist (private: dropped at logout).
const OFFLINE_READS = /^\/api\/(profiles\/[0-9a-f-]{36}|watchlist)$/;
const MAX_LISTINGS = 100;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("atp-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") { event.respondWith(navigation(request)); return; }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") { event.respondWith(cacheFirst(request)); return; }
  // The profile too: offline, a signed-in person stays signed in (dropped with the listings at logout).
  if (LISTING.test(url.pathname) || OFFLINE_READS.test(url.pathname) || url.pathname === "/api/auth/profile") { event.respondWith(networkFirst(request)); return; }
  if (url.pathname.startsWith("/media/")) event.respondWith(cacheFirst(request, DATA_CACHE));
});

async function cacheFirst(request, cacheName = SHELL_CACHE) {
  const cached = await caches.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await fetch(request);
    // The page clears this cache on logout, so a private copy (the owner's draft) does not outlive the session.
    if (response.ok) {
      await cache.put(request.url, response.clone());
      trim(cache);
    }
    return response;
  } catch (err) {
    const cached = await cache.match(request.url);
    if (!cached) throw err;
    // Say so: the page shows "offline, as of <Date>" instead of passing an old price off as current.
    const headers = new Headers(cached.headers);
    headers.set("X-ATP-Offline", "1");
    return new Response(await cached.blob(), { status: cached.status, statusText: cached.statusText, headers });
  }
}

async function trim(cache) {
  const keys = await cache.keys();
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_LISTINGS))) await cache.delete(key);
}

async function navigation(request) {
  const url = new URL(request.url);
  if (/^\/(api|ws|schema|media|metrics|health|ready)\b/.test(url.pathname)) return fetch(request);
  try {
    return await fetch(request);
  } catch {
    // Every app route renders from the same shell; offline, the shell reads listings from the cache.
    const shell = await caches.match("/static/index.html");
    if (shell && /^\/(listings\/|$|search|saved|dashboard|holds|watchlist|compare|sellers\/)/.test(url.pathname)) return shell;
    return (await caches.match("/offline.html")) || new Response("Offline", { status: 503 });
  }
}

// Web push (notifications for a user with no page open): the server sends {id, kind, title, body, link}.
self.addEventListener("push", (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch { message = { title: event.data?.text() }; }
  event.waitUntil(self.registration.showNotification(message.title || "ATP", {
    body: message.body || "",
    tag: message.id || undefined,
    icon: "/static/icons/icon-192.png",
    data: { link: message.link || "/notifications" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.link || "/", self.location.origin);
  if (target.origin !== self.location.origin) return;  // only ever open our own pages
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
      if ("focus" in client) { await client.focus(); client.navigate?.(target.href); return; }
    }
    await self.clients.openWindow(target.href);
  })());
});
