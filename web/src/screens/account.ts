// The signed-in screens of slice one: cameras, devices (approve with a fingerprint check,
// remove), sessions (end one, sign out everywhere) and the account's activity.

import * as api from "../api";
import * as account from "../account";
import * as events from "../events";
import { ChainAlarm } from "../account";
import type { ActivityEntry, DeviceInfo, SessionInfo } from "../types";
import { go } from "../router";
import { h, message, notice, show, time } from "../ui";

export function flash(): HTMLElement | null {
  const text = sessionStorage.getItem("porchlight.flash");
  if (!text) return null;
  sessionStorage.removeItem("porchlight.flash");
  return notice("info", text);
}

function alarm(e: unknown): HTMLElement {
  return notice("danger", h("strong", {}, "Verification failed. "), message(e));
}

export async function devices(): Promise<void> {
  let view;
  try {
    view = account.viewOf(await account.verifiedChain());
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Devices", alarm(e));
    throw e;
  }
  const records = await account.devices();
  const mine = records.find((d) => d.current);
  const keys = await account.ownKeys();
  const approved = view.devices.some((d) => d.sign_key === keys.sign_key);
  const fingerprints = new Map(view.devices.map((d) => [d.sign_key, d.fingerprint]));
  const status = h("div", { role: "status", "aria-live": "polite" });
  const shown = records.filter((d) => d.state !== "removed");
  const named = new Map<string, number>();
  for (const d of shown) named.set(d.name, (named.get(d.name) ?? 0) + 1);
  const rows = shown.map((d) =>
    deviceRow(d, fingerprints.get(d.sign_key), approved && d !== mine, status, (named.get(d.name) ?? 0) > 1),
  );
  show(
    "Devices",
    flash(),
    h("p", {}, "Each device has its own keys. Clips are sealed to the devices listed here as approved, and to your key recovery code."),
    status,
    h("ul", { class: "rows", "aria-label": "Devices" }, ...rows),
    h("p", { class: "muted" }, "Key recovery code fingerprint: ", h("code", {}, view.recovery_fingerprint)),
  );
}

function deviceRow(d: DeviceInfo, fingerprint: string | undefined, canManage: boolean, status: HTMLElement, nameShared: boolean): HTMLElement {
  const actions = h("div", { class: "actions" });
  const shownFingerprint = d.state === "pending" ? pendingFingerprint(d) : (fingerprint ?? "");
  // Devices that share a name (every Chromium on Linux) are told apart by their fingerprint's
  // first group, on the row and in what their buttons say.
  const label = nameShared && shownFingerprint ? `${d.name} (${shownFingerprint.slice(0, 4)})` : d.name;
  if (canManage && d.state === "pending") {
    const confirm = h("input", { type: "checkbox", id: `fp-${d.id}` });
    const button = h("button", { type: "button" }, `Approve ${label}`);
    button.addEventListener("click", async () => {
      if (!confirm.checked) {
        status.replaceChildren(notice("warning", "First check that the fingerprint matches the one on the new device's screen."));
        confirm.focus();
        return;
      }
      button.disabled = true;
      try {
        const report = await account.approve(d);
        sessionStorage.setItem("porchlight.flash", `Approved "${d.name}": ${report.rewrapped} clips re-sealed to it${report.failed.length ? `, ${report.failed.length} could not be` : ""}.`);
        await devices();
      } catch (e) {
        status.replaceChildren(notice("danger", message(e)));
        button.disabled = false;
      }
    });
    actions.append(
      h("div", { class: "check" }, confirm, h("label", { for: `fp-${d.id}` }, "The fingerprint matches the new device")),
      button,
    );
  } else if (canManage && d.state === "active") {
    const button = h("button", { type: "button", class: "danger" }, `Remove ${label}`);
    button.addEventListener("click", async () => {
      if (!window.confirm(`Remove "${label}"? It is signed out, and new and stored clips no longer name it.`)) return;
      button.disabled = true;
      try {
        await account.removeDevice(d);
        sessionStorage.setItem("porchlight.flash", `Removed "${d.name}".`);
        await devices();
      } catch (e) {
        status.replaceChildren(notice("danger", message(e)));
        button.disabled = false;
      }
    });
    actions.append(button);
  }
  return h(
    "li",
    { class: `row state-${d.state}`, "data-device": d.id },
    h("div", {}, h("strong", {}, label), d.current ? h("span", { class: "tag" }, "this browser") : null),
    h(
      "div",
      { class: "muted" },
      d.state === "pending" ? "Waiting for approval" : "Approved",
      " · added ",
      time(d.created_at_ms),
      d.current ? null : d.last_used_at_ms ? h("span", {}, " · last used ", time(d.last_used_at_ms)) : " · signed out",
    ),
    h("div", {}, "Fingerprint: ", h("code", { class: "fingerprint" }, shownFingerprint)),
    actions,
  );
}

