// A camera's recording settings — on or off, motion sensitivity, pre- and post-roll — which
// are its hub's behaviour, so the server must not decide them: this browser signs them with
// its device key (the Rust crypto in WebAssembly), and the hub applies only settings signed by
// a device of the account's chain, newer than the ones it applies. What the server holds is
// checked here against the verified chain before it is shown or built on, and the hub's own
// report (applied, or refused and why) is shown beside what was asked.

import * as account from "../account";
import * as api from "../api";
import * as store from "../store";
import type { CameraInfo, HubInfo } from "../types";
import { form, h, message } from "../ui";
import { hubSettingsServed, signHubSettings } from "../wasm";

interface Refusal {
  counter: number | null;
  code: string;
  message: string;
}

interface HubSettingsState {
  hub_id: string;
  statement: string | null;
  counter: number | null;
  updated_at_ms: number | null;
  applied_counter: number | null;
  refused: Refusal | null;
  reported_at_ms: number | null;
}

interface CameraRecording {
  camera: string;
  enabled: boolean;
  sensitivity: number;
  pre_roll_ms: number;
  post_roll_ms: number;
}

interface Served {
  status: "none" | "verified" | "refused";
  counter: number | null;
  cameras: CameraRecording[];
  reason: string | null;
  defaults: CameraRecording;
}

const PRE_ROLL_SECS = [0, 2, 5, 10, 15, 30];
const POST_ROLL_SECS = [2, 5, 10, 15, 30, 60, 120, 300];
/** How long the panel watches for the hub's report after a save. */
const REPORT_WAIT_MS = 20_000;

const secsText = (s: number) => (s === 0 ? "Nothing" : `${s} second${s === 1 ? "" : "s"}`);

function secondsSelect(id: string, name: string, choices: number[], currentMs: number): HTMLSelectElement {
  const current = Math.round(currentMs / 100) / 10;
  const all = [...new Set([...choices, current])].sort((a, b) => a - b);
  return h(
    "select",
    { id, name },
    ...all.map((s) => h("option", { value: String(s), ...(s === current ? { selected: true } : {}) }, secsText(s))),
  );
}

/** What the hub does with the settings, in words, from its last report. */
function hubReport(state: HubSettingsState, served: Served): string {
  const refused = state.refused;
  if (refused) {
    const which = refused.counter === null ? "settings" : `settings number ${refused.counter}`;
    return `The hub refused ${which}: ${refused.message}. It keeps the ones it had.`;
  }
  if (served.status === "none") return "The hub uses its own configuration (hub.toml) until settings are signed here.";
  if (state.applied_counter !== null && state.applied_counter === state.counter) {
    return `The hub applies these settings (number ${state.applied_counter}).`;
  }
  if (state.applied_counter !== null) {
    return `Waiting for the hub: it still applies number ${state.applied_counter}, not ${state.counter ?? "?"}.`;
  }
  return "Waiting for the hub to apply them (it does within seconds while it is online).";
}

/** The Recording section of an owned camera's screen. */
export function recordingSettings(cam: CameraInfo): HTMLElement {
  const box = h(
    "section",
    { class: "settings", "aria-labelledby": "recording-title" },
    h("h2", { id: "recording-title" }, "Recording"),
    h("p", { class: "muted" }, "Loading the hub's settings…"),
  );
  void fill(box, cam).catch((e) => {
    box.replaceChildren(
      h("h2", { id: "recording-title" }, "Recording"),
      h("p", { class: "alert shown", role: "alert" }, `The recording settings could not be loaded: ${message(e)}`),
    );
  });
  return box;
}

