// The service worker: keeps the app's own files (the shell: page, script, styles, the crypto's
// WebAssembly) so that Porchlight opens without a connection and says it is offline, instead
// of the browser's error page. Never the API: answers there are for one session and are
// `no-store`; nothing of an account, and no video, is ever kept here.
//
// Network first: a new release is used as soon as the server serves it; the kept copy only
// stands in when the network does not answer.
//
// Web Push: what arrives is the hub's sealed, signed notice, base64 as the event stream
// carries it (the browser has already removed the push encryption). It is opened here as the page opens it — the Rust crypto in
// WebAssembly checks it was signed by a hub of the account's chain, verified from this
// browser's pin, and opens it with this device's key from IndexedDB — and shown as
// "Doorbell — front door". A notice that fails the check shows only that it could not be
// checked; an empty message (a notice too large to push) asks to open the app.

import init, { Chain, openNotice } from "../pkg/porchlight_wasm.js";
import * as store from "../src/store";
import { KINDS, type OpenedNotice as Opened, type RefusedNotice as Refused } from "../src/notices";

const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE = "porchlight-shell-v1";
const SHELL = ["/", "/app.js", "/app.css", "/porchlight_wasm_bg.wasm", "/icon.svg", "/manifest.webmanifest"];

sw.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL);
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

/** The app's own files: same origin, GET, not the API or the operator routes. */
function isShell(request: Request): boolean {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== sw.location.origin) return false;
  return !/^\/(api\/|healthz|readyz|metrics)/.test(url.pathname);
}

sw.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!isShell(request)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const answer = await fetch(request);
        // Only whole, plain answers are kept (a range or an error is not the file), and only
        // the page stands in for navigations (opening /app.js directly must not replace it).
        const page = (answer.headers.get("content-type") ?? "").startsWith("text/html");
        if (answer.ok && answer.status === 200 && (request.mode !== "navigate" || page)) {
          const key = request.mode === "navigate" ? "/" : request;
          await cache.put(key, answer.clone());
        }
        return answer;
      } catch (e) {
        // Every app route is the same page: the kept one stands in for all of them.
        const kept = await cache.match(request.mode === "navigate" ? "/" : request);
        if (kept) return kept;
        throw e;
      }
    })(),
  );
});

// ---- Web Push ----

let crypto_ready: Promise<unknown> | null = null;

/** The API, as this browser's device (the session cookie goes with it). */
async function get<T>(path: string): Promise<T> {
  const answer = await fetch(path, {
    headers: { "porchlight-device": await store.deviceId() },
    credentials: "same-origin",
  });
  if (!answer.ok) throw new Error(`${path} answered ${answer.status}`);
  return (await answer.json()) as T;
}

/** The account's chain verified from this browser's pin: fetched now, or as the page last
 * had it when the server cannot be asked (signed out, say). Never pinned here: without a pin
 * the worker trusts no chain. */
async function verifiedChain(account: string): Promise<Chain> {
  const trust = await store.trustOf(account);
  if (!trust) throw new Error("this browser has not verified the account's chain yet");
  let links: string | undefined;
  try {
    links = JSON.stringify(await get<unknown>("/api/chain"));
  } catch {
    links = await store.chainLinksOf(account);
  }
  if (!links) throw new Error("the account's chain could not be read");
  return Chain.verify(links, trust);
}

async function open(notice: string): Promise<Opened | Refused> {
  const account = await store.pushAccount();
  if (!account) return { opened: false, code: "no_account", reason: "this browser is not subscribed for an account" };
  crypto_ready ??= init({ module_or_path: "/porchlight_wasm_bg.wasm" });
  await crypto_ready;
  const chain = await verifiedChain(account);
  try {
    return JSON.parse(await store.withDeviceKey((secret) => openNotice(chain, notice, secret))) as Opened | Refused;
  } finally {
    chain.free();
  }
}

/** The app page of the camera a notice names (by its hub's key and its name), else the list. */
async function cameraPage(n: Opened): Promise<string> {
  try {
    const [{ hubs }, { cameras }] = await Promise.all([
      get<{ hubs: { id: string; hub_key: string }[] }>("/api/hubs"),
      get<{ cameras: { id: string; name: string; hub_id: string }[] }>("/api/cameras"),
    ]);
    const hub = hubs.find((x) => x.hub_key === n.hub_key);
    const camera = cameras.find((c) => c.hub_id === hub?.id && c.name === n.camera);
    if (camera) return `/cameras/${encodeURIComponent(camera.id)}`;
  } catch {
    // Shown without its link: the list is one tap further.
  }
  return "/cameras";
}

const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

async function shown(notice: string): Promise<void> {
  if (notice.length === 0) {
    return sw.registration.showNotification("Something happened at home", {
      body: "Open Porchlight to see it.",
      tag: "porchlight-open-the-app",
      data: { url: "/cameras" },
    });
  }
  let opened: Opened | Refused;
  try {
    opened = await open(notice);
  } catch (e) {
    opened = { opened: false, code: "error", reason: e instanceof Error ? e.message : String(e) };
  }
  if (!opened.opened) {
    // Nothing of a notice that failed its check: not its camera, not its kind.
    return sw.registration.showNotification("A notice could not be checked", {
      body: "It was not shown. Open Porchlight to see your cameras.",
      tag: "porchlight-refused",
      data: { url: "/cameras", refused: opened.code },
    });
  }
  const title = `${KINDS[opened.kind] ?? "Event"} — ${opened.camera}`;
  return sw.registration.showNotification(title, {
    body: `${clock.format(new Date(opened.at_ms))} · hub "${opened.hub_name}" · checked on this device`,
    tag: opened.id,
    timestamp: opened.at_ms,
    icon: "/icon.svg",
    data: { url: await cameraPage(opened), kind: opened.kind },
  } as NotificationOptions);
}

sw.addEventListener("push", (event) => {
  event.waitUntil(shown(event.data?.text().trim() ?? ""));
});

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data as { url?: string } | null;
  const url = new URL(data?.url ?? "/cameras", sw.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === sw.location.origin);
      if (open) {
        const focused = await open.focus();
        await focused.navigate(url).catch(() => sw.clients.openWindow(url));
        return;
      }
      await sw.clients.openWindow(url);
    })(),
  );
});
