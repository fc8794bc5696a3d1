// The service worker: keeps the app's own files (the shell: page, script, styles, the crypto's
// WebAssembly) so that Porchlight opens without a connection and says it is offline, instead
// of the browser's error page. Never the API: answers there are for one session and are
// `no-store`; nothing of an account, and no video, is ever kept here.
//
// Network first: a new release is used as soon as the server serves it; the kept copy only
// stands in when the network does not answer.

export {};
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
