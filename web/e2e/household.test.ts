// The household in the browser: the owner adds a member from the invitation link the member
// sent (no root typed), gives a camera — links signed on the owner's browser, clips re-sealed
// there — and the member's own browser lists that camera, plays a clip its owner's hub signed
// (checked against the owner's device list, verified in the Rust crypto) and watches it live.
// A refused check of the owner's list shows a clear message and nothing of the clip; after
// the owner removes the member, the member sees nothing of the camera any more.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { eventually, signUp } from "./flows";
import { cameraWithClips, home, reload, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

/** Replaces the owners' chain positions this browser kept (IndexedDB, key `owners:ACCOUNT`)
 * with `value`, or forgets them when null. */
async function keepOwnerPositions(page: Page, value: string | null): Promise<void> {
  const replaced = await page.evaluate(
    (v) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open("porchlight", 1);
        open.onerror = () => reject(new Error("no database"));
        open.onsuccess = () => {
          const tx = open.result.transaction("kv", "readwrite");
          const store = tx.objectStore("kv");
          let n = 0;
          const keys = store.getAllKeys();
          keys.onsuccess = () => {
            for (const key of keys.result) {
              if (typeof key !== "string" || !key.startsWith("owners:")) continue;
              n++;
              if (v === null) store.delete(key);
              else store.put(v, key);
            }
          };
          tx.oncomplete = () => {
            open.result.close();
            resolve(n);
          };
          tx.onerror = () => reject(new Error("write refused"));
        };
      }),
    value,
  );
  assert.equal(replaced, 1, "the member's browser kept its households' positions");
}

