// Opening a clip in the browser, measured: a real server,
// a real sealed clip of a 1080p H.264 recording, and Debian's Chromium. Three figures from the
// same page and the same bytes:
//   - ceiling: the payload fetched and read with nothing done to it;
//   - open: "Save video" — fetched, checked and opened by porchlight-wasm into a file;
//   - play: the player — fetched, opened and fed to MediaSource until the whole clip is in.
// Plus the page's JS heap at its highest while playing (the clip must not be held whole).
// Native opening of the same format is porchlight-crypto-bench's figure. Run: npm run bench
// in web/ (see bench/RESULTS.md).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, device, launch, serve } from "../e2e/harness";
import { run, signUp } from "../e2e/flows";

// The server under test: PORCHLIGHT_BIN (a release build, for figures to keep), else the
// debug build the tests use.
const bin = BINARY;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const work = mkdtempSync(join(tmpdir(), "porchlight-bench-web-"));
const video = join(work, "clip.mp4");
execFileSync("ffmpeg", [
  "-v", "error", "-f", "lavfi", "-i", `testsrc2=size=1920x1080:rate=30:duration=${SECONDS}`,
  "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-g", "60", "-pix_fmt", "yuv420p",
  "-movflags", "frag_keyframe+empty_moov+default_base_moof", video,
]);
const size = statSync(video).size;