function pendingFingerprint(d: DeviceInfo): string {
  try {
    return account.fingerprintOf(d);
  } catch {
    return "(keys not valid)";
  }
}

export async function sessions(): Promise<void> {
  const list = (await api.get<{ sessions: SessionInfo[] }>("/api/sessions")).sessions;
  const status = h("div", { role: "status", "aria-live": "polite" });
  const everywhere = h("button", { type: "button", class: "danger" }, "Sign out everywhere");
  everywhere.addEventListener("click", async () => {
    everywhere.disabled = true;
    try {
      // Ends every session, this one too; sign in again here.
      events.stop();
      await account.signOut(true);
      await go("/signed-out");
    } catch (e) {
      status.replaceChildren(notice("danger", message(e)));
      everywhere.disabled = false;
    }
  });
  show(
    "Sessions",
    status,
    h(
      "ul",
      { class: "rows", "aria-label": "Sessions" },
      ...list.map((s) => {
        const end = h("button", { type: "button" }, "End");
        end.addEventListener("click", async () => {
          end.disabled = true;
          try {
            await api.del(`/api/sessions/${encodeURIComponent(s.id)}`);
            await sessions();
          } catch (e) {
            status.replaceChildren(notice("danger", message(e)));
          }
        });
        return h(
          "li",
          { class: "row" },
          h("div", {}, h("strong", {}, s.device_name), s.current ? h("span", { class: "tag" }, "this session") : null),
          h("div", { class: "muted" }, `from ${s.source_addr} · last used `, time(s.last_seen_at_ms)),
          s.current ? null : h("div", { class: "actions" }, end),
        );
      }),
    ),
    h("p", {}, everywhere),
  );
}

const KINDS: Record<string, string> = {
  account_created: "Account created",
  sign_in: "Signed in",
  sign_in_failed: "Failed sign-in",
  locked_out: "Sign-in locked",
  password_changed: "Password changed",
  totp_reset: "Authenticator replaced",
  session_revoked: "Session ended",
  signed_out_everywhere: "Signed out everywhere",
  sign_out: "Signed out",
  new_device: "New device",
  password_reset_requested: "Password reset asked for",
  password_reset: "Password reset",
  email_change_requested: "Address change asked for",
  email_changed: "Address changed",
  email_verified: "Address verified",
  email_change_undone: "Address change undone",
};

export async function activity(): Promise<void> {
  const entries = (await api.get<{ entries: ActivityEntry[] }>("/api/activity?limit=200")).entries;
  show(
    "Account activity",
    h(
      "ul",
      { class: "rows", "aria-label": "Account activity" },
      ...entries.map((e) =>
        h(
          "li",
          { class: `row kind-${e.kind}` },
          h("div", {}, h("strong", {}, KINDS[e.kind] ?? e.kind.replace(/_/g, " ")), " · ", time(e.at_ms)),
          h("div", { class: "muted" }, `${e.device_name} from ${e.source_addr}`),
          h("div", {}, e.detail),
        ),
      ),
    ),
  );
}
