// A synthetic hub paired from the browser's QR screen, a clip recorded and sealed at "home",
// then listed on the camera's timeline and played in the browser: opened by the Rust crypto
// in WebAssembly and fed to MediaSource. A second browser is refused the clip until the
// first approves it, and then plays it too (its header was re-wrapped to the new device).

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { BINARY, device, launch, missing, serve, snap, type Server } from "./harness";
import { eventually, freePort, run, signIn, signUp } from "./flows";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const EMAIL = "clips@example.com";

/** Reloads and waits until the app has drawn its screen (the title names it). */
async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => document.title !== "Porchlight", null, { timeout: 15_000 });
}

async function plays(page: Page): Promise<void> {
  const video = page.locator("main video");
  await video.waitFor();
  await page.waitForFunction(() => (document.querySelector<HTMLVideoElement>("main video")?.readyState ?? 0) >= 2, null, { timeout: 30_000 });
  await video.evaluate((v: HTMLVideoElement) => v.play());
  const first = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
  await page.waitForFunction((t) => (document.querySelector<HTMLVideoElement>("main video")?.currentTime ?? 0) > t + 0.3, first, { timeout: 15_000 });
  await page.locator('[data-verified="true"]').waitFor({ timeout: 30_000 });
}

describe("clips in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let hubState: string;
  let hub: ChildProcess | undefined;

  before(async () => {
    server = await serve();
    browser = await launch();
    hubState = mkdtempSync(join(tmpdir(), "porchlight-e2e-hub-"));
  });
  after(async () => {
    hub?.kill("SIGKILL");
    await browser?.close();
    await server?.stop();
    rmSync(hubState, { recursive: true, force: true });
  });

  it("pairs a hub, lists its clip on the timeline and plays it only on approved devices", async () => {
    const owner = await device(browser);
    const { auth } = await signUp(owner.page, server.url, EMAIL);

    // Pair: the browser shows the code, the hub redeems it, the browser checks the proof.
    await owner.page.getByRole("link", { name: "Hubs" }).click();
    await owner.page.getByLabel("Hub name").fill("Porch hub");
    await owner.page.getByRole("button", { name: "Make a pairing code" }).click();
    await owner.page.getByRole("img", { name: "QR code to scan on the hub" }).waitFor();
    const command = (await owner.page.getByTestId("pairing-command").textContent()) ?? "";
    const code = command.split(" ")[3] ?? "";
    await snap(owner.page, "hub-pairing");
    await run(["--json", "hub", "pair", code, "--state", hubState, "--timeout", "60"]);
    await owner.page.getByText(/is signed into your device chain/).waitFor();

    // Record: a synthetic camera, one manual trigger.
    const local = `127.0.0.1:${await freePort()}`;
    const config = join(hubState, "hub.toml");
    writeFileSync(
      config,
      `[recording]\npre_roll_secs = 1\npost_roll_secs = 2\nmax_clip_secs = 30\n[local]\nlisten = "${local}"\n` +
        `[[cameras]]\nname = "porch"\nurl = "synthetic"\nmotion = false\n`,
    );
    hub = spawn(BINARY, ["hub", "run", "--state", hubState, "--config", config], { stdio: "ignore" });
    const status = async () => JSON.parse(await run(["--json", "hub", "status", "--local", local], 10_000)) as {
      cameras: Record<string, { state: string }>;
      upload: { uploaded: number };
    };
    await eventually("the camera to stream", async () => (await status()).cameras.porch?.state === "streaming", 30_000);
    assert.equal((await fetch(`http://${local}/cameras/porch/trigger`, { method: "POST" })).status, 202);
    await eventually("the clip to upload", async () => (await status()).upload.uploaded >= 1, 60_000);

    // The clip appears on the camera's timeline.
    await owner.page.getByRole("link", { name: "Home" }).click();
    await eventually("the camera", async () => {
      await reload(owner.page);
      return (await owner.page.getByRole("link", { name: "porch", exact: true }).count()) > 0;
    });
    await owner.page.getByRole("link", { name: "porch", exact: true }).click();
    await eventually("a clip", async () => {
      await reload(owner.page);
      return (await owner.page.getByRole("list", { name: "Clips" }).locator("a").count()) > 0;
    }, 90_000);
    assert.ok((await owner.page.getByRole("button", { name: /: 1 clip$/ }).count()) === 1, "the day's bar counts the clip");
    // The first frame, opened on this device from the start of the sealed payload.
    await owner.page.locator('img.thumb[alt="First frame"]').first().waitFor({ timeout: 20_000 });
    assert.ok(await owner.page.locator("img.thumb").first().evaluate((i: HTMLImageElement) => i.naturalWidth > 0));
    await snap(owner.page, "camera-timeline");
    await owner.page.getByRole("list", { name: "Clips" }).locator("a").first().click();
    await plays(owner.page);
    await owner.page.getByRole("button", { name: /^Manual recording at \d+:\d\d: play from here$/ }).waitFor();
    // No research program on this server: no consent is offered, and the dataset is not asked.
    await owner.page.getByText("This server has no research program", { exact: false }).waitFor();
    assert.equal(await owner.page.getByRole("button", { name: /research consent/ }).count(), 0);
    await snap(owner.page, "clip-player");
    const clipUrl = owner.page.url();

    // Live: the hub answers this browser's offer, and frames opened here play.
    await owner.page.getByRole("link", { name: "Back to the camera" }).click();
    await owner.page.getByRole("link", { name: "Watch live" }).click();
    await owner.page.locator('[data-live="true"]').waitFor({ timeout: 30_000 });
    await owner.page.waitForFunction(() => (document.querySelector<HTMLVideoElement>("main video")?.readyState ?? 0) >= 2, null, { timeout: 30_000 });
    const liveStart = await owner.page.locator("main video").evaluate((v: HTMLVideoElement) => v.currentTime);
    await owner.page.waitForFunction((t) => (document.querySelector<HTMLVideoElement>("main video")?.currentTime ?? 0) > t + 0.5, liveStart, { timeout: 15_000 });
    await snap(owner.page, "live-view");

    // A second browser is refused the clip until approved, then plays it.
    const other = await device(browser);
    await signIn(other.page, server.url, EMAIL, auth, "Tablet");
    await other.page.waitForURL(/\/device$/);
    await other.page.goto(clipUrl);
    await other.page.waitForURL(/\/device$/);
    await owner.page.getByRole("link", { name: "Devices" }).click();
    const row = owner.page.locator("li.state-pending", { hasText: "Tablet" });
    await row.getByLabel("The fingerprint matches the new device").check();
    await row.getByRole("button", { name: "Approve Tablet" }).click();
    const approved = owner.page.getByText(/Approved "Tablet"/);
    await approved.waitFor();
    assert.match((await approved.textContent()) ?? "", /Approved "Tablet": [1-9]\d* clips re-sealed to it\.$/);
    await other.page.waitForURL(/\/cameras$/, { timeout: 15_000 });
    await other.page.goto(clipUrl);
    await plays(other.page);

    // A clip recorded right after the approval is sealed to the new device too: the server
    // tells the hub its chain changed, and the hub fetches it before sealing.
    assert.equal((await fetch(`http://${local}/cameras/porch/trigger`, { method: "POST" })).status, 202);
    await eventually("the second clip to upload", async () => (await status()).upload.uploaded >= 2, 60_000);
    await other.page.goto(clipUrl.replace(/\/clips\/.*$/, ""));
    await other.page.getByRole("link", { name: "porch", exact: true }).click();
    const newest = other.page.getByRole("list", { name: "Clips" }).locator("a");
    await eventually("the second clip listed", async () => {
      await reload(other.page);
      return (await newest.count()) >= 2;
    });
    await newest.first().click();
    await plays(other.page);
    assert.deepEqual(owner.errors, []);
    assert.deepEqual(other.errors, []);
  });
});
