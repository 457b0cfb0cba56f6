// Admin: verification review queue, suspend/restore users and listings (existing admin endpoints).

import { api, optional } from "../api.js";
import { errorText, field, h, listingName, notice, replace, statusPill, toast, when } from "../ui.js";
import { moderationPanel } from "./messages.js";
import { riskAdminSection } from "./market.js";

export async function adminView(main) {
  document.title = "Admin — ATP";
  const queue = h("div", { class: "stack", id: "review-queue" });
  const users = h("tbody", { id: "admin-users" });
  const listings = h("tbody", { id: "admin-listings" });
  const userFilter = h("select", { name: "status" }, [["", "All"], ["active", "Active"], ["suspended", "Suspended"], ["pending", "Pending"]].map(([v, t]) => h("option", { value: v }, t)));
  const listingFilter = h("select", { name: "status" }, [["active", "Active"], ["on_hold", "On hold"], ["suspended", "Suspended"]].map(([v, t]) => h("option", { value: v }, t)));
  // The sections appear together once their first data is in (a page that grows while it loads shifts
  // under the reader: CLS); the reports panel, loading on its own, goes last so it pushes nothing down.
  const loading = h("p", { class: "muted", id: "admin-loading" }, "Loading…");
  const body = h("div", { class: "stack", hidden: true });
  main.append(h("h1", {}, "Administration"), loading, body);
  body.append(
    h("section", { class: "card", "aria-labelledby": "queue-title" }, h("h2", { id: "queue-title" }, "Verification queue"), queue),
    h("section", { class: "card", "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"), field("Show users", userFilter),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Email", "Type", "Level", "Status", ""].map((t) => h("th", { scope: "col" }, t || h("span", { class: "visually-hidden" }, "Actions"))))), users))),
    h("section", { class: "card", "aria-labelledby": "listings-title" }, h("h2", { id: "listings-title" }, "Listings"), field("Show listings", listingFilter),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Aircraft", "Tail", "Status", ""].map((t) => h("th", { scope: "col" }, t || h("span", { class: "visually-hidden" }, "Actions"))))), listings))),
    moderationPanel());
  // The risk flags load on their own: placed after the sections once those are shown.
  const risk = riskAdminSection();

  async function loadQueue() {
    const result = await optional("/api/admin/verifications?status=manual_review");
    if (!result.ok) {
      replace(queue, result.missing ? h("p", { class: "muted" }, "Verification review is not available on this server yet.") : notice("bad", errorText(result.error)));
      return;
    }
    const cases = await Promise.all(result.data.items.map(async (summary) => {
      const detail = await optional(`/api/verification/${summary.id}`);
      return detail.ok ? detail.data : summary;
    }));
    replace(queue, cases.length ? cases.map(reviewCard) : h("p", { class: "muted" }, "Nothing waits for review."));
  }

  function reviewCard(v) {
    const comments = h("textarea", { name: "comments", rows: 2 });
    const decide = (decision) => async () => {
      try {
        await api(`/api/verification/${v.id}/review`, { method: "POST", body: { decision, comments: comments.value.trim() } });
        toast(`Verification ${decision.replace("_", " ")}d`);
        loadQueue();
      } catch (err) { toast(errorText(err)); }
    };
    const documents = v.documents || [];
    const hits = v.issues || [];
    const openDocument = (d) => async () => {
      // Documents need the admin's token: fetched as a blob, shown from a blob: URL (CSP allows it).
      try { window.open(URL.createObjectURL(await api(`/api/verification/${v.id}/documents/${d.id}`, { blob: true })), "_blank", "noopener"); }
      catch (err) { toast(errorText(err)); }
    };
    return h("article", { class: "card stack", dataset: { verificationId: v.id } },
      h("div", { class: "row" }, h("strong", {}, `${v.verificationType} ${v.tailNumber || ""} ${String(v.id).slice(0, 8)}`), statusPill(v.status), h("span", { class: "muted small" }, `submitted ${when(v.submittedAt || v.createdAt)}`)),
      h("p", { class: "small" }, `Subject ${String(v.subjectId).slice(0, 8)}`),
      documents.length ? h("ul", {}, documents.map((d) => h("li", {}, h("button", { type: "button", class: "secondary", onclick: openDocument(d) }, `${d.kind}: ${d.fileName}`), ` ${Math.round(d.sizeBytes / 1024)} KB`))) : h("p", { class: "muted" }, "No documents."),
      hits.length ? h("div", {}, h("strong", {}, "Screening hits and issues"), h("ul", {}, hits.map((hit) => h("li", {}, Object.entries(hit).map(([k, val]) => `${k}: ${typeof val === "object" ? JSON.stringify(val) : val}`).join(" · "))))) : null,
      (v.results || []).length ? h("ul", { class: "small" }, v.results.map((r) => h("li", {}, `${r.check}: ${r.status}${r.detail ? ` — ${r.detail}` : ""}`))) : null,
      field("Comments", comments),
      h("div", { class: "row" }, h("button", { type: "button", onclick: decide("approve") }, "Approve"),
        h("button", { type: "button", class: "danger", onclick: decide("reject") }, "Reject"),
        h("button", { type: "button", class: "secondary", onclick: decide("request_documents") }, "Request documents")));
  }

  // A filter change and an action can reload the same table at once: only the latest answer is drawn.
  const latest = { users: 0, listings: 0 };

  async function loadUsers() {
    const ticket = ++latest.users;
    try {
      const page = await api(`/api/admin/users?limit=50${userFilter.value ? `&status=${userFilter.value}` : ""}`);
      if (ticket !== latest.users) return;
      replace(users, page.items.map((u) => h("tr", {}, h("td", {}, u.email), h("td", {}, u.userType), h("td", {}, String(u.verificationLevel)), h("td", {}, statusPill(u.status)),
        h("td", {}, u.userType === "admin" ? null : h("button", { type: "button", class: u.status === "suspended" ? "secondary" : "danger", onclick: async () => {
          try { await api(`/api/admin/users/${u.id}`, { method: "PATCH", body: { status: u.status === "suspended" ? "active" : "suspended" } }); loadUsers(); }
          catch (err) { toast(errorText(err)); }
        } }, u.status === "suspended" ? "Restore" : "Suspend")))));
    } catch (err) { replace(users, h("tr", {}, h("td", { colspan: 5 }, errorText(err)))); }
  }

  async function loadListings() {
    const ticket = ++latest.listings;
    try {
      const page = await api(`/api/listings?limit=50&status=${listingFilter.value}`);
      if (ticket !== latest.listings) return;
      replace(listings, page.items.map((l) => h("tr", {}, h("td", {}, h("a", { href: `/listings/${l.id}` }, listingName(l))), h("td", {}, l.tailNumber), h("td", {}, statusPill(l.status)),
        h("td", {}, h("button", { type: "button", class: l.status === "suspended" ? "secondary" : "danger", onclick: async () => {
          try { await api(`/api/listings/${l.id}`, { method: "PATCH", body: { status: l.status === "suspended" ? "active" : "suspended" } }); loadListings(); }
          catch (err) { toast(errorText(err)); }
        } }, l.status === "suspended" ? "Restore" : "Suspend")))));
    } catch (err) { replace(listings, h("tr", {}, h("td", { colspan: 4 }, errorText(err)))); }
  }

  userFilter.addEventListener("change", loadUsers);
  listingFilter.addEventListener("change", loadListings);
  await Promise.all([loadQueue(), loadUsers(), loadListings()]);
  loading.remove();
  body.hidden = false;
  main.append(risk);
  return () => risk.stop();
}
