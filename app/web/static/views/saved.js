// Saved searches: open or delete; new matches arrive as notifications.

import { api } from "../api.js";
import { errorText, h, notice, replace } from "../ui.js";

export async function savedView(main) {
  document.title = "Saved searches — ATP";
  const list = h("ul", { class: "results", id: "saved-list" });
  const message = h("div");
  main.append(h("h1", {}, "Saved searches"), h("p", { class: "muted" }, "New matches and price drops for these searches arrive as notifications."), message, list);

  async function load() {
    try {
      const items = await api("/api/saved-searches");
      replace(list, items.length ? items.map((item) => {
        const params = new URLSearchParams();
        for (const [key, value] of Object.entries(item.query || {})) if (value !== null && value !== "") params.set(key, value);
        return h("li", { class: "card row" }, h("a", { href: `/?${params}` }, item.name),
          h("span", { class: "muted small" }, params.toString().replaceAll("&", " · ") || "everything"),
          h("button", { type: "button", class: "secondary", "aria-label": `Delete saved search ${item.name}`, onclick: async () => {
            try { await api(`/api/saved-searches/${item.id}`, { method: "DELETE" }); load(); }
            catch (err) { replace(message, notice("bad", errorText(err))); }
          } }, "Delete"));
      }) : h("li", { class: "muted" }, "No saved searches yet: use “Save this search” on the search page."));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }
  await load();
  return null;
}
