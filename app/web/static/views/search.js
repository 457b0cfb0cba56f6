// Buyer search: typo-tolerant search as you type (GET /api/search), filters, facets, saved searches.

import { api, isLoggedIn } from "../api.js";
import { exportToExcel } from "./reports.js";
import { navigate } from "../router.js";
import { debounce, errorText, field, h, listingName, money, notice, replace, statusPill, toast } from "../ui.js";
import { compareToggle, compareTray } from "./compare.js";
import { loadWatched, watchButton } from "./watchlist.js";

const FILTERS = ["category", "engineType", "manufacturer", "yearMin", "yearMax", "priceMax", "hoursMax", "seatsMin", "rangeMin", "country", "near", "radiusKm", "sort"];
const FACETS = "manufacturer,model,year,country,engineType,category";
// The search home's ways in: each kind with its count from the category facet ("jet" sums the jets).
const BROWSE = [["jet", "Jets"], ["turboprop", "Turboprops"], ["piston_single", "Piston singles"], ["piston_twin", "Piston twins"],
  ["helicopter", "Helicopters"], ["light_jet", "Light jets"], ["midsize_jet", "Midsize jets"], ["super_midsize_jet", "Super-midsize jets"],
  ["large_jet", "Large jets"]];
export const CATEGORIES = [["", "Any kind"], ["jet", "Jets (all)"], ["light_jet", "Light jets"], ["midsize_jet", "Midsize jets"],
  ["super_midsize_jet", "Super-midsize jets"], ["large_jet", "Large jets"], ["turboprop", "Turboprops"],
  ["piston_single", "Piston singles"], ["piston_twin", "Piston twins"], ["helicopter", "Helicopters"]];
const ENGINES = [["", "Any engine"], ["jet", "Jet"], ["turboprop", "Turboprop"], ["piston", "Piston"], ["turboshaft", "Turboshaft"], ["electric", "Electric"]];
const options = (pairs, current) => pairs.map(([value, text]) => h("option", { value, selected: (current || "") === value }, text));

export function resultCard(listing, { tray = null } = {}) {
  const image = listing.images?.[0];
  const picture = image?.thumbnailUrl
    ? h("img", { class: "thumb", src: image.thumbnailUrl, alt: "", loading: "lazy", width: 128, height: 88 })
    : h("div", { class: "thumb", "aria-hidden": "true" });
  return h("li", { class: "card result", dataset: { listingId: listing.id } },
    picture,
    h("div", {},
      h("a", { class: "title", href: `/listings/${listing.id}` }, listingName(listing)),
      h("div", { class: "row" }, h("span", { class: "price" }, money(listing.price, listing.currency)), statusPill(listing.status),
        listing.verified ? h("span", { class: "status-pill verified-pill", title: "Registry, sanctions and documents checked by ATP" }, "✓ Verified") : null),
      h("div", { class: "muted small" }, `${listing.tailNumber} · ${listing.hoursTotal.toLocaleString("en-US")} h · ${listing.locationCity}, ${listing.locationCountry}`),
      h("div", { class: "row card-actions" }, watchButton(listing), compareToggle(listing, tray),
        h("a", { class: "small", href: `/sellers/${listing.sellerId}` }, "Seller", h("span", { class: "visually-hidden" }, ` of the ${listingName(listing)}`)))));
}

/** Links to each kind of aircraft with how many are for sale (the search home). */
function categoryLinks(counts) {
  const jets = Object.entries(counts).filter(([name]) => name.endsWith("_jet")).reduce((sum, [, n]) => sum + n, 0);
  const count = (name) => (name === "jet" ? jets : counts[name] || 0);
  return h("nav", { class: "categories", id: "categories", "aria-labelledby": "categories-title" },
    h("h2", { id: "categories-title" }, "Browse by category"),
    h("ul", { class: "category-list" }, BROWSE.map(([name, label]) => h("li", {},
      h("a", { href: `/?category=${name}`, dataset: { category: name } }, h("span", {}, label), h("span", { class: "category-count" }, count(name).toLocaleString("en-US")))))));
}

