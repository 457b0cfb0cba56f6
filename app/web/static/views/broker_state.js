// The dashboard's opening state: the broker's listings with counters (views, hold, line, offers), open
// deals with their next step, incoming offers and clients' holds — loaded over REST, then kept current
// from the user:<me> channel (offer, deal and hold events reload it, at most every half second).

import { api } from "../api.js";
import { realtime } from "../realtime.js";
import { debounce, errorText, flash, h, money, replace, statusPill, toast, when } from "../ui.js";
import { offerCard } from "./offers.js";

export function brokerStatePanel(me) {
  const listings = h("tbody", { id: "my-listings" });
  const deals = h("ul", { class: "feed", id: "open-deals" });
  const offers = h("div", { class: "stack", id: "incoming-offers" }, h("p", { class: "muted" }, "Loading offers…"));
  const holds = h("ul", { class: "feed", id: "client-holds" });
  const element = h("section", { class: "card panel stack", id: "broker-state", "aria-labelledby": "state-title" },
    h("h2", { id: "state-title" }, "My listings"),
    // A box of fixed height (scrolling, so focusable): the rows arriving move nothing below it.
    h("div", { class: "table-wrap fixed-box", tabindex: 0, "aria-label": "My listings" }, h("table", {}, h("thead", {}, h("tr", {},
      ["Listing", "Status", "Views", "Hold", "Line", "Offers", "Your move", "Unread"].map((t) => h("th", { scope: "col" }, t)))), listings)),
    h("h2", {}, "Open deals"), deals, h("h2", {}, "Incoming offers"), offers, h("h2", {}, "Clients' holds"), holds);

  async function load() {
    let s;
    try { s = await api("/api/dashboard/state"); } catch (err) { replace(listings, h("tr", {}, h("td", { colspan: 8 }, errorText(err)))); return; }
    replace(listings, s.listings.length ? s.listings.map((l) => h("tr", { dataset: { listingId: l.listingId } },
      h("td", {}, h("a", { href: `/listings/${l.listingId}` }, l.title), " ", h("span", { class: "muted small" }, money(l.price, l.currency))),
      h("td", {}, statusPill(l.status)), h("td", { class: "views" }, String(l.views)),
      h("td", {}, l.activeHoldUntil ? `until ${when(l.activeHoldUntil)}` : "—"), h("td", {}, String(l.waitlist)),
      h("td", { class: "open-offers" }, String(l.openOffers)), h("td", { class: "awaiting" }, String(l.offersAwaitingYou)),
      h("td", { class: "unread" }, String(l.unreadMessages))))
      : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No listings yet.")));
    replace(deals, s.deals.length ? s.deals.map(({ deal, nextStep }) => h("li", { dataset: { dealId: deal.id } },
      h("a", { href: `/deals/${deal.id}` }, money(deal.price, deal.currency)), " ", statusPill(deal.status), h("span", {}, ` next: ${nextStep}`)))
      : h("li", { class: "muted" }, "No open deals."));
    replace(offers, s.incomingOffers.length ? s.incomingOffers.map((o) => offerCard(o, me, load)) : h("p", { class: "muted" }, "No offers waiting for you."));
    replace(holds, s.clientHolds.length ? s.clientHolds.map((c) => h("li", {}, h("a", { href: `/listings/${c.listingId}` }, c.listingId.slice(0, 8)),
      ` client ${c.buyerId.slice(0, 8)} until ${when(c.expiresAt)}`)) : h("li", { class: "muted" }, "No client holds."));
  }
  const reload = debounce(load, 500);
  const stop = realtime.subscribe(`user:${me.id}`, (frame) => {
    if (!/^(offer|deal|hold|waitlist|reservation)\./.test(frame.type)) return;
    if (frame.type === "offer.created") toast("New offer received");
    flash(element, "cue");
    reload();
  }, { onReset: load });
  return { element, load, stop: () => { stop(); reload.cancel(); } };
}


