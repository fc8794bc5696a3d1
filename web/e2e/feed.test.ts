// The feed's pages in the browser: six clips posted to one neighbourhood, in two grid cells;
// another account sees five, then the sixth with "Older posts", newest hour first, and one
// cell's posts alone when it names the cell. A post nobody may make is refused clearly.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { signUp } from "./flows";
import { cameraWithClips, home, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const CLIPS = 6;

/** Posts a clip from where the browser says it is: the area comes from the Geolocation API,
 * reduced to its cell on the device. */
async function postClip(device: { context: BrowserContext; page: Page }, clipUrl: string, latitude: number, longitude: number): Promise<void> {
  const { context, page } = device;
  await context.setGeolocation({ latitude, longitude });
  await page.goto(clipUrl);
  await page.getByRole("button", { name: "Post to the neighbourhood feed…" }).click();
  const f = page.getByRole("form", { name: "Post to the neighbourhood feed" });
  await f.getByLabel("Neighbourhood").fill("Station Street");
  await f.getByRole("button", { name: "Use my location" }).click();
  await f.getByText(/^Area [-0-9.]+,[-0-9.]+: only this grid cell is used/).waitFor();
  await f.getByRole("button", { name: "Review the post…" }).click();
  await page.getByRole("group", { name: "Post this clip publicly?" }).getByRole("button", { name: "Post publicly" }).click();
  await page.getByText(/^Posted to Station Street/).waitFor({ timeout: 60_000 });
}

describe("the feed's pages in the browser", { skip: skip ?? false }, () => {
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

  it("pages through a neighbourhood and narrows to a cell", async () => {
    const owner = await device(browser);
    const reader = await device(browser);
    await signUp(owner.page, server.url, "poster@example.com");
    await signUp(reader.page, server.url, "reader@example.com");
    await owner.context.grantPermissions(["geolocation"], { origin: server.url });
    // The exact point must never leave the browser: every request body is watched for it.
    const sent: string[] = [];
    owner.page.on("request", (r) => sent.push(`${r.url()} ${r.postData() ?? ""}`));
    hub = await home(owner.page, "porch");
    for (let n = 1; n <= CLIPS; n++) await hub.record(n);
    await cameraWithClips(owner.page, "porch", CLIPS);
    const urls = await owner.page
      .getByRole("list", { name: "Clips" })
      .locator("a")
      .evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).href));
    assert.equal(urls.length, CLIPS);
    // Four in one cell, two in the next one east; no research program here, so no copies.
    for (const [i, url] of urls.entries()) await postClip(owner, url, 48.8566, i < 4 ? 2.3522 : 2.3622);
    assert.deepEqual(sent.filter((s) => /48\.856|2\.352|2\.362/.test(s)), []);
    // The place is remembered on this device (neighbourhood and cell): the next post starts
    // with it and asks nothing.
    await owner.page.goto(urls[0]!);
    await owner.page.getByRole("button", { name: "Post to the neighbourhood feed…" }).click();
    const again = owner.page.getByRole("form", { name: "Post to the neighbourhood feed" });
    await again.getByLabel("Area").and(owner.page.locator('[value="48.85,2.36"]')).waitFor();
    assert.equal(await again.getByLabel("Neighbourhood").inputValue(), "Station Street");
    await snap(owner.page, "post-area");
    await again.getByRole("button", { name: "Review the post…" }).click();
    await owner.page.getByRole("button", { name: "Post publicly" }).click();
    // Posting a clip twice is refused with the server's sentence, and nothing else changes.
    await owner.page.getByRole("group", { name: "Post this clip publicly?" }).getByRole("alert").waitFor();

    const page = reader.page;
    await page.getByRole("link", { name: "Feed", exact: true }).click();
    await page.getByLabel("Neighbourhood").fill("Station Street");
    await page.getByRole("button", { name: "Show posts" }).click();
    const posts = page.getByRole("list", { name: "Posts" }).locator("li");
    await page.getByText("5 posts shown.").waitFor();
    const older = page.getByRole("button", { name: "Older posts" });
    assert.ok(await older.isVisible());
    await older.click();
    await page.getByText("6 posts shown.").waitFor();
    assert.equal(await posts.count(), CLIPS);
    assert.ok(await older.isHidden());
    const cells = await posts.evaluateAll((rows) => rows.map((r) => r.textContent ?? ""));
    assert.equal(cells.filter((t) => t.includes("area 48.85,2.35")).length, 4);
    assert.equal(cells.filter((t) => t.includes("area 48.85,2.36")).length, 2);

    await page.getByLabel("Area").fill("48.85,2.36");
    await page.getByRole("button", { name: "Show posts" }).click();
    await page.getByText("2 posts shown.").waitFor();
    assert.ok(await older.isHidden());
    // A point typed here is reduced to its cell before the query leaves the browser.
    await page.getByLabel("Area").fill("48.8566, 2.3522");
    await page.getByRole("button", { name: "Show posts" }).click();
    await page.getByText("4 posts shown.").waitFor();
    // Something that is not a place is refused with a sentence, and nothing is asked.
    await page.getByLabel("Area").fill("near the station");
    await page.getByRole("button", { name: "Show posts" }).click();
    await page.getByRole("form", { name: "Find posts" }).getByRole("alert").getByText(/latitude,longitude/).waitFor();

    assert.deepEqual(reader.errors.filter((e) => !/status of 4(00|22)/.test(e)), []);
    // A server without a research program answers its routes 503; a second post is 409.
    assert.deepEqual(owner.errors.filter((e) => !/status of (409|503)/.test(e)), []);
  });
});
