// A home with a camera and recorded clips: a real `porchlight hub run` with the synthetic
// camera, paired from the browser's QR screen, and clips triggered over its local API.

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BINARY } from "./harness";
import { eventually, freePort, run } from "./flows";

export interface Home {
  /** The hub's local endpoint (`127.0.0.1:PORT`) and its state folder. */
  local: string;
  state: string;
  /** Records one more clip; resolves once `count` clips have been uploaded in all. */
  record(count: number): Promise<void>;
  stop(): void;
}

/** Reloads and waits until the app has drawn its screen (the title names it). */
export async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => document.title !== "Porchlight", null, { timeout: 15_000 });
}

/** Pairs a hub named "Porch hub" from `page` (signed in, on any screen) and runs it with a
 * synthetic camera `camera` (which records on motion too when `motion`, otherwise on a trigger
 * or a doorbell press only), and the `moving` cameras that cut clips on the synthetic picture's
 * motion (every 6 s). */
export async function home(page: Page, camera = "porch", moving: string[] = [], motion = false): Promise<Home> {
  const state = mkdtempSync(join(tmpdir(), "porchlight-e2e-hub-"));
  await page.getByRole("link", { name: "Hubs" }).click();
  await page.getByLabel("Hub name").fill("Porch hub");
  await page.getByRole("button", { name: "Make a pairing code" }).click();
  await page.getByRole("img", { name: "QR code to scan on the hub" }).waitFor();
  const command = (await page.getByTestId("pairing-command").textContent()) ?? "";
  const code = command.split(" ")[3] ?? "";
  await run(["--json", "hub", "pair", code, "--state", state, "--timeout", "60"]);
  await page.getByText(/is signed into your device chain/).waitFor();

  const local = `127.0.0.1:${await freePort()}`;
  const config = join(state, "hub.toml");
  writeFileSync(
    config,
    `[recording]\npre_roll_secs = 1\npost_roll_secs = 2\nmax_clip_secs = 30\n[local]\nlisten = "${local}"\n` +
      `[[cameras]]\nname = "${camera}"\nurl = "synthetic"\nmotion = ${motion}\n` +
      moving.map((name) => `[[cameras]]\nname = "${name}"\nurl = "synthetic"\nmotion = true\n`).join(""),
  );
  const hub: ChildProcess = spawn(BINARY, ["hub", "run", "--state", state, "--config", config], { stdio: "ignore" });
  const status = async () =>
    JSON.parse(await run(["--json", "hub", "status", "--local", local], 10_000)) as {
      cameras: Record<string, { state: string }>;
      upload: { uploaded: number };
    };
  await eventually("the camera to stream", async () => (await status()).cameras[camera]?.state === "streaming", 30_000);
  return {
    local,
    state,
    async record(count: number) {
      assert.equal((await fetch(`http://${local}/cameras/${camera}/trigger`, { method: "POST" })).status, 202);
      await eventually(`clip ${count} to upload`, async () => (await status()).upload.uploaded >= count, 60_000);
    },
    stop() {
      hub.kill("SIGKILL");
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** Waits until the hub at `local` holds its control connection to the server. */
export async function controlConnected(local: string): Promise<void> {
  await eventually("the hub's control connection", async () => {
    const status = (await (await fetch(`http://${local}/status`)).json()) as { live: { state: string } };
    return status.live.state === "connected";
  }, 30_000);
}

/** Opens the camera's timeline once its clips are listed. */
export async function cameraWithClips(page: Page, camera: string, atLeast = 1): Promise<void> {
  await page.getByRole("link", { name: "Home" }).click();
  await eventually("the camera", async () => {
    await reload(page);
    return (await page.getByRole("link", { name: camera, exact: true }).count()) > 0;
  });
  await page.getByRole("link", { name: camera, exact: true }).click();
  await eventually("the clips", async () => {
    await reload(page);
    return (await page.getByRole("list", { name: "Clips" }).locator("a").count()) >= atLeast;
  }, 90_000);
}

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

function polymod(values: number[]): number {
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]!;
  }
  return chk >>> 0;
}

/** An age X25519 recipient (`age1…`, Bech32 of a fresh public key), for a research program
 * whose key this test never needs. */
export function ageRecipient(): string {
  const { publicKey } = generateKeyPairSync("x25519");
  return ageRecipientOf(Buffer.from((publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url"));
}

/** The `age1…` string of a raw 32-byte X25519 public key. */
export function ageRecipientOf(raw: Buffer): string {
  const data: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of raw) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      data.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) data.push((acc << (5 - bits)) & 31);
  const hrp = "age";
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  const mod = polymod([...expanded, ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((d) => BECH32[d]).join("")}`;
}