describe("the household in the browser", { skip: skip ?? false }, () => {
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

  it("adds a member from their invitation, gives a camera they play and watch live, and removes them", async () => {
    const owner = await device(browser);
    const member = await device(browser);
    await signUp(owner.page, server.url, "owner@example.com");
    await signUp(member.page, server.url, "sam@example.com");
    hub = await home(owner.page, "porch");
    await hub.record(1);

    // Before anything is given, the member's browser has no household.
    await member.page.goto(`${server.url}/settings/household`);
    await member.page.getByText("You are not in anyone else's household.").waitFor();

    await owner.page.goto(`${server.url}/shared`);
    const ownerRoot = ((await owner.page.getByTestId("own-root").textContent()) ?? "").trim();

    // The member sends their invitation link; the owner opens it and keeps them as Sam.
    await member.page.goto(`${server.url}/shared`);
    const invite = (await member.page.getByTestId("invite-link").getAttribute("href")) ?? "";
    const memberRoot = invite.split("#")[1] ?? "";
    assert.match(memberRoot, /^[0-9a-f]{64}$/);
    await owner.page.goto(invite);
    await owner.page.getByLabel("Their name").fill("Sam");
    await owner.page.getByRole("button", { name: "Keep contact" }).click();
    await owner.page.getByText("Sam is in your contacts").waitFor();

    // Settings → Household: Sam is offered by name; the camera is ticked and given.
    await owner.page.goto(`${server.url}/settings`);
    await owner.page.getByRole("list", { name: "Settings and privacy" }).getByRole("link", { name: "Household" }).click();
    await owner.page.getByRole("heading", { name: "Household", level: 1 }).waitFor();
    await owner.page.getByText("No one else is in your household.").waitFor();
    const add = owner.page.getByRole("form", { name: "Add to the household" });
    assert.equal(await add.getByLabel("Their account root").isVisible(), false, "a contact needs no root typed");
    assert.equal(await add.getByLabel("Name in your household").inputValue(), "Sam");
    await add.getByLabel("porch").check();
    await add.getByRole("button", { name: "Add to household" }).click();
    await owner.page.getByText(/Sam is in your household and may watch porch\. 1 clip re-sealed on this device\./).waitFor({ timeout: 60_000 });
    const members = owner.page.getByRole("list", { name: "Household members" });
    await members.getByText("Watches: porch").waitFor();
    assert.match((await members.textContent()) ?? "", new RegExp(memberRoot.slice(0, 4)));
    await snap(owner.page, "household");

    // The member's browser: the camera is listed, its clip checked under the owner's chain
    // and played; the household screen names who gives it.
    await member.page.goto(`${server.url}/settings/household`);
    const belong = member.page.getByRole("list", { name: "Households you belong to" });
    await belong.getByRole("link", { name: "porch" }).waitFor();
    await snap(member.page, "household-member");
    await cameraWithClips(member.page, "porch");
    await member.page.getByText(/Given to you by account .*; checked against their device list\./).waitFor();
    assert.equal(await member.page.getByTestId("unverified-clips").count(), 0, "no clip of the given camera is refused");
    const cameraUrl = member.page.url();
    // Its thumbnail is made on the member's device, from the clip opened under the owner's chain.
    await member.page.locator("img.thumb[src]").first().waitFor({ timeout: 30_000 });
    await snap(member.page, "household-camera");
    // Home: the given camera's card has its latest picture and last event, opened under the
    // owner's chain, and says it is a household camera (its hub is the owner's, not listed).
    await member.page.getByRole("link", { name: "Home" }).click();
    const card = member.page.getByTestId("camera-card");
    await card.locator("img.card-thumb[src]").waitFor({ timeout: 30_000 });
    await card.getByText("Household camera").waitFor();
    await card.getByTestId("last-event").getByText(/Manual recording|Doorbell|Motion|Clip/).waitFor();
    await snap(member.page, "household-home");
    await member.page.goto(cameraUrl);
    await member.page.getByRole("list", { name: "Clips" }).locator("a").first().waitFor();
    await member.page.getByRole("list", { name: "Clips" }).locator("a").first().click();
    const clipUrl = member.page.url();
    await member.page.locator('[data-verified="true"]').waitFor({ timeout: 60_000 });
    await member.page.getByText(/of the household that gives you this camera/).waitFor();
    assert.ok(await member.page.locator("main video").evaluate((v: HTMLVideoElement) => v.readyState >= 2 || v.buffered.length > 0));
    await snap(member.page, "household-clip");

    // Live, with the hub's answer checked under the owner's chain.
    await member.page.goto(`${cameraUrl}/live`);
    await member.page.locator('[data-live="true"]').waitFor({ timeout: 60_000 });
    await eventually("live video to play", async () =>
      member.page.locator("main video").evaluate((v: HTMLVideoElement) => v.buffered.length > 0 && v.buffered.end(0) > 0.5),
    30_000);
    await snap(member.page, "household-live");
    await member.page.getByRole("button", { name: "Stop" }).click();

    // A refused check: this browser has seen the owner's list further along than the server
    // now serves it (a rollback). The clip is refused with a clear message and not opened.
    await keepOwnerPositions(member.page, JSON.stringify({ [ownerRoot]: [999, "00".repeat(32)] }));
    await member.page.goto(clipUrl);
    await member.page.getByText("This clip was not opened.").waitFor();
    await member.page.getByText(/The device list of account [0-9a-f-]+ was refused: .*rollback/).waitFor();
    assert.equal(await member.page.locator("main video").count(), 0, "nothing of a refused clip is shown");
    await snap(member.page, "household-refused");
    await member.page.goto(cameraUrl);
    await member.page.getByTestId("unverified-clips").waitFor();
    assert.equal(await member.page.getByRole("list", { name: "Clips" }).count(), 0);
    await member.page.goto(`${cameraUrl}/live`);
    await member.page.getByText(/No household whose device list this browser checked gives your account this camera/).waitFor();
    assert.equal(await member.page.locator("main video").count(), 0);
    await keepOwnerPositions(member.page, null);
    await member.page.goto(clipUrl);
    await member.page.locator('[data-verified="true"]').waitFor({ timeout: 60_000 });

    // The owner removes Sam: the member's browser no longer lists or opens the camera.
    await owner.page.getByRole("button", { name: "Remove Sam from the household" }).click();
    const confirm = owner.page.getByRole("group", { name: "Remove Sam from the household?" });
    assert.match((await confirm.textContent()) ?? "", /Copies they already downloaded are beyond reach/);
    await confirm.getByRole("button", { name: "Remove member" }).click();
    await owner.page.getByText(/Sam is no longer in your household\./).waitFor({ timeout: 60_000 });
    await owner.page.getByText("No one else is in your household.").waitFor();

    await member.page.goto(`${server.url}/cameras`);
    await reload(member.page);
    assert.equal(await member.page.getByRole("link", { name: "porch", exact: true }).count(), 0);
    await member.page.goto(cameraUrl);
    await member.page.getByText("This camera is not one you can see.").waitFor();
    await member.page.goto(`${cameraUrl}/live`);
    await member.page.getByText("This camera is not one you can see.").waitFor();
    await member.page.goto(clipUrl);
    await member.page.waitForFunction(() => document.title !== "Porchlight", null, { timeout: 15_000 });
    assert.equal(await member.page.locator("main video").count(), 0);
    assert.equal(await member.page.locator('[data-verified="true"]').count(), 0);
    await member.page.goto(`${server.url}/settings/household`);
    await member.page.getByText("You are not in anyone else's household.").waitFor();

    assert.deepEqual(owner.errors, []);
    // The removed member's refused clip request (404) is logged by the browser itself.
    assert.deepEqual(member.errors.filter((e) => !/status of 404/.test(e)), []);
  });
});
