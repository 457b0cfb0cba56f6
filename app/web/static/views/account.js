// My account: profile, two-factor authentication, signed-in devices, where notifications reach me, Telegram link.

import { ApiError, api, currentSession, optional } from "../api.js";
import { errorText, field, h, notice, replace, toast, when } from "../ui.js";
import { linkedIdentities } from "./identities.js";

const CHANNELS = ["email", "telegram", "push"];

export async function accountView(main) {
  document.title = "My account — ATP";
  const { user, roles } = currentSession();
  const totpBox = h("div", { class: "stack" });
  const sessionsBox = h("div", { class: "stack" });
  const prefsBox = h("div", { class: "stack" });
  const telegramBox = h("div", { class: "stack" });
  const pushBox = h("div", { class: "stack" });
  const identityBox = h("div", { class: "stack", id: "identities" });
  main.append(h("h1", {}, "My account"),
    h("section", { class: "card", "aria-labelledby": "profile-title" }, h("h2", { id: "profile-title" }, "Profile"),
      h("dl", { class: "specs" }, [["Email", user.email], ["Account ID (for your broker)", user.id], ["Company", user.companyName], ["Account type", user.userType],
        ["Verification level", user.verificationLevel], ["Roles", (roles || []).join(", ")]].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v ?? ""))]))),
    h("section", { class: "card", "aria-labelledby": "idp-title" }, h("h2", { id: "idp-title" }, "Sign-in providers"), identityBox),
    h("section", { class: "card", "aria-labelledby": "totp-title" }, h("h2", { id: "totp-title" }, "Two-factor authentication"), totpBox),
    h("section", { class: "card", "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title" }, "Signed-in devices"), sessionsBox),
    h("section", { class: "card", "aria-labelledby": "prefs-title" }, h("h2", { id: "prefs-title" }, "Notifications"), prefsBox),
    h("section", { class: "card", "aria-labelledby": "tg-title" }, h("h2", { id: "tg-title" }, "Telegram"), telegramBox),
    h("section", { class: "card", "aria-labelledby": "push-title" }, h("h2", { id: "push-title" }, "Notifications on this device"), pushBox));

  // 2FA: the server hands out a secret; it is on once a code from the app is confirmed.
  const start = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      const setup = await withPassword((body) => api("/api/auth/totp/enable", { method: "POST", body }));
      const code = h("input", { name: "code", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: 6, autocomplete: "one-time-code", required: true });
      replace(totpBox, h("p", {}, "Add this key to your authenticator app, then enter the code it shows."),
        h("p", {}, h("code", {}, setup.secret)), h("p", { class: "small muted" }, setup.otpauthUri),
        h("form", { class: "row", onsubmit: async (e) => {
          e.preventDefault();
          try { await withPassword((extra) => api("/api/auth/totp/confirm", { method: "POST", body: { code: code.value.trim(), ...extra } })); replace(totpBox, notice("ok", "Two-factor authentication is on.")); }
          catch (err) { toast(errorText(err)); }
        } }, field("Code", code), h("button", { type: "submit" }, "Turn on")));
    } catch (err) { replace(totpBox, notice("bad", errorText(err))); }
  } }, "Set up an authenticator app");
  replace(totpBox, h("p", { class: "muted" }, "Ask for a code from your phone at every log in."), start);

  sessionList(sessionsBox).catch((err) => replace(sessionsBox, notice("bad", errorText(err))));

  const prefs = await optional("/api/notifications/preferences");
  if (!prefs.ok) {
    replace(prefsBox, h("p", { class: "muted" }, "Notification settings are not available on this server yet."));
  } else {
    const boxes = [];
    const rows = prefs.data.preferences.map((p) => h("fieldset", {}, h("legend", {}, p.kind.replaceAll("_", " ").replaceAll(".", ": ")),
      CHANNELS.map((channel) => {
        const box = h("input", { type: "checkbox", checked: p.channels.includes(channel), dataset: { kind: p.kind, channel } });
        boxes.push(box);
        return h("label", { class: "inline" }, box, channel);
      })));
    replace(prefsBox, h("form", { class: "stack", onsubmit: async (e) => {
      e.preventDefault();
      const byKind = new Map();
      for (const box of boxes) {
        if (!byKind.has(box.dataset.kind)) byKind.set(box.dataset.kind, []);
        if (box.checked) byKind.get(box.dataset.kind).push(box.dataset.channel);
      }
      try {
        await api("/api/notifications/preferences", { method: "PUT", body: { preferences: [...byKind].map(([kind, channels]) => ({ kind, channels })) } });
        toast("Notification settings saved.");
      } catch (err) { toast(errorText(err)); }
    } }, rows, h("button", { type: "submit" }, "Save")));
  }

  const linkCode = h("input", { name: "code", maxlength: 6, pattern: "[A-Za-z0-9]{6}", autocomplete: "off", required: true });
  replace(telegramBox, h("p", { class: "muted" }, "Send /start to the ATP bot; it answers with a 6-character code."),
    h("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const result = await api("/api/telegram/link", { method: "POST", body: { code: linkCode.value.trim() } });
        toast(result.linked ? "Telegram linked." : "Telegram not linked.");
      } catch (err) { toast(errorText(err)); }
    } }, field("Link code", linkCode), h("button", { type: "submit" }, "Link Telegram")));

  linkedIdentities(identityBox).catch((err) => replace(identityBox, notice("bad", errorText(err))));
  pushSettings(pushBox).catch((err) => replace(pushBox, notice("bad", errorText(err))));
  return null;
}

