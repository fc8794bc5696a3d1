// Access transparency: staff requests to approve or deny with the second factor, and every
// entry the transparency log holds for this account, checked here against the log's signed
// checkpoints by the Rust crypto (key pinned in this browser, consistency with the checkpoint
// seen last, each entry's inclusion recomputed from its bytes). A failed check is an alarm.

import * as api from "../api";
import * as account from "../account";
import { field, form, h, message, notice, show, time } from "../ui";
import { LogCheck } from "../wasm";
import * as store from "../store";

interface AccessRequest {
  id: string;
  staff_email: string;
  staff_role: string;
  scopes: string[];
  justification: string;
  ticket: string;
  duration_secs: number;
  break_glass: boolean;
  state: "pending" | "approved" | "denied" | "revoked" | "expired";
  created_at_ms: number;
  decided_at_ms: number | null;
  expires_at_ms: number | null;
}

interface CheckedEntry {
  index: number;
  kind: string;
  at_ms: number;
  verified: boolean;
  fields: Record<string, unknown> | null;
}

interface Report {
  passed: boolean;
  key_pinned_now: boolean;
  size: number | null;
  pending_on_server: number;
  problems: { code: string; index: number | null; message: string }[];
  entries: CheckedEntry[];
  pin: unknown;
}

/** Fetches what the check needs, runs it, keeps the new pin only when it passed. */
export async function checkLog(): Promise<Report> {
  const accountId = account.me().account_id;
  const key = await api.get<unknown>("/api/log/key");
  let listing = await api.get<{ entries: unknown[]; pending: number }>("/api/log/entries");
  if (listing.pending > 0) {
    // Entries wait for the next batch: have them signed now rather than leave them unchecked.
    await api.text("POST", "/api/log/checkpoint");
    listing = await api.get("/api/log/entries");
  }
  const note = await api.text("GET", "/api/log/checkpoint");
  const pin = await store.logPinOf(accountId);
  const check = LogCheck.begin(pin, JSON.stringify(key), JSON.stringify(listing), note);
  try {
    const needs = JSON.parse(check.needs()) as { consistency: [number, number] | null; inclusion: [number, number][] };
    let consistency: string | undefined;
    if (needs.consistency) {
      const [old, size] = needs.consistency;
      consistency = JSON.stringify(await api.get(`/api/log/proof/consistency?old=${old}&size=${size}`).catch(() => null));
    }
    const proofs: Record<string, unknown> = {};
    for (const [index, size] of needs.inclusion) {
      try {
        proofs[String(index)] = await api.get(`/api/log/proof/inclusion?index=${index}&size=${size}`);
      } catch {
        // Missing proofs are named by the check.
      }
    }
    const report = JSON.parse(check.finish(consistency, JSON.stringify(proofs))) as Report;
    if (report.passed && report.pin) await store.keepLogPin(accountId, JSON.stringify(report.pin));
    return report;
  } finally {
    check.free();
  }
}

function requestRow(r: AccessRequest, refresh: () => Promise<void>): HTMLElement {
  const row = h(
    "li",
    { class: `row request state-${r.state}`, "data-request": r.id },
    h("div", {}, h("strong", {}, `${r.staff_email} (${r.staff_role})`), r.break_glass ? h("span", { class: "tag danger-tag" }, "emergency") : null),
    h("div", {}, `Wants ${r.scopes.join(", ")} for ${Math.round(r.duration_secs / 3600)} h. Ticket ${r.ticket}.`),
    h("div", {}, h("em", {}, r.justification)),
    h("div", { class: "muted" }, `${r.state[0]!.toUpperCase()}${r.state.slice(1)} · asked `, time(r.created_at_ms), r.expires_at_ms ? " · ends " : null, r.expires_at_ms ? time(r.expires_at_ms) : null),
  );
  if (r.state === "pending") {
    for (const decision of ["approve", "deny"] as const) {
      row.append(
        form(
          `${decision === "approve" ? "Approve" : "Deny"} the request from ${r.staff_email}`,
          decision === "approve" ? "Approve" : "Deny",
          [field(`Authenticator code to ${decision}`, "totp_code", { inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true })],
          async (v) => {
            try {
              await api.post(`/api/access-requests/${encodeURIComponent(r.id)}/${decision}`, { totp_code: (v.totp_code ?? "").trim() });
            } catch (e) {
              if (e instanceof api.ApiError && e.code === "invalid_code") throw new Error("That code is not right. Type the newest code from your authenticator.");
              throw e;
            }
            await refresh();
          },
        ),
      );
    }
  } else if (r.state === "approved") {
    const revoke = h("button", { type: "button", class: "danger" }, "End this access now");
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await api.post(`/api/access-requests/${encodeURIComponent(r.id)}/revoke`);
        await refresh();
      } catch (e) {
        row.append(notice("danger", message(e)));
        revoke.disabled = false;
      }
    });
    row.append(h("div", { class: "actions" }, revoke));
  }
  return row;
}

