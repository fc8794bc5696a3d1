// A doorbell press, measured from the hub's button to the alert on screen: a real server, a
// real `porchlight hub run` with the synthetic camera (paired from the browser), and Debian's
// Chromium signed in as an approved device with the camera's page open. Each press is an HTTP
// POST to the hub's local endpoint; the time is taken when the page adds the alert element
// (a MutationObserver, in the page, on the same clock as this process). The hub seals and
// signs the notice, the server relays it over /api/events/live, porchlight-wasm checks and
// opens it. Presses come 1 s apart: the hub merges them into one clip, but each is a notice.
// The same presses are timed to the Web Push message leaving the server: the page's device
// has a subscription whose endpoint is a push service stand-in on loopback (e2e/pushing.ts),
// and the time is taken when the stand-in has read the whole POST (outbox row, worker woken,
// RFC 8291 encryption, VAPID signature, HTTP).
// Run: npm run bench:doorbell in web/ (see bench/RESULTS.md).

import assert from "node:assert/strict";
import { createECDH, randomBytes } from "node:crypto";
import { device, launch, serve } from "../e2e/harness";
import { eventually, signUp } from "../e2e/flows";
import { home, reload } from "../e2e/home";
import { decrypt, pushService, register } from "../e2e/pushing";

const PRESSES = Number(process.env.BENCH_PRESSES ?? 20);
const CAMERA = "front door";

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

const push = await pushService();
const server = await serve({ PORCHLIGHT_NOTIFY__PUSH_ALLOW_HOSTS: '["127.0.0.1"]' });
const browser = await launch();
let house: Awaited<ReturnType<typeof home>> | undefined;
try {
  const { page, errors } = await device(browser);
  await signUp(page, server.url, "bench-doorbell@example.com");
  house = await home(page, CAMERA);
  const local = house.local;
  await eventually("the hub's control connection", async () => {
    const status = (await (await fetch(`http://${local}/status`)).json()) as { live: { state: string } };
    return status.live.state === "connected";
  }, 30_000);
  await page.getByRole("link", { name: "Home" }).click();
  await eventually("the camera", async () => {
    await reload(page);
    return (await page.getByRole("link", { name: CAMERA, exact: true }).count()) > 0;
  });
  await page.getByRole("link", { name: CAMERA, exact: true }).click();
  await page.locator('html[data-events="live"]').waitFor({ timeout: 15_000 });
  const ua = createECDH("prime256v1");
  ua.generateKeys();
  const auth = randomBytes(16);
  await register(page, `${push.origin}/push/bench`, ua.getPublicKey().toString("base64url"), auth.toString("base64url"));
  await page.evaluate(() => {
    const shown: number[] = [];
    (window as unknown as { shown: number[] }).shown = shown;
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node instanceof HTMLElement && node.dataset.testid === "event-alert") shown.push(Date.now());
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
  });

  const url = `http://${local}/cameras/${encodeURIComponent(CAMERA)}/doorbell`;
  const latencies: number[] = [];
  const pushLatencies: number[] = [];
  for (let i = 0; i < PRESSES; i++) {
    const pressed = Date.now();
    assert.equal((await fetch(url, { method: "POST" })).status, 202);
    await page.waitForFunction((n) => (window as unknown as { shown: number[] }).shown.length > n, i, { timeout: 10_000 });
    const at = await page.evaluate((n) => (window as unknown as { shown: number[] }).shown[n]!, i);
    latencies.push(at - pressed);
    const pushed = await eventually("the push message", async () => push.received[i], 10_000);
    pushLatencies.push(pushed.at - pressed);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  assert.equal(await page.getByTestId("event-refused").count(), 0, "every notice checked");
  assert.deepEqual(errors, []);
  // Every push carried a notice (base64), not the empty "open the app" message.
  for (const p of push.received) assert.match(decrypt(p.body, ua, auth), /^[A-Za-z0-9+/]+=*$/);
  console.log(
    JSON.stringify({
      bench: "doorbell-alert",
      presses: PRESSES,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      min_ms: Math.min(...latencies),
      max_ms: Math.max(...latencies),
      latencies_ms: latencies,
    }),
  );
  console.log(
    JSON.stringify({
      bench: "doorbell-push",
      presses: PRESSES,
      p50_ms: percentile(pushLatencies, 50),
      p99_ms: percentile(pushLatencies, 99),
      min_ms: Math.min(...pushLatencies),
      max_ms: Math.max(...pushLatencies),
      latencies_ms: pushLatencies,
    }),
  );
} finally {
  house?.stop();
  await browser.close();
  await server.stop();
  push.close();
}
