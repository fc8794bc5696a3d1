// `porchlight demo` as a person comes back to it: the demo started on a folder, a browser
// signs in with what it printed, restores itself with the key recovery code and opens a clip
// the demo's camera recorded; the demo is stopped (SIGTERM) and run again on the same folder:
// the same account, at the same address, and the browser finds the same clips and opens them.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Authenticator, BINARY, device, launch, missing, snap } from "./harness";
import { eventually } from "./flows";
import { reload } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

interface Ready {
  url: string;
  resumed: boolean;
  email: string;
  password: string;
  totp_secret: string;
  key_recovery_code: string;
  account_id: string;
  hub_local: string | null;
  cameras: string[];
}

/** A running `porchlight demo` and the line it printed once everything ran. */
interface Demo {
  child: ChildProcess;
  ready: Ready;
}

/** Starts the demo on `data`; `listen` only the first time (run again, it takes the address
 * its folder saved, as a person who types the same command would get). */
function startDemo(data: string, listen?: string): Promise<Demo> {
  return new Promise((resolve, reject) => {
    const args = ["--json", "demo", "--data", data, ...(listen ? ["--listen", listen] : [])];
    const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the demo printed nothing in time:\n${err}`));
    }, 180_000);
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const end = out.indexOf("\n");
      if (end < 0) return;
      clearTimeout(timer);
      try {
        resolve({ child, ready: JSON.parse(out.slice(0, end)) as Ready });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited ${code}:\n${err}`));
    });
  });
}

/** SIGTERM, as Ctrl-C in a terminal would; resolves with the exit code. */
function stopDemo(demo: Demo): Promise<number | null> {
  return new Promise((resolve) => {
    if (demo.child.exitCode !== null) return resolve(demo.child.exitCode);
    const timer = setTimeout(() => demo.child.kill("SIGKILL"), 60_000);
    demo.child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    demo.child.kill("SIGTERM");
  });
}

async function signIn(page: Page, ready: Ready, code: string): Promise<void> {
  await page.goto(`${ready.url}/signin`);
  await page.getByLabel("Email").fill(ready.email);
  await page.getByLabel("Password").fill(ready.password);
  await page.getByLabel("Authenticator code").fill(code);
  const nameField = page.getByLabel("Name for this browser");
  if (await nameField.isVisible()) await nameField.fill("Laptop");
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The clip links of the demo camera's timeline, once at least `atLeast` are listed. */
async function clipLinks(page: Page, url: string, camera: string, atLeast: number): Promise<string[]> {
  await page.goto(`${url}/cameras`);
  await page.getByRole("link", { name: camera, exact: true }).click();
  return eventually(
    "the demo's clips",
    async () => {
      await reload(page);
      const links = await page
        .getByRole("list", { name: "Clips" })
        .locator("a")
        .evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).pathname));
      return links.length >= atLeast ? links : null;
    },
    120_000,
  );
}

async function opens(page: Page, url: string, clip: string): Promise<void> {
  await page.goto(`${url}${clip}`);
  await page.locator('[data-verified="true"]').waitFor({ timeout: 60_000 });
}

describe("the demo, come back to", { skip: skip ?? false }, () => {
  let browser: Browser;
  let data: string;
  let demo: Demo | undefined;

  before(async () => {
    data = mkdtempSync(join(tmpdir(), "porchlight-e2e-demo-"));
    browser = await launch();
  });
  after(async () => {
    if (demo) await stopDemo(demo);
    await browser?.close();
    rmSync(data, { recursive: true, force: true });
  });

  it("brings back the same account and clips when run again on its folder", async () => {
    demo = await startDemo(data, "127.0.0.1:0");
    const first = demo.ready;
    assert.equal(first.resumed, false);
    const camera = first.cameras[0] ?? "";
    assert.ok(first.hub_local, "the demo's hub has a local endpoint");
    // The demo confirmed sign-up with the step before the current one: never that one or older.
    const codes = new Authenticator(first.totp_secret, Math.floor(Date.now() / 30_000) - 1);

    const { page, errors } = await device(browser);
    await signIn(page, first, await codes.code());
    await page.waitForURL(/\/device$/);
    await page.getByLabel("Key recovery code", { exact: true }).fill(first.key_recovery_code);
    await page.getByRole("button", { name: "Restore this browser" }).click();
    await page.getByText(/This browser is restored/).waitFor();
    // A press of the demo camera's doorbell on the hub makes a clip now.
    const press = await fetch(`http://${first.hub_local}/cameras/${encodeURIComponent(camera)}/doorbell`, { method: "POST" });
    assert.equal(press.status, 202);
    const before = await clipLinks(page, first.url, camera, 1);
    await opens(page, first.url, before[0]!);

    assert.equal(await stopDemo(demo), 0, "SIGTERM stops the demo cleanly");
    demo = undefined;

    demo = await startDemo(data);
    const again = demo.ready;
    assert.equal(again.resumed, true);
    assert.equal(again.account_id, first.account_id);
    assert.equal(again.email, first.email);
    // The saved address: the browser's tab is still on the right server.
    assert.equal(again.url, first.url);

    // The browser's session and device survived the restart (they are in the folder's
    // database); if the session was ended, signing in again is all it takes.
    await page.goto(`${again.url}/cameras`);
    if (/\/signin$/.test(page.url())) {
      await signIn(page, again, await codes.code());
      await page.waitForURL(/\/cameras$/);
    }
    const back = await clipLinks(page, again.url, camera, before.length);
    for (const clip of before) assert.ok(back.includes(clip), `${clip} is listed again`);
    await opens(page, again.url, before[0]!);
    await snap(page, "demo-resumed-clip");
    assert.deepEqual(errors, []);
  });
});
