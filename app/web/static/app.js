// Boot: restore the session from the refresh cookie, open the socket, draw the chrome, route.

import { currentUser, hasRole, isLoggedIn, logout, onSessionChange, optional, restoreSession } from "./api.js";
import { getUnread, setUnread } from "./bell.js";
import { realtime } from "./realtime.js";
import { fallback, navigate, route, start } from "./router.js";
import { h, replace, toast } from "./ui.js";
import { accountView } from "./views/account.js";
import { adminView } from "./views/admin.js";
import { loginView, registerView } from "./views/auth.js";
import { dashboardView } from "./views/dashboard.js";
import { dealView } from "./views/deal.js";
import { listingView } from "./views/listing.js";
import { notificationsView } from "./views/notifications.js";
import { offersView } from "./views/offers.js";
import { plansView } from "./views/plans.js";
import { savedView } from "./views/saved.js";
import { searchView } from "./views/search.js";
import { sellView } from "./views/sell.js";
import { verificationView } from "./views/verification.js";

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
  const links = [["/", "Search"]];
  if (user) {
    links.push(["/saved", "Saved"]);
    links.push(["/offers", "Offers"]);
    if (hasRole("broker") || hasRole("admin")) links.push(["/dashboard", "Dashboard"]);
    if (hasRole("seller") || hasRole("broker") || hasRole("admin")) links.push(["/sell", "Sell"]);
    if (hasRole("admin")) links.push(["/admin", "Admin"]);
    links.push(["/verification", "Verification"]);
  }
  replace(document.getElementById("nav"), links.map(([href, text]) => h("a", { href }, text)));
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
  main.append(h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/" }, "Back to search")));
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

route("/", searchView);
route("/search", searchView);
route("/listings/:id", listingView);
route("/login", loginView);
route("/register", registerView);
route("/dashboard", requireLogin(dashboardView));
route("/sell", requireLogin(sellView));
route("/sell/:id", requireLogin(sellView));
route("/admin", requireLogin(adminView));
route("/verification", requireLogin(verificationView));
route("/notifications", requireLogin(notificationsView));
route("/saved", requireLogin(savedView));
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
