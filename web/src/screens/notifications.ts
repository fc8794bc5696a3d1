// "Notifications on this browser": Web Push for this device. Turning it on asks the browser's
// permission, subscribes with the server's VAPID key and registers the subscription for this
// device; the server then pushes each hub notice sealed as the hub sealed it, and the service
// worker opens it here (see worker/sw.ts). Turning it off unsubscribes and removes it.

import * as api from "../api";
import * as account from "../account";
import { endSubscription, workerRegistration } from "../push";
import * as store from "../store";
import { h, message } from "../ui";

interface PushKey {
  public_key: string;
}

interface ServerSubscription {
  endpoint: string;
  created_at_ms: number;
}

type State =
  | { kind: "unsupported"; why: string }
  | { kind: "blocked" }
  | { kind: "on"; since_ms: number }
  | { kind: "off" };

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(plain, (c) => c.charCodeAt(0));
}

function sameBytes(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}

/** Why this browser cannot take push notifications, or null if it can. */
function unsupported(): string | null {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return "This browser cannot receive notifications from a web app (no Web Push). On an iPhone, add Porchlight to the Home Screen first.";
  }
  if (!window.isSecureContext) return "Notifications need the app opened over https.";
  return null;
}

async function registration(): Promise<ServiceWorkerRegistration> {
  const reg = await workerRegistration();
  if (!reg) throw new Error("The app's service worker did not start; reload the page and try again.");
  return reg;
}

async function serverSubscription(): Promise<ServerSubscription | null> {
  return (await api.get<{ subscription: ServerSubscription | null }>("/api/push/subscription")).subscription;
}

async function current(): Promise<State> {
  const why = unsupported();
  if (why) return { kind: "unsupported", why };
  if (Notification.permission === "denied") return { kind: "blocked" };
  const reg = await registration();
  const local = await reg.pushManager.getSubscription();
  const remote = await serverSubscription();
  if (Notification.permission === "granted" && local && remote && remote.endpoint === local.endpoint) {
    return { kind: "on", since_ms: remote.created_at_ms };
  }
  return { kind: "off" };
}

/** What a failed `subscribe` means, in words a person can act on. */
function subscribeFailure(e: unknown): Error {
  const name = e instanceof DOMException ? e.name : "";
  if (name === "NotAllowedError") return new Error("The browser did not allow notifications for this site.");
  // Chromium's answer in a private window, which has no push at all.
  if (name === "AbortError" && /permission denied/i.test(message(e))) {
    return new Error(
      "This browser window cannot receive push notifications (a private window has none). Open Porchlight in a normal window and try again.",
    );
  }
  if (name === "AbortError" || name === "NotSupportedError" || name === "InvalidStateError") {
    return new Error(
      `The browser's push service could not be reached, so notifications cannot be turned on now (${message(e)}). Check the connection and try again.`,
    );
  }
  return new Error(`The browser could not subscribe to notifications: ${message(e)}`);
}

async function turnOn(): Promise<void> {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error(
      permission === "denied"
        ? "Notifications are blocked for this site. Allow them in the browser's site settings, then try again."
        : "Notifications were not allowed.",
    );
  }
  // The worker opens notices against the chain verified from this browser's pin: verify it
  // now, so that the pin and the links it falls back on are there.
  (await account.verifiedChain()).free();
  const key = fromBase64url((await api.get<PushKey>("/api/push/key")).public_key);
  // Kept before subscribing: the worker opens what arrives for this account only.
  await store.keepPushAccount(account.me().account_id);
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameBytes(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (e) {
      throw subscribeFailure(e);
    }
  }
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys?.auth) {
    throw new Error("The browser's push subscription has no keys; it cannot carry sealed notices.");
  }
  await api.put("/api/push/subscription", { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth });
}

async function turnOff(): Promise<void> {
  await endSubscription();
}

const since = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The control, with its state read now. */
export function pushControl(): HTMLElement {
  const status = h("p", { "data-testid": "push-status" }, "Checking…");
  const alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive" });
  const button = h("button", { type: "button", hidden: true });
  const box = h(
    "section",
    { class: "settings push", "aria-labelledby": "push-title", "data-testid": "push-control" },
    h("h2", { id: "push-title" }, "Notifications on this browser"),
    h(
      "p",
      { class: "muted" },
      "A doorbell press or motion shows here even when Porchlight is closed. The notice is sealed by your hub and opened on this device: the push service and the server cannot read it.",
    ),
    status,
    alert,
    h("div", { class: "actions" }, button),
  );
  let state: State = { kind: "off" };
  const render = () => {
    button.hidden = state.kind === "unsupported" || state.kind === "blocked";
    button.className = state.kind === "on" ? "secondary" : "";
    button.textContent = state.kind === "on" ? "Turn off notifications" : "Turn on notifications";
    status.textContent =
      state.kind === "on"
        ? `On: doorbell presses and other events are shown on this browser (since ${since.format(new Date(state.since_ms))}).`
        : state.kind === "off"
          ? "Off: this browser is not told of events while Porchlight is closed."
          : state.kind === "blocked"
            ? "Blocked: notifications are turned off for this site in the browser's settings. Allow them there to turn them on here."
            : state.why;
  };
  const refresh = async () => {
    try {
      state = await current();
    } catch (e) {
      state = { kind: "off" };
      alert.textContent = message(e);
      alert.classList.add("shown");
    }
    render();
  };
  button.addEventListener("click", async () => {
    alert.textContent = "";
    alert.classList.remove("shown");
    button.disabled = true;
    box.setAttribute("aria-busy", "true");
    try {
      await (state.kind === "on" ? turnOff() : turnOn());
    } catch (e) {
      alert.textContent = message(e);
      alert.classList.add("shown");
    } finally {
      button.disabled = false;
      box.removeAttribute("aria-busy");
    }
    await refresh();
  });
  void refresh();
  return box;
}
