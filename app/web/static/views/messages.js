// Messaging (API.md "Messaging"): the inbox, a thread with optimistic send, read ticks and typing, the
// "Message the seller" box of a listing, the nav badge, the broker's live inbox panel and the moderation queue.
// Message bodies are rendered as text nodes only (ui.h), never as HTML.

import { ApiError, api, currentUser, optional } from "../api.js";
import { realtime } from "../realtime.js";
import { navigate } from "../router.js";
import { debounce, errorText, h, notice, replace, toast, when } from "../ui.js";

const TYPING_SHOWN_MS = 3000;
const TYPING_EVERY_MS = 1000;
const MESSAGE_EVENTS = new Set(["message.created", "message.read", "thread.created"]);

function otherNames(thread, me) {
  const names = thread.participants.filter((p) => p.userId !== me).map((p) => `${p.displayName} (${p.role})`);
  return names.join(", ") || "Conversation";
}

function unreadBadge(count, attrs = {}) {
  return h("span", { class: `badge${count ? "" : " hidden"}`, dataset: { testid: "unread" }, ...attrs }, String(count));
}

/** Keep `fn` up to date with the caller's conversations: user-channel events, debounced. */
function onInboxChange(fn) {
  const user = currentUser();
  if (!user) return () => {};
  const later = debounce(fn, 150);
  const stop = realtime.subscribe(`user:${user.id}`, (frame) => { if (MESSAGE_EVENTS.has(frame.type)) later(); }, { onReset: later });
  return () => { later.cancel(); stop(); };
}

// --- header badge --------------------------------------------------------------------------------

let stopBadge = null;

/** Put an unread badge on the nav's Messages link and keep it live; call after each nav redraw. */
export function messagesBadge() {
  if (stopBadge) { stopBadge(); stopBadge = null; }
  const link = document.querySelector('#nav a[href="/messages"]');
  if (!link || !currentUser()) return;
  const badge = unreadBadge(0, { id: "messages-unread" });
  link.append(" ", badge);
  const refresh = async () => {
    const result = await optional("/api/threads/unread-count");
    if (!result.ok) return;
    badge.textContent = String(result.data.unreadCount);
    badge.classList.toggle("hidden", !result.data.unreadCount);
  };
  refresh();
  stopBadge = onInboxChange(refresh);
}

/** Tell the badge something was read here (the read also arrives as an event; this is just sooner). */
function badgeRefresh() {
  optional("/api/threads/unread-count").then((result) => {
    const badge = document.getElementById("messages-unread");
    if (result.ok && badge) {
      badge.textContent = String(result.data.unreadCount);
      badge.classList.toggle("hidden", !result.data.unreadCount);
    }
  });
}

// --- inbox ---------------------------------------------------------------------------------------

function threadItem(thread, me) {
  const last = thread.lastMessage;
  return h("li", { class: `card thread-item${thread.unreadCount ? " unread" : ""}`, dataset: { threadId: thread.id } },
    h("a", { href: `/messages/${thread.id}`, class: "thread-link" },
      h("strong", {}, otherNames(thread, me)), " ", unreadBadge(thread.unreadCount)),
    last ? h("p", { class: "preview" }, last.senderId === me ? "You: " : "", last.body.split("\n")[0].slice(0, 140)) : null,
    h("div", { class: "row small muted" }, when(thread.updatedAt), h("a", { href: `/listings/${thread.listingId}` }, "Listing")));
}

/** A live list of the caller's threads (the inbox page and the dashboard panel). */
export function threadList({ limit = 50, id = "thread-list" } = {}) {
  const list = h("ul", { class: "results thread-list", id });
  const message = h("div");
  const load = async () => {
    const me = currentUser()?.id;
    const result = await optional(`/api/threads?limit=${limit}`);
    if (!result.ok) {
      replace(message, notice(result.missing ? "warn" : "bad", result.missing ? "Messaging is not available on this server." : errorText(result.error)));
      return;
    }
    replace(message);
    replace(list, result.data.items.length ? result.data.items.map((t) => threadItem(t, me)) : h("li", { class: "muted" }, "No conversations yet."));
  };
  return { element: h("div", {}, message, list), load, stop: onInboxChange(load) };
}

