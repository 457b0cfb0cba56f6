// Deal page: milestones (accepted → deposit → closed), the deposit "Pay" through the provider
// (the sandbox in development), close and fall-through; live from the caller's user:<id> channel.

import { api, currentUser, hasRole } from "../api.js";
import { realtime } from "../realtime.js";
import { errorText, h, money, notice, replace, statusPill, when } from "../ui.js";

export async function dealView(main, { id }) {
  const user = currentUser();
  const box = h("div", { class: "stack", id: "deal" });
  const out = h("div", { "aria-live": "polite", id: "deal-outcome" });
  main.append(h("h1", {}, "Deal"), box, out);
  document.title = "Deal — ATP";
  let payment = null;

  async function act(fn) {
    try { await fn(); await refresh(); } catch (err) { replace(out, notice("bad", errorText(err))); }
  }

  async function refresh() {
    let deal;
    try { deal = await api(`/api/deals/${encodeURIComponent(id)}`); } catch (err) { replace(box, notice("bad", errorText(err))); return; }
    const isBuyer = deal.buyerId === user.id;
    const isSeller = deal.sellerId === user.id || deal.brokerId === user.id || hasRole("admin");
    const open = deal.status === "under_contract";
    const steps = [
      ["Offer accepted", true, when(deal.createdAt)],
      [`Deposit ${money(deal.deposit.amount, deal.currency)}`, ["paid", "refunded"].includes(deal.deposit.status), deal.deposit.status],
      ["Closed", deal.status === "closed", deal.closedAt ? when(deal.closedAt) : ""],
    ];
    const actions = [];
    if (isBuyer && open && ["required", "pending"].includes(deal.deposit.status)) {
      if (!payment) {
        actions.push(h("button", { type: "button", id: "pay-deposit", onclick: () => act(async () => {
          payment = await api(`/api/deals/${deal.id}/deposit`, { method: "POST", headers: { "Idempotency-Key": crypto.randomUUID() } });
        }) }, "Pay deposit"));
      } else {
        actions.push(h("p", { class: "muted small" }, `Payment ${payment.providerPaymentId} (${payment.provider}) is waiting for confirmation.`));
        if (payment.provider === "sandbox") {
          actions.push(h("button", { type: "button", id: "confirm-payment", onclick: () => act(async () => {
            await api(`/api/payments/sandbox/${payment.id}/succeed`, { method: "POST" });
          }) }, "Pay"));
        }
      }
    }
    if (isSeller && open && deal.deposit.status === "paid") {
      actions.push(h("button", { type: "button", id: "close-deal", onclick: () => act(() => api(`/api/deals/${deal.id}/close`, { method: "POST" })) }, "Close deal"));
    }
    if (open) {
      actions.push(h("button", { type: "button", class: "secondary", id: "fall-through", onclick: () => act(() =>
        api(`/api/deals/${deal.id}/fall-through`, { method: "POST", body: { reason: "called off from the deal page" } })) }, "Call off"));
    }
    replace(box,
      h("p", { class: "row" }, h("strong", { class: "price" }, money(deal.price, deal.currency)), h("span", { id: "deal-status" }, statusPill(deal.status)),
        h("a", { href: `/listings/${deal.listingId}` }, "Listing")),
      h("ol", { class: "milestones" }, steps.map(([label, done, note]) =>
        h("li", { class: done ? "done" : "todo" }, done ? "✓ " : "○ ", label, note ? h("span", { class: "muted small" }, ` · ${note}`) : null))),
      h("p", {}, "Deposit: ", h("span", { id: "deposit-status" }, deal.deposit.status)),
      deal.commission.amount ? h("p", { class: "muted small" }, `Commission ${money(deal.commission.amount, deal.currency)} at ${Number(deal.commission.rate) * 100}%`) : null,
      h("div", { class: "row" }, actions));
  }
  await refresh();
  return realtime.subscribe(`user:${user.id}`, (frame) => {
    if (frame.type.startsWith("deal.") && frame.data.dealId === id) refresh();
  }, { onReset: refresh });
}
