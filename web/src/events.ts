// The account's event notices, as they happen (a doorbell press): one WebSocket to
// `/api/events/live` while this browser is signed in as an approved device, each notice
// checked and opened by the Rust crypto (`openNotice`: a hub of the verified chain signed it,
// sealed to this device) and raised as an in-app alert. A notice that fails the check is
// announced as such and nothing of it is shown. Screens that list clips ask to hear of their
// camera's notices, and read their list again once the clip has had time to land.

import * as api from "./api";
import * as account from "./account";
import * as store from "./store";
import { onLeave } from "./router";
import type { CameraInfo } from "./types";
import { h, time } from "./ui";
import { type Chain, openNotice } from "./wasm";
import { KINDS, type OpenedNotice as Opened, type RefusedNotice as Refused } from "./notices";

type AccountEvent =
  | { type: "notice"; hub_id: string; notice: string; received_at_ms: number }
  | { type: "missed"; count: number }
  | { type: "end"; code: string; message: string };

/** Alerts kept on screen at once; older ones give way. */
const MAX_ALERTS = 3;
/** Reconnection waits: doubled from the first to the last, with jitter. */
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** When a screen re-reads its clips after a notice: the clip lands after its post-roll and
 * upload, so a few tries spread over a minute and a half. */
const REFRESH_AFTER_MS = [2_000, 5_000, 10_000, 20_000, 40_000, 90_000];

let socket: WebSocket | null = null;
let chain: Chain | null = null;
let running = false;
let retry: ReturnType<typeof setTimeout> | null = null;
let backoffMs = BACKOFF_FIRST_MS;
let cameras: CameraInfo[] = [];

/** Starts following the account's notices, once, if this browser is signed in and approved.
 * Called on every screen; a no-op while the connection is up or being made. */
export function follow(): void {
  if (running || !account.signedIn()) return;
  running = true;
  void connect();
}

/** Closes the connection, stops reconnecting and clears the alerts (signing out, say). */
export function stop(): void {
  running = false;
  if (retry) clearTimeout(retry);
  retry = null;
  const s = socket;
  socket = null;
  s?.close();
  retire(chain);
  chain = null;
  backoffMs = BACKOFF_FIRST_MS;
  // What the alerts said is the account's: it does not outlive the session on screen.
  document.getElementById("alerts")?.replaceChildren();
}

/** Frees a chain no longer current once any notice being opened with it is done. */
function retire(old: Chain | null): void {
  if (old) setTimeout(() => old.free(), 10_000);
}

function later(): void {
  if (!running) return;
  const wait = backoffMs * (0.75 + Math.random() / 2);
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  retry = setTimeout(() => {
    retry = null;
    void connect();
  }, wait);
}

/** The chain, verified now, if it names this browser as an approved device; else null. */
async function approvedChain(): Promise<Chain | null> {
  const verified = await account.verifiedChain();
  const keys = await account.ownKeys();
  if (account.viewOf(verified).devices.some((d) => d.sign_key === keys.sign_key)) return verified;
  retire(verified);
  return null;
}

async function connect(): Promise<void> {
  if (!running || socket) return;
  let checked: Chain | null;
  try {
    // Signed out elsewhere, or this device removed: nothing to follow (and no handshake the
    // server would refuse).
    if (!(await account.resume())) return stop();
    checked = await approvedChain();
  } catch {
    return later(); // offline, or a chain alarm the screens show: try again later
  }
  if (!checked) return stop(); // pending: follow() runs again once it is approved
  if (!running) return retire(checked);
  retire(chain);
  chain = checked;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const s = new WebSocket(`${scheme}//${location.host}/api/events/live`, [
    "porchlight",
    `porchlight-device.${await store.deviceId()}`,
  ]);
  socket = s;
  s.addEventListener("open", () => {
    backoffMs = BACKOFF_FIRST_MS;
    // Says the alerts are live (the tests and the bench wait for it).
    document.documentElement.dataset.events = "live";
  });
  s.addEventListener("message", (event) => {
    if (socket !== s || typeof event.data !== "string") return;
    let message: AccountEvent;
    try {
      message = JSON.parse(event.data) as AccountEvent;
    } catch {
      return;
    }
    if (message.type === "notice") void received(message.hub_id, message.notice);
    else if (message.type === "end") {
      socket = null;
      s.close();
      // The session ended or this device left the chain: no point knocking again.
      if (message.code === "session_ended" || message.code === "device_removed") stop();
      else later();
    }
  });
  s.addEventListener("close", () => {
    delete document.documentElement.dataset.events;
    if (socket !== s) return;
    socket = null;
    later();
  });
}

async function open(notice: string): Promise<Opened | Refused> {
  if (!chain) return { opened: false, code: "no_chain", reason: "the device list is not verified" };
  const current = chain;
  return JSON.parse(await store.withDeviceKey((secret) => openNotice(current, notice, secret))) as Opened | Refused;
}

