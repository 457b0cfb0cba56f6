// Broker dashboard: one screen left open all day. Live feed of listing activity matching the broker's
// filters (channel `listings`), clients' reservations and holds, conflicts, verification progress and
// notifications (channel user:<me>). The socket resumes with `since`, so a drop loses and repeats nothing.

import { api, currentUser, optional } from "../api.js";
import { realtime } from "../realtime.js";
import { inboxPanel } from "./messages.js";
import { exportToExcel } from "./reports.js";
import { brokerStatePanel } from "./broker_state.js";
import { clock, errorText, field, flash, h, listingName, money, notice, replace, when } from "../ui.js";
import { marketMovementSection } from "./market.js";

const FILTER_KEY = "atp.dashboard.filters";
const SOUND_KEY = "atp.dashboard.sound";
const FEED_MAX = 200;
const CONTENDED = new Set(["hold.contended", "reservation.conflict", "waitlist.promoted"]);
// What a broker reads instead of the event codes (the code stays in data-type).
const LABELS = {
  "listing.created": "New listing", "listing.price_changed": "Price", "listing.status_changed": "Status",
  "listing.updated": "Updated", "hold.placed": "On hold", "hold.released": "Hold released", "hold.expired": "Hold expired",
  "reservation.created": "Reserved", "reservation.expired": "Reservation ended", "reservation.conflict": "Conflict",
  "hold.contended": "Contended", "waitlist.promoted": "Waitlist", "verification.progress": "Check",
  "verification.status_changed": "Verification", "notification.created": "Notice",
};
// A price or status change also sends listing.updated naming the same fields: one row per change.
const COVERED = new Set(["price", "status", "version", "updatedAt", "hold"]);

function loadFilters() {
  try { return JSON.parse(localStorage.getItem(FILTER_KEY)) || {}; } catch { return {}; }
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.3);
  } catch { /* no audio device: the visual cue is enough */ }
}

