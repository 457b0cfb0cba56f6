// Listing page: specs, photos, price history, live updates on listing:<id>, holds and the waitlist.

import { ApiError, api, currentUser, hasRole, isLoggedIn, optional, responseMeta } from "../api.js";
import { draw, priceChart } from "../chart.js";
import { realtime } from "../realtime.js";
import { messageSellerBox } from "./messages.js";
import { marketSection } from "./market.js";
import { offerPanel } from "./offers.js";
import { compareToggle } from "./compare.js";
import { sellerLine } from "./profile.js";
import { loadWatched, watchButton } from "./watchlist.js";
import { clock, countdown, errorText, flash, h, listingName, money, notice, replace, statusPill, when, whenZoned } from "../ui.js";

const SPEC_LABELS = {
  engineType: "Engine", engineHours: "Engine hours", avionics: "Avionics", interiorConfiguration: "Interior",
  exteriorColor: "Exterior", maxPassengers: "Passengers", maxRangeNm: "Range (nm)", maxSpeedKts: "Speed (kts)",
  usefulLoadLbs: "Useful load (lbs)", category: "Category",
};

/** Full-screen photo viewer: arrows and swipes move, Escape (or Close) leaves; a native <dialog>. */
function openViewer(listing, start) {
  const images = listing.images || [];
  if (!images.length) return;
  let index = start;
  const picture = h("img", { class: "viewer-img", id: "viewer-img", alt: "", draggable: "false" });
  const counter = h("p", { class: "viewer-count", id: "viewer-count", "aria-live": "polite" });
  const show = (i) => {
    index = (i + images.length) % images.length;
    const img = images[index];
    picture.src = img.largeUrl || img.url || img.thumbnailUrl;
    picture.alt = `${listingName(listing)}, photo ${index + 1} of ${images.length}`;
    counter.textContent = `${index + 1} / ${images.length}`;
  };
  const dialog = h("dialog", { class: "viewer", id: "viewer", "aria-label": `Photos of ${listingName(listing)}` },
    h("div", { class: "viewer-bar" }, counter,
      h("button", { type: "button", class: "secondary", onclick: () => dialog.requestFullscreen?.().catch(() => {}) }, "Full screen"),
      h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Close")),
    h("div", { class: "viewer-stage" },
      h("button", { type: "button", class: "viewer-prev", "aria-label": "Previous photo", onclick: () => show(index - 1) }, "‹"),
      picture,
      h("button", { type: "button", class: "viewer-next", "aria-label": "Next photo", onclick: () => show(index + 1) }, "›")));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") { event.preventDefault(); show(index + 1); }
    if (event.key === "ArrowLeft") { event.preventDefault(); show(index - 1); }
  });
  let startX = null;
  picture.addEventListener("pointerdown", (event) => { startX = event.clientX; });
  dialog.addEventListener("pointerup", (event) => {
    if (startX !== null && Math.abs(event.clientX - startX) > 40) show(index + (event.clientX < startX ? 1 : -1));
    startX = null;
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  show(start);
  dialog.showModal();
}

/** The proof behind the badge: which checks the aircraft passed and when (GET …/verification). */
function verifiedBox(listing) {
  const box = h("section", { class: "verified-box", id: "verified", "aria-labelledby": "verified-title" });
  if (!listing.verified) {
    box.append(h("p", { class: "muted small", id: "verified-title" }, "Not verified yet: the seller has not completed ATP's aircraft verification."));
    return box;
  }
  // The details arrive a moment later: their lines are reserved now (registry, sanctions, documents), so
  // nothing below the box moves when they are filled in.
  const summary = h("p", { class: "small" }, "\u00a0");
  const checks = h("ul", { class: "checks small" }, ["registry", "sanctions", "documents"].map(() => h("li", {}, "\u00a0")));
  box.append(h("h2", { id: "verified-title", class: "verified-badge" }, "✓ Verified aircraft"), summary, checks);
  optional(`/api/listings/${listing.id}/verification`).then((result) => {
    if (!result.ok) { summary.remove(); checks.remove(); return; }
    const v = result.data;
    if (v.verifiedAt) summary.textContent = `Verified by ATP on ${when(v.verifiedAt)}${v.tailNumber ? ` for ${v.tailNumber}` : ""}.`;
    else summary.remove();
    replace(checks, v.checks.map((c) => h("li", {}, `✓ ${c.label}`, c.passedAt ? h("span", { class: "muted" }, ` — ${when(c.passedAt)}`) : null)));
    if (!v.checks.length) checks.remove();
  });
  return box;
}

export async function listingView(main, { id }) {
  let listing;
  try {
    listing = await api(`/api/listings/${encodeURIComponent(id)}`);
  } catch (err) {
    document.title = "Listing unavailable — ATP";
    main.append(h("h1", {}, "Listing unavailable"), notice("bad", errorText(err)), h("p", {}, h("a", { href: "/" }, "Back to search")));
    return null;
  }
  const user = currentUser();
  const state = { listing, history: [], myHold: null, waitlist: null, outcome: null };
  const origin = responseMeta.get(`/api/listings/${encodeURIComponent(id)}`);
  const offlineNote = origin?.offline
    ? notice("warn", `You are offline: price and status as of ${origin.date ? when(origin.date) : "your last visit"}. They may have changed since.`)
    : null;
  if (offlineNote) offlineNote.id = "offline-note";

  const title = h("h1", { id: "listing-title" });
  const price = h("p", { class: "price", id: "listing-price", dataset: { testid: "price" }, "aria-live": "polite" });
  const status = h("span", { id: "listing-status" });
  const live = h("p", { class: "muted small", id: "live-note", "aria-live": "polite" });
  const gallery = h("div", { class: "gallery", "aria-label": "Photos" });
  const specs = h("dl", { class: "specs" });
  const description = h("p");
  const chartBox = h("section", { "aria-labelledby": "history-title", class: "hidden" }, h("h2", { id: "history-title" }, "Price history"));
  let chart = null;
  const holdBox = h("section", { class: "card hold-box", id: "hold-box", "aria-labelledby": "hold-title" });
  const proof = verifiedBox(listing);
  const offers = offerPanel(listing);

  main.append(
    h("article", { class: "stack", dataset: { listingId: listing.id } },
      h("div", { class: "listing-head" }, title, h("div", { class: "row" }, price, status,
        user && (user.id === listing.sellerId || hasRole("admin")) ? h("a", { href: `/sell/${listing.id}` }, "Edit listing") : null),
        h("div", { class: "row card-actions" }, watchButton(listing), compareToggle(listing)), sellerLine(listing.sellerId), live),
      offlineNote, proof, gallery, holdBox, offers.element, messageSellerBox(listing),
      h("section", { "aria-labelledby": "specs-title" }, h("h2", { id: "specs-title" }, "Specifications"), specs),
      h("section", { "aria-labelledby": "desc-title" }, h("h2", { id: "desc-title" }, "Description"), description),
      chartBox, marketSection(listing)));

  function drawListing() {
    const l = state.listing;
    document.title = `${listingName(l)} — ATP`;
    title.textContent = listingName(l);
    price.textContent = money(l.price, l.currency);
    replace(status, statusPill(l.status));
    replace(gallery, (l.images || []).map((img, i) =>
      h("a", { href: img.largeUrl || img.url, target: "_blank", rel: "noopener", dataset: { photo: i },
        onclick: (event) => { event.preventDefault(); openViewer(l, i); } },
        h("img", { src: img.thumbnailUrl || img.url, alt: `${listingName(l)}, photo ${i + 1}`, loading: i ? "lazy" : "eager", fetchpriority: i ? null : "high", width: img.width || 320, height: img.height || 240 }))));
    gallery.classList.toggle("hidden", !(l.images || []).length);
    const rows = [["Tail number", l.tailNumber], ["Year", l.yearManufactured], ["Total hours", l.hoursTotal?.toLocaleString("en-US")],
      ["Location", `${l.locationCity}, ${l.locationCountry}`]];
    for (const [key, label] of Object.entries(SPEC_LABELS)) {
      const value = l.specifications?.[key];
      if (value === null || value === undefined || (Array.isArray(value) && !value.length)) continue;
      rows.push([label, Array.isArray(value) ? value.join(", ") : value]);
    }
    replace(specs, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
    description.textContent = l.description || "No description.";
  }

  function drawHistory() {
    if (!state.history.length) return;
    chartBox.classList.remove("hidden");
    if (!chart) { chart = priceChart(state.history, state.listing.currency); chartBox.append(chart); }
    else draw(chart, state.history, state.listing.currency);
  }

  function drawHold() {
    const l = state.listing;
    const parts = [h("h2", { id: "hold-title" }, "Hold this aircraft")];
    if (state.outcome) parts.push(state.outcome);
    if (!isLoggedIn()) {
      parts.push(h("p", {}, h("a", { href: `/login?next=/listings/${l.id}` }, "Log in"), " as a verified buyer to hold this aircraft."));
    } else if (state.myHold) {
      // One confirmation: the outcome of the click, or (on a later visit) the standing hold.
      if (!state.outcome?.dataset.hold) parts.push(notice("ok", `You hold this aircraft until ${whenZoned(state.myHold.expiresAt)}.`));
      parts.push(h("p", { class: "small" }, countdown(state.myHold.expiresAt, { id: "hold-countdown" }), " · ", h("a", { href: "/holds" }, "My holds and waitlists")),
        h("button", { type: "button", class: "secondary", id: "release-hold", onclick: releaseHold }, "Release hold"));
    } else if (state.waitlist) {
      parts.push(h("p", { id: "waitlist-position" }, `You are #${state.waitlist.position} on the waitlist.`),
        h("button", { type: "button", class: "secondary", id: "leave-waitlist", onclick: leaveWaitlist }, "Leave waitlist"));
    } else if (hasRole("buyer") || user?.userType === "buyer") {
      const held = l.status === "on_hold";
      parts.push(h("p", { class: "muted" }, held ? `On hold by another buyer until ${when(l.hold?.expiresAt)}.` : "A hold reserves it for you for 48 hours."),
        h("div", { class: "row" },
          h("button", { type: "button", id: "place-hold", onclick: placeHold, disabled: !["active", "on_hold"].includes(l.status) }, held ? "Try to hold" : "Hold for 48 hours"),
          held ? h("button", { type: "button", class: "secondary", id: "join-waitlist", onclick: joinWaitlist }, "Join waitlist") : null));
    } else {
      parts.push(h("p", { class: "muted" }, "Only buyer accounts can hold aircraft."));
    }
    replace(holdBox, parts);
  }

  function outcome(kind, text) {
    state.outcome = notice(kind, text);
    state.outcome.id = "hold-outcome";
  }

  async function placeHold() {
    try {
      const hold = await api(`/api/listings/${l().id}/holds`, { method: "POST", body: {}, headers: { "Idempotency-Key": crypto.randomUUID() } });
      state.myHold = hold;
      outcome("ok", `You got it: the hold is yours until ${whenZoned(hold.expiresAt)}.`);
      state.outcome.dataset.hold = "1";
    } catch (err) {
      if (err instanceof ApiError && err.code === "listing_on_hold") {
        // The buyer asked for this aircraft: put them in line rather than leave them with nothing.
        let position = err.problem.waitlistPosition;
        if (!position) {
          try { position = (await api(`/api/listings/${l().id}/waitlist`, { method: "POST" })).position; }
          catch { position = (await optional(`/api/listings/${l().id}/waitlist/me`)).data?.position; }
        }
        state.waitlist = position ? { position } : null;
        outcome("warn", position ? `Another buyer got it first — you are #${position} on the waitlist.` : "Another buyer got it first.");
      } else if (err instanceof ApiError && err.code === "verification_required") {
        state.outcome = notice("warn", "Holding needs a verified buyer account. ", h("a", { href: "/verification" }, "Start verification"));
        state.outcome.id = "hold-outcome";
      } else {
        outcome("bad", errorText(err));
      }
    }
    drawHold();
  }

  async function releaseHold() {
    try {
      await api(`/api/holds/${state.myHold.id}`, { method: "DELETE" });
      state.myHold = null;
      outcome("ok", "Hold released. The next buyer in line gets the offer.");
    } catch (err) { outcome("bad", errorText(err)); }
    drawHold();
  }

  async function joinWaitlist() {
    try {
      const { position } = await api(`/api/listings/${l().id}/waitlist`, { method: "POST" });
      state.waitlist = { position };
      outcome("ok", `You are #${position} on the waitlist.`);
    } catch (err) { outcome("bad", errorText(err)); }
    drawHold();
  }

  async function leaveWaitlist() {
    try {
      await api(`/api/listings/${l().id}/waitlist`, { method: "DELETE" });
      state.waitlist = null;
      outcome("ok", "You left the waitlist.");
    } catch (err) { outcome("bad", errorText(err)); }
    drawHold();
  }

  const l = () => state.listing;

  async function loadMine() {
    if (!isLoggedIn() || user?.userType !== "buyer") return;
    const holds = await optional("/api/holds?status=active&limit=100");
    state.myHold = holds.ok ? holds.data.items.find((hold) => hold.listingId === listing.id) || null : null;
    const line = await optional(`/api/listings/${listing.id}/waitlist/me`);
    state.waitlist = line.ok && line.data.status === "waiting" ? line.data : null;
  }

  async function loadHistory() {
    const result = await optional(`/api/listings/${listing.id}/price-history`);
    if (result.ok) state.history = result.data.items;
  }

  async function refetch() {
    try {
      state.listing = await api(`/api/listings/${listing.id}`);
      await Promise.all([loadMine(), loadHistory()]);
      drawListing(); drawHistory(); drawHold();
    } catch (err) { live.textContent = errorText(err); }
  }

  const applied = new Set(); // event ids: a publish step reaches the seller on both channels
  function onEvent(frame) {
    if (frame.id) {
      if (applied.has(frame.id)) return;
      applied.add(frame.id);
    }
    const data = frame.data || {};
    switch (frame.type) {
      case "listing.price_changed":
        state.listing = { ...state.listing, price: data.newPrice, currency: data.currency, version: data.version };
        state.history = [...state.history, { price: data.newPrice, currency: data.currency, changedAt: frame.occurredAt }];
        drawListing(); drawHistory(); flash(price);
        live.textContent = `Price changed from ${money(data.oldPrice, data.currency)} to ${money(data.newPrice, data.currency)} at ${clock(frame.occurredAt)}`;
        break;
      case "listing.updated":
        if (data.listing && (data.version ?? 0) >= (state.listing.version ?? 0)) state.listing = { ...state.listing, ...data.listing };
        drawListing(); drawHold();
        break;
      case "listing.status_changed":
        state.listing = { ...state.listing, status: data.status };
        drawListing(); drawHold(); flash(status);
        live.textContent = `Status is now ${data.status.replace("_", " ")} (${clock(frame.occurredAt)})`;
        break;
      case "hold.placed":
        state.listing = { ...state.listing, status: "on_hold", hold: { holdId: data.holdId, expiresAt: data.expiresAt } };
        if (user && data.buyerId === user.id) state.myHold = { id: data.holdId, expiresAt: data.expiresAt };
        drawListing(); drawHold();
        break;
      case "hold.released":
      case "hold.expired":
        if (state.myHold?.id === data.holdId) state.myHold = null;
        state.listing = { ...state.listing, hold: null };
        drawHold();
        break;
      default:
        break;
    }
  }

  function onPersonal(frame) {
    const data = frame.data || {};
    if (data.listingId !== listing.id) return;
    // A draft, suspended or withdrawn listing's changes reach only its seller (and admins), on this channel.
    if (frame.type.startsWith("listing.")) { onEvent(frame); return; }
    // Who holds a listing is told only on the holder's own channel; the public hold.placed has no buyerId.
    if (frame.type === "hold.placed" && user && data.buyerId === user.id) {
      state.myHold = { id: data.holdId, expiresAt: data.expiresAt };
      drawHold();
    }
    if (frame.type === "waitlist.promoted") {
      state.waitlist = null;
      state.myHold = data.holdId ? { id: data.holdId, expiresAt: data.offerExpiresAt } : state.myHold;
      outcome("ok", `Your turn: the hold is yours until ${when(data.offerExpiresAt)}.`);
      drawHold();
    }
  }

  drawListing();
  drawHold();
  const stops = [realtime.subscribe(`listing:${listing.id}`, onEvent, { onReset: refetch }), offers.stop];
  if (user) stops.push(realtime.subscribe(`user:${user.id}`, onPersonal, { onReset: refetch }));
  await Promise.all([loadMine(), loadHistory(), loadWatched([listing.id])]);
  drawHistory();
  drawHold();
  return () => stops.forEach((stop) => stop());
}
