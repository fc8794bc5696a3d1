// Hubs: the ones in the verified chain, and pairing a new one. The pairing code's secret is
// made by the Rust crypto and stays in this page; the server gets only its verifier, and the
// hub that redeems the code must prove it holds the secret before this browser signs it in.

import * as api from "../api";
import * as account from "../account";
import { ChainAlarm } from "../account";
import type { HubInfo, PairingStatus } from "../types";
import { field, form, h, message, notice, show, svg, time } from "../ui";
import * as store from "../store";
import { Pairing } from "../wasm";

export async function hubs(): Promise<void> {
  let view;
  try {
    view = account.viewOf(await account.verifiedChain());
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Hubs", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const listed = (await api.get<{ hubs: HubInfo[] }>("/api/hubs")).hubs;
  const inChain = new Set(view.hubs.map((h) => h.key));
  const area = h("div", {});
  show(
    "Hubs",
    view.hubs.length === 0
      ? h("p", { class: "empty" }, "No hubs yet. A hub records your cameras at home and seals each clip before it leaves.")
      : h(
          "ul",
          { class: "rows", "aria-label": "Hubs" },
          ...listed
            .filter((hub) => hub.state !== "removed")
            .map((hub) =>
              h(
                "li",
                { class: "row" },
                h("strong", {}, hub.name),
                h("div", { class: "muted" }, inChain.has(hub.hub_key) ? "In your device chain" : "Not in your device chain", " · paired ", time(hub.created_at_ms)),
              ),
            ),
        ),
    h("h2", {}, "Pair a hub"),
    form(
      "Pair a hub",
      "Make a pairing code",
      [field("Hub name", "name", { required: true, maxlength: "64", value: "Home hub" })],
      async (v) => pair(v.name ?? "Hub", area),
    ),
    area,
  );
}

async function pair(name: string, area: HTMLElement): Promise<void> {
  const chain = await account.verifiedChain();
  const pairing = new Pairing(location.origin, chain);
  const created = await api.post<{ id: string; expires_at_ms: number }>("/api/pairings", {
    verifier: pairing.verifier,
    name,
  });
  const status = h("p", { role: "status", "aria-live": "polite" }, "Waiting for the hub…");
  area.replaceChildren(
    h("h2", {}, `Pairing code for "${name}"`),
    h("figure", { class: "qr" }, svg(pairing.qrSvg(), "QR code to scan on the hub")),
    h("p", {}, "On the hub, run:"),
    h("pre", { tabindex: "0" }, h("code", { "data-testid": "pairing-command" }, `porchlight hub pair ${pairing.code} --state DIR`)),
    h("p", { class: "muted" }, "The code works once, until ", time(created.expires_at_ms), "."),
    status,
  );
  for (;;) {
    await new Promise((r) => setTimeout(r, 1500));
    let now: PairingStatus;
    try {
      now = await api.get<PairingStatus>(`/api/pairings/${encodeURIComponent(created.id)}`);
    } catch (e) {
      status.textContent = `Could not check the pairing: ${message(e)}`;
      continue;
    }
    if (now.state === "expired") {
      status.replaceChildren(notice("warning", "The code expired before a hub used it. Make a new one."));
      pairing.free();
      return;
    }
    if (now.state !== "redeemed" || !now.hub) continue;
    try {
      const hubKey = pairing.checkHub(now.hub.hub_key, now.hub.proof);
      const fresh = await account.verifiedChain();
      const link = await store.withDeviceKey((s) => fresh.append(s, JSON.stringify({ add_hub: { name, hub_key: hubKey } })));
      await api.post("/api/chain", JSON.parse(link));
      await store.keepTrust(account.me().account_id, fresh.trust());
      status.replaceChildren(notice("info", `Hub "${name}" proved it holds the code and is signed into your device chain.`));
    } catch (e) {
      status.replaceChildren(notice("danger", message(e)));
    } finally {
      pairing.free();
    }
    return;
  }
}