const server = await serve();
const browser = await launch(["--js-flags=--expose-gc"]);
try {
  const { page } = await device(browser);
  await signUp(page, server.url, "bench@example.com");
  await page.getByRole("link", { name: "Hubs" }).click();
  await page.getByLabel("Hub name").fill("Bench hub");
  await page.getByRole("button", { name: "Make a pairing code" }).click();
  const command = (await page.getByTestId("pairing-command").textContent()) ?? "";
  const state = join(work, "hub");
  await run(["--json", "hub", "pair", command.split(" ")[3] ?? "", "--state", state, "--timeout", "60"]);
  await page.getByText(/is signed into your device chain/).waitFor();
  const uploaded = JSON.parse(
    await run(["--json", "hub", "upload", "--state", state, "--camera", "bench", "--duration-ms", String(SECONDS * 1000), video], 300_000),
  ) as { clip_id?: string; id?: string; clip?: { id: string } };
  const clipId = uploaded.clip_id ?? uploaded.id ?? uploaded.clip?.id ?? "";
  if (!clipId) throw new Error(`no clip id in ${JSON.stringify(uploaded)}`);

  await page.goto(`${server.url}/clips/${clipId}`);
  await page.locator('[data-verified="true"]').waitFor({ timeout: 300_000 });
  const deviceId = await page.evaluate(
    () =>
      new Promise<string>((ok, fail) => {
        const open = indexedDB.open("porchlight", 1);
        open.onsuccess = () => {
          const get = open.result.transaction("kv").objectStore("kv").get("device_id");
          get.onsuccess = () => ok(get.result as string);
          get.onerror = () => fail(new Error("no device id"));
        };
      }),
  );
  const payloadSize = await page.evaluate(
    async ([id, dev]) => {
      const res = await fetch(`/api/clips/${id}`, { headers: { "porchlight-device": dev } });
      return ((await res.json()) as { payload_size: number }).payload_size;
    },
    [clipId, deviceId] as const,
  );

  const ceiling: number[] = [];
  const open: number[] = [];
  const play: number[] = [];
  let heapPeak = 0;
  for (let round = 0; round < ROUNDS; round++) {
    ceiling.push(
      await page.evaluate(
        async ([id, dev, expected]) => {
          const t0 = performance.now();
          const res = await fetch(`/api/clips/${id}/payload`, { headers: { "porchlight-device": dev }, cache: "no-store" });
          if (!res.ok) throw new Error(`payload: ${res.status}`);
          const reader = res.body!.getReader();
          let n = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            n += value.length;
          }
          if (n !== expected) throw new Error(`read ${n} of ${expected} bytes`);
          return performance.now() - t0;
        },
        [clipId, deviceId, payloadSize] as const,
      ),
    );
    const t0 = Date.now();
    const download = page.waitForEvent("download", { timeout: 300_000 });
    await page.getByRole("button", { name: "Save video (MP4)" }).click();
    await (await download).cancel();
    open.push(Date.now() - t0);

    await page.reload();
    const t1 = Date.now();
    const sampler = setInterval(() => {
      void page
        .evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0)
        .then((h) => (heapPeak = Math.max(heapPeak, h)))
        .catch(() => {});
    }, 100);
    await page.locator('[data-verified="true"]').waitFor({ timeout: 300_000 });
    clearInterval(sampler);
    play.push(Date.now() - t1);
  }

  // What playing holds on to: the heap after a forced collection, sampled while a clip plays
  // (an untimed round; garbage not yet collected is not memory held).
  await page.reload();
  let retainedPeak = 0;
  const gcSampler = setInterval(() => {
    void page
      .evaluate(() => {
        (globalThis as unknown as { gc?: () => void }).gc?.();
        return (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
      })
      .then((h) => (retainedPeak = Math.max(retainedPeak, h)))
      .catch(() => {});
  }, 200);
  await page.locator('[data-verified="true"]').waitFor({ timeout: 300_000 });
  clearInterval(gcSampler);
  const heapAt = () =>
    page.evaluate(() => {
      (globalThis as unknown as { gc?: () => void }).gc?.();
      return (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
    });
  const afterPlay = await heapAt();
  await page.getByRole("link", { name: "Back to the camera" }).click();
  await page.waitForFunction(() => document.title.startsWith("bench"));
  const afterLeaving = await heapAt();

  // The same during "Save video" (no MediaSource): what the opening itself holds.
  let openPeak = 0;
  const openSampler = setInterval(() => {
    void heapAt()
      .then((h) => (openPeak = Math.max(openPeak, h)))
      .catch(() => {});
  }, 200);
  await page.goBack();
  await page.locator('[data-verified="true"]').waitFor({ timeout: 300_000 });
  const saved = page.waitForEvent("download", { timeout: 300_000 });
  await page.getByRole("button", { name: "Save video (MP4)" }).click();
  await (await saved).cancel();
  clearInterval(openSampler);

  const mb = payloadSize / 1e6;
  const rate = (ms: number) => (mb / (ms / 1000)).toFixed(1);
  const lines = [
    `clip: ${SECONDS} s of 1080p30 H.264 at 6 Mbit/s, ${(size / 1e6).toFixed(1)} MB MP4, ${mb.toFixed(1)} MB sealed payload; server ${bin}; ${ROUNDS} rounds, medians`,
    `ceiling (fetch and read the payload in the page): ${median(ceiling).toFixed(0)} ms, ${rate(median(ceiling))} MB/s`,
    `open ("Save video": fetch, check, open in wasm): ${median(open)} ms, ${rate(median(open))} MB/s, ${(median(ceiling) / median(open)).toFixed(2)} of the ceiling`,
    `play (player: fetch, open, MediaSource until whole): ${median(play)} ms, ${rate(median(play))} MB/s, ${(median(ceiling) / median(play)).toFixed(2)} of the ceiling`,
    `JS heap while playing: at most ${(heapPeak / 1e6).toFixed(1)} MB used (garbage included), at most ${(retainedPeak / 1e6).toFixed(1)} MB after a forced collection, ${(afterPlay / 1e6).toFixed(1)} MB once the whole clip is in, ${(afterLeaving / 1e6).toFixed(1)} MB after leaving the player; at most ${(openPeak / 1e6).toFixed(1)} MB after a forced collection while saving (clip ${mb.toFixed(1)} MB)`,
  ];
  console.log(lines.join("\n"));
} finally {
  await browser.close();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
