// Market intelligence: the valuation band with its comparables, the type's market trend, risk flags
// (owner, admin), and the "What is my aircraft worth?" page. Charts are drawn as SVG, never tables.

import { api, currentUser, hasRole, optional } from "../api.js";
import { realtime } from "../realtime.js";
import { errorText, h, money, notice, replace, svg } from "../ui.js";

const W = 600;
const PAD = { left: 70, right: 16, top: 16, bottom: 28 };

// A horizontal band from low to high with the estimate (and the asking price, when there is one) marked.
export function bandChart(valuation, asking) {
  const H = 90;
  const low = Number(valuation.low);
  const high = Number(valuation.high);
  const mid = Number(valuation.estimate.amount);
  const currency = valuation.estimate.currency;
  const values = [low, high, mid, ...(asking ? [Number(asking.amount)] : [])];
  let min = Math.min(...values) * 0.95;
  let max = Math.max(...values) * 1.05;
  if (min === max) { min -= 1; max += 1; }
  const x = (v) => PAD.left + ((v - min) / (max - min)) * (W - PAD.left - PAD.right);
  const label = `Estimate ${money(mid, currency)}, likely between ${money(low, currency)} and ${money(high, currency)}`
    + (asking ? `; asking ${money(asking.amount, asking.currency)}` : "");
  const parts = [
    svg("title", {}, label),
    svg("line", { class: "axis", x1: PAD.left, y1: 60, x2: W - PAD.right, y2: 60 }),
    svg("rect", { class: "band", x: x(low), y: 30, width: Math.max(2, x(high) - x(low)), height: 24, rx: 4 }),
    svg("line", { class: "estimate", x1: x(mid), y1: 24, x2: x(mid), y2: 60 }),
    svg("text", { x: x(low), y: 78, "text-anchor": "middle" }, money(low, currency)),
    svg("text", { x: x(high), y: 78, "text-anchor": "middle" }, money(high, currency)),
    svg("text", { x: x(mid), y: 18, "text-anchor": "middle", class: "strong" }, money(mid, currency)),
  ];
  if (asking) {
    parts.push(svg("circle", { class: "asking", cx: x(Number(asking.amount)), cy: 42, r: 6 }),
      svg("text", { x: x(Number(asking.amount)), y: 90, "text-anchor": "middle" }, "asking"));
  }
  return h("figure", { class: "chart", dataset: { testid: "estimate-band" } },
    svg("svg", { viewBox: `0 0 ${W} ${H + 6}`, role: "img", "aria-label": label }, ...parts),
    h("figcaption", { class: "muted small" }, label));
}