export async function inboxView(main) {
  document.title = "Messages — ATP";
  const inbox = threadList();
  main.append(h("h1", {}, "Messages"), inbox.element);
  await inbox.load();
  return inbox.stop;
}

/** The broker dashboard's live inbox panel. */
export function inboxPanel() {
  const inbox = threadList({ limit: 10, id: "dash-threads" });
  const panel = h("section", { class: "card panel", "aria-labelledby": "inbox-title", id: "inbox-panel" },
    h("h2", { id: "inbox-title" }, h("a", { href: "/messages" }, "Messages")), inbox.element);
  inbox.load();
  return { element: panel, stop: inbox.stop };
}

// --- thread --------------------------------------------------------------------------------------

export async function threadView(main, { id }) {
  let thread;
  try {
    thread = await api(`/api/threads/${encodeURIComponent(id)}`);
  } catch (err) {
    document.title = "Conversation unavailable — ATP";
    main.append(h("h1", {}, "Conversation unavailable"), notice("bad", errorText(err)), h("p", {}, h("a", { href: "/messages" }, "All messages")));
    return null;
  }
  const me = currentUser().id;
  const channel = `thread:${thread.id}`;
  document.title = `${otherNames(thread, me)} — Messages — ATP`;
  const names = Object.fromEntries(thread.participants.map((p) => [p.userId, p.displayName]));
  const messages = []; // oldest first: {id, clientId, senderId, body, createdAt, attachments, state}
  const nodes = new Map(); // message id or clientId -> element
  let othersRead = thread.participants.filter((p) => p.userId !== me).map((p) => p.lastReadMessageId).filter(Boolean);
  let lastReadSent = null;

  const list = h("ol", { class: "messages", id: "messages", "aria-live": "polite" });
  const typing = h("p", { class: "typing muted small", id: "typing", "aria-live": "polite" });
  const body = h("textarea", { name: "body", id: "message-body", rows: 2, maxlength: 4000, required: true, placeholder: "Write a message", "aria-label": "Message" });
  const file = h("input", { type: "file", name: "file", id: "message-file", accept: "application/pdf,image/jpeg,image/png,image/webp", "aria-label": "Attach a file" });
  const form = h("form", { class: "composer", id: "composer", onsubmit: (e) => { e.preventDefault(); send(); } },
    body, h("div", { class: "row" }, file, h("button", { type: "submit", id: "send" }, "Send")));
  main.append(
    h("div", { class: "row" }, h("a", { href: "/messages" }, "← All messages"), h("a", { href: `/listings/${thread.listingId}` }, "View listing")),
    h("h1", { id: "thread-title" }, otherNames(thread, me)), list, typing, form);

  function readIndex() {
    let best = -1;
    for (const readId of othersRead) best = Math.max(best, messages.findIndex((m) => m.id === readId));
    return best;
  }

  function tick(message, index, readUpTo) {
    if (message.senderId !== me) return null;
    if (message.state === "pending") return h("span", { class: "tick", dataset: { testid: "tick" }, title: "Sending" }, "…");
    if (message.state === "failed") return h("button", { type: "button", class: "secondary small", onclick: () => retry(message) }, "Failed — retry");
    const read = index <= readUpTo;
    return h("span", { class: `tick${read ? " read" : ""}`, dataset: { testid: "tick", state: read ? "read" : "sent" }, title: read ? "Read" : "Sent" }, read ? "✓✓ Read" : "✓ Sent");
  }

  function attachmentLinks(message) {
    return (message.attachments || []).map((a) => h("a", { href: a.url, class: "attachment", download: a.name, onclick: (e) => { e.preventDefault(); download(a); } }, `📎 ${a.name}`));
  }

  function draw() {
    const readUpTo = readIndex();
    replace(list, messages.map((m, i) => {
      const mine = m.senderId === me;
      const el = h("li", { class: `bubble ${mine ? "mine" : "theirs"}`, dataset: { messageId: m.id || "", clientId: m.clientId || "" } },
        mine ? null : h("span", { class: "who small muted" }, names[m.senderId] || "Someone"),
        h("p", { class: "text" }, m.body), attachmentLinks(m),
        h("span", { class: "meta small muted" }, when(m.createdAt), " ", tick(m, i, readUpTo),
          !mine && m.id ? h("button", { type: "button", class: "link small", onclick: () => report(m) }, "Report") : null));
      nodes.set(m.id || m.clientId, el);
      return el;
    }));
    list.scrollTop = list.scrollHeight;
  }

  function upsert(incoming) {
    const at = messages.findIndex((m) => (m.id && m.id === incoming.id) || (incoming.clientId && m.clientId === incoming.clientId && m.senderId === incoming.senderId));
    if (at >= 0) messages[at] = { ...messages[at], ...incoming, state: "sent" };
    else messages.push({ ...incoming, state: "sent" });
    draw();
  }

  async function markRead() {
    const newest = [...messages].reverse().find((m) => m.id && m.senderId !== me);
    if (!newest || newest.id === lastReadSent || document.visibilityState === "hidden") return;
    lastReadSent = newest.id;
    try { await api(`/api/threads/${thread.id}/read`, { method: "POST", body: { messageId: newest.id } }); badgeRefresh(); }
    catch { lastReadSent = null; }
  }

  async function download(attachment) {
    try {
      const blob = await api(attachment.url, { blob: true });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: attachment.name });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { toast(errorText(err)); }
  }

  async function post(message) {
    try {
      const saved = await api(`/api/threads/${thread.id}/messages`, { method: "POST", body: { body: message.body, clientId: message.clientId, attachmentIds: message.attachmentIds || [] } });
      upsert(saved);
    } catch (err) {
      message.state = "failed";
      draw();
      toast(err instanceof ApiError && err.code === "rate_limited" ? "Slow down: too many messages this minute." : errorText(err));
    }
  }

  async function report(message) {
    const reason = window.prompt("Why are you reporting this message?");
    if (!reason || !reason.trim()) return;
    try { await api(`/api/messages/${message.id}/report`, { method: "POST", body: { reason: reason.trim().slice(0, 2000) } }); toast("Reported to the moderators."); }
    catch (err) { toast(errorText(err)); }
  }

  function retry(message) { message.state = "pending"; draw(); post(message); }

  async function send() {
    const text = body.value.trim();
    if (!text) return;
    const message = { clientId: crypto.randomUUID(), senderId: me, body: text, createdAt: new Date().toISOString(), attachments: [], state: "pending" };
    if (file.files.length) {
      const data = new FormData();
      data.append("file", file.files[0]);
      try {
        const attachment = await api(`/api/threads/${thread.id}/attachments`, { method: "POST", body: data });
        message.attachmentIds = [attachment.id];
        message.attachments = [attachment];
      } catch (err) { toast(errorText(err)); return; }
      file.value = "";
    }
    body.value = "";
    messages.push(message); // optimistic: shown at once, reconciled by clientId
    draw();
    await post(message);
  }

  let lastTyping = 0;
  body.addEventListener("input", () => {
    const now = Date.now();
    if (now - lastTyping >= TYPING_EVERY_MS) { lastTyping = now; realtime.send({ op: "typing", channel }); }
  });
  body.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });

  let typingTimer = null;
  const stopTyping = realtime.onEphemeral((frame) => {
    if (frame.op !== "typing" || frame.channel !== channel || frame.userId === me) return;
    typing.textContent = `${names[frame.userId] || "Someone"} is typing…`;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { typing.textContent = ""; }, TYPING_SHOWN_MS);
  });

  async function loadMessages() {
    const page = await api(`/api/threads/${thread.id}/messages?limit=50`);
    const pending = messages.filter((m) => m.state !== "sent");
    messages.length = 0;
    messages.push(...page.items.reverse().map((m) => ({ ...m, state: "sent" })), ...pending);
    const fresh = await optional(`/api/threads/${thread.id}`);
    if (fresh.ok) othersRead = fresh.data.participants.filter((p) => p.userId !== me).map((p) => p.lastReadMessageId).filter(Boolean);
    draw();
    markRead();
  }

  const stopChannel = realtime.subscribe(channel, (frame) => {
    if (frame.type === "message.created") {
      const d = frame.data;
      upsert({ id: d.messageId, threadId: d.threadId, senderId: d.senderId, body: d.body, clientId: d.clientId, createdAt: d.createdAt, attachments: d.attachments || [] });
      if (typing.textContent && d.senderId !== me) typing.textContent = "";
      markRead();
    } else if (frame.type === "message.read" && frame.data.userId !== me) {
      othersRead = [...othersRead.filter((x) => x !== frame.data.messageId), frame.data.messageId];
      draw();
    }
  }, { onReset: loadMessages });
  const onVisible = () => markRead();
  document.addEventListener("visibilitychange", onVisible);
  await loadMessages();
  body.focus();
  return () => { stopChannel(); stopTyping(); clearTimeout(typingTimer); document.removeEventListener("visibilitychange", onVisible); };
}

