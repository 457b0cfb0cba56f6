// Plans: price, commission and limits; subscribe (paid through the provider), cancel at period end.

import { api, optional } from "../api.js";
import { errorText, h, money, notice, replace, when } from "../ui.js";

export async function plansView(main) {
  document.title = "Plans — ATP";
  const box = h("div", { class: "stack", id: "plans" });
  const out = h("div", { "aria-live": "polite" });
  main.append(h("h1", {}, "Plans"), out, box);

  async function act(fn) {
    try { await fn(); await refresh(); } catch (err) { replace(out, notice("bad", errorText(err))); }
  }

  async function refresh() {
    const [plans, current] = await Promise.all([api("/api/plans"), optional("/api/subscriptions/current")]);
    const sub = current.ok ? current.data : null;
    const head = sub
      ? h("div", { class: "card", id: "current-plan" }, `Your plan: ${sub.planId} (${sub.status})`,
        sub.currentPeriodEnd ? ` until ${when(sub.currentPeriodEnd)}` : "", sub.cancelAtPeriodEnd ? " · ends then" : "",
        sub.status === "incomplete" && sub.payment ? h("button", { type: "button", id: "confirm-subscription",
          onclick: () => act(() => api(`/api/payments/sandbox/${sub.payment.id}/succeed`, { method: "POST" })) }, "Pay") : null,
        !sub.cancelAtPeriodEnd ? h("button", { type: "button", class: "secondary", id: "cancel-plan",
          onclick: () => act(() => api("/api/subscriptions/current", { method: "DELETE" })) }, "Cancel at period end") : null)
      : h("p", { class: "muted" }, "No subscription: basic commission applies.");
    replace(box, head, plans.map((p) => h("div", { class: "card stack plan", dataset: { plan: p.id } },
      h("h2", {}, p.id), h("p", { class: "price" }, `${money(p.price, p.currency)} / ${p.interval}`),
      h("ul", { class: "small" }, h("li", {}, `Commission ${(Number(p.commissionRate) * 100).toFixed(1)}%`),
        h("li", {}, `${p.limits.activeListings} active listings, ${p.limits.featuredListings} featured`),
        h("li", {}, `${p.limits.apiRequestsPerMinute} API requests/min, ${p.limits.seats} seats`)),
      sub ? null : h("button", { type: "button", class: "subscribe", onclick: () => act(async () => {
        const created = await api("/api/subscriptions", { method: "POST", body: { planId: p.id } });
        if (created.payment) await api(`/api/payments/sandbox/${created.payment.id}/succeed`, { method: "POST" }).catch(() => null);
      }) }, `Choose ${p.id}`))));
  }
  await refresh();
  return null;
}
