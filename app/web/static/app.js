// Boot: restore the session from the refresh cookie, open the socket, draw the chrome, route.

import { currentUser, hasRole, isLoggedIn, logout, onSessionChange, optional, restoreSession } from "./api.js";
import { getUnread, setUnread } from "./bell.js";
import { realtime } from "./realtime.js";
import { fallback, navigate, route, start } from "./router.js";
import { h, replace, toast } from "./ui.js";
import { accountView } from "./views/account.js";
import { adminView } from "./views/admin.js";
import { loginView, registerView } from "./views/auth.js";
import { inboxView, messagesBadge, threadView } from "./views/messages.js";
import { dashboardView } from "./views/dashboard.js";
import { dealView } from "./views/deal.js";
import { compareView } from "./views/compare.js";
import { listingView } from "./views/listing.js";
import { profileView } from "./views/profile.js";
import { marketView } from "./views/market.js";
import { notificationsView } from "./views/notifications.js";
import { reportsView } from "./views/reports.js";
import { offersView } from "./views/offers.js";
import { plansView } from "./views/plans.js";
import { savedView } from "./views/saved.js";
import { holdsView } from "./views/holds.js";
import { searchView } from "./views/search.js";
import { sellView } from "./views/sell.js";
import { verificationView } from "./views/verification.js";
import { watchlistView } from "./views/watchlist.js";

const STATUS_TEXT = { live: "live", connecting: "connecting", reconnecting: "reconnecting…", offline: "offline" };
let stopUserChannel = null;

function drawConnection(status) {
  const el = document.getElementById("conn");
  el.className = `conn conn-${status}`;
  el.textContent = STATUS_TEXT[status] || status;
  el.dataset.status = status;
}

function drawNav() {
  const user = currentUser();
  const links = [["/", "Search"], ["/market", "Market"]];
  if (user) {
    links.push(["/watchlist", "Watchlist"]);
    links.push(["/saved", "Saved"]);
    if (hasRole("buyer") || user.userType === "buyer") links.push(["/holds", "My holds"]);
    links.push(["/messages", "Messages"]);
    links.push(["/reports", "Reports"]);
    links.push(["/offers", "Offers"]);
    if (hasRole("broker") || hasRole("admin")) links.push(["/dashboard", "Dashboard"]);
    if (hasRole("seller") || hasRole("broker") || hasRole("admin")) links.push(["/sell", "Sell"]);
    if (hasRole("admin")) links.push(["/admin", "Admin"]);
    links.push(["/verification", "Verification"]);
  }
  replace(document.getElementById("nav"), links.map(([href, text]) => h("a", { href }, text)));
  messagesBadge();
  const who = document.getElementById("who");
  if (user) {
    replace(who, h("span", { class: "visually-hidden" }, "Signed in as "), h("a", { href: "/account", title: "My account" }, user.email), " ",
      h("button", { class: "secondary", type: "button", onclick: async () => { await logout(); navigate("/"); } }, "Log out"));
  } else {
    replace(who, h("a", { href: "/login" }, "Log in"), " · ", h("a", { href: "/register" }, "Register"));
  }
}

async function drawBell() {
  const bell = document.getElementById("bell");
  if (stopUserChannel) { stopUserChannel(); stopUserChannel = null; }
  const user = currentUser();
  if (!user) { bell.classList.add("hidden"); return; }
  const result = await optional("/api/notifications/unread-count");
  if (!result.ok) { bell.classList.add("hidden"); return; }
  bell.classList.remove("hidden");
  setUnread(result.data.count);
  stopUserChannel = realtime.subscribe(`user:${user.id}`, (frame) => {
    if (frame.type === "notification.created") {
      setUnread(getUnread() + 1);
      toast(frame.data.title || "New notification");
    }
  }, { onReset: async () => {
    const again = await optional("/api/notifications/unread-count");
    if (again.ok) setUnread(again.data.count);
  } });
}

function notFoundView(main) {
  main.append(h("h1", {}, "Page not found"), h("p", { id: "not-found" }, "There is no page at this address."),
    h("p", {}, h("a", { href: "/" }, "Back to search")));
  document.title = "Not found — ATP";
}

function requireLogin(view) {
  return (main, params, query) => {
    if (!isLoggedIn()) {
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
      return null;
    }
    return view(main, params, query);
  };
}

/** Logged in and holding one of `roles`, else a page that says who may open it (no view, no API calls). */
function requireRole(roles, view) {
  return requireLogin((main, params, query) => {
    if (roles.some((role) => hasRole(role))) return view(main, params, query);
    const names = { broker: "brokers", seller: "sellers", admin: "administrators" };
    document.title = "Not available — ATP";
    main.append(h("h1", {}, "This page is not available to your account"),
      h("p", { id: "forbidden" }, `It is for ${roles.map((role) => names[role] || role).join(", ").replace(/, ([^,]*)$/, " and $1")}.`),
      h("p", {}, h("a", { href: "/" }, "Back to search")));
    return null;
  });
}

route("/", searchView);
route("/search", searchView);
route("/listings/:id", listingView);
route("/market", marketView);
route("/compare", compareView);
route("/sellers/:id", profileView);
route("/watchlist", requireLogin(watchlistView));
route("/login", loginView);
route("/register", registerView);
route("/dashboard", requireRole(["broker", "admin"], dashboardView));
route("/sell", requireRole(["seller", "broker", "admin"], sellView));
route("/sell/:id", requireRole(["seller", "broker", "admin"], sellView));
route("/admin", requireRole(["admin"], adminView));
route("/verification", requireLogin(verificationView));
route("/notifications", requireLogin(notificationsView));
route("/saved", requireLogin(savedView));
route("/reports", requireLogin(reportsView));
route("/holds", requireLogin(holdsView));
route("/messages", requireLogin(inboxView));
route("/messages/:id", requireLogin(threadView));
route("/account", requireLogin(accountView));
route("/offers", requireLogin(offersView));
route("/deals/:id", requireLogin(dealView));
route("/plans", requireLogin(plansView));
fallback(notFoundView);

async function boot() {
  realtime.onStatus(drawConnection);
  await restoreSession();
  drawNav();
  onSessionChange(() => { drawNav(); drawBell(); realtime.connect(); });
  realtime.connect();
  drawBell();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err) => console.warn("service worker", err));
  }
  window.addEventListener("online", () => { if (!realtime.held && realtime.status !== "live") realtime.connect(); });
  // Hooks for the end-to-end tests and for debugging in the console.
  window.atp = { realtime, navigate };
  await start();
  document.documentElement.dataset.ready = "1";
}

boot();