export async function searchView(main, _params, query) {
  document.title = "Search aircraft — ATP";
  const q = h("input", { type: "search", name: "q", id: "q", autocomplete: "off", placeholder: "e.g. cesna 172, citation, G650", value: query.get("q") || "" });
  const inputs = {
    category: h("select", { name: "category" }, options(CATEGORIES, query.get("category"))),
    engineType: h("select", { name: "engineType" }, options(ENGINES, query.get("engineType"))),
    seatsMin: h("input", { name: "seatsMin", type: "number", inputmode: "numeric", min: 0, max: 1000, value: query.get("seatsMin") || "" }),
    rangeMin: h("input", { name: "rangeMin", type: "number", inputmode: "numeric", min: 0, max: 20000, step: 100, value: query.get("rangeMin") || "" }),
    near: h("input", { name: "near", placeholder: "40.64,-73.78", pattern: "-?\\d+(\\.\\d+)?,\\s*-?\\d+(\\.\\d+)?", value: query.get("near") || "" }),
    radiusKm: h("input", { name: "radiusKm", type: "number", inputmode: "numeric", min: 1, max: 20000, value: query.get("radiusKm") || "" }),
    manufacturer: h("input", { name: "manufacturer", value: query.get("manufacturer") || "" }),
    yearMin: h("input", { name: "yearMin", type: "number", inputmode: "numeric", min: 1903, max: 2100, value: query.get("yearMin") || "" }),
    yearMax: h("input", { name: "yearMax", type: "number", inputmode: "numeric", min: 1903, max: 2100, value: query.get("yearMax") || "" }),
    priceMax: h("input", { name: "priceMax", type: "number", inputmode: "numeric", min: 0, step: 1000, value: query.get("priceMax") || "" }),
    hoursMax: h("input", { name: "hoursMax", type: "number", inputmode: "numeric", min: 0, value: query.get("hoursMax") || "" }),
    country: h("input", { name: "country", maxlength: 2, placeholder: "US", value: query.get("country") || "" }),
    sort: h("select", { name: "sort" },
      [["", "Best match"], ["newest", "Newest"], ["price_asc", "Price: low to high"], ["price_desc", "Price: high to low"], ["year_desc", "Year: newest"], ["hours_asc", "Hours: lowest"]]
        .map(([value, text]) => h("option", { value, selected: (query.get("sort") || "") === value }, text))),
  };
  const summary = h("p", { class: "muted", id: "result-summary", "aria-live": "polite" });
  const results = h("ul", { class: "results", id: "results", "aria-label": "Search results" });
  const facets = h("div", { class: "facets", "aria-label": "Refine by" });
  const message = h("div");
  const browse = h("div", { id: "browse" });
  const tray = compareTray();
  const more = h("button", { type: "button", class: "secondary", id: "more-results", hidden: true }, "Show more");
  const sortTop = h("select", { name: "sortTop", id: "sort-top" },
    [["", "Best match"], ["newest", "Newest"], ["price_asc", "Price: low to high"], ["price_desc", "Price: high to low"], ["year_desc", "Year: newest"], ["hours_asc", "Hours: lowest"]]
      .map(([value, text]) => h("option", { value, selected: (query.get("sort") || "") === value }, text)));
  // Anonymous people get a log-in link instead of a button that can only fail.
  const saveButton = isLoggedIn()
    ? h("button", { type: "button", class: "secondary", id: "save-search" }, "Save this search")
    : h("a", { class: "button secondary", id: "save-search-login", href: "/login" }, "Log in to save this search");

  // Radius search needs a point: typed, or the browser's location when the person allows it.
  const locate = "geolocation" in navigator ? h("button", { type: "button", class: "secondary", onclick: () => {
    navigator.geolocation.getCurrentPosition((pos) => {
      inputs.near.value = `${pos.coords.latitude.toFixed(3)},${pos.coords.longitude.toFixed(3)}`;
      if (!inputs.radiusKm.value) inputs.radiusKm.value = "500";
      run();
    }, () => toast("Your location is not available."));
  } }, "Use my location") : null;
  const form = h("form", { class: "stack", role: "search", onsubmit: (e) => { e.preventDefault(); run(); } },
    h("div", { class: "search-bar" }, field("Search aircraft", q)),
    h("details", { open: window.matchMedia("(min-width: 48rem)").matches },
      h("summary", {}, "Filters"),
      h("div", { class: "filters" },
        field("Kind of aircraft", inputs.category), field("Engine", inputs.engineType),
        field("Manufacturer", inputs.manufacturer), field("Year from", inputs.yearMin), field("Year to", inputs.yearMax),
        field("Max price (USD)", inputs.priceMax), field("Max hours", inputs.hoursMax),
        field("Min seats", inputs.seatsMin), field("Min range (nm)", inputs.rangeMin), field("Country (ISO code)", inputs.country),
        field("Near (lat,lon)", inputs.near), field("Within (km)", inputs.radiusKm), locate,
        field("Sort by", inputs.sort))),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Search"), saveButton,
      h("button", { type: "button", class: "secondary", id: "export-excel", hidden: !isLoggedIn(), onclick: () => exportToExcel(params()) }, "Export to Excel")));

  main.append(h("h1", {}, "Find an aircraft"),
    h("div", { class: "layout-search" }, h("aside", {}, form, facets), h("section", { "aria-labelledby": "result-summary" }, message, browse,
      h("div", { class: "results-head" }, summary, field("Sort", sortTop)), results, h("div", { class: "row more-row" }, more))), tray.element);

  let controller = null;
  let shown = null; // the query whose results are on screen: the same query again changes nothing
  let nextCursor = null;
  let total = 0;
  function params() {
    const out = new URLSearchParams();
    if (q.value.trim()) out.set("q", q.value.trim());
    for (const name of FILTERS) {
      const value = inputs[name].value.trim();
      if (value) out.set(name, name === "country" ? value.toUpperCase() : name === "near" ? value.replace(/\s+/g, "") : value);
    }
    if (!(out.has("near") && out.has("radiusKm"))) { out.delete("near"); out.delete("radiusKm"); }
    return out;
  }

  async function run() {
    live.cancel();
    const search = params();
    if (search.toString() === shown) return;
    history.replaceState({}, "", search.toString() ? `/?${search}` : "/");
    controller?.abort();
    controller = new AbortController();
    const request = new URLSearchParams(search);
    request.set("facets", FACETS);
    request.set("limit", "20");
    const mine = controller;
    try {
      const page = await api(`/api/search?${request}`, { signal: controller.signal });
      if (mine !== controller) return; // a newer search started while this answer was on its way
      shown = search.toString();
      replace(message);
      replace(results, page.items.map((item) => resultCard(item, { tray })));
      loadWatched(page.items.map((item) => item.id));
      // Nothing asked yet: this is the search home, which offers the kinds of aircraft first.
      replace(browse, search.toString() ? null : categoryLinks(page.facets?.category || {}));
      total = page.estimatedTotal;
      nextCursor = page.nextCursor;
      drawSummary();
      drawFacets(page.facets || {});
    } catch (err) {
      if (err.name === "AbortError") return;
      shown = null;
      replace(message, notice("bad", errorText(err)));
    }
  }

  function drawSummary() {
    const count = results.children.length;
    const words = q.value.trim() ? ` for “${q.value.trim()}”` : "";
    const all = Math.max(total, count);
    summary.textContent = count
      ? (count < all || nextCursor ? `Showing ${count} of ${all} aircraft${words}` : `${all} aircraft${words}`)
      : "No aircraft match. Try fewer filters or another spelling.";
    more.hidden = !nextCursor;
    more.textContent = nextCursor ? `Show more (${Math.max(all - count, 0)} left)` : "Show more";
    if (saveButton.tagName === "A") saveButton.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  }

  async function loadMore() {
    if (!nextCursor) return;
    const request = params();
    request.set("limit", "20");
    request.set("cursor", nextCursor);
    more.disabled = true;
    try {
      const page = await api(`/api/search?${request}`, { signal: controller?.signal });
      const seen = new Set([...results.children].map((li) => li.dataset.listingId));
      results.append(...page.items.filter((item) => !seen.has(item.id)).map((item) => resultCard(item, { tray })));
      loadWatched(page.items.map((item) => item.id));
      nextCursor = page.nextCursor;
      drawSummary();
    } catch (err) {
      if (err.name !== "AbortError") replace(message, notice("bad", errorText(err)));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", loadMore);

  function drawFacets(all) {
    const groups = [["engineType", "Engine", "engineType"], ["manufacturer", "Manufacturer", "manufacturer"], ["year", "Year", null], ["country", "Country", "country"]];
    replace(facets, groups.filter(([name]) => all[name] && Object.keys(all[name]).length).map(([name, title, target]) => {
      const entries = Object.entries(all[name]).sort((a, b) => b[1] - a[1]).slice(0, 8);
      return h("div", {}, h("h2", {}, title), h("ul", { class: "facet-list" }, entries.map(([value, count]) => {
        const pressed = target ? inputs[target].value.toLowerCase() === value.toLowerCase()
          : inputs.yearMin.value === value && inputs.yearMax.value === value;
        return h("li", {}, h("button", { type: "button", "aria-pressed": String(pressed), onclick: () => {
          if (target) inputs[target].value = pressed ? "" : value;
          else { inputs.yearMin.value = pressed ? "" : value; inputs.yearMax.value = pressed ? "" : value; }
          run();
        } }, `${value} (${count})`));
      })));
    }));
  }

  if (saveButton.tagName === "BUTTON") saveButton.addEventListener("click", async () => {
    const search = params();
    const saved = {};
    for (const [key, value] of search) {
      if (key === "sort") continue;
      if (["category", "near", "radiusKm"].includes(key)) continue; // not part of a saved search
      saved[key] = ["yearMin", "yearMax", "hoursMax", "seatsMin", "rangeMin"].includes(key) ? Number(value) : value;
    }
    const name = q.value.trim() || inputs.manufacturer.value.trim() || "My search";
    try {
      await api("/api/saved-searches", { method: "POST", body: { name, query: saved } });
      toast(`Saved “${name}”: new matches and price drops will notify you.`);
    } catch (err) {
      if (err.status === 401) navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      else toast(errorText(err));
    }
  });

  const live = debounce(run, 250);
  q.addEventListener("input", live);
  for (const input of Object.values(inputs)) input.addEventListener("change", run);
  inputs.sort.addEventListener("change", () => { sortTop.value = inputs.sort.value; });
  sortTop.addEventListener("change", () => { inputs.sort.value = sortTop.value; run(); });
  await run();
  return () => { controller?.abort(); tray.stop(); };
}
