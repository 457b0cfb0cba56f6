// Compare up to four aircraft side by side. The pick lives in this browser (localStorage) while the
// buyer browses; the compare page's address (/compare?ids=a,b,c) is the shareable form of it.

import { api, responseMeta } from "../api.js";
import { errorText, h, listingName, money, notice, replace, toast, when } from "../ui.js";

export const MAX_COMPARE = 4;
const KEY = "atp-compare";
const CHANGED = "atp-compare-changed";
export const FULL_MESSAGE = "You can compare up to four aircraft. Remove one to add another.";

export function comparedIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string").slice(0, MAX_COMPARE) : [];
  } catch {
    return [];
  }
}

function store(ids) {
  try { localStorage.setItem(KEY, JSON.stringify(ids)); } catch { /* private mode: this page only */ }
  window.dispatchEvent(new CustomEvent(CHANGED, { detail: ids }));
}

/** Add or remove one aircraft; false (and nothing changes) when a fifth is asked for. */
export function setCompared(id, on) {
  const ids = comparedIds().filter((other) => other !== id);
  if (on) {
    if (ids.length >= MAX_COMPARE) return false;
    ids.push(id);
  }
  store(ids);
  return true;
}

/** The "Compare" tick box of a card; a fifth tick is refused and says why. */
export function compareToggle(listing, tray) {
  const box = h("input", { type: "checkbox", class: "compare-pick", checked: comparedIds().includes(listing.id) });
  box.addEventListener("change", () => {
    if (!setCompared(listing.id, box.checked)) {
      box.checked = false;
      tray?.refuse();
      toast(FULL_MESSAGE);
    }
  });
  const sync = () => { if (box.isConnected) box.checked = comparedIds().includes(listing.id); else window.removeEventListener(CHANGED, sync); };
  window.addEventListener(CHANGED, sync);
  return h("label", { class: "inline compare-label" }, box, "Compare", h("span", { class: "visually-hidden" }, ` ${listingName(listing)}`));
}

/** The bar that shows how many are picked and opens the comparison. */
export function compareTray() {
  const count = h("span", { id: "compare-count" });
  const open = h("a", { class: "button", id: "compare-open", href: "/compare" }, "Compare");
  const clear = h("button", { type: "button", class: "secondary", onclick: () => store([]) }, "Clear");
  const message = h("p", { class: "compare-message", id: "compare-message", role: "alert" });
  const element = h("div", { class: "compare-tray", id: "compare-tray", hidden: true }, h("div", { class: "row" }, count, open, clear), message);
  function draw() {
    const ids = comparedIds();
    element.hidden = ids.length === 0;
    document.body.classList.toggle("has-tray", ids.length > 0);
    count.textContent = `${ids.length} of ${MAX_COMPARE} picked`;
    open.href = `/compare?ids=${ids.join(",")}`;
    open.classList.toggle("disabled", ids.length < 2);
    open.textContent = ids.length < 2 ? "Pick another to compare" : `Compare ${ids.length} aircraft`;
    if (ids.length < MAX_COMPARE) message.textContent = "";
  }
  window.addEventListener(CHANGED, draw);
  draw();
  return {
    element,
    refuse() { message.textContent = FULL_MESSAGE; },
    stop() { window.removeEventListener(CHANGED, draw); document.body.classList.remove("has-tray"); },
  };
}

const ENGINES = { jet: "Jet", turboprop: "Turboprop", piston: "Piston", turboshaft: "Turboshaft", electric: "Electric" };
const number = (value, unit = "") => (value === null || value === undefined ? "—" : `${Number(value).toLocaleString("en-US")}${unit}`);

// Rows of the comparison: label and how to show a listing's value.
const ROWS = [
  ["Price", (l) => money(l.price, l.currency)],
  ["Year", (l) => String(l.yearManufactured)],
  ["Total hours", (l) => number(l.hoursTotal, " h")],
  ["Engine", (l) => ENGINES[l.specifications?.engineType] || l.specifications?.engineType || "—"],
  ["Engine hours", (l) => number(l.specifications?.engineHours, " h")],
  ["Avionics", (l) => (l.specifications?.avionics?.length ? l.specifications.avionics.join(", ") : "—")],
  ["Range", (l) => number(l.specifications?.maxRangeNm, " nm")],
  ["Speed", (l) => number(l.specifications?.maxSpeedKts, " kts")],
  ["Seats", (l) => number(l.specifications?.maxPassengers)],
  ["Useful load", (l) => number(l.specifications?.usefulLoadLbs, " lbs")],
  ["Location", (l) => `${l.locationCity}, ${l.locationCountry}`],
  ["Verified", (l) => (l.verified ? "✓ Verified" : "Not verified")],
  ["Status", (l) => (l.status || "").replace("_", " ")],
];

