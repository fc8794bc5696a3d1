// A doorbell press, measured from the hub's button to the alert on screen: a real server, a
// real `porchlight hub run` with the synthetic camera (paired from the browser), and Debian's
// Chromium signed in as an approved device with the camera's page open. Each press is an HTTP
// POST to the hub's local endpoint; the time is taken when the page adds the alert element
// (a MutationObserver, in the page, on the same clock as this process). The hub seals and
// signs the notice, the server relays it over /api/events/live, porchlight-wasm checks and
// opens it. Presses come 1 s apart: the hub merges them into one clip, but each is a notice.
// Run: npm run bench:doorbell in web/ (see bench/RESULTS.md).

import assert from "node:assert/strict";
import { device, launch, serve } from "../e2e/harness";
import { eventually, signUp } from "../e2e/flows";
import { home, reload } from "../e2e/home";

const PRESSES = Number(process.env.BENCH_PRESSES ?? 20);
const CAMERA = "front door";

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

const server = await serve();
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
  for (let i = 0; i < PRESSES; i++) {
    const pressed = Date.now();
    assert.equal((await fetch(url, { method: "POST" })).status, 202);
    await page.waitForFunction((n) => (window as unknown as { shown: number[] }).shown.length > n, i, { timeout: 10_000 });
    const at = await page.evaluate((n) => (window as unknown as { shown: number[] }).shown[n]!, i);
    latencies.push(at - pressed);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  assert.equal(await page.getByTestId("event-refused").count(), 0, "every notice checked");
  assert.deepEqual(errors, []);
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
} finally {
  house?.stop();
  await browser.close();
  await server.stop();
}
