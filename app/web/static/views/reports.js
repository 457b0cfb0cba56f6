// Excel reports (API.md "Reports"): choose a kind and the search filters, watch the build live on the
// user's channel (report.progress / report.ready / report.failed), download by the signed link, retry.

import { api, currentUser } from "../api.js";
import { realtime } from "../realtime.js";
import { navigate } from "../router.js";
import { errorText, field, h, notice, replace, toast, when } from "../ui.js";

const KINDS = [["market", "Market: prices by type and period, listings, price history"], ["inventory", "Inventory: my listings with holds and activity"], ["deals", "Deals: my offers and deals with deposits and commissions"]];
// The search filters (GET /api/search): the same names, so a search page's URL opens a report of it.
const FILTERS = [
  ["q", "Words", "text"], ["manufacturer", "Manufacturer", "text"], ["model", "Model", "text"],
  ["yearMin", "Year from", "number"], ["yearMax", "Year to", "number"], ["priceMin", "Min price", "number"],
  ["priceMax", "Max price", "number"], ["hoursMax", "Max hours", "number"], ["country", "Country (ISO code)", "text"],
];
const NUMBERS = new Set(["yearMin", "yearMax", "hoursMax"]);
const LIVE_EVENTS = new Set(["report.progress", "report.ready", "report.failed"]);

/** The report body for these URL/search parameters (numbers where the API wants numbers). */
export function reportFilters(params) {
  const filters = {};
  for (const [name] of FILTERS) {
    const value = (params.get(name) || "").trim();
    if (!value) continue;
    if (NUMBERS.has(name)) filters[name] = Number(value);
    else if (name === "priceMin" || name === "priceMax") filters[name] = Number(value).toFixed(2);
    else filters[name] = name === "country" ? value.toUpperCase() : value;
  }
  return filters;
}

/** "Export to Excel" from another screen: open the Reports page, which asks for the report at once. */
export function exportToExcel(params, kind = "market") {
  const target = new URLSearchParams();
  for (const [name] of FILTERS) if (params.get(name)) target.set(name, params.get(name));
  target.set("kind", kind);
  target.set("export", "1");
  navigate(`/reports?${target}`);
}

function statusText(report) {
  if (report.status === "ready") return `Ready · ${report.rows?.toLocaleString("en-US") ?? 0} ${report.kind === "deals" ? "deals and offers" : "listings"}`;
  if (report.status === "failed") return "Failed";
  if (report.status === "running") return `Building… ${report.progress}%`;
  return "Queued";
}

function describe(filters) {
  const parts = Object.entries(filters || {}).filter(([, v]) => v !== null && v !== "").map(([k, v]) => `${k}: ${v}`);
  return parts.join(" · ") || "all listings";
}

export async function reportsView(main, _params, query) {
  document.title = "Reports — ATP";
  const me = currentUser();
  const kind = h("select", { name: "kind", id: "report-kind" },
    KINDS.map(([value, text]) => h("option", { value, selected: (query.get("kind") || "market") === value }, text)));
  const inputs = Object.fromEntries(FILTERS.map(([name, , type]) => [name, h("input", {
    name, type, value: query.get(name) || "", ...(type === "number" ? { inputmode: "numeric", min: 0 } : {}),
    ...(name === "country" ? { maxlength: 2, placeholder: "US" } : {}),
  })]));
  const message = h("div");
  const list = h("ul", { class: "results", id: "report-list", "aria-live": "polite" });
  const rows = new Map(); // report id -> {report, element}

  const form = h("form", { class: "card stack", id: "report-form", onsubmit: (e) => { e.preventDefault(); start(); } },
    field("Report", kind),
    h("details", { open: true }, h("summary", {}, "Filters (the same as search)"),
      h("div", { class: "filters" }, FILTERS.map(([name, label]) => field(label, inputs[name])))),
    h("div", { class: "row" }, h("button", { type: "submit", id: "report-start" }, "Create Excel report")));

  main.append(h("h1", {}, "Excel reports"),
    h("p", { class: "muted" }, "Reports are built in the background; you get a notification with the link when one is ready. Links work for 7 days."),
    message, form, h("h2", {}, "My reports"), list);

  function draw(report) {
    let entry = rows.get(report.id);
    const progress = h("progress", { class: "progress", max: 100, value: report.status === "ready" ? 100 : report.progress ?? 0, "aria-label": "Progress" });
    const actions = [];
    if (report.status === "ready" && report.downloadUrl) {
      actions.push(h("a", { class: "button", href: report.downloadUrl, download: "", dataset: { testid: "download" } }, "Download .xlsx"));
    }
    if (report.status === "failed") {
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => retry(report.id) }, "Retry"));
    }
    const element = h("li", { class: "card stack", dataset: { reportId: report.id, status: report.status } },
      h("div", { class: "row" }, h("strong", {}, report.kind === "market" ? "Market report" : report.kind === "inventory" ? "Inventory report" : "Deals report"),
        h("span", { class: "muted small" }, when(report.createdAt))),
      h("div", { class: "muted small" }, describe(report.filters)),
      h("div", { class: "row" }, progress, h("span", { class: "small", dataset: { testid: "report-status" } }, statusText(report))),
      report.error ? notice("bad", report.error) : null,
      report.status === "ready" && report.expiresAt ? h("div", { class: "muted small" }, `Link valid until ${when(report.expiresAt)}`) : null,
      actions.length ? h("div", { class: "row" }, ...actions) : null);
    if (entry) entry.element.replaceWith(element);
    else list.prepend(element);
    rows.set(report.id, { report, element });
  }

  async function load() {
    try {
      const page = await api("/api/reports?limit=50");
      rows.clear();
      replace(list);
      for (const report of [...page.items].reverse()) draw(report);
      if (!page.items.length) replace(list, h("li", { class: "muted", id: "no-reports" }, "No reports yet."));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }

  async function refetch(id) {
    try { draw(await api(`/api/reports/${id}`)); } catch (err) { replace(message, notice("bad", errorText(err))); }
  }

  async function start() {
    const params = new URLSearchParams();
    for (const [name] of FILTERS) if (inputs[name].value.trim()) params.set(name, inputs[name].value.trim());
    try {
      const accepted = await api("/api/reports", { method: "POST", body: { kind: kind.value, filters: reportFilters(params) } });
      document.getElementById("no-reports")?.remove();
      replace(message);
      await refetch(accepted.id);
      toast("Report requested: it is being built.");
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }

  async function retry(id) {
    try {
      await api(`/api/reports/${id}/retry`, { method: "POST" });
      await refetch(id);
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }

  function onEvent(frame) {
    if (!LIVE_EVENTS.has(frame.type)) return;
    const id = frame.data.reportId;
    const entry = rows.get(id);
    if (!entry) { refetch(id); return; }
    if (frame.type === "report.progress") {
      draw({ ...entry.report, status: "running", progress: frame.data.progress, rows: frame.data.rows });
    } else {
      refetch(id); // ready (with its link) or failed (with its reason): the API has the whole picture
    }
  }

  const stop = me ? realtime.subscribe(`user:${me.id}`, onEvent, { onReset: load }) : () => {};
  await load();
  if (query.get("export") === "1") {
    history.replaceState({}, "", "/reports"); // a reload must not ask for a second report
    await start();
  }
  return stop;
}