function idsFrom(query) {
  const raw = (query.get("ids") || "").split(",").map((id) => id.trim()).filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  return [...new Set(raw)];
}

export async function compareView(main, _params, query) {
  document.title = "Compare aircraft — ATP";
  let ids = idsFrom(query);
  const message = h("div");
  if (ids.length > MAX_COMPARE) {
    message.append(notice("warn", `${FULL_MESSAGE} Showing the first ${MAX_COMPARE}.`));
    ids = ids.slice(0, MAX_COMPARE);
  }
  if (!ids.length) ids = comparedIds();
  // The address is the comparison: opening a shared link makes it this browser's pick too.
  else store(ids);
  history.replaceState({}, "", ids.length ? `/compare?ids=${ids.join(",")}` : "/compare");

  const table = h("div", { class: "compare-scroll", id: "compare", tabindex: "0", role: "region", "aria-label": "Comparison table, scrolls sideways" });
  const onlyDiff = h("input", { type: "checkbox", id: "only-differences" });
  const share = h("button", { type: "button", class: "secondary", id: "share-compare" }, "Copy link");
  main.append(h("h1", {}, "Compare aircraft"), message,
    h("div", { class: "row compare-tools" }, h("label", { class: "inline" }, onlyDiff, "Only rows that differ"), share,
      h("a", { href: "/" }, "Add aircraft from search")), table);

  if (ids.length < 1) {
    replace(table, h("p", { class: "muted", id: "compare-empty" }, "Nothing to compare yet: tick “Compare” on up to four search results or watched aircraft."));
    return null;
  }

  const results = await Promise.all(ids.map(async (id) => {
    const path = `/api/listings/${encodeURIComponent(id)}`;
    try { return { id, listing: await api(path), origin: responseMeta.get(path) }; } catch (err) { return { id, error: err }; }
  }));
  const offline = results.find((r) => r.origin?.offline);
  if (offline) message.append(notice("warn", `You are offline: prices and statuses as of ${offline.origin.date ? when(offline.origin.date) : "your last visit"}.`));
  const shown = results.filter((r) => r.listing);
  for (const gone of results.filter((r) => !r.listing)) {
    message.append(notice("warn", gone.error?.status === 404 ? "One of these aircraft is no longer available; it was left out." : errorText(gone.error)));
  }

  function remove(id) {
    setCompared(id, false);
    const rest = ids.filter((other) => other !== id);
    ids = rest;
    history.replaceState({}, "", rest.length ? `/compare?ids=${rest.join(",")}` : "/compare");
    const index = shown.findIndex((r) => r.id === id);
    if (index >= 0) shown.splice(index, 1);
    draw();
  }

  function draw() {
    if (!shown.length) {
      replace(table, h("p", { class: "muted", id: "compare-empty" }, "Nothing to compare."));
      return;
    }
    const head = h("tr", {}, h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Specification")),
      shown.map(({ listing }) => h("th", { scope: "col", dataset: { listingId: listing.id } },
        h("a", { href: `/listings/${listing.id}` }, listingName(listing)),
        h("div", { class: "muted small" }, listing.tailNumber),
        h("button", { type: "button", class: "secondary compare-remove", onclick: () => remove(listing.id) }, "Remove",
          h("span", { class: "visually-hidden" }, ` ${listingName(listing)}`)))));
    const body = ROWS.map(([label, show]) => {
      const values = shown.map(({ listing }) => show(listing));
      const differs = shown.length > 1 && new Set(values).size > 1;
      return h("tr", { class: differs ? "differs" : "same", dataset: { row: label }, hidden: onlyDiff.checked && !differs },
        h("th", { scope: "row" }, label, differs ? h("span", { class: "differs-mark" }, " ≠", h("span", { class: "visually-hidden" }, " (differs)")) : null),
        values.map((value) => h("td", {}, value)));
    });
    replace(table, h("table", { class: "compare-table" }, h("caption", { class: "visually-hidden" }, "Aircraft side by side; rows that differ are highlighted"),
      h("thead", {}, head), h("tbody", {}, body)));
  }

  onlyDiff.addEventListener("change", draw);
  share.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast("Link copied: anyone with it sees this comparison.");
    } catch {
      toast(`Share this address: ${location.href}`);
    }
  });
  draw();
  return null;
}
