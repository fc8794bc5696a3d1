// Events, Home and the seek bar, with a real synthetic hub: a camera recording on a manual
// trigger and a doorbell press, and one cutting clips on motion. The Events view shows the
// three kinds (opened from inside the sealed clips on this device), its filters narrow it,
// a notice joins it without a reload, and an event opens its clip at that moment, whose seek
// bar carries a marker per event where it happened. Home shows each camera as a card with
// its picture, its hub online (then offline once the hub stops), its last event and a
// working "Watch live".

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";
import { eventually, signUp } from "./flows";
import { controlConnected, home, reload, type Home } from "./home";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const FRONT = "front door";
const YARD = "yard";

async function kindsShown(page: Page): Promise<string[]> {
  return page.getByTestId("event-row").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.kind ?? ""));
}

/** The Events list of the page's address, once its first page has been opened. */
async function eventsSettled(page: Page): Promise<void> {
  const address = await page.evaluate(() => location.pathname + location.search);
  await page.locator(`.event-days[data-for="${address}"][aria-busy="false"]`).waitFor({ state: "attached", timeout: 60_000 });
}

async function post(local: string, path: string): Promise<void> {
  const answer = await fetch(`http://${local}${path}`, { method: "POST" });
  assert.equal(answer.status, 202, `${path} answered ${answer.status}`);
}

