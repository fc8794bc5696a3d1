// This browser as a device of the account: the key recovery code shown once when it starts
// the chain, the pending state until another device approves it or the recovery code
// restores it.

import * as account from "../account";
import type { Enrolment } from "../account";
import { go } from "../router";
import { field, form, h, notice, show } from "../ui";

let pendingName = "";

export async function afterEnrolment(enrolment: Enrolment, deviceName: string): Promise<void> {
  pendingName = deviceName;
  if (enrolment.kind === "started") return keyRecoveryCode(enrolment.recoveryCode, enrolment.keys.fingerprint);
  if (enrolment.kind === "pending") return go("/device");
  return go("/cameras");
}

function keyRecoveryCode(code: string, fingerprint: string): void {
  show(
    "Your key recovery code",
    notice(
      "warning",
      "This code is the only way back to your recorded video if you lose every device. Porchlight cannot recover it for you. Write it down and keep it offline.",
    ),
    h("p", { class: "recovery" }, h("code", { "data-testid": "key-recovery-code" }, code)),
    h("p", {}, "This browser is now your first device. Its fingerprint: ", h("code", { class: "fingerprint" }, fingerprint)),
    form(
      "Confirm the key recovery code is kept",
      "Continue",
      [h("div", { class: "check" }, h("input", { type: "checkbox", id: "kept-code", required: true }), h("label", { for: "kept-code" }, "I have written down my key recovery code"))],
      async () => go("/cameras"),
    ),
  );
}

let poll: number | undefined;

/** A signed-in browser that the chain does not name yet. */
export async function pending(): Promise<void> {
  window.clearTimeout(poll);
  const enrolment = await account.enrol(pendingName || "Browser");
  if (enrolment.kind !== "pending") return go("/cameras", true);
  const status = h("p", { role: "status", "aria-live": "polite" }, "Waiting for approval…");
  show(
    "Approve this browser",
    notice("info", "This browser is signed in but cannot open video yet. Approve it from a device you already use, or restore it with your key recovery code."),
    h("p", {}, "On your other device, open Devices and check that the fingerprint it shows matches this one:"),
    h("p", { class: "fingerprint-big" }, h("code", { "data-testid": "fingerprint" }, enrolment.keys.fingerprint)),
    status,
    h(
      "section",
      { "aria-labelledby": "restore-title" },
      h("h2", { id: "restore-title" }, "No other device?"),
      form(
        "Restore with the key recovery code",
        "Restore this browser",
        [field("Key recovery code", "code", { autocomplete: "off", required: true, spellcheck: "false" })],
        async (v) => {
          const report = await account.restore(v.code ?? "", pendingName || "Browser");
          sessionStorage.setItem("porchlight.flash", `This browser is restored: ${report.rewrapped} clips re-sealed to it.`);
          await go("/cameras");
        },
      ),
    ),
  );
  const check = async () => {
    if (location.pathname !== "/device") return;
    try {
      const again = await account.enrol(pendingName || "Browser");
      if (again.kind !== "pending") return go("/cameras");
    } catch {
      status.textContent = "Could not check just now; trying again.";
    }
    poll = window.setTimeout(check, 3000);
  };
  poll = window.setTimeout(check, 3000);
}