function staffEntry(e: CheckedEntry): HTMLElement {
  const f = e.fields ?? {};
  const str = (k: string) => (typeof f[k] === "string" ? (f[k] as string) : "");
  return h(
    "li",
    { class: `row entry ${e.verified ? "verified" : "unverified"}`, "data-index": String(e.index) },
    h("div", {}, h("strong", {}, `${str("staff") || "Staff"} (${str("role")})`), " read ", h("code", {}, str("scope")), f.break_glass === true ? h("span", { class: "tag danger-tag" }, "emergency") : null),
    h("div", {}, "When: ", time(e.at_ms)),
    h("div", {}, "Why: ", h("em", {}, str("justification")), ` · ticket ${str("ticket")} · grant ${str("grant")}`),
    h("div", { class: "muted" }, e.verified ? `Entry ${e.index}: verified in the log` : `Entry ${e.index}: NOT verified`),
  );
}

export async function access(): Promise<void> {
  const requestsBox = h("section", { "aria-labelledby": "requests-title" });
  const logBox = h("section", { "aria-labelledby": "log-title" }, h("h2", { id: "log-title" }, "Who accessed your account"), h("p", { role: "status" }, "Checking the transparency log on this device…"));
  const refresh = async () => {
    const requests = (await api.get<{ requests: AccessRequest[] }>("/api/access-requests")).requests;
    requestsBox.replaceChildren(
      h("h2", { id: "requests-title" }, "Staff requests"),
      requests.length === 0
        ? h("p", { class: "empty" }, "No member of staff has asked to see anything in your account.")
        : h("ul", { class: "rows", "aria-label": "Staff requests" }, ...requests.map((r) => requestRow(r, refresh))),
    );
  };
  show(
    "Access",
    h("p", {}, "Staff can see your account only with your approval, for a set time and a stated reason, and never your video. Every access is written to a public, tamper-evident log; this page checks it on your device."),
    requestsBox,
    logBox,
  );
  await refresh();
  let report: Report;
  try {
    report = await checkLog();
  } catch (e) {
    logBox.replaceChildren(h("h2", { id: "log-title" }, "Who accessed your account"), notice("danger", h("strong", {}, "The log could not be checked. "), message(e)));
    return;
  }
  const staff = report.entries.filter((e) => e.kind === "staff_access");
  const others = report.entries.filter((e) => e.kind !== "staff_access");
  logBox.replaceChildren(
    h("h2", { id: "log-title" }, "Who accessed your account"),
    report.passed
      ? notice("info", h("strong", { "data-testid": "log-verified" }, "Verified. "), `All ${report.entries.length} entries of your account are in the signed log (size ${report.size}), consistent with what this device saw before.`)
      : h(
          "div",
          { class: "notice danger", role: "alert", "data-testid": "log-alarm" },
          h("strong", {}, "Verification failed: the log does not match what the server shows. "),
          "Entries may have been edited, hidden or inserted. Keep this page and contact us; do not approve new staff requests until this is explained.",
          h("ul", {}, ...report.problems.map((p) => h("li", {}, `${p.code}: ${p.message}`))),
        ),
    staff.length === 0 ? h("p", { class: "empty" }, "No staff access recorded.") : h("ul", { class: "rows", "aria-label": "Staff access" }, ...staff.map(staffEntry)),
    h(
      "details",
      {},
      h("summary", {}, `Other entries (${others.length}): sign-ins, security changes, device chain`),
      h("ul", { class: "rows" }, ...others.map((e) => h("li", { class: `row ${e.verified ? "verified" : "unverified"}` }, `${e.kind.replace(/_/g, " ")} · `, time(e.at_ms), e.verified ? "" : " · NOT verified"))),
    ),
  );
}
