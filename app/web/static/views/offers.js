// Offers: "Make an offer" on a listing, and the offers page for the buyer and the seller side
// (counter / accept / reject / withdraw), kept live from the caller's user:<id> channel.

import { ApiError, api, currentUser } from "../api.js";
import { realtime } from "../realtime.js";
import { navigate } from "../router.js";
import { errorText, field, h, money, notice, replace, statusPill, toast, when } from "../ui.js";

const NEGOTIATING = ["open", "countered"];

function side(offer, user) {
  if (!user) return null;
  if (offer.buyerId === user.id) return "buyer";
  if (offer.sellerId === user.id || offer.brokerId === user.id) return "seller";
  return null;
}

/** One offer with the actions the caller may take now; `changed` is called after a step. */
export function offerCard(offer, user, changed) {
  const mine = side(offer, user);
  const myTurn = mine && NEGOTIATING.includes(offer.status) && offer.turn === mine;
  const out = h("p", { class: "small", "aria-live": "polite" });
  async function step(path, body) {
    try {
      const result = await api(`/api/offers/${offer.id}/${path}`, { method: "POST", body });
      if (result?.deal) {
        navigate(`/deals/${result.deal.id}`);  // the deal is the next step for both sides
        return;
      }
      changed?.(result);
    } catch (err) {
      replace(out, notice("bad", errorText(err)));
    }
  }
  const amount = h("input", { name: "amount", inputmode: "decimal", class: "counter-amount", placeholder: offer.amount, "aria-label": "Counter amount" });
  const actions = [];
  if (myTurn) {
    actions.push(h("button", { type: "button", class: "accept-offer", onclick: () => step("accept") }, "Accept"),
      amount, h("button", { type: "button", class: "secondary counter-offer", onclick: () => amount.value.trim() && step("counter", { amount: amount.value.trim() }) }, "Counter"));
  }
  if (mine === "seller" && [...NEGOTIATING, "backup"].includes(offer.status)) {
    actions.push(h("button", { type: "button", class: "secondary reject-offer", onclick: () => step("reject") }, "Reject"));
  }
  if (mine === "buyer" && [...NEGOTIATING, "backup"].includes(offer.status)) {
    actions.push(h("button", { type: "button", class: "secondary withdraw-offer", onclick: () => step("withdraw") }, "Withdraw"));
  }
  const waiting = mine && NEGOTIATING.includes(offer.status) && !myTurn ? h("span", { class: "muted small" }, "Waiting for the other side") : null;
  return h("div", { class: "card offer-row stack", dataset: { offerId: offer.id, status: offer.status, turn: offer.turn } },
    h("div", { class: "row" }, h("strong", { class: "offer-amount" }, money(offer.amount, offer.currency)), statusPill(offer.status),
      h("a", { href: `/listings/${offer.listingId}` }, "Listing"), h("span", { class: "muted small" }, `expires ${when(offer.expiresAt)}`)),
    h("ol", { class: "small offer-history" }, (offer.history || []).map((s) =>
      h("li", {}, `${s.by} ${s.action}${s.amount && s.amount !== "0.00" ? ` ${money(s.amount, offer.currency)}` : ""} · ${when(s.at)}`))),
    h("div", { class: "row" }, actions, waiting), out);
}

/** The listing page's offer section: make an offer (verified buyer), see one's own offers on it. */
export function offerPanel(listing) {
  const user = currentUser();
  const box = h("section", { class: "card stack", id: "offer-box", "aria-labelledby": "offer-title" });
  const list = h("div", { class: "stack", id: "my-offers" });
  async function refresh() {
    if (!user) return;
    try {
      const page = await api(`/api/listings/${listing.id}/offers?limit=50`);
      replace(list, page.items.map((o) => offerCard(o, user, refresh)));
    } catch { /* not allowed to list: nothing to show */ }
  }
  const parts = [h("h2", { id: "offer-title" }, "Offers")];
  if (!user) {
    parts.push(h("p", {}, h("a", { href: `/login?next=/listings/${listing.id}` }, "Log in"), " as a verified buyer to make an offer."));
  } else if (user.id === listing.sellerId) {
    parts.push(h("p", {}, h("a", { href: "/offers?role=seller" }, "Offers received"), " — counter, accept or reject them live."));
  } else if (user.userType === "buyer") {
    const amount = h("input", { id: "offer-amount", name: "amount", inputmode: "decimal", required: true, placeholder: listing.price });
    const deposit = h("input", { id: "offer-deposit", name: "depositAmount", inputmode: "decimal", placeholder: "10% by default" });
    const inspection = h("input", { id: "offer-inspection", type: "checkbox", name: "prebuyInspection" });
    const outcome = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "stack", id: "offer-form", onsubmit: async (event) => {
      event.preventDefault();
      const conditions = { prebuyInspection: inspection.checked };
      if (deposit.value.trim()) conditions.depositAmount = deposit.value.trim();
      try {
        await api(`/api/listings/${listing.id}/offers`, { method: "POST", headers: { "Idempotency-Key": crypto.randomUUID() },
          body: { amount: amount.value.trim(), currency: listing.currency, conditions } });
        replace(outcome, notice("ok", "Offer sent to the seller."));
        refresh();
      } catch (err) {
        replace(outcome, notice("bad", err instanceof ApiError ? err.userMessage : errorText(err)));
      }
    } },
    field(`Amount (${listing.currency})`, amount), field("Deposit", deposit), h("label", { class: "row" }, inspection, "Pre-buy inspection"),
    h("button", { type: "submit", id: "make-offer" }, "Make an offer"), outcome);
    parts.push(form);
  }
  parts.push(list);
  replace(box, parts);
  refresh();
  const stop = user ? realtime.subscribe(`user:${user.id}`, (frame) => {
    if (frame.type.startsWith("offer.") && frame.data.listingId === listing.id) refresh();
  }, { onReset: refresh }) : () => {};
  return { element: box, stop };
}

export async function offersView(main, _params, query) {
  const user = currentUser();
  const role = query.get("role") === "seller" ? "seller" : query.get("role") === "buyer" ? "buyer" : (user.userType === "buyer" ? "buyer" : "seller");
  document.title = "Offers — ATP";
  const list = h("div", { class: "stack", id: "offers-list" });
  main.append(h("h1", {}, role === "seller" ? "Offers received" : "My offers"),
    h("p", { class: "row" }, h("a", { href: "/offers?role=buyer" }, "Made"), " · ", h("a", { href: "/offers?role=seller" }, "Received"),
      " · ", h("a", { href: "/plans" }, "Plan")), list);
  async function refresh() {
    try {
      const page = await api(`/api/offers?role=${role}&limit=100`);
      replace(list, page.items.length ? page.items.map((o) => offerCard(o, user, refresh)) : h("p", { class: "muted" }, "No offers yet."));
    } catch (err) {
      replace(list, notice("bad", errorText(err)));
    }
  }
  await refresh();
  return realtime.subscribe(`user:${user.id}`, (frame) => {
    if (frame.type.startsWith("offer.") || frame.type.startsWith("deal.")) {
      if (frame.type === "offer.created" && role === "seller") toast("New offer received");
      refresh();
    }
  }, { onReset: refresh });
}
