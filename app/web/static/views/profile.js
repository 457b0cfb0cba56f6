// A seller's or broker's public page: who they are, how verified, since when, and what they have for sale.

import { api, optional, responseMeta } from "../api.js";
import { errorText, h, notice, replace, when } from "../ui.js";
import { compareTray } from "./compare.js";
import { resultCard } from "./search.js";
import { loadWatched } from "./watchlist.js";

const PAGE = 12;
const TYPES = { broker: "Aircraft broker", seller: "Dealer / seller" };

export function verificationText(level) {
  if (level >= 2) return "✓ Verified company (registration, sanctions and bank checked by ATP)";
  if (level === 1) return "✓ Verified identity (ID documents and sanctions checked by ATP)";
  return "Not verified yet";
}

/** "Listed by …" on a listing page: a link to the seller's profile (nothing when they have none). */
export function sellerLine(sellerId) {
  // The line's height is held from the start (a no-break space): the name arriving moves nothing below it.
  const line = h("p", { class: "small seller-line", id: "seller-line" }, "\u00a0");
  optional(`/api/profiles/${sellerId}`).then((result) => {
    if (!result.ok) return;
    const p = result.data;
    line.replaceChildren("Listed by ", h("a", { href: `/sellers/${p.id}` }, p.displayName),
      p.companyName && p.companyName !== p.displayName ? `, ${p.companyName}` : "",
      p.verificationLevel >= 1 ? h("span", { class: "muted" }, ` · ${verificationText(p.verificationLevel).split(" (")[0]}`) : "");
  });
  return line;
}

export async function profileView(main, { id }) {
  let profile;
  const path = `/api/profiles/${encodeURIComponent(id)}`;
  try {
    profile = await api(path);
  } catch (err) {
    document.title = "Seller not found — ATP";
    main.append(h("h1", {}, "Seller not found"), notice("bad", err.status === 404 ? "There is no public seller or broker at this address." : errorText(err)),
      h("p", {}, h("a", { href: "/" }, "Back to search")));
    return null;
  }
  const origin = responseMeta.get(path);
  document.title = `${profile.displayName}${profile.companyName && profile.companyName !== profile.displayName ? `, ${profile.companyName}` : ""} — ATP`;
  const list = h("ul", { class: "results", id: "inventory", "aria-label": "Aircraft for sale" });
  const more = h("button", { type: "button", class: "secondary", id: "inventory-more", hidden: true }, "Show more");
  const message = h("div");
  const since = new Date(profile.memberSince).toLocaleDateString("en-GB", { month: "long", year: "numeric" });
  const tray = compareTray();
  main.append(
    h("section", { class: "card profile-head", "aria-labelledby": "profile-name" },
      h("h1", { id: "profile-name" }, profile.displayName),
      profile.companyName && profile.companyName !== profile.displayName ? h("p", { class: "profile-company", id: "profile-company" }, profile.companyName) : null,
      h("dl", { class: "specs" },
        h("dt", {}, "Type"), h("dd", {}, TYPES[profile.userType] || profile.userType),
        h("dt", {}, "Verification"), h("dd", { id: "profile-verified" }, verificationText(profile.verificationLevel)),
        h("dt", {}, "Member since"), h("dd", { id: "profile-since" }, since),
        h("dt", {}, "For sale"), h("dd", { id: "profile-count" }, `${profile.listingsCount} aircraft`)),
      h("p", { class: "muted small" }, "Contact the seller through “Message the seller” on any of their listings.")),
    origin?.offline ? notice("warn", `You are offline: as of ${origin.date ? when(origin.date) : "your last visit"}.`) : null,
    h("section", { "aria-labelledby": "inventory-title" }, h("h2", { id: "inventory-title" }, "Aircraft for sale"), message, list,
      h("div", { class: "row more-row" }, more)),
    tray.element);

  let cursor = null;
  async function loadPage() {
    const params = new URLSearchParams({ sellerId: profile.id, limit: String(PAGE) });
    if (cursor) params.set("cursor", cursor);
    more.disabled = true;
    try {
      const page = await api(`/api/listings?${params}`);
      const seen = new Set([...list.children].map((li) => li.dataset.listingId));
      const cards = page.items.filter((item) => !seen.has(item.id)).map((item) => resultCard(item, { tray }));
      list.append(...cards);
      loadWatched(page.items.map((item) => item.id));
      cursor = page.nextCursor;
      if (!list.children.length) list.append(h("li", { class: "muted" }, "Nothing for sale right now."));
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    } finally {
      more.disabled = false;
      more.hidden = !cursor;
      more.textContent = cursor ? `Show more (${Math.max(profile.listingsCount - list.children.length, 0)} left)` : "Show more";
    }
  }
  more.addEventListener("click", loadPage);
  await loadPage();
  return () => tray.stop();
}
