// My verifications with live progress (channel verification:<id>); start, upload documents, submit.

import { api, optional } from "../api.js";
import { realtime } from "../realtime.js";
import { errorText, field, h, notice, replace, statusPill, when } from "../ui.js";

export async function verificationView(main) {
  document.title = "Verification — ATP";
  const list = h("div", { class: "stack", id: "verifications" });
  const message = h("div");
  const kind = h("select", { name: "verificationType" }, [["individual", "Individual"], ["company", "Company"], ["aircraft", "Aircraft"]].map(([v, t]) => h("option", { value: v }, t)));
  const start = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("/api/verification/start", { method: "POST", body: { verificationType: kind.value } }); load(); }
    catch (err) { replace(message, notice("bad", errorText(err))); }
  } }, field("Verify", kind), h("button", { type: "submit" }, "Start"));
  main.append(h("h1", {}, "Verification"), h("p", { class: "muted" }, "Verified buyers can hold aircraft; verified sellers can list them."), message, start, list);
  const stops = [];

  function card(v) {
    const progress = h("progress", { class: "progress", max: 100, value: v.progress ?? 0, "aria-label": "Progress" });
    const pct = h("span", { class: "small" }, `${v.progress ?? 0}%`);
    const results = h("ul", { class: "small" }, (v.results || []).map((r) => h("li", {}, `${r.check}: ${r.status}${r.detail ? ` — ${r.detail}` : ""}`)));
    const needed = (v.requiredDocuments || []).length && ["submitted", "documents_required"].includes(v.status) ? h("p", { class: "small" }, `Documents needed: ${v.requiredDocuments.join(", ")}`) : null;
    const remarks = (v.comments || []).map((c) => h("p", { class: "notice" }, c.body));
    const status = h("span", {}, statusPill(v.status));
    const file = h("input", { type: "file", name: "file" });
    const kinds = [...new Set([...(v.requiredDocuments || []), "id_document", "company_registration", "registration_certificate", "other"])];
    const docKind = h("select", { name: "kind" }, kinds.map((k) => h("option", { value: k }, k.replaceAll("_", " "))));
    const actions = ["submitted", "documents_required"].includes(v.status) ? h("form", { class: "stack", onsubmit: async (e) => {
      e.preventDefault();
      try {
        if (file.files.length) {
          const body = new FormData();
          body.append("file", file.files[0]);
          body.append("kind", docKind.value);
          await api(`/api/verification/${v.id}/documents`, { method: "POST", body });
        }
        await api(`/api/verification/${v.id}/submit`, { method: "POST" });
        load();
      } catch (err) { replace(message, notice("bad", errorText(err))); }
    } }, h("div", { class: "grid-2" }, field("Document", file), field("Document kind", docKind)), h("button", { type: "submit" }, "Upload and submit")) : null;
    stops.push(realtime.subscribe(`verification:${v.id}`, (frame) => {
      if (frame.type === "verification.progress") {
        progress.value = frame.data.percent;
        pct.textContent = `${frame.data.percent}% (${frame.data.check})`;
      } else if (frame.type === "verification.status_changed") {
        replace(status, statusPill(frame.data.status));
        if (["approved", "rejected", "documents_required", "manual_review"].includes(frame.data.status)) load();
      }
    }, { onReset: load }));
    return h("article", { class: "card stack", dataset: { verificationId: v.id } },
      h("div", { class: "row" }, h("strong", {}, `${v.verificationType || "verification"}`), status, h("span", { class: "muted small" }, when(v.createdAt))),
      h("div", { class: "row" }, progress, pct), results, needed, remarks, actions);
  }

  async function load() {
    stops.splice(0).forEach((stop) => stop());
    const result = await optional("/api/verification");
    if (!result.ok) {
      replace(list, result.missing ? h("p", { class: "muted" }, "Verification is not available on this server yet.") : notice("bad", errorText(result.error)));
      start.classList.toggle("hidden", result.missing);
      return;
    }
    // The list carries summaries; progress and check results come with each case.
    const cases = await Promise.all(result.data.items.map(async (summary) => {
      const detail = await optional(`/api/verification/${summary.id}`);
      return detail.ok ? detail.data : summary;
    }));
    replace(list, cases.length ? cases.map(card) : h("p", { class: "muted" }, "No verification yet."));
  }
  await load();
  return () => stops.forEach((stop) => stop());
}
