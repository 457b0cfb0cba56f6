// Sign-in with an identity provider: the log-in page's provider buttons, the callback's one-time code,
// and the account page's list of linked providers (docs/oidc.md).

import { ApiError, api, oauthSignIn, optional } from "../api.js";
import { errorText, h, notice, replace, toast, when } from "../ui.js";

/** A button per configured provider; each starts the redirect to it (a full page load, not the router). */
export async function providerButtons(box, next) {
  const listed = await optional("/api/auth/oauth/providers");
  if (!listed.ok || !listed.data.length) return;
  replace(box, h("p", { class: "muted" }, "Or continue with"),
    h("div", { class: "row" }, listed.data.map((p) => h("a", {
      class: "button secondary",
      href: `/api/auth/oauth/${encodeURIComponent(p.name)}/authorize?redirect=${encodeURIComponent(next)}`,
      dataset: { provider: p.name },
    }, p.displayName))));
}

/** Back from a provider with `#oauth=<code>`: swap it for a session. False when there was no code. */
export async function finishProviderSignIn(message) {
  const code = new URLSearchParams(location.hash.slice(1)).get("oauth");
  if (!code) return false;
  // The code is single use: out of the address bar and history before anything else.
  history.replaceState(history.state, "", location.pathname + location.search);
  try {
    await oauthSignIn(code);
    return true;
  } catch (err) {
    replace(message, notice("bad", err instanceof ApiError && err.code === "oauth_failed"
      ? "Signing in with the provider did not work. Please try again." : errorText(err)));
    return false;
  }
}

/** The account page's list of linked providers, each with an Unlink button. */
export async function linkedIdentities(box) {
  const listed = await optional("/api/me/identities");
  if (!listed.ok) { replace(box, h("p", { class: "muted" }, "Sign-in providers are not available on this server.")); return; }
  if (!listed.data.length) { replace(box, h("p", { class: "muted" }, "No provider is linked. Log in once with a provider whose email matches this account to link it.")); return; }
  replace(box, h("ul", { class: "stack" }, listed.data.map((identity) => h("li", { class: "row", dataset: { identity: identity.id } },
    h("span", {}, h("strong", {}, identity.displayName), " ", identity.email,
      h("span", { class: "small muted" }, ` · linked ${when(identity.createdAt)}`)),
    h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api(`/api/me/identities/${identity.id}`, { method: "DELETE" });
        toast(`${identity.displayName} unlinked.`);
      } catch (err) { toast(errorText(err)); }
      await linkedIdentities(box);
    } }, "Unlink")))));
}