async function fill(box: HTMLElement, cam: CameraInfo): Promise<void> {
  const path = `/api/hubs/${encodeURIComponent(cam.hub_id)}/settings`;
  const [hubs, chain] = await Promise.all([api.get<{ hubs: HubInfo[] }>("/api/hubs"), account.verifiedChain()]);
  const hub = hubs.hubs.find((x) => x.id === cam.hub_id);
  if (!hub) throw new Error("this camera's hub is not in the account");
  const check = (state: HubSettingsState): Served =>
    JSON.parse(hubSettingsServed(chain, hub.hub_key, state.statement ?? "")) as Served;

  let state = await api.get<HubSettingsState>(path);
  let served = check(state);
  const report = h("p", { role: "status", "aria-live": "polite", "data-testid": "recording-report" });
  const warning = h("p", { class: "alert", role: "alert", "data-testid": "recording-unverified" });
  const show = () => {
    report.textContent = hubReport(state, served);
    warning.textContent =
      served.status === "refused"
        ? `The settings the server holds do not verify on this device (${served.reason ?? "unknown"}); they are not shown, and saving here replaces them.`
        : "";
    warning.classList.toggle("shown", served.status === "refused");
  };
  show();
  const mine = served.cameras.find((c) => c.camera === cam.name) ?? { ...served.defaults, camera: cam.name };

  const sensitivityOut = h("output", { for: "rec-sensitivity", id: "rec-sensitivity-value" }, `${mine.sensitivity} of 10`);
  const sensitivity = h("input", {
    id: "rec-sensitivity",
    name: "sensitivity",
    type: "range",
    min: "1",
    max: "10",
    step: "1",
    value: String(mine.sensitivity),
    "aria-describedby": "rec-sensitivity-hint",
    "aria-valuetext": `${mine.sensitivity} of 10`,
  });
  sensitivity.addEventListener("input", () => {
    sensitivityOut.textContent = `${sensitivity.value} of 10`;
    sensitivity.setAttribute("aria-valuetext", `${sensitivity.value} of 10`);
  });
  const enabled = h("input", {
    id: "rec-enabled",
    name: "enabled",
    type: "checkbox",
    value: "on",
    ...(mine.enabled ? { checked: true } : {}),
  });

  const settingsForm = form(
    "Recording settings",
    "Sign and save",
    [
      h(
        "div",
        { class: "field" },
        h("div", { class: "check" }, enabled, h("label", { for: "rec-enabled" }, "Record this camera")),
        h("p", { class: "hint" }, "Off: the hub neither records nor streams it live."),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "rec-sensitivity" }, "Motion sensitivity"),
        h("div", { class: "range" }, sensitivity, sensitivityOut),
        h("p", { class: "hint", id: "rec-sensitivity-hint" }, "Low (1) notices only large movement, high (10) the slightest; 6 is the default."),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "rec-pre-roll" }, "Keep before an event"),
        secondsSelect("rec-pre-roll", "pre_roll", PRE_ROLL_SECS, mine.pre_roll_ms),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "rec-post-roll" }, "Keep after the last event"),
        secondsSelect("rec-post-roll", "post_roll", POST_ROLL_SECS, mine.post_roll_ms),
      ),
      h("p", { class: "hint" }, "Signed on this device: the hub applies only settings signed by a device of your account, so the server cannot change what it records."),
    ],
    async (values) => {
      report.textContent = "";
      // The latest, so the new settings build on what the hub may already have.
      state = await api.get<HubSettingsState>(path);
      served = check(state);
      const cameras = (served.status === "verified" ? served.cameras : []).filter((c) => c.camera !== cam.name);
      cameras.push({
        camera: cam.name,
        enabled: values.enabled === "on",
        sensitivity: Number(values.sensitivity),
        pre_roll_ms: Math.round(Number(values.pre_roll) * 1000),
        post_roll_ms: Math.round(Number(values.post_roll) * 1000),
      });
      const counter = Math.max(state.counter ?? 0, state.applied_counter ?? 0, served.counter ?? 0) + 1;
      const statement = await store.withDeviceKey((secret) =>
        signHubSettings(chain, secret, hub.hub_key, counter, Date.now(), JSON.stringify(cameras)),
      );
      state = await api.put<HubSettingsState>(path, { statement });
      served = check(state);
      show();
      await watchReport(counter);
    },
  );

  /** Polls for the hub's report on settings number `counter`, for a while. */
  const watchReport = async (counter: number) => {
    const until = Date.now() + REPORT_WAIT_MS;
    while (Date.now() < until && box.isConnected) {
      await new Promise((r) => setTimeout(r, 1_000));
      state = await api.get<HubSettingsState>(path);
      served = check(state);
      show();
      if ((state.applied_counter ?? 0) >= counter || state.refused) return;
    }
  };

  box.replaceChildren(h("h2", { id: "recording-title" }, "Recording"), warning, settingsForm, report);
  if (served.status === "none") return;
  // Settings saved a moment ago on another screen may still be on their way to the hub.
  if (state.counter !== null && state.applied_counter !== state.counter && !state.refused) {
    void watchReport(state.counter);
  }
}
