// Watchlist: watch an aircraft from its card or its page; the watchlist page shows each one's current
// price and status and follows them live on their public listing:<id> channels (so a listing that
// leaves public view says only that it is gone, and the page drops its details).

import { ApiError, api, isLoggedIn, responseMeta } from "../api.js";
import { realtime } from "../realtime.js";
import { navigate } from "../router.js";
import { clock, errorText, flash, h, listingName, money, notice, replace, statusPill, toast, when } from "../ui.js";
import { compareToggle, compareTray } from "./compare.js";

const HIDDEN = new Set(["draft", "suspended", "withdrawn"]);
const watched = new Set(); // listing ids this person watches, as far as this page knows
const buttons = new Set(); // watch buttons on screen, redrawn when a watch changes anywhere

function drawButton(button) {
  const on = watched.has(button.dataset.listingId);
  button.setAttribute("aria-pressed", String(on));
  replace(button, on ? "★ Watching" : "☆ Watch", h("span", { class: "visually-hidden" }, ` ${button.dataset.name}`));
}

/** A toggle that puts a listing on the watchlist (anonymous people are sent to log in first). */
export function watchButton(listing) {
  const button = h("button", { type: "button", class: "secondary watch-toggle", dataset: { listingId: listing.id, name: listingName(listing) } });
  buttons.add(button);
  drawButton(button);
  button.addEventListener("click", async () => {
    if (!isLoggedIn()) {
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    const on = watched.has(listing.id);
    button.disabled = true;
    try {
      await api(`/api/watchlist/${listing.id}`, { method: on ? "DELETE" : "PUT" });
      if (on) watched.delete(listing.id); else watched.add(listing.id);
      toast(on ? `Removed ${listingName(listing)} from your watchlist.` : `Watching ${listingName(listing)}: price and status changes show on your watchlist.`);
    } catch (err) {
      toast(errorText(err));
    } finally {
      button.disabled = false;
      for (const other of [...buttons]) {
        if (!other.isConnected) buttons.delete(other);
        else if (other.dataset.listingId === listing.id) drawButton(other);
      }
    }
  });
  return button;
}

/** Learn which of these listings the signed-in person watches, and redraw their buttons. */
export async function loadWatched(ids) {
  if (!isLoggedIn() || !ids.length) return;
  try {
    const params = new URLSearchParams();
    for (const id of ids.slice(0, 100)) params.append("ids", id);
    const answer = await api(`/api/watchlist/ids?${params}`);
    for (const id of ids) watched.delete(id);
    for (const id of answer.listingIds) watched.add(id);
    for (const button of [...buttons]) {
      if (!button.isConnected) buttons.delete(button);
      else drawButton(button);
    }
  } catch { /* the buttons stay as they are: a click still works */ }
}

const PAGE = 50;

export async function watchlistView(main) {
  document.title = "Watchlist — ATP";
  const list = h("ul", { class: "results", id: "watchlist", "aria-label": "Watched aircraft" });
  const message = h("div");
  const summary = h("p", { class: "muted", id: "watchlist-summary", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", id: "watchlist-more", hidden: true }, "Show more");
  const tray = compareTray();
  main.append(h("h1", {}, "Watchlist"),
    h("p", { class: "muted" }, "Aircraft you watch, with their price and status as they change. Tick up to four to compare them."),
    message, summary, list, h("div", { class: "row more-row" }, more), tray.element);

  const rows = new Map(); // listing id -> {item, element, stop}
  let nextCursor = null;

  function row(item) {
    const li = h("li", { class: "card result watch-item", dataset: { listingId: item.listingId } });
    const entry = { item, element: li, stop: null };
    rows.set(item.listingId, entry);
    drawRow(entry);
    follow(entry);
    return li;
  }

  function drawRow(entry) {
    const { item, element } = entry;
    const remove = h("button", { type: "button", class: "secondary", onclick: () => unwatch(entry) }, "Remove",
      h("span", { class: "visually-hidden" }, item.listing ? ` ${listingName(item.listing)}` : " unavailable aircraft"));
    if (!item.available || !item.listing) {
      element.classList.add("unavailable");
      replace(element, h("div", { class: "thumb", "aria-hidden": "true" }),
        h("div", {}, h("p", { class: "title watch-gone" }, "No longer available"),
          h("p", { class: "muted small" }, `The seller has taken this aircraft off the market. You watched it since ${when(item.watchedAt)}.`),
          h("div", { class: "row" }, remove)));
      return;
    }
    element.classList.remove("unavailable");
    const l = item.listing;
    const image = l.images?.[0];
    replace(element,
      image?.thumbnailUrl ? h("img", { class: "thumb", src: image.thumbnailUrl, alt: "", loading: "lazy", width: 128, height: 88 }) : h("div", { class: "thumb", "aria-hidden": "true" }),
      h("div", {},
        h("a", { class: "title", href: `/listings/${l.id}` }, listingName(l)),
        h("div", { class: "row" }, h("span", { class: "price", dataset: { testid: "watch-price" } }, money(l.price, l.currency)), statusPill(l.status),
          l.verified ? h("span", { class: "status-pill verified-pill" }, "✓ Verified") : null),
        h("div", { class: "muted small" }, `${l.tailNumber} · ${l.hoursTotal.toLocaleString("en-US")} h · ${l.locationCity}, ${l.locationCountry}`),
        entry.change ? h("p", { class: "small watch-change", "aria-live": "polite" }, entry.change) : null,
        h("div", { class: "row card-actions" }, compareToggle(l, tray), remove)));
  }

  function follow(entry) {
    if (!entry.item.available) return;
    const id = entry.item.listingId;
    entry.stop = realtime.subscribe(`listing:${id}`, (frame) => onEvent(entry, frame), { onReset: load });
  }

  function onEvent(entry, frame) {
    const data = frame.data || {};
    const l = entry.item.listing;
    if (!l) return;
    switch (frame.type) {
      case "listing.price_changed":
        entry.item.listing = { ...l, price: data.newPrice, currency: data.currency, version: data.version };
        entry.change = `Price changed from ${money(data.oldPrice, data.currency)} to ${money(data.newPrice, data.currency)} at ${clock(frame.occurredAt)}`;
        break;
      case "listing.status_changed":
        if (HIDDEN.has(data.status)) {
          // Gone from public view: keep nothing of it on screen, and stop listening.
          entry.item = { listingId: entry.item.listingId, watchedAt: entry.item.watchedAt, available: false, listing: null };
          entry.change = null;
          entry.stop?.();
          entry.stop = null;
        } else {
          entry.item.listing = { ...l, status: data.status };
          entry.change = `Status is now ${data.status.replace("_", " ")} (${clock(frame.occurredAt)})`;
        }
        break;
      case "listing.updated":
        if (data.listing && (data.version ?? 0) >= (l.version ?? 0)) entry.item.listing = { ...l, ...data.listing };
        break;
      case "hold.placed":
        entry.item.listing = { ...l, status: "on_hold" };
        break;
      default:
        return;
    }
    drawRow(entry);
    flash(entry.element);
  }

  async function unwatch(entry) {
    try {
      await api(`/api/watchlist/${entry.item.listingId}`, { method: "DELETE" });
      watched.delete(entry.item.listingId);
      entry.stop?.();
      rows.delete(entry.item.listingId);
      entry.element.remove();
      drawSummary();
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  }

  function drawSummary() {
    const count = rows.size;
    summary.textContent = count ? `${count}${nextCursor ? "+" : ""} aircraft on your watchlist` : "";
    if (!count) replace(list, h("li", { class: "muted", id: "watchlist-empty" }, "Nothing watched yet: use “Watch” on a search result or a listing."));
    more.hidden = !nextCursor;
  }

  async function fetchPage(cursor) {
    const path = `/api/watchlist?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await api(path);
    const origin = responseMeta.get(path);
    if (origin?.offline) {
      replace(message, notice("warn", `You are offline: prices and statuses as of ${origin.date ? when(origin.date) : "your last visit"}. They may have changed since.`));
      message.firstChild.id = "offline-note";
    }
    for (const item of page.items) if (item.available) watched.add(item.listingId);
    nextCursor = page.nextCursor;
    return page.items;
  }

  async function load() {
    for (const entry of rows.values()) entry.stop?.();
    rows.clear();
    try {
      replace(message);
      const items = await fetchPage(null);
      replace(list, items.map(row));
    } catch (err) {
      replace(message, notice("bad", err instanceof ApiError && err.status === 0 ? "You are offline and this watchlist was not saved on this device yet." : errorText(err)));
    }
    drawSummary();
  }

  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const items = await fetchPage(nextCursor);
      list.append(...items.filter((item) => !rows.has(item.listingId)).map(row));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    } finally {
      more.disabled = false;
      drawSummary();
    }
  });

  await load();
  return () => { for (const entry of rows.values()) entry.stop?.(); tray.stop(); };
}
