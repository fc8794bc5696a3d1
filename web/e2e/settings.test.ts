// A camera's settings and deleting a clip, in the browser: the owner changes how long clips
// are kept and the name the app shows (a reload shows both saved; the clip list still checks
// clips against the name the hub signed), then deletes a clip after an in-page confirmation
// and is back on the timeline without it, its payload gone from the server.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { signUp } from "./flows";
import { cameraWithClips, home, reload, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

/** A GET of `path` from the page, as the app sends it (its cookie and device id): the status. */
async function statusOf(page: Page, path: string): Promise<number> {
  return page.evaluate(async (p) => {
    const id = await new Promise<string>((resolve, reject) => {
      const open = indexedDB.open("porchlight", 1);
      open.onsuccess = () => {
        const get = open.result.transaction("kv").objectStore("kv").get("device_id");
        get.onsuccess = () => resolve(get.result as string);
        get.onerror = () => reject(new Error("no device id"));
      };
      open.onerror = () => reject(new Error("no database"));
    });
    return (await fetch(p, { headers: { "porchlight-device": id } })).status;
  }, path);
}

describe("camera settings and deleting a clip in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let hub: Home | undefined;

  before(async () => {
    server = await serve({ PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE: "100000" });
    browser = await launch();
  });
  after(async () => {
    hub?.stop();
    await browser?.close();
    await server?.stop();
  });

  it("changes retention and the camera's name, and deletes a clip", async () => {
    const owner = await device(browser);
    const page = owner.page;
    await signUp(page, server.url, "settings@example.com");
    hub = await home(page, "porch");
    await hub.record(1);
    await hub.record(2);
    await cameraWithClips(page, "porch", 2);
    const cameraUrl = page.url();

    // Changing retention and the name shown; a reload shows both saved.
    const settings = page.getByRole("region", { name: "Camera settings" });
    await settings.getByText("Now: clips are kept 30 days; shown as “porch”.").waitFor();
    await settings.getByLabel("Keep clips for").selectOption("7");
    await settings.getByLabel("Name shown in the app").fill("Front door");
    await settings.getByRole("button", { name: "Save settings" }).click();
    await settings.getByText("Saved.").waitFor();
    await page.getByRole("heading", { level: 1, name: "Front door" }).waitFor();
    await reload(page);
    await page.getByRole("heading", { level: 1, name: "Front door" }).waitFor();
    assert.equal(await page.getByLabel("Keep clips for").inputValue(), "7");
    assert.equal(await page.getByLabel("Name shown in the app").inputValue(), "Front door");
    await page.getByText("Clips are kept 7 days.").waitFor();
    await page.getByText("Now: clips are kept 7 days; shown as “Front door”.").waitFor();
    // The clips are still checked against the name the hub signed: none is left out.
    assert.equal(await page.getByTestId("unverified-clips").count(), 0);
    assert.equal(await page.getByRole("list", { name: "Clips" }).locator("a").count(), 2);
    await snap(page, "camera-settings");
    await page.getByRole("link", { name: "Home" }).click();
    await page.getByRole("link", { name: "Front door", exact: true }).waitFor();
    await page.getByText("Its hub calls it “porch”").waitFor();
    await snap(page, "cameras-labelled");

    // Deleting a clip: the confirmation says what it reaches and what it cannot.
    await page.goto(cameraUrl);
    const clips = page.getByRole("list", { name: "Clips" }).locator("a");
    await clips.first().waitFor();
    await clips.first().click();
    const clipId = decodeURIComponent(page.url().split("/clips/")[1] ?? "");
    assert.equal(await statusOf(page, `/api/clips/${encodeURIComponent(clipId)}/payload`), 200);
    await page.getByRole("heading", { level: 1, name: /^Front door, / }).waitFor();
    await page.getByRole("button", { name: "Delete clip" }).click();
    const confirm = page.getByRole("group", { name: /^Delete this clip of Front door/ });
    await confirm.getByText(/for every device of your account and your household/).waitFor();
    await confirm.getByText(/Copies already downloaded or saved are beyond reach/).waitFor();
    await snap(page, "clip-delete-confirm");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Delete clip" }).click();
    await confirm.getByRole("button", { name: "Delete for everyone" }).click();

    // Back on the timeline, with a status message and one clip fewer.
    await page.waitForURL(cameraUrl);
    await page.getByText(/^Clip of .* deleted\.$/).waitFor();
    await page.getByRole("list", { name: "Clips" }).locator("a").first().waitFor();
    assert.equal(await page.getByRole("list", { name: "Clips" }).locator("a").count(), 1);
    assert.equal(await page.locator(`a[href="/clips/${encodeURIComponent(clipId)}"]`).count(), 0);
    await snap(page, "clip-deleted");
    assert.equal(await statusOf(page, `/api/clips/${encodeURIComponent(clipId)}/payload`), 404);
    await reload(page);
    assert.equal(await page.getByRole("list", { name: "Clips" }).locator("a").count(), 1);
    // A link to the deleted clip says so in words, with a way back.
    await page.goto(`${server.url}/clips/${encodeURIComponent(clipId)}`);
    await page.getByRole("heading", { level: 1, name: "Not found" }).waitFor();
    await page.getByText(/This clip is not here\. It may have been deleted/).waitFor();
    assert.equal(await page.getByText("no such resource").count(), 0);
    await page.getByRole("link", { name: "Back to your cameras" }).waitFor();
    await snap(page, "not-found");

    // The deletion is in the access log, as a readable kind.
    await page.getByRole("link", { name: "Access" }).click();
    await page.getByTestId("log-verified").waitFor({ timeout: 30_000 });
    await page.getByText("Other entries", { exact: false }).click();
    await page.getByText(/^clip deleted · /).waitFor();

    // The fetch of the deleted payload is logged by the browser itself.
    assert.deepEqual(owner.errors.filter((e) => !/status of 404/.test(e)), []);
  });
});