// Median per period with the 25-75 % range shaded; listings and sales counted in the caption.
export function trendChart(series, currency, title) {
  const H = 220;
  const figure = h("figure", { class: "chart", dataset: { testid: "trend-chart" } });
  if (!series.length) {
    figure.append(h("p", { class: "muted" }, "No market data for this type yet."));
    return figure;
  }
  // One period is drawn as a level across the chart (as the price history does), not a lonely dot.
  const drawn = series.length === 1 ? [series[0], series[0]] : series;
  const t = series.length === 1 ? [0, 1] : series.map((p) => new Date(p.period).getTime());
  const lo = Math.min(...series.map((p) => Number(p.p25)));
  const hi = Math.max(...series.map((p) => Number(p.p75)));
  const low = lo === hi ? lo * 0.9 : lo;
  const high = lo === hi ? hi * 1.1 : hi;
  const t0 = Math.min(...t);
  const t1 = Math.max(...t, t0 + 1);
  const x = (v) => PAD.left + ((v - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - low) / (high - low)) * (H - PAD.top - PAD.bottom);
  const upper = drawn.map((p, i) => `${x(t[i]).toFixed(1)},${y(Number(p.p75)).toFixed(1)}`);
  const lower = drawn.map((p, i) => `${x(t[i]).toFixed(1)},${y(Number(p.p25)).toFixed(1)}`).reverse();
  const line = drawn.map((p, i) => `${i ? "L" : "M"}${x(t[i]).toFixed(1)},${y(Number(p.median)).toFixed(1)}`).join(" ");
  const listings = series.reduce((n, p) => n + p.listings, 0);
  const sales = series.reduce((n, p) => n + p.sales, 0);
  const last = series[series.length - 1];
  const label = `${title}: median ${money(series[0].median, currency)} in ${series[0].period.slice(0, 7)}, `
    + `${money(last.median, currency)} in ${last.period.slice(0, 7)}; ${listings} priced listings, ${sales} sales`;
  figure.append(svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
    svg("title", {}, label),
    svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg("polygon", { class: "range", points: [...upper, ...lower].join(" ") }),
    svg("path", { class: "line", d: line }),
    ...drawn.slice(0, series.length).map((p, i) => svg("circle", { class: "dot", cx: x(t[i]), cy: y(Number(p.median)), r: 3 })),
    svg("text", { x: PAD.left - 6, y: y(high) + 4, "text-anchor": "end" }, money(high, currency)),
    svg("text", { x: PAD.left - 6, y: y(low) + 4, "text-anchor": "end" }, money(low, currency)),
    svg("text", { x: PAD.left, y: H - 8 }, series[0].period.slice(0, 7)),
    svg("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, last.period.slice(0, 7))),
  h("figcaption", { class: "muted small" }, label));
  return figure;
}

function comparablesList(valuation) {
  if (!valuation.comparables.length) return h("p", { class: "muted" }, "No comparable aircraft are listed yet.");
  return h("ul", { class: "comparables", dataset: { testid: "comparables" } }, valuation.comparables.map((c) =>
    h("li", {},
      h("a", { href: `/listings/${c.listingId}` }, `${c.yearManufactured} ${c.manufacturer} ${c.model}`),
      ` · ${c.hoursTotal.toLocaleString("en-US")} h · ${money(c.price.amount, c.price.currency)} · ${c.status.replace("_", " ")}`,
      h("span", { class: "muted small" }, ` · similarity ${Math.round(c.similarity * 100)}%`))));
}

function valuationBlock(valuation, asking) {
  const how = valuation.method === "model"
    ? `Model ${valuation.modelVersion}, confidence ${Math.round(valuation.confidence * 100)}%`
    : `Median of comparable aircraft (no trained model yet), confidence ${Math.round(valuation.confidence * 100)}%`;
  return [
    valuation.matchedType ? notice("warn", `Unknown type: valued as the closest family, ${valuation.matchedType}.`) : null,
    bandChart(valuation, asking),
    h("p", { class: "muted small", dataset: { testid: "estimate-method" } }, how),
    h("h3", {}, "Comparable aircraft"),
    comparablesList(valuation),
  ];
}

async function trendFor(manufacturer, model, currency) {
  const query = new URLSearchParams({ manufacturer, model, interval: "month", currency });
  const result = await optional(`/api/analytics/prices?${query}`);
  if (!result.ok) {
    const usd = await optional(`/api/analytics/prices?${new URLSearchParams({ manufacturer, model })}`);
    return usd.ok ? trendChart(usd.data.series, "USD", `${manufacturer} ${model}`) : null;
  }
  return trendChart(result.data.series, result.data.currency, `${manufacturer} ${model}`);
}

// The listing page's market section: estimate band, comparables, the type's trend, risk flags for the owner.
export function marketSection(listing) {
  const box = h("section", { class: "stack", id: "market", "aria-labelledby": "market-title" },
    h("h2", { id: "market-title" }, "Market value"), h("p", { class: "muted" }, "Estimating…"));
  (async () => {
    const parts = [h("h2", { id: "market-title" }, "Market value")];
    const estimate = await optional(`/api/listings/${listing.id}/estimate`);
    if (estimate.ok) parts.push(...valuationBlock(estimate.data, { amount: listing.price, currency: listing.currency }));
    else parts.push(h("p", { class: "muted" }, "Not enough market data to value this aircraft yet."));
    const user = currentUser();
    if (user && (user.id === listing.sellerId || hasRole("admin"))) {
      const risk = await optional(`/api/listings/${listing.id}/risk`);
      if (risk.ok && risk.data.flags.length) {
        parts.push(h("div", { class: "risk", dataset: { testid: "risk-flags" } }, h("h3", {}, "Risk flags"),
          h("ul", {}, risk.data.flags.map((f) => h("li", {}, h("span", { class: `pill risk-${f.severity}` }, f.code.replaceAll("_", " ")), " ", f.detail)))));
      }
    }
    parts.push(h("h3", {}, `Market trend: ${listing.manufacturer} ${listing.model}`));
    const trend = await trendFor(listing.manufacturer, listing.model, listing.currency);
    if (trend) parts.push(trend);
    replace(box, parts);
  })().catch((err) => replace(box, h("h2", { id: "market-title" }, "Market value"), notice("bad", errorText(err))));
  return box;
}

// "/market": what is my aircraft worth?
export async function marketView(main, _params, query) {
  document.title = "What is my aircraft worth? — ATP";
  const result = h("div", { class: "stack", id: "worth-result", "aria-live": "polite" });
  const field = (name, label, attrs = {}) => h("label", {}, label, h("input", { name, required: true, value: query.get(name) || "", ...attrs }));
  const form = h("form", { class: "card stack", id: "worth-form" },
    field("manufacturer", "Manufacturer", { maxlength: 100, placeholder: "Cessna" }),
    field("model", "Model", { maxlength: 100, placeholder: "172 Skyhawk" }),
    field("yearManufactured", "Year built", { type: "number", min: 1903, max: 2100 }),
    field("hoursTotal", "Total hours", { type: "number", min: 0, max: 200000 }),
    h("button", { type: "submit" }, "Estimate"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const body = { manufacturer: data.manufacturer.trim(), model: data.model.trim(),
      yearManufactured: Number(data.yearManufactured), hoursTotal: Number(data.hoursTotal) };
    replace(result, h("p", { class: "muted" }, "Estimating…"));
    try {
      const valuation = await api("/api/analytics/estimate", { method: "POST", body });
      const parts = [h("h2", {}, `${body.yearManufactured} ${body.manufacturer} ${body.model}`), ...valuationBlock(valuation)];
      const [maker, model] = valuation.matchedType && valuation.comparables[0]
        ? [valuation.comparables[0].manufacturer, valuation.comparables[0].model] : [body.manufacturer, body.model];
      parts.push(h("h3", {}, `Market trend: ${maker} ${model}`));
      const trend = await trendFor(maker, model, "USD");
      if (trend) parts.push(trend);
      replace(result, parts);
    } catch (err) {
      replace(result, notice("bad", errorText(err)));
    }
  });
  main.append(h("h1", {}, "What is my aircraft worth?"),
    h("p", { class: "muted" }, "An estimate from recent listings and sales, with the aircraft it is based on."), form, result);
  return null;
}


// The admin screen's risk list: flagged listings with their evidence, refreshed live on `risk.flagged`.
export function riskAdminSection() {
  const list = h("div", { class: "stack", id: "risk-list", dataset: { testid: "risk-admin" } });
  const box = h("section", { class: "card", "aria-labelledby": "risk-title" }, h("h2", { id: "risk-title" }, "Risk flags"), list);
  async function load() {
    const result = await optional("/api/admin/risk?limit=50");
    if (!result.ok) { replace(list, notice("bad", errorText(result.error))); return; }
    replace(list, result.data.items.length ? result.data.items.map((item) => h("article", { class: "risk" },
      h("h3", {}, h("a", { href: `/listings/${item.listingId}` }, `${item.yearManufactured} ${item.manufacturer} ${item.model}`),
        " ", h("span", { class: "muted small" }, item.status.replace("_", " "))),
      h("ul", {}, item.flags.map((f) => h("li", {},
        h("span", { class: `pill risk-${f.severity}` }, f.code.replaceAll("_", " ")), " ", f.detail,
        h("details", {}, h("summary", {}, "Evidence"), h("pre", { class: "small" }, JSON.stringify(f.evidence, null, 2))))))))
      : h("p", { class: "muted" }, "No open risk flags."));
  }
  box.stop = realtime.subscribe("admin", (frame) => { if (frame.type === "risk.flagged") load(); }, { onReset: load });
  load();
  return box;
}

// The broker dashboard's market movement: for each type the broker lists, the monthly median as a small
// drawn line and its change over the last period.
export function marketMovementSection(user) {
  // A feed scrolls on its own: focusable, so it can be scrolled from the keyboard.
  const list = h("ul", { class: "feed", id: "market-movement", tabindex: 0, "aria-labelledby": "movement-title", dataset: { testid: "market-movement" } });
  const box = h("section", { class: "card panel", "aria-labelledby": "movement-title" },
    h("h2", { id: "movement-title" }, "Market movement of your types"), list);
  (async () => {
    const mine = await optional(`/api/listings?sellerId=${encodeURIComponent(user.id)}&limit=100`);
    const types = new Map();
    for (const l of mine.ok ? mine.data.items : []) types.set(`${l.manufacturer}|${l.model}`, [l.manufacturer, l.model]);
    if (!types.size) { replace(list, h("li", { class: "muted" }, "List an aircraft to follow its market here.")); return; }
    const rows = await Promise.all([...types.values()].slice(0, 8).map(async ([manufacturer, model]) => {
      const result = await optional(`/api/analytics/prices?${new URLSearchParams({ manufacturer, model, interval: "month" })}`);
      const series = result.ok ? result.data.series : [];
      if (!series.length) return h("li", {}, `${manufacturer} ${model}: `, h("span", { class: "muted" }, "no market data yet"));
      const medians = series.map((p) => Number(p.median));
      const last = medians[medians.length - 1];
      const before = medians.length > 1 ? medians[medians.length - 2] : null;
      const change = before ? ((last - before) / before) * 100 : null;
      const low = Math.min(...medians);
      const high = Math.max(...medians);
      const x = (i) => (medians.length === 1 ? 60 : (i / (medians.length - 1)) * 120);
      const y = (v) => (high === low ? 15 : 28 - ((v - low) / (high - low)) * 26);
      const path = medians.length === 1 ? `M0,${y(last)} L120,${y(last)}` : medians.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      const label = `${manufacturer} ${model}: median ${money(last, "USD")}` + (change === null ? "" : `, ${change >= 0 ? "+" : ""}${change.toFixed(1)}% on the month before`);
      return h("li", {}, h("span", { class: "chart spark" }, svg("svg", { viewBox: "0 0 120 30", role: "img", "aria-label": label, width: 120, height: 30 },
        svg("title", {}, label), svg("path", { class: "line", d: path }))), " ", label);
    }));
    replace(list, rows);
  })().catch((err) => replace(list, h("li", {}, errorText(err))));
  return box;
}