describe("events, home cards and seek-bar markers", { skip: skip ?? false }, () => {
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

  it("lists events by type with filters and markers, and shows cameras as cards", async () => {
    const owner = await device(browser);
    const page = owner.page;
    await signUp(page, server.url, "events@example.com");
    house = await home(page, FRONT, [YARD]);
    const local = house.local;
    await controlConnected(local);

    // A manual recording on the front door; the yard records motion by itself.
    await post(local, `/cameras/${encodeURIComponent(FRONT)}/trigger`);
    await page.getByRole("link", { name: "Events" }).click();
    await page.waitForURL(/\/events$/);
    await eventually("a manual and a motion event", async () => {
      await reload(page);
      await eventsSettled(page);
      const kinds = await kindsShown(page);
      return kinds.includes("manual") && kinds.includes("motion");
    }, 120_000);

    // A doorbell press while the list is open: it shows at once from the checked notice, then
    // as its clip once that lands, without a reload.
    await page.locator('html[data-events="live"]').waitFor({ timeout: 15_000 });
    const pressed = Date.now();
    await post(local, `/cameras/${encodeURIComponent(FRONT)}/doorbell`);
    await page.locator('[data-testid="event-row"][data-kind="doorbell"][data-heard]').waitFor({ timeout: 5_000 });
    console.log(`doorbell press in the Events list ${Date.now() - pressed} ms after the press`);
    const doorbellRow = page.locator('[data-testid="event-row"][data-kind="doorbell"][data-clip]');
    await doorbellRow.first().waitFor({ timeout: 90_000 });
    assert.equal(await page.locator('[data-testid="event-row"][data-kind="doorbell"][data-heard]').count(), 0);
    // The in-app alert has done its part (alerts.test.ts): dismissed, it covers nothing.
    await page.getByTestId("event-alert").getByRole("button", { name: /^Dismiss/ }).click();

    // Each row: the kind by name, the camera, the time to the second, a picture.
    const text = (await doorbellRow.first().textContent()) ?? "";
    assert.match(text, /Doorbell/);
    assert.match(text, new RegExp(FRONT));
    assert.match(text, /\d{1,2}:\d{2}:\d{2}/, "the time to the second");
    await eventually("the doorbell clip's picture", async () =>
      doorbellRow.first().locator("img.thumb").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
    );
    await snap(page, "events");

    // Filters narrow the list, and the address keeps them.
    const all = await kindsShown(page);
    await page.getByLabel("Type", { exact: true }).selectOption("doorbell");
    await page.waitForURL(/\/events\?type=doorbell$/);
    await eventsSettled(page);
    const doorbells = await kindsShown(page);
    assert.ok(doorbells.length >= 1 && doorbells.length < all.length, `${doorbells.length} of ${all.length}`);
    assert.ok(doorbells.every((k) => k === "doorbell"), doorbells.join());
    await page.getByLabel("Type", { exact: true }).selectOption("");
    await page.waitForURL(/\/events$/);
    await page.getByLabel("Camera", { exact: true }).selectOption({ label: YARD });
    await page.waitForURL(/\/events\?camera=[^&]+$/);
    await eventsSettled(page);
    const yard = await page.getByTestId("event-row").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.camera));
    const yardId = new URL(page.url()).searchParams.get("camera");
    assert.ok(yardId && yard.length > 0 && yard.every((c) => c === yardId), yard.join());
    assert.ok((await kindsShown(page)).every((k) => k === "motion"));
    await page.getByLabel("Camera", { exact: true }).selectOption({ label: FRONT });
    await page.waitForURL((u) => u.searchParams.get("camera") !== yardId);
    await page.getByLabel("Type", { exact: true }).selectOption("manual");
    await page.waitForURL(/type=manual/);
    await eventsSettled(page);
    assert.deepEqual(await kindsShown(page), ["manual"]);
    await snap(page, "events-filtered");
    // The day: yesterday had nothing; today has the same as no day.
    const today = new Date();
    const iso = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    await page.getByLabel("Day", { exact: true }).fill(iso(new Date(today.getTime() - 86_400_000)));
    await page.waitForURL(/day=/);
    await eventsSettled(page);
    await page.getByText("No events match these filters.").waitFor();
    await page.getByLabel("Day", { exact: true }).fill(iso(today));
    await page.waitForURL(new RegExp(`day=${iso(today)}`));
    await eventsSettled(page);
    assert.deepEqual(await kindsShown(page), ["manual"]);
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.waitForURL(/\/events$/);
    await eventsSettled(page);
    // How long the first page takes with the clips opened here (cold: the kept previews
    // forgotten first) and with what this device kept (warm), once the yard has recorded a
    // dozen clips.
    await eventually("a dozen events", async () => {
      await reload(page);
      await eventsSettled(page);
      return (await page.getByTestId("event-row").count()) >= 12;
    }, 120_000);
    for (const kept of [false, true]) {
      if (!kept) {
        await page.evaluate(
          () =>
            new Promise<void>((done, fail) => {
              const open = indexedDB.open("porchlight");
              open.onsuccess = () => {
                const tx = open.result.transaction("kv", "readwrite");
                tx.objectStore("kv").delete(IDBKeyRange.bound("preview:", "preview:\uffff"));
                tx.oncomplete = () => done();
                tx.onerror = () => fail(new Error("could not clear the kept previews"));
              };
            }),
        );
      }
      const started = Date.now();
      await reload(page);
      await eventsSettled(page);
      const rows = await page.getByTestId("event-row").count();
      const clips = await page.getByTestId("event-row").evaluateAll((r) => new Set(r.map((e) => (e as HTMLElement).dataset.clip)).size);
      console.log(`Events page (${kept ? "kept previews" : "nothing kept"}): ${rows} events from ${clips} clips in ${Date.now() - started} ms`);
    }
    // Every picture is drawn: none came out black (the synthetic camera has no dark frame).
    const black = await page.locator('[data-testid="event-row"] img.thumb').evaluateAll((imgs) =>
      imgs.filter((img) => {
        const i = img as HTMLImageElement;
        const c = document.createElement("canvas");
        c.width = 32;
        c.height = 18;
        const g = c.getContext("2d");
        if (!g || !i.complete || i.naturalWidth === 0) return true;
        g.drawImage(i, 0, 0, 32, 18);
        const d = g.getImageData(0, 0, 32, 18).data;
        for (let k = 0; k < d.length; k += 4) if (d[k]! + d[k + 1]! + d[k + 2]! > 24) return false;
        return true;
      }).length,
    );
    assert.equal(black, 0, "pictures that came out black or not at all");

    // An event opens its clip at that moment; the seek bar has a marker per event, where it
    // happened, and a marker seeks there.
    const row = page.locator('[data-testid="event-row"][data-kind="doorbell"][data-clip]').first();
    const offsetMs = Number(await row.getAttribute("data-offset-ms"));
    await row.getByRole("link").click();
    await page.waitForURL(new RegExp(`/clips/[^/?]+\\?at=${offsetMs}$`));
    const video = page.locator("main video");
    await page.locator('[data-verified="true"]').waitFor({ timeout: 60_000 });
    const markers = page.getByTestId("seek-marker");
    await markers.first().waitFor();
    const started = await video.evaluate((v: HTMLVideoElement) => v.currentTime - (v.buffered.length ? v.buffered.start(0) : 0));
    assert.ok(Math.abs(started - offsetMs / 1000) < 0.6, `opened at ${started} s, the event is at ${offsetMs / 1000} s`);
    const doorbellMarker = page.locator('[data-testid="seek-marker"][data-kind="doorbell"]');
    assert.equal(await doorbellMarker.count(), 1);
    assert.match((await doorbellMarker.getAttribute("aria-label")) ?? "", /^Doorbell at 0:\d\d: play from here$/);
    // Where it sits on the track: its share of the clip's length.
    const duration = await video.evaluate((v: HTMLVideoElement) => v.duration);
    const track = await page.locator(".markers").boundingBox();
    const dot = await doorbellMarker.boundingBox();
    assert.ok(track && dot);
    const at = (dot.x + dot.width / 2 - track.x) / track.width;
    assert.ok(Math.abs(at - offsetMs / 1000 / duration) < 0.03, `marker at ${at}, event at ${offsetMs / 1000 / duration}`);
    // Seeking: to the start, then the marker brings the video back to the event.
    await video.evaluate((v: HTMLVideoElement) => {
      v.pause();
      v.currentTime = v.buffered.start(0);
    });
    await doorbellMarker.focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      (ms) => {
        const v = document.querySelector<HTMLVideoElement>("main video");
        if (!v || !v.buffered.length) return false;
        const t = v.currentTime - v.buffered.start(0);
        return t >= ms / 1000 - 0.1 && t < ms / 1000 + 2;
      },
      offsetMs,
      { timeout: 10_000 },
    );
    await video.evaluate((v: HTMLVideoElement) => v.pause());
    await snap(page, "clip-markers");

    // The camera's clip list says why each clip was recorded, and when to the second.
    await page.getByRole("link", { name: "Back to the camera" }).click();
    const clipList = page.getByRole("list", { name: "Clips" });
    await clipList.locator("li").first().waitFor();
    await eventually("the clips' kinds", async () => {
      const kinds = await clipList.getByTestId("clip-kinds").allTextContents();
      return kinds.some((k) => /Doorbell/.test(k)) && kinds.some((k) => /Manual recording/.test(k));
    }, 30_000);
    const times = await clipList.locator("a time").allTextContents();
    assert.ok(times.length >= 2 && times.every((t) => /^\d{1,2}:\d{2}:\d{2}/.test(t)), times.join(" | "));
    assert.equal(new Set(times).size, times.length, "no two rows read the same");

    // Home: a card per camera with its picture, its hub online, its last event, Watch live.
    await page.getByRole("link", { name: "Home" }).click();
    await page.getByRole("heading", { level: 1, name: "Home" }).waitFor();
    const front = page.getByTestId("camera-card").filter({ hasText: FRONT });
    const yardCard = page.getByTestId("camera-card").filter({ hasText: YARD });
    await eventually("both cards' pictures", async () => {
      for (const card of [front, yardCard]) {
        const ok = await card.locator("img.card-thumb").evaluate((img: HTMLImageElement) => !img.hidden && img.complete && img.naturalWidth > 0);
        if (!ok) return false;
      }
      return true;
    }, 30_000);
    assert.equal(await front.getByTestId("hub-state").getAttribute("data-online"), "true");
    assert.equal(await front.getByTestId("hub-state").textContent(), "Online");
    assert.equal(await front.getByTestId("last-event").getAttribute("data-kind"), "doorbell");
    assert.match((await front.getByTestId("last-event").textContent()) ?? "", /Doorbell.*\d{1,2}:\d{2}:\d{2}/);
    await eventually("the yard's last event", async () => (await yardCard.getByTestId("last-event").getAttribute("data-kind")) === "motion");
    await snap(page, "home");
    await front.getByRole("link", { name: `Watch live: ${FRONT}` }).click();
    await page.waitForURL(/\/cameras\/[^/]+\/live$/);
    await page.locator('[data-live="true"]').waitFor({ timeout: 30_000 });

    // The hub stops: Home says so by itself (no reload).
    await page.getByRole("link", { name: "Home" }).click();
    await front.getByTestId("hub-state").waitFor();
    house.stop();
    house = undefined;
    await page.locator('[data-testid="camera-card"] [data-online="false"]').first().waitFor({ timeout: 30_000 });
    assert.equal(await front.getByTestId("hub-state").textContent(), "Hub offline");
    await snap(page, "home-offline");

    // What was opened and kept on this device is the account's: signing out forgets it.
    const keptPreviews = () =>
      page.evaluate(
        () =>
          new Promise<number>((done, fail) => {
            const open = indexedDB.open("porchlight");
            open.onsuccess = () => {
              const count = open.result.transaction("kv").objectStore("kv").count(IDBKeyRange.bound("preview:", "preview:\uffff"));
              count.onsuccess = () => {
                open.result.close();
                done(count.result);
              };
              count.onerror = () => fail(new Error("could not count the kept previews"));
            };
          }),
      );
    assert.ok((await keptPreviews()) >= 3);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/signed-out$/);
    assert.equal(await keptPreviews(), 0);
    assert.deepEqual(owner.errors, []);
  });
});
