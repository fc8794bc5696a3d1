// The doorbell rings in the browser: a real synthetic hub, paired from the browser, pressed
// on its local endpoint; the notice it seals and signs reaches the page over
// `/api/events/live`, is checked and opened by the Rust crypto in WebAssembly, and raised as
// an alert while the camera's page is open, whose clip list then updates itself. Then a
// notice the server relays from a key no hub of the chain holds (this test speaking as the
// hub on its own control connection) is refused, and nothing of it is shown.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { eventually, signUp } from "./flows";
import { controlConnected, home, reload, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const CAMERA = "front door";

/** Sends one text message on the hub's control connection (`/api/hub/live`, the hub's own
 * token), as a hub that the server trusts to relay but the chain does not name would. */
async function sendAsHub(serverUrl: string, token: string, text: string): Promise<void> {
  const url = new URL(serverUrl);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise((ok, fail) => socket.once("connect", ok).once("error", fail));
  socket.write(
    "GET /api/hub/live HTTP/1.1\r\n" +
      `Host: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Protocol: porchlight\r\nAuthorization: Bearer ${token}\r\n\r\n`,
  );
  const head = await new Promise<string>((ok, fail) => {
    let got = "";
    socket.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) ok(got);
    });
    socket.once("error", fail);
  });
  assert.match(head, /^HTTP\/1\.1 101/, head);
  // One masked text frame (RFC 6455 §5.2).
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length =
    payload.length < 126
      ? Buffer.from([0x80 | payload.length])
      : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  socket.write(Buffer.concat([Buffer.from([0x81]), length, mask, masked]));
  await new Promise((r) => setTimeout(r, 1_000));
  socket.destroy();
}

/** Waits for the alert's entrance to end, so the screenshot shows it as it stays. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"));
}

describe("event alerts in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let house: Home | undefined;

  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    house?.stop();
    await browser?.close();
    await server?.stop();
  });

  it("raises a checked doorbell alert within seconds, updates the clip list, and refuses a forged notice", async () => {
    const owner = await device(browser);
    await signUp(owner.page, server.url, "alerts@example.com");
    house = await home(owner.page, CAMERA);
    const local = house.local;
    await controlConnected(local);

    // The camera's page is open, with no clips yet, and the browser follows the events.
    await owner.page.getByRole("link", { name: "Home" }).click();
    await eventually("the camera", async () => {
      await reload(owner.page);
      return (await owner.page.getByRole("link", { name: CAMERA, exact: true }).count()) > 0;
    });
    await owner.page.getByRole("link", { name: CAMERA, exact: true }).click();
    await owner.page.getByText("No clips this day.").waitFor();
    await owner.page.locator('html[data-events="live"]').waitFor({ timeout: 15_000 });
    const cameraPath = new URL(owner.page.url()).pathname;

    // Press the doorbell on the hub's local endpoint.
    const pressed = Date.now();
    const answer = await fetch(`http://${local}/cameras/${encodeURIComponent(CAMERA)}/doorbell`, { method: "POST" });
    assert.equal(answer.status, 202);
    const alert = owner.page.getByTestId("event-alert");
    await alert.waitFor({ timeout: 5_000 });
    const shownAfterMs = Date.now() - pressed;
    console.log(`doorbell alert shown ${shownAfterMs} ms after the press`);
    assert.equal(await alert.getAttribute("role"), "alert");
    const text = (await alert.textContent()) ?? "";
    assert.match(text, /Doorbell — front door/);
    assert.match(text, /hub "Porch hub" · checked on this device/);
    assert.equal(
      await alert.getByRole("link", { name: "Watch live" }).getAttribute("href"),
      `${cameraPath}/live`,
    );
    await settled(owner.page);
    await snap(owner.page, "doorbell-alert");

    // The clip list updates itself once the clip has landed: no reload.
    await owner.page.getByRole("list", { name: "Clips" }).locator("a").first().waitFor({ timeout: 90_000 });

    // "Watch live" opens the camera's live view; the alert stays until dismissed.
    await alert.getByRole("link", { name: "Watch live" }).click();
    await owner.page.waitForURL(/\/live$/);
    await owner.page.locator('[data-live="true"]').waitFor({ timeout: 30_000 });
    await alert.getByRole("button", { name: /^Dismiss/ }).click();
    assert.equal(await owner.page.getByTestId("event-alert").count(), 0);
    await owner.page.getByRole("link", { name: "Back to the camera" }).click();
    await owner.page.getByRole("list", { name: "Clips" }).waitFor();

    // A notice signed by a key that is no hub of the chain, relayed by the server as the
    // hub's own: "could not be checked", and none of it shown.
    const token = (JSON.parse(readFileSync(join(house.state, "token.json"), "utf8")) as { token: string }).token;
    const forged = Buffer.concat([randomBytes(200), randomBytes(32), randomBytes(64)]).toString("base64");
    await sendAsHub(server.url, token, JSON.stringify({ type: "event", notice: forged }));
    const refused = owner.page.getByTestId("event-refused");
    await refused.waitFor({ timeout: 10_000 });
    assert.equal(await refused.getAttribute("role"), "alert");
    assert.match((await refused.textContent()) ?? "", /^A notice could not be checked/);
    assert.equal(await owner.page.getByTestId("event-alert").count(), 0);
    await settled(owner.page);
    await snap(owner.page, "notice-refused");
    assert.deepEqual(owner.errors, []);
  });
});