// A log in older than 10 minutes must confirm the password before changing security settings.
async function withPassword(call) {
  try { return await call(undefined); } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "recent_auth_required") throw err;
    const currentPassword = window.prompt("Enter your password to continue");
    if (!currentPassword) throw err;
    return call({ currentPassword });
  }
}

// Every log in is a session: where and when it was last used, and a button that ends it (its tokens stop
// working and its live connections close).
async function sessionList(box) {
  const render = async () => {
    const { items } = await api("/api/me/sessions?limit=100");
    const end = (label, path) => h("button", { type: "button", class: "secondary", onclick: async () => {
      try { await api(path, { method: "DELETE" }); toast("Signed out."); } catch (err) { toast(errorText(err)); }
      await render();
    } }, label);
    const rows = items.map((s) => h("tr", {},
      h("td", {}, s.device, s.current ? h("span", { class: "muted small" }, " (this device)") : ""),
      h("td", {}, s.ip), h("td", {}, when(s.lastSeenAt)), h("td", {}, when(s.createdAt)),
      h("td", {}, s.current ? "" : end("Sign out", `/api/me/sessions/${s.id}`))));
    replace(box, h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Device", "IP address", "Last seen", "Signed in", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))),
    items.length > 1 ? h("div", { class: "row" }, end("Sign out everywhere else", "/api/me/sessions")) : "");
  };
  await render();
}

// Web push: this browser subscribes with the server's VAPID key; the push service then wakes the
// service worker (sw.js) even when no ATP page is open.
async function pushSettings(box) {
  const key = await optional("/api/push/vapid-public-key");
  if (!key.ok || !("serviceWorker" in navigator) || !("PushManager" in window)) {
    replace(box, h("p", { class: "muted" }, "This browser cannot receive push notifications from ATP."));
    return;
  }
  // `ready` never settles when the service worker could not be registered (e.g. blocked by policy).
  const registration = await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(r, 5000, null))]);
  if (!registration) {
    replace(box, h("p", { class: "muted" }, "Push notifications need the offline app (service worker), which is not running."));
    return;
  }
  const render = async () => {
    const current = await registration.pushManager.getSubscription();
    const toggle = h("button", { type: "button", class: current ? "secondary" : "", onclick: async () => {
      try {
        if (current) {
          await api(`/api/push/subscriptions?endpoint=${encodeURIComponent(current.endpoint)}`, { method: "DELETE" });
          await current.unsubscribe();
          toast("Push notifications are off on this device.");
        } else {
          if ((await Notification.requestPermission()) !== "granted") { toast("Notifications are blocked for this site."); return; }
          const subscription = await registration.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: base64UrlBytes(key.data.publicKey),
          });
          const { endpoint, keys } = subscription.toJSON();
          await api("/api/push/subscriptions", { method: "POST", body: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } });
          toast("Push notifications are on for this device.");
        }
      } catch (err) { toast(errorText(err)); }
      await render();
    } }, current ? "Turn off on this device" : "Turn on for this device");
    replace(box, h("p", { class: "muted" }, current
      ? "This device receives ATP notifications while you are away."
      : "Get alerts (price drops, holds, verification) on this device while ATP is closed."), toggle);
  };
  await render();
}

function base64UrlBytes(text) {
  const raw = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}