export async function dashboardView(main) {
  document.title = "Broker dashboard — ATP";
  const me = currentUser();
  let filters = loadFilters();
  const known = new Map(); // listingId -> listing summary, for filtering events without a snapshot
  const clients = new Set();
  const shown = { events: 0 };

  const inputs = {
    manufacturer: h("input", { name: "manufacturer", value: filters.manufacturer || "" }),
    priceMax: h("input", { name: "priceMax", type: "number", min: 0, step: 1000, value: filters.priceMax || "" }),
    country: h("input", { name: "country", maxlength: 2, value: filters.country || "" }),
  };
  const sound = h("input", { type: "checkbox", id: "sound-cue", checked: localStorage.getItem(SOUND_KEY) === "1" });
  sound.addEventListener("change", () => localStorage.setItem(SOUND_KEY, sound.checked ? "1" : "0"));
  const filterForm = h("form", { class: "filters", "aria-label": "Feed filters", onsubmit: (e) => {
    e.preventDefault();
    filters = {};
    for (const [key, input] of Object.entries(inputs)) if (input.value.trim()) filters[key] = input.value.trim();
    localStorage.setItem(FILTER_KEY, JSON.stringify(filters));
    note(`Filters applied (${Object.keys(filters).length ? Object.entries(filters).map(([k, v]) => `${k} ${v}`).join(", ") : "everything"})`);
  } }, field("Manufacturer", inputs.manufacturer), field("Max price", inputs.priceMax), field("Country", inputs.country),
  h("button", { type: "submit" }, "Apply"));

  const feed = h("ol", { class: "feed", id: "feed", "aria-live": "polite", "aria-label": "Live listing activity" });
  const counters = h("p", { class: "counters", id: "counters" });
  const reservations = h("tbody", { id: "reservations" });
  const conflicts = h("ul", { class: "feed", id: "conflicts" });
  const verifications = h("ul", { class: "feed", id: "verifications" });
  const notes = h("ul", { class: "feed", id: "dash-notifications" });
  const notesPanel = h("section", { class: "card panel hidden", "aria-labelledby": "notes-title" }, h("h2", { id: "notes-title" }, "Notifications"), notes);
  const message = h("div");

  const inbox = inboxPanel();
  const state = brokerStatePanel(me);
  const exportButton = h("button", { type: "button", class: "secondary", id: "export-excel", onclick: () => exportToExcel(new URLSearchParams(new FormData(filterForm))) }, "Export to Excel");
  main.append(h("h1", {}, "Broker dashboard"), exportButton, message, state.element, inbox.element,
    h("div", { class: "dash" },
      h("section", { class: "card panel", "aria-labelledby": "feed-title" },
        h("h2", { id: "feed-title" }, "Live listings"),
        h("details", {}, h("summary", {}, "Filters and cues"), filterForm, h("label", { class: "inline" }, sound, "Sound on contended events")),
        h("details", { id: "diagnostics" }, h("summary", {}, "Diagnostics"), counters), feed),
      h("div", { class: "stack" },
        h("section", { class: "card panel", "aria-labelledby": "res-title" }, h("h2", { id: "res-title" }, "Clients' reservations and holds"),
          h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Listing"), h("th", { scope: "col" }, "Client"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Until"))), reservations))),
        reserveForm(),
        h("section", { class: "card panel", "aria-labelledby": "conf-title" }, h("h2", { id: "conf-title" }, "Conflicts"), conflicts),
        h("section", { class: "card panel", "aria-labelledby": "ver-title" }, h("h2", { id: "ver-title" }, "Verification progress"), verifications),
        notesPanel)));
  if (me) main.append(marketMovementSection(me));

  /** Register a client's reservation (POST /api/reservations): client account, aircraft, days. */
  function reserveForm() {
    const client = h("input", { name: "buyerId", id: "reserve-client", required: true, placeholder: "client's account ID", autocomplete: "off" });
    const listing = h("input", { name: "listing", id: "reserve-listing", required: true, placeholder: "listing link or ID", autocomplete: "off" });
    const days = h("input", { name: "days", id: "reserve-days", type: "number", min: 1, max: 365, value: 30 });
    const result = h("div", { id: "reserve-result", "aria-live": "polite" });
    const form = h("form", { class: "stack", "aria-label": "Reserve for a client", onsubmit: async (event) => {
      event.preventDefault();
      const listingId = (listing.value.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i) || [""])[0];
      if (!listingId) { replace(result, notice("bad", "Paste the listing's link or ID.")); return; }
      try {
        await api("/api/reservations", { method: "POST", body: { buyerId: client.value.trim(), listingId, days: Number(days.value) || 30 } });
        replace(result, notice("ok", `Reserved ${known.get(listingId) ? listingName(known.get(listingId)) : "the aircraft"} for your client for ${Number(days.value) || 30} days.`));
        form.reset();
        loadReservations();
      } catch (err) {
        replace(result, notice("bad", errorText(err)));
      }
    } }, field("Client's account ID", client, "Your client finds it under My account."), field("Aircraft", listing), field("Days", days),
    h("button", { type: "submit" }, "Reserve"), result);
    return h("section", { class: "card panel", "aria-labelledby": "reserve-title" }, h("h2", { id: "reserve-title" }, "Reserve for a client"), form);
  }

  function drawCounters() {
    const s = realtime.stats;
    replace(counters, h("span", {}, `Events shown: ${shown.events}`), h("span", {}, `Reconnects: ${s.reconnects}`),
      h("span", {}, `Duplicates dropped: ${s.duplicates}`), h("span", {}, `Resyncs: ${s.resets}`));
  }

  function note(text) { replace(message, notice("ok", text)); }

  function matches(listing) {
    if (!listing) return !Object.keys(filters).length;
    if (filters.manufacturer && !listing.manufacturer?.toLowerCase().includes(filters.manufacturer.toLowerCase())) return false;
    if (filters.priceMax && Number(listing.price) > Number(filters.priceMax)) return false;
    if (filters.country && listing.locationCountry?.toUpperCase() !== filters.country.toUpperCase()) return false;
    return true;
  }

  function describe(frame) {
    const d = frame.data || {};
    const listing = d.listing || known.get(d.listingId);
    const name = listing ? listingName(listing) : `listing ${String(d.listingId).slice(0, 8)}`;
    switch (frame.type) {
      case "listing.created": return `New: ${name} at ${money(listing.price, listing.currency)}`;
      case "listing.price_changed": return `${name}: ${money(d.oldPrice, d.currency)} → ${money(d.newPrice, d.currency)}`;
      case "listing.status_changed": return `${name}: ${d.previousStatus} → ${d.status}`;
      case "listing.updated": return `${name} updated (${(d.changed || []).join(", ")})`;
      case "hold.placed": return `${name} put on hold${clients.has(d.buyerId) ? " by your client" : ""} until ${when(d.expiresAt)}`;
      case "hold.released": return `${name}: hold ${d.reason || "released"}`;
      case "hold.expired": return `${name}: hold expired`;
      default: return `${frame.type} ${name}`;
    }
  }

  function addRow(list, frame, text) {
    const contended = CONTENDED.has(frame.type);
    const listingId = frame.data?.listingId;
    const row = h("li", { class: contended ? "contended" : "", dataset: { eventId: frame.id, seq: frame.seq, type: frame.type, channel: frame.channel, listingId: listingId || "" } },
      h("span", { class: "evtype", title: frame.type }, LABELS[frame.type] || frame.type),
      listingId ? h("a", { href: `/listings/${listingId}` }, text) : h("span", {}, text),
      h("span", { class: "when" }, clock(frame.occurredAt)));
    list.prepend(row);
    while (list.children.length > FEED_MAX) list.lastElementChild.remove();
    if (contended) {
      flash(row, "cue");
      if (sound.checked) beep();
    }
    return row;
  }

  function onListings(frame) {
    const d = frame.data || {};
    if (d.listing) known.set(d.listingId, { ...known.get(d.listingId), ...d.listing });
    else if (frame.type === "listing.price_changed" && known.has(d.listingId)) known.get(d.listingId).price = d.newPrice;
    if (!matches(known.get(d.listingId))) return;
    if (frame.type === "listing.updated" && (d.changed || []).every((name) => COVERED.has(name))) return;
    addRow(feed, frame, describe(frame));
    shown.events += 1;
    drawCounters();
  }

  async function loadReservations() {
    try {
      const items = await api("/api/reservations");
      clients.clear();
      items.forEach((r) => clients.add(r.buyerId));
      replace(reservations, items.length ? items.map((r) => h("tr", { dataset: { reservationId: r.id } },
        h("td", {}, h("a", { href: `/listings/${r.listingId}` }, known.get(r.listingId) ? listingName(known.get(r.listingId)) : r.listingId.slice(0, 8))),
        h("td", {}, r.buyerId.slice(0, 8)), h("td", {}, r.status), h("td", {}, when(r.expiresAt))))
        : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No client reservations yet.")));
    } catch (err) {
      replace(reservations, h("tr", {}, h("td", { colspan: 4 }, errorText(err))));
    }
  }

  async function loadListings() {
    try {
      const page = await api("/api/listings?sort=newest&limit=100");
      page.items.forEach((l) => known.set(l.id, l));
    } catch { /* the feed still works without names */ }
  }

  /** The feed opens on the market as it is: what is on hold right now, newest listings' prices. */
  async function drawCurrentState() {
    const held = await optional("/api/listings?status=on_hold&limit=50");
    const rows = [];
    if (held.ok) {
      for (const l of held.data.items) {
        known.set(l.id, { ...known.get(l.id), ...l });
        if (!matches(l)) continue;
        rows.push(h("li", { class: "state", dataset: { state: "on_hold", listingId: l.id } },
          h("span", { class: "evtype" }, "On hold now"),
          h("a", { href: `/listings/${l.id}` }, `${listingName(l)}${l.hold?.expiresAt ? ` until ${when(l.hold.expiresAt)}` : ""}`),
          h("span", { class: "when" }, `as of ${clock()}`)));
      }
    }
    rows.push(h("li", { class: "state muted small", dataset: { state: "start" } }, h("span", { class: "evtype" }, "Now"),
      h("span", {}, `${held.ok ? held.data.items.length : "?"} aircraft on hold; live changes appear above.`)));
    feed.append(...rows);
  }

  async function loadNotifications() {
    const result = await optional("/api/notifications?limit=10");
    if (!result.ok) return;
    notesPanel.classList.remove("hidden");
    replace(notes, result.data.items.map((n) => h("li", {}, h("span", {}, n.title), h("span", { class: "when" }, when(n.createdAt)))));
  }

  function onPersonal(frame) {
    const d = frame.data || {};
    switch (frame.type) {
      case "reservation.created":
      case "reservation.expired":
        loadReservations();
        addRow(feed, frame, `${frame.type === "reservation.created" ? "Reserved" : "Reservation expired"}: ${describe({ ...frame, type: "" }).trim()}`);
        shown.events += 1;
        drawCounters();
        break;
      case "reservation.conflict":
      case "hold.contended":
        addRow(conflicts, frame, frame.type === "reservation.conflict"
          ? `Conflict: client ${String(d.buyerId).slice(0, 8)} is already reserved for ${describe({ ...frame, type: "" }).trim()}`
          : `Contended hold on ${describe({ ...frame, type: "" }).trim()}`);
        break;
      case "verification.progress":
        addRow(verifications, frame, `${d.check}: ${d.percent}%`);
        break;
      case "verification.status_changed":
        addRow(verifications, frame, `Verification ${String(d.verificationId).slice(0, 8)}: ${d.previousStatus} → ${d.status}`);
        break;
      case "notification.created":
        notesPanel.classList.remove("hidden");
        addRow(notes, frame, d.title);
        break;
      default:
        break;
    }
  }

  async function resync() {
    // The server could not replay what we missed: reload state over REST and mark the gap in the feed.
    await Promise.all([loadListings(), loadReservations()]);
    feed.prepend(h("li", { class: "muted small" }, `Resynchronised at ${clock()}`));
    drawCounters();
  }

  drawCounters();
  const stops = [
    realtime.subscribe("listings", onListings, { onReset: resync }),
    realtime.subscribe(`user:${me.id}`, onPersonal, { onReset: loadReservations }),
    realtime.onStatus(drawCounters),
    state.stop,
  ];
  await Promise.all([state.load(), loadListings()]);
  await Promise.all([loadReservations(), loadNotifications(), drawCurrentState()]);
  const ticker = setInterval(drawCounters, 2000);
  return () => { stops.forEach((stop) => stop()); inbox.stop(); clearInterval(ticker); };
}