// --- listing page ----------------------------------------------------------------------------------

/** "Message the seller" on a listing page: opens (or finds) the caller's thread with a first message. */
export function messageSellerBox(listing) {
  const user = currentUser();
  const box = h("section", { class: "card", id: "message-seller", "aria-labelledby": "message-seller-title" });
  if (user && user.id === listing.sellerId) return null;
  const title = h("h2", { id: "message-seller-title" }, "Message the seller");
  if (!user) {
    replace(box, title, h("p", {}, h("a", { href: `/login?next=/listings/${listing.id}` }, "Log in"), " to ask the seller a question."));
    return box;
  }
  const text = h("textarea", { name: "body", id: "first-message", rows: 3, maxlength: 4000, required: true, "aria-label": "Your question" }, "Is this aircraft still available?");
  const outcome = h("div");
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const thread = await api("/api/threads", { method: "POST", body: { listingId: listing.id, body: text.value.trim(), clientId: crypto.randomUUID() } });
      navigate(`/messages/${thread.id}`);
    } catch (err) {
      replace(outcome, notice("bad", err instanceof ApiError && err.code === "blocked" ? "The seller does not accept your messages." : errorText(err)));
      button.disabled = false;
    }
  } }, text, h("button", { type: "submit", id: "message-seller-send" }, "Send message"));
  replace(box, title, form, outcome);
  optional(`/api/threads?listingId=${listing.id}&limit=1`).then((result) => {
    if (result.ok && result.data.items.length) {
      form.before(h("p", {}, h("a", { href: `/messages/${result.data.items[0].id}`, id: "open-thread" }, "Open your conversation about this aircraft")));
    }
  });
  return box;
}

