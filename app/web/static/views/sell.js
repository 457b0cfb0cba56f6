// Seller: my listings with stats, create and edit a listing (If-Match on the version), photo upload.

import { api, currentUser, optional } from "../api.js";
import { realtime } from "../realtime.js";
import { navigate } from "../router.js";
import { errorText, field, h, listingName, money, notice, replace, statusPill, toast } from "../ui.js";

const FIELDS = [
  ["manufacturer", "Manufacturer", { required: true }],
  ["model", "Model", { required: true }],
  ["yearManufactured", "Year built", { type: "number", min: 1903, max: 2100, required: true }],
  ["tailNumber", "Tail number", { required: true, placeholder: "N12345" }],
  ["hoursTotal", "Total hours", { type: "number", min: 0, required: true }],
  ["price", "Price", { type: "number", min: 1, step: "0.01", required: true }],
  ["currency", "Currency", { maxlength: 3, value: "USD", required: true }],
  ["locationCountry", "Country (ISO code)", { maxlength: 2, required: true, placeholder: "US" }],
  ["locationCity", "City", { required: true }],
];
const NUMBERS = new Set(["yearManufactured", "hoursTotal"]);
// The specifications the listing page shows (Specifications in app/listings/schemas.py).
const SPEC_FIELDS = [
  ["category", "Category", "select", [["", "—"], ["piston_single", "Piston single"], ["piston_twin", "Piston twin"], ["turboprop", "Turboprop"],
    ["light_jet", "Light jet"], ["midsize_jet", "Midsize jet"], ["super_midsize_jet", "Super-midsize jet"], ["large_jet", "Large jet"], ["helicopter", "Helicopter"]]],
  ["engineType", "Engine", "select", [["", "—"], ["piston", "Piston"], ["turboprop", "Turboprop"], ["jet", "Jet"], ["turboshaft", "Turboshaft"], ["electric", "Electric"]]],
  ["engineHours", "Engine hours (since overhaul)", "number", { min: 0, max: 200000 }],
  ["maxPassengers", "Passengers", "number", { min: 0, max: 1000 }],
  ["maxRangeNm", "Range (nm)", "number", { min: 0, max: 20000 }],
  ["maxSpeedKts", "Speed (kts)", "number", { min: 0, max: 2000 }],
  ["usefulLoadLbs", "Useful load (lbs)", "number", { min: 0, max: 1000000 }],
  ["interiorConfiguration", "Interior", "text", { maxlength: 100, placeholder: "e.g. 8-seat club, refreshed 2022" }],
  ["exteriorColor", "Exterior", "text", { maxlength: 50, placeholder: "e.g. white with blue stripes" }],
];

function specInputs(specs = {}) {
  const inputs = {};
  const rows = SPEC_FIELDS.map(([name, label, kind, extra]) => {
    const id = `s-${name}`;
    if (kind === "select") {
      inputs[name] = h("select", { name, id }, extra.map(([value, text]) => h("option", { value, selected: (specs[name] ?? "") === value }, text)));
    } else {
      inputs[name] = h("input", { name, id, type: kind, ...(kind === "number" ? { inputmode: "numeric" } : {}), ...extra, value: specs[name] ?? "" });
    }
    return field(label, inputs[name]);
  });
  inputs.avionics = h("textarea", { name: "avionics", id: "s-avionics", rows: 3 });
  inputs.avionics.value = (specs.avionics || []).join("\n");
  const box = h("fieldset", {}, h("legend", {}, "Specifications"), h("div", { class: "grid-2" }, rows),
    field("Avionics (one per line)", inputs.avionics));
  const read = () => {
    const out = { ...specs }; // keeps what the form does not show (coordinates)
    for (const [name, , kind] of SPEC_FIELDS) {
      const value = inputs[name].value.trim();
      if (value === "") delete out[name];
      else out[name] = kind === "number" ? Number(value) : value;
    }
    out.avionics = inputs.avionics.value.split("\n").map((line) => line.trim()).filter(Boolean);
    return out;
  };
  return { box, read };
}

export async function sellView(main, { id } = {}) {
  return id ? editView(main, id) : overview(main);
}

async function overview(main) {
  document.title = "Sell — ATP";
  const me = currentUser();
  const list = h("ul", { class: "results", id: "my-listings" });
  const message = h("div");
  main.append(h("h1", {}, "Sell aircraft"), message, listingForm(null, async (body) => {
    const created = await api("/api/listings", { method: "POST", body });
    toast(`Listed ${listingName(created)}`);
    navigate(`/sell/${created.id}`);
  }), h("h2", {}, "My listings"), list);
  try {
    const page = await api(`/api/listings?sellerId=${me.id}&limit=100&status=draft&status=active&status=on_hold&status=under_contract&status=sold&status=suspended&status=expired`);
    const statsOf = new Map();
    replace(list, page.items.length ? page.items.map((l) => {
      const stats = h("span", { class: "muted small", dataset: { statsFor: l.id } });
      statsOf.set(l.id, stats);
      return h("li", { class: "card" }, h("div", { class: "row" }, h("a", { href: `/sell/${l.id}` }, listingName(l)), statusPill(l.status),
        h("span", { class: "price" }, money(l.price, l.currency))), stats);
    }) : h("li", { class: "muted" }, "Nothing listed yet."));
    // One request for every listing's stats (not one per listing).
    if (statsOf.size) {
      const ids = new URLSearchParams([...statsOf.keys()].map((id) => ["ids", id]));
      optional(`/api/listings/stats?${ids}`).then((r) => {
        if (!r.ok) return;
        for (const [id, s] of Object.entries(r.data)) {
          const el = statsOf.get(id);
          if (el) el.textContent = `${s.views} views · ${s.activeHold ? "on hold" : "no hold"} · ${s.waitlistLength} waiting`;
        }
      });
    }
  } catch (err) {
    replace(message, notice("bad", errorText(err)));
  }
  return null;
}

