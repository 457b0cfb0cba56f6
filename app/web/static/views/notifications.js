// Notifications list: mark one or all read; hidden when the server has no notifications endpoint.

import { api, optional } from "../api.js";
import { setUnread } from "../bell.js";
import { errorText, h, notice, replace, when } from "../ui.js";

export async function notificationsView(main) {
  document.title = "Notifications — ATP";
  const list = h("ul", { class: "results", id: "notification-list" });
  const message = h("div");
  main.append(h("div", { class: "row" }, h("h1", {}, "Notifications"),
    h("button", { type: "button", class: "secondary", onclick: readAll }, "Mark all read")), message, list);

  async function load() {
    const result = await optional("/api/notifications?limit=50");
    if (!result.ok) {
      replace(message, notice(result.missing ? "warn" : "bad", result.missing ? "Notifications are not available on this server yet." : errorText(result.error)));
      return;
    }
    replace(list, result.data.items.map((item) => h("li", { class: "card" },
      h("strong", {}, item.title), item.readAt ? null : h("span", { class: "status-pill status-on_hold" }, "new"),
      item.body ? h("p", {}, item.body) : null,
      h("div", { class: "row small muted" }, when(item.createdAt),
        item.link ? h("a", { href: item.link }, "Open") : null,
        item.readAt ? null : h("button", { type: "button", class: "secondary", onclick: async () => { await api(`/api/notifications/${item.id}/read`, { method: "POST" }); refreshCount(); load(); } }, "Mark read")))));
    if (!result.data.items.length) replace(list, h("li", { class: "muted" }, "Nothing yet."));
  }

  async function refreshCount() {
    const count = await optional("/api/notifications/unread-count");
    if (count.ok) setUnread(count.data.count);
  }

  async function readAll() {
    try { await api("/api/notifications/read-all", { method: "POST" }); setUnread(0); load(); }
    catch (err) { replace(message, notice("bad", errorText(err))); }
  }

  await load();
  return null;
}
