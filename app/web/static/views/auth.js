// Log in (with the TOTP code when the server asks for it) and register.

import { ApiError, login, register } from "../api.js";
import { navigate } from "../router.js";
import { errorText, field, h, notice, replace } from "../ui.js";
import { finishProviderSignIn, providerButtons } from "./identities.js";

function nextUrl(query) {
  const next = query.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function loginView(main, _params, query) {
  document.title = "Log in — ATP";
  const email = h("input", { type: "email", name: "email", id: "login-email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", id: "login-password", autocomplete: "current-password", required: true });
  const totp = h("input", { type: "text", name: "totp", id: "login-totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6 });
  const totpField = field("Authentication code", totp, "The 6-digit code from your authenticator app.");
  totpField.classList.add("hidden");
  const message = h("div", { id: "login-message" });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "stack form-narrow", "aria-labelledby": "login-title", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await login(email.value.trim(), password.value, totp.value.trim() || undefined);
      navigate(nextUrl(query), { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === "totp_required") {
        totpField.classList.remove("hidden");
        totp.required = true;
        replace(message, notice("warn", "Two-factor authentication is on: enter the code from your authenticator app."));
        totp.focus();
      } else {
        replace(message, notice("bad", errorText(err)));
      }
    } finally {
      submit.disabled = false;
    }
  } }, field("Email", email), field("Password", password), totpField, message, submit);
  const providers = h("div", { class: "stack form-narrow", id: "login-providers" });
  main.append(h("h1", { id: "login-title" }, "Log in"), form, providers, h("p", {}, "New here? ", h("a", { href: "/register" }, "Create an account")));
  email.focus();
  providerButtons(providers, nextUrl(query));
  finishProviderSignIn(message).then((signedIn) => { if (signedIn) navigate(nextUrl(query), { replace: true }); });
  return null;
}

export function registerView(main, _params, query) {
  document.title = "Create an account — ATP";
  const inputs = {
    email: h("input", { type: "email", name: "email", autocomplete: "email", required: true }),
    password: h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: 8, required: true }),
    companyName: h("input", { name: "companyName", autocomplete: "organization", required: true }),
    firstName: h("input", { name: "firstName", autocomplete: "given-name" }),
    lastName: h("input", { name: "lastName", autocomplete: "family-name" }),
    userType: h("select", { name: "userType" }, [["buyer", "Buyer"], ["seller", "Seller"], ["broker", "Broker"]]
      .map(([value, text]) => h("option", { value }, text))),
  };
  const message = h("div");
  const form = h("form", { class: "stack form-narrow", onsubmit: async (event) => {
    event.preventDefault();
    const body = {};
    for (const [key, input] of Object.entries(inputs)) if (input.value.trim()) body[key] = key === "password" ? input.value : input.value.trim();
    try {
      await register(body);
      navigate(body.userType === "buyer" ? nextUrl(query) : body.userType === "broker" ? "/dashboard" : "/sell", { replace: true });
    } catch (err) {
      replace(message, notice("bad", errorText(err)));
    }
  } },
  field("Email", inputs.email), field("Password", inputs.password, "At least 8 characters."), field("Company", inputs.companyName),
  h("div", { class: "grid-2" }, field("First name", inputs.firstName), field("Last name", inputs.lastName)),
  field("I am a", inputs.userType), message, h("button", { type: "submit" }, "Create account"));
  main.append(h("h1", {}, "Create an account"), form, h("p", {}, "Already registered? ", h("a", { href: "/login" }, "Log in")));
  return null;
}