function listingForm(listing, onSave) {
  const inputs = {};
  const message = h("div", { id: "listing-form-message" });
  const rows = FIELDS.map(([name, label, attrs]) => {
    inputs[name] = h("input", { name, id: `f-${name}`, ...attrs, value: listing ? listing[name] : attrs.value || "" });
    return field(label, inputs[name]);
  });
  inputs.description = h("textarea", { name: "description", rows: 4 });
  inputs.description.value = listing?.description || "";
  const specs = specInputs(listing?.specifications || {});
  const form = h("form", { class: "stack card", "aria-label": listing ? "Edit listing" : "New listing", onsubmit: async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.value.trim();
      if (!value && name !== "description") continue;
      body[name] = NUMBERS.has(name) ? Number(value) : ["currency", "locationCountry", "tailNumber"].includes(name) ? value.toUpperCase() : value;
    }
    if (listing) for (const key of Object.keys(body)) if (String(listing[key] ?? "") === String(body[key])) delete body[key];
    const specifications = specs.read();
    if (!listing || JSON.stringify(specifications) !== JSON.stringify({ ...listing.specifications, avionics: listing.specifications?.avionics || [] })) {
      body.specifications = specifications;
    }
    try {
      await onSave(body);
      replace(message, notice("ok", "Saved."));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  } }, h("h2", {}, listing ? "Details" : "New listing"), h("div", { class: "grid-2" }, rows), specs.box, field("Description", inputs.description), message,
  h("button", { type: "submit" }, listing ? "Save changes" : "Publish listing"));
  return form;
}

async function editView(main, id) {
  let listing;
  try { listing = await api(`/api/listings/${encodeURIComponent(id)}`); }
  catch (err) { main.append(h("h1", {}, "Listing"), notice("bad", errorText(err))); return null; }
  document.title = `Edit ${listingName(listing)} — ATP`;
  const stats = h("p", { class: "counters", id: "listing-stats" });
  const photos = h("div", { class: "gallery", id: "photos" });
  const upload = h("input", { type: "file", name: "file", accept: "image/jpeg,image/png,image/webp", multiple: true });
  const photoMessage = h("div");
  const heading = h("h1", {}, listingName(listing));
  const formBox = h("div");

  function drawForm() {
    replace(formBox, listingForm(listing, async (body) => {
      if (!Object.keys(body).length) return;
      listing = await api(`/api/listings/${listing.id}`, { method: "PATCH", body, headers: { "If-Match": String(listing.version) } });
      heading.textContent = listingName(listing);
    }));
  }

  async function drawStats() {
    const result = await optional(`/api/listings/${listing.id}/stats`);
    if (!result.ok) { stats.classList.add("hidden"); return; }
    const s = result.data;
    replace(stats, h("span", {}, `Views: ${s.views}`), h("span", {}, `Unique viewers: ${s.uniqueViewers}`),
      h("span", {}, s.activeHold ? "On hold" : "No hold"), h("span", {}, `Waitlist: ${s.waitlistLength}`));
  }

  async function drawPhotos() {
    const result = await optional(`/api/listings/${listing.id}/photos`);
    if (!result.ok) { replace(photos, h("p", { class: "muted" }, "Photo upload is not available on this server yet.")); upload.disabled = true; return; }
    replace(photos, result.data.items.map((p) => h("figure", {},
      p.thumbnailUrl ? h("img", { src: p.thumbnailUrl, alt: `Photo ${p.id.slice(0, 8)}`, width: p.width || 320, height: p.height || 240 }) : h("div", { class: "thumb" }),
      h("figcaption", { class: "small" }, p.status, " ", h("button", { type: "button", class: "secondary", onclick: async () => {
        try { await api(`/api/listings/${listing.id}/photos/${p.id}`, { method: "DELETE" }); drawPhotos(); } catch (err) { replace(photoMessage, notice("bad", errorText(err))); }
      } }, "Delete")))));
  }

  upload.addEventListener("change", async () => {
    for (const file of upload.files) {
      const body = new FormData();
      body.append("file", file);
      try { await api(`/api/listings/${listing.id}/photos`, { method: "POST", body }); }
      catch (err) { replace(photoMessage, notice("bad", `${file.name}: ${errorText(err)}`)); }
    }
    upload.value = "";
    drawPhotos();
  });

  const withdraw = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!confirm("Withdraw this listing?")) return;
    try { await api(`/api/listings/${listing.id}`, { method: "DELETE" }); navigate("/sell"); } catch (err) { toast(errorText(err)); }
  } }, "Withdraw listing");

  main.append(heading, h("p", { class: "row" }, statusPill(listing.status), h("a", { href: `/listings/${listing.id}` }, "View as buyers see it")), stats, formBox,
    h("section", { class: "card stack", "aria-labelledby": "photos-title" }, h("h2", { id: "photos-title" }, "Photos"), field("Add photos", upload, "JPEG, PNG or WebP; thumbnails appear when processed."), photoMessage, photos),
    h("p", {}, withdraw));
  drawForm();
  await Promise.all([drawStats(), drawPhotos()]);
  const stop = realtime.subscribe(`listing:${listing.id}`, (frame) => {
    if (frame.type === "listing.updated" && frame.data.listing) {
      if ((frame.data.changed || []).includes("photos")) drawPhotos();
    }
    if (frame.type.startsWith("hold.")) drawStats();
  }, { onReset: drawStats });
  return stop;
}
