// DOM helpers: elements are built with properties and text nodes, never from HTML strings, so listing
// text cannot inject markup and nothing needs inline styles (CSP: style-src 'self').

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  append(el, children);
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function money(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return `${amount} ${currency || ""}`.trim();
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency || "USD", maximumFractionDigits: 0 }).format(value);
  } catch {
    return `${value.toLocaleString("en-US")} ${currency}`;
  }
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function clock(iso) {
  const date = iso ? new Date(iso) : new Date();
  return date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function statusPill(status) {
  return h("span", { class: `status-pill status-${status}`, dataset: { testid: "status" } }, (status || "").replace("_", " "));
}

export function notice(kind, ...content) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "bad" ? "alert" : "status" }, ...content);
}

export function toast(text, { timeout = 5000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: "toast" }, text);
  box.append(item);
  setTimeout(() => item.remove(), timeout);
}

export function errorText(err) {
  return err?.userMessage || err?.message || String(err);
}

/** Re-run a CSS animation class on an element (live change cue). */
export function flash(el, cls = "flash") {
  el.classList.remove(cls);
  void el.offsetWidth;
  el.classList.add(cls);
}

export function field(labelText, input, hint) {
  return h("label", {}, labelText, input, hint ? h("span", { class: "muted small" }, hint) : null);
}

export function debounce(fn, ms) {
  let timer;
  const debounced = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

export function listingName(listing) {
  return `${listing.yearManufactured ?? ""} ${listing.manufacturer} ${listing.model}`.trim();
}

export function formData(form) {
  const out = {};
  for (const [key, value] of new FormData(form)) if (typeof value === "string" && value.trim() !== "") out[key] = value.trim();
  return out;
}

/** A date with the reader's time zone spelled out ("5 Dec 2026, 14:30 CET"). */
export function whenZoned(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso
    : date.toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

/** "47 h 12 min 09 s left", "4 min 05 s left", "expired". */
export function timeLeft(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (!(ms > 0)) return "expired";
  const s = Math.floor(ms / 1000);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min ${String(s % 60).padStart(2, "0")} s left`;
  return `${minutes} min ${String(s % 60).padStart(2, "0")} s left`;
}

/** A span that counts down to `iso` every second while it is on the page. */
export function countdown(iso, attrs = {}) {
  const el = h("span", { class: "countdown", ...attrs }, timeLeft(iso));
  const timer = setInterval(() => {
    if (!el.isConnected && el.dataset.started) { clearInterval(timer); return; }
    el.dataset.started = "1";
    el.textContent = timeLeft(iso);
  }, 1000);
  return el;
}
