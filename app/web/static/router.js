// History-API router: same-origin links are handled in the page; each route renders into <main>.

const routes = [];
let notFound = null;
let cleanup = null;

export function route(pattern, view) {
  const keys = [];
  const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, key) => { keys.push(key); return "([^/]+)"; })}/?$`);
  routes.push({ regex, keys, view });
}

export function fallback(view) { notFound = view; }

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", url);
  else history.pushState({}, "", url);
  render();
}

export async function render() {
  const path = location.pathname;
  const main = document.getElementById("main");
  if (typeof cleanup === "function") { try { cleanup(); } catch (err) { console.error(err); } }
  cleanup = null;
  for (const { regex, keys, view } of routes) {
    const match = path.match(regex);
    if (!match) continue;
    const params = Object.fromEntries(keys.map((key, i) => [key, decodeURIComponent(match[i + 1])]));
    main.replaceChildren();
    cleanup = await view(main, params, new URLSearchParams(location.search));
    markCurrent(path);
    return;
  }
  main.replaceChildren();
  if (notFound) cleanup = await notFound(main);
}

function markCurrent(path) {
  for (const link of document.querySelectorAll("#nav a")) {
    const href = link.getAttribute("href");
    const current = href === "/" ? path === "/" || path.startsWith("/listings") : path.startsWith(href);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

export function start() {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || /^\/(api|ws|schema|media|static)\b/.test(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => render());
  return render();
}
