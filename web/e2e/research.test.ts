// Research in the browser: consent for a camera given after a confirmation that says what it
// means, a clip added to research (opened, stripped and sealed to the research key on this
// device), found again in "What of mine is in research" by matching on the device, withdrawn;
// then added again and taken out by withdrawing the consent that covered it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { signUp } from "./flows";
import { ageRecipient, cameraWithClips, home, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

describe("research in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let hub: Home | undefined;

  before(async () => {
    server = await serve({ PORCHLIGHT_RESEARCH__RECIPIENT: ageRecipient() });
    browser = await launch();
  });
  after(async () => {
    hub?.stop();
    await browser?.close();
    await server?.stop();
  });

  it("gives consent, adds a clip, finds it on the device and withdraws it", async () => {
    const owner = await device(browser);
    const page = owner.page;
    await signUp(page, server.url, "research@example.com");
    hub = await home(page, "porch");
    await hub.record(1);
    await cameraWithClips(page, "porch");

    // A clip without consent cannot be added.
    await page.getByRole("list", { name: "Clips" }).locator("a").first().click();
    await page.locator('[data-research="out"]').waitFor();
    assert.match((await page.locator('[data-research="out"]').textContent()) ?? "", /Give consent/);
    assert.equal(await page.getByRole("button", { name: "Add to research" }).count(), 0);
    await page.getByRole("link", { name: "Back to the camera" }).click();

    // Consent for the camera: the confirmation says what it means and that it is revocable;
    // Cancel changes nothing.
    await page.getByRole("button", { name: "Give research consent…" }).click();
    const confirm = page.getByRole("group", { name: "Give research consent for porch?" });
    await confirm.waitFor();
    const said = (await confirm.textContent()) ?? "";
    assert.match(said, /stripped of its metadata/);
    assert.match(said, /withdraw it at any time/);
    assert.match(said, /never under your account/);
    await snap(page, "research-consent");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await page.locator('[data-consent="none"]').waitFor();
    await page.getByRole("button", { name: "Give research consent…" }).click();
    await page.getByRole("button", { name: "Give consent" }).click();
    await page.getByText(/Consent given: signed by this device/).waitFor();
    await page.locator('[data-consent="given"]').waitFor();

    // Add the clip: made on this device and uploaded sealed.
    await page.getByRole("list", { name: "Clips" }).locator("a").first().click();
    const clipUrl = page.url();
    await page.getByRole("button", { name: "Add to research" }).click();
    await page.getByText(/Added to research as an item of \d{4}-\d{2}-\d{2}/).waitFor({ timeout: 60_000 });
    await page.locator('[data-research="in"]').waitFor();
    await snap(page, "clip-in-research");

    // What of mine is in research: found by matching on this device.
    await page.getByRole("link", { name: "Research", exact: true }).click();
    const items = page.getByRole("list", { name: "Your clips in research" });
    await items.waitFor({ timeout: 30_000 });
    assert.equal(await items.locator("li").count(), 1);
    assert.equal(await page.getByRole("list", { name: "Consents" }).locator("li").count(), 1);
    await snap(page, "research-mine");

    // Withdraw the item: gone from the dataset.
    await items.getByRole("button", { name: /Withdraw the clip of porch from research/ }).click();
    await page.getByText("None of your clips is in research.").waitFor();
    await page.getByText(/Withdrawn: the item made from the clip of porch is deleted/).waitFor();

    // Add it again, then withdraw the camera's consent: the item goes with it.
    await page.goto(clipUrl);
    await page.getByRole("button", { name: "Add to research" }).click();
    await page.locator('[data-research="in"]').waitFor({ timeout: 60_000 });
    await page.getByRole("link", { name: "Research", exact: true }).click();
    await items.waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Withdraw consent for camera porch" }).click();
    const withdraw = page.getByRole("group", { name: "Withdraw research consent for porch?" });
    assert.match((await withdraw.textContent()) ?? "", /Every research item of yours that it covers is withdrawn/);
    await snap(page, "research-withdraw-consent");
    await withdraw.getByRole("button", { name: "Withdraw consent" }).click();
    await page.getByText("Consent withdrawn; 1 research item of yours withdrawn with it.").waitFor({ timeout: 30_000 });
    await page.getByText("None of your clips is in research.").waitFor();
    await page.getByText("No research consent is given.").waitFor();

    // The clip is out, and cannot be added again without a new consent.
    await page.goto(clipUrl);
    await page.locator('[data-research="out"]').waitFor();
    assert.equal(await page.getByRole("button", { name: "Add to research" }).count(), 0);

    // Consent for this one clip, from its own screen: added, then withdrawn with the consent.
    await page.getByRole("button", { name: "Give research consent…" }).click();
    const forClip = page.getByRole("group", { name: /^Give research consent for this clip from porch\?$/ });
    assert.match((await forClip.textContent()) ?? "", /This clip .* may be added/);
    await forClip.getByRole("button", { name: "Give consent" }).click();
    await page.locator('[data-consent="given"]').waitFor();
    await page.getByRole("button", { name: "Add to research" }).click();
    await page.locator('[data-research="in"]').waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Withdraw research consent…" }).click();
    await page.getByRole("button", { name: "Withdraw consent" }).click();
    await page.getByText("Consent withdrawn; 1 research item of yours withdrawn with it.").waitFor({ timeout: 30_000 });
    await page.locator('[data-research="out"]').waitFor();
    await page.getByRole("link", { name: "Research", exact: true }).click();
    await page.getByText("None of your clips is in research.").waitFor({ timeout: 30_000 });
    assert.deepEqual(owner.errors, []);
  });
});
