// A buyer's holds and places in line: expiry in their time zone with a live countdown; release or leave.

import { api, optional } from "../api.js";
import { countdown, errorText, h, listingName, notice, replace, toast, whenZoned } from "../ui.js";

export async function holdsView(main) {
  document.title = "My holds and waitlists — ATP";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const holds = h("ul", { class: "results", id: "my-holds" });
  const lines = h("ul", { class: "results", id: "my-waitlists" });
  const message = h("div");
  main.append(h("h1", {}, "My holds and waitlists"), message,
    h("p", { class: "muted small" }, `Times are shown in your time zone (${zone}).`),
    h("section", { "aria-labelledby": "holds-title" }, h("h2", { id: "holds-title" }, "Holds"), holds),
    h("section", { "aria-labelledby": "lines-title" }, h("h2", { id: "lines-title" }, "Waitlists"), lines));

  const names = new Map();
  async function nameOf(listingId) {
    if (!names.has(listingId)) {
      names.set(listingId, optional(`/api/listings/${listingId}`).then((r) => (r.ok ? listingName(r.data) : "Aircraft")));
    }
    return names.get(listingId);
  }

  async function load() {
    try {
      const [mine, waiting] = await Promise.all([api("/api/holds?status=active&limit=50"), optional("/api/waitlists")]);
      const holdItems = await Promise.all(mine.items.map(async (hold) => h("li", { class: "card", dataset: { holdId: hold.id } },
        h("a", { class: "title", href: `/listings/${hold.listingId}` }, await nameOf(hold.listingId)),
        h("p", { class: "small" }, `Held until ${whenZoned(hold.expiresAt)} · `, countdown(hold.expiresAt)),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { await api(`/api/holds/${hold.id}`, { method: "DELETE" }); toast("Hold released."); load(); }
          catch (err) { toast(errorText(err)); }
        } }, "Release hold"))));
      replace(holds, holdItems.length ? holdItems : h("li", { class: "muted" }, "No active holds."));
      const lineItems = waiting.ok ? await Promise.all(waiting.data.map(async (line) => h("li", { class: "card", dataset: { listingId: line.listingId } },
        h("a", { class: "title", href: `/listings/${line.listingId}` }, await nameOf(line.listingId)),
        h("p", { class: "small" }, `You are #${line.position} in line.`),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { await api(`/api/listings/${line.listingId}/waitlist`, { method: "DELETE" }); toast("You left the waitlist."); load(); }
          catch (err) { toast(errorText(err)); }
        } }, "Leave waitlist")))) : [];
      replace(lines, lineItems.length ? lineItems : h("li", { class: "muted" }, "You are not in line for any aircraft."));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }
  await load();
  return null;
}