async function received(hubId: string, notice: string): Promise<void> {
  let opened: Opened | Refused;
  try {
    opened = await open(notice);
    // A hub paired since the chain was verified: verify it again, then decide.
    if (!opened.opened && opened.code === "hub_not_in_chain") {
      const again = await approvedChain();
      if (again) {
        retire(chain);
        chain = again;
        opened = await open(notice);
      }
    }
  } catch (e) {
    opened = { opened: false, code: "error", reason: e instanceof Error ? e.message : String(e) };
  }
  if (!running) return; // signed out meanwhile
  if (!opened.opened) return raise(refusedAlert(opened));
  const camera = await cameraOf(hubId, opened.camera);
  raise(noticeAlert(opened, camera));
  if (camera) {
    const heard: Heard = { kind: opened.kind, at_ms: opened.at_ms, camera };
    for (const watch of watchers) if (watch.camera === null || watch.camera === camera.id) watch.heard(heard);
  }
}

/** The camera a notice names (by its hub and name), for its links; null if not listed. */
async function cameraOf(hubId: string, name: string): Promise<CameraInfo | null> {
  const find = () => cameras.find((c) => c.hub_id === hubId && c.name === name) ?? null;
  if (!find()) {
    try {
      cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
    } catch {
      // The alert is still worth showing without its link.
    }
  }
  return find();
}

function region(): HTMLElement {
  let box = document.getElementById("alerts");
  if (!box) {
    box = h("div", { id: "alerts", class: "alerts" });
    document.body.append(box);
  }
  return box;
}

function raise(alert: HTMLElement): void {
  const box = region();
  box.prepend(alert);
  while (box.children.length > MAX_ALERTS) box.lastElementChild?.remove();
}

function dismiss(alert: HTMLElement, label: string): HTMLButtonElement {
  const button = h("button", { type: "button", class: "secondary", "aria-label": label }, "Dismiss");
  button.addEventListener("click", () => alert.remove());
  return button;
}

function noticeAlert(n: Opened, camera: CameraInfo | null): HTMLElement {
  const kind = KINDS[n.kind] ?? "Event";
  const title = `${kind} — ${n.camera}`;
  const alert = h("div", {
    class: `ring kind-${KINDS[n.kind] ? n.kind : "other"}`,
    role: "alert",
    "data-testid": "event-alert",
    "data-kind": n.kind,
  });
  alert.append(
    h("span", { class: "ring-mark", "aria-hidden": "true" }),
    h(
      "div",
      { class: "ring-body" },
      h("p", { class: "ring-title" }, title),
      h(
        "p",
        { class: "ring-meta" },
        time(n.at_ms, "time"),
        ` · hub "${n.hub_name}" · checked on this device`,
      ),
      h(
        "div",
        { class: "ring-actions" },
        camera
          ? h("a", { href: `/cameras/${encodeURIComponent(camera.id)}/live`, "data-link": true, class: "button" }, "Watch live")
          : null,
        dismiss(alert, `Dismiss: ${title}`),
      ),
    ),
  );
  return alert;
}

function refusedAlert(r: Refused): HTMLElement {
  const alert = h("div", { class: "ring refused", role: "alert", "data-testid": "event-refused", "data-code": r.code });
  alert.append(
    h("span", { class: "ring-mark", "aria-hidden": "true" }),
    h(
      "div",
      { class: "ring-body" },
      h("p", { class: "ring-title" }, "A notice could not be checked"),
      h("p", { class: "ring-meta" }, `It was not shown: ${r.reason}.`),
      h("div", { class: "ring-actions" }, dismiss(alert, "Dismiss: a notice could not be checked")),
    ),
  );
  return alert;
}

/** A notice opened and checked on this device, with the listed camera it names. */
export interface Heard {
  kind: string;
  at_ms: number;
  camera: CameraInfo;
}

interface Watch {
  /** The camera's id; null for every camera. */
  camera: string | null;
  heard: (notice: Heard) => void;
}

const watchers = new Set<Watch>();

/** Runs `refresh` after each notice for `cameraId` (null: any camera) while the current
 * screen is shown, a few times over the next minute and a half until it says the list changed
 * (returns true); `now` hears the notice itself at once. */
export function watchCamera(cameraId: string | null, refresh: () => Promise<boolean>, now?: (notice: Heard) => void): void {
  const timers: ReturnType<typeof setTimeout>[] = [];
  const watch: Watch = {
    camera: cameraId,
    heard: (notice) => {
      now?.(notice);
      for (const t of timers.splice(0)) clearTimeout(t);
      let done = false;
      for (const ms of REFRESH_AFTER_MS) {
        timers.push(
          setTimeout(async () => {
            if (done) return;
            done = await refresh().catch(() => false);
          }, ms),
        );
      }
    },
  };
  watchers.add(watch);
  onLeave(() => {
    watchers.delete(watch);
    for (const t of timers.splice(0)) clearTimeout(t);
  });
}