// --- admin -----------------------------------------------------------------------------------------

/** The moderation queue on /admin: reported messages with their context. */
export function moderationPanel() {
  const list = h("div", { class: "stack", id: "moderation-queue" });
  const panel = h("section", { class: "card", "aria-labelledby": "moderation-title" }, h("h2", { id: "moderation-title" }, "Reported messages"), list);
  const load = async () => {
    const result = await optional("/api/admin/message-reports?limit=50");
    if (!result.ok) { replace(list, notice(result.missing ? "warn" : "bad", result.missing ? "Not available." : errorText(result.error))); return; }
    replace(list, result.data.items.length ? result.data.items.map((item) => h("article", { class: "card", dataset: { reportId: item.id } },
      h("p", {}, h("strong", {}, "Reason: "), item.reason),
      h("ol", { class: "messages small" }, [...item.context, item.message].map((m) => h("li", { class: `bubble${m.id === item.message.id ? " reported" : ""}` },
        h("span", { class: "who small muted" }, item.participants.find((p) => p.userId === m.senderId)?.displayName || "?"), h("p", { class: "text" }, m.body)))),
      h("div", { class: "row" }, h("a", { href: `/messages/${item.threadId}` }, "Open thread"),
        ["dismissed", "actioned"].map((status) => h("button", { type: "button", class: "secondary", onclick: async () => {
          await api(`/api/admin/message-reports/${item.id}`, { method: "PATCH", body: { status } });
          load();
        } }, status === "dismissed" ? "Dismiss" : "Mark actioned")))))
      : h("p", { class: "muted" }, "No open reports."));
  };
  load();
  return panel;
}
