// The one way the app talks HTTP. The access token lives only in this module's memory; the refresh
// token is an httpOnly cookie the page never sees (X-ATP-Client: web, docs/web.md).

let accessToken = null;
let session = null; // {user, roles, permissions}
let refreshing = null;
let renewTimer = null;
const sessionListeners = new Set();
let offlineSession = false; // signed in, but offline: the profile came from the service worker's cache
let refreshWasOffline = false;
/** Per path, the last answer's origin: {offline, date} (offline = the service worker's cached copy). */
export const responseMeta = new Map();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || null;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
  }
  /** Text for a person: the problem's title and detail, or a plain network message. */
  get userMessage() {
    if (this.status === 0) return "Network error: check your connection and try again.";
    if (this.detail && this.detail !== this.title) return `${this.title}: ${this.detail}`;
    return this.title;
  }
}

const WEB = { "X-ATP-Client": "web" };
const NO_REFRESH = ["/api/auth/login", "/api/auth/refresh", "/api/auth/register"];

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { return await response.json(); } catch { /* fall through */ }
  }
  return { title: response.statusText || `HTTP ${response.status}`, status: response.status };
}

/** fetch + JSON + problem+json errors; retries once after a 401 by refreshing the session. */
export async function api(path, { method = "GET", body, headers = {}, signal, retry = true, blob = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { title: "Network error", detail: String(err.message || err) });
  }
  responseMeta.set(path, { offline: response.headers.get("X-ATP-Offline") === "1", date: response.headers.get("date") });
  if (response.status === 401 && retry && accessToken && !NO_REFRESH.includes(path)) {
    if (await refresh()) return api(path, { method, body, headers, signal, retry: false, blob });
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  if (blob) return response.blob();
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** True when the server answers this path (404 means the feature is not deployed: hide its widget). */
export async function optional(path, options) {
  try {
    return { ok: true, data: await api(path, options) };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405) && err.code !== "not_waitlisted") {
      return { ok: false, missing: true, error: err };
    }
    return { ok: false, missing: false, error: err };
  }
}

/** Swap the cookie for a new access token; single flight, false when there is no valid session. */
export function refresh() {
  if (!refreshing) {
    // Tabs share the cookie and each refresh spends it: one tab at a time (Web Locks), or the second
    // tab would present a spent token and the server would revoke the whole login.
    const run = () => refreshNow();
    refreshing = (navigator.locks ? navigator.locks.request("atp-refresh", run) : run())
      .finally(() => setTimeout(() => { refreshing = null; }, 0));
  }
  return refreshing;
}

async function refreshNow() {
  refreshWasOffline = false;
  try {
    const response = await fetch("/api/auth/refresh", { method: "POST", headers: WEB, credentials: "same-origin" });
    if (!response.ok) { setSession(null, null); forgetSessionHint(); return false; }
    tokenReceived(await response.json());
    return true;
  } catch {
    refreshWasOffline = true;
    return false; // offline: keep whatever we have and try again later
  }
}

/** Keep the token; renew it a minute before it runs out so live pages never see a 401. */
function tokenReceived(body) {
  accessToken = body.accessToken;
  clearTimeout(renewTimer);
  const seconds = Number(body.expiresIn) || 900;
  renewTimer = setTimeout(() => { if (accessToken) refresh(); }, Math.max(30, seconds - 60) * 1000);
}

async function loadProfile() {
  const profile = await api("/api/auth/profile");
  setSession(accessToken, profile);
  return profile;
}

/** The server's readable "atp_session=1" says a refresh cookie may exist; without it, do not ask (no 401). */
function mayHaveSession() {
  return document.cookie.split(";").some((part) => part.trim() === "atp_session=1");
}

function forgetSessionHint() {
  document.cookie = "atp_session=; Max-Age=0; Path=/; SameSite=Strict";
}

/** On page load: a valid cookie gives back the session without asking for the password. */
export async function restoreSession() {
  if (!mayHaveSession()) return null;
  if (await refresh()) {
    offlineSession = false;
    try { return await loadProfile(); } catch { setSession(null, null); }
    return null;
  }
  if (refreshWasOffline) {
    // Offline with a session cookie: the last profile the service worker kept keeps the person signed in.
    try {
      const profile = await api("/api/auth/profile", { retry: false });
      if (responseMeta.get("/api/auth/profile")?.offline) {
        offlineSession = true;
        const before = session?.user?.id;
        session = profile;
        if (before !== profile?.user?.id) sessionListeners.forEach((fn) => fn(session));
        return profile;
      }
    } catch { /* nothing cached */ }
  }
  return null;
}

export async function login(email, password, totp) {
  const body = { email, password };
  if (totp) body.totp = totp;
  tokenReceived(await api("/api/auth/login", { method: "POST", body, headers: WEB, retry: false }));
  return loadProfile();
}

/** Finish a sign-in with an identity provider: the callback's one-time code for a session (docs/oidc.md). */
export async function oauthSignIn(code) {
  tokenReceived(await api("/api/auth/oauth/exchange", { method: "POST", body: { code }, headers: WEB, retry: false }));
  return loadProfile();
}

export async function register(fields) {
  // With the web header the refresh token lands in the httpOnly cookie, never in this page.
  tokenReceived(await api("/api/auth/register", { method: "POST", body: fields, headers: WEB, retry: false }));
  return loadProfile();
}

export async function logout() {
  try { await api("/api/auth/logout", { method: "POST", headers: WEB, retry: false }); } catch { /* gone anyway */ }
  setSession(null, null);
  forgetSessionHint();
  // Listings read while logged in may include the owner's private copies: forget them with the session.
  if ("caches" in window) await caches.delete("atp-listings-v1").catch(() => {});
}

function setSession(token, profile) {
  accessToken = token;
  if (token || !profile) offlineSession = false;
  if (!token) clearTimeout(renewTimer);
  const before = session?.user?.id;
  session = profile;
  if (before !== profile?.user?.id) sessionListeners.forEach((fn) => fn(session));
}

export function currentSession() { return session; }
export function currentUser() { return session?.user || null; }
export function isLoggedIn() { return Boolean(session && (accessToken || offlineSession)); }
export function isOfflineSession() { return offlineSession; }
// Back online after an offline start: swap the cached profile for a real session.
window.addEventListener("online", () => { if (offlineSession) restoreSession(); });
export function hasRole(role) { return Boolean(session?.roles?.includes(role)) || session?.user?.userType === role; }
export function onSessionChange(fn) { sessionListeners.add(fn); return () => sessionListeners.delete(fn); }
