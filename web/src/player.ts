// Plays a sealed clip: the payload streams from the server into the Rust crypto, which checks
// and opens it chunk by chunk; the opened MP4 boxes go into a MediaSource as they come, so
// playback starts with the first fragment and nothing holds the whole clip. When the download
// ends the payload must hash to what the hub signed, or the player says so loudly. The payload
// is read in ranges of a few megabytes, each asked for when the one before is opened.

import * as api from "./api";
import type { Chain } from "./wasm";
import { ClipOpener, Mp4Feed } from "./wasm";
import * as store from "./store";
import type { ClipDetail } from "./types";

export interface Played {
  checked: { id: string; camera: string; start_ms: number; duration_ms: number; hub_name: string };
  /** The events the hub sealed inside the clip. */
  metadata: () => string | undefined;
  /** Resolves when the whole clip has been opened and checked; rejects on any failure. */
  done: Promise<void>;
}

/** Bytes of sealed payload asked for at once. The browser reads a response body ahead of
 * the page as fast as the network gives it (a 45 MB clip sat whole in the page's heap while
 * the wasm opened it at a fifth of that speed), so the payload is read in ranges, each asked
 * for only when the one before is opened: the page holds one window, not the clip. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** One window of the sealed payload, read whole. */
async function readWindow(path: string, start: number, end: number): Promise<Uint8Array[]> {
  const res = await api.stream(path, `bytes=${start}-${end}`);
  if (!res.body) throw new Error("the download has no body");
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.length;
    chunks.push(value);
  }
  if (got !== end - start + 1) throw new Error("the download was cut short");
  return chunks;
}

/** The sealed payload of `detail`, window by window, in order. A window is asked for only
 * once the one before is opened (fetching the next one meanwhile was measured: no faster on
 * two cores, where opening is the limit, and half again the memory). */
export async function* payload(
  detail: { id: string; payload_size: number },
  path = `/api/clips/${encodeURIComponent(detail.id)}/payload`,
): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < detail.payload_size; start += WINDOW_BYTES) {
    yield* await readWindow(path, start, Math.min(start + WINDOW_BYTES, detail.payload_size) - 1);
  }
}

export function appended(buffer: SourceBuffer, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => {
      buffer.removeEventListener("error", bad);
      resolve();
    };
    const bad = () => {
      buffer.removeEventListener("updateend", ok);
      reject(new Error("the browser could not play this clip's video"));
    };
    buffer.addEventListener("updateend", ok, { once: true });
    buffer.addEventListener("error", bad, { once: true });
    buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
  });
}

/** Plays a clip; `payloadPath` is where its sealed payload is read (a shared clip's differs);
 * `onMetadata` hears the clip's sealed metadata as soon as it is opened (near the start). */
export async function play(
  video: HTMLVideoElement,
  chain: Chain,
  detail: ClipDetail,
  payloadPath?: string,
  onMetadata?: (json: string) => void,
): Promise<Played> {
  const opener = await store.withDeviceKey((secret) => new ClipOpener(chain, JSON.stringify(detail), secret));
  const checked = JSON.parse(opener.checked) as Played["checked"];
  const feed = new Mp4Feed();
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((r) => source.addEventListener("sourceopen", r, { once: true }));

  const done = (async () => {
    let buffer: SourceBuffer | null = null;
    const waiting: Uint8Array[] = [];
    const give = async (boxes: Uint8Array) => {
      if (boxes.length > 0) waiting.push(boxes);
      if (!buffer && feed.codec) {
        const type = `video/mp4; codecs="${feed.codec}"`;
        if (!MediaSource.isTypeSupported(type)) throw new Error(`this browser cannot play ${feed.codec} video`);
        buffer = source.addSourceBuffer(type);
      }
      if (!buffer) return;
      while (waiting.length > 0) await appended(buffer, waiting.shift()!);
    };
    try {
      let told = false;
      // The metadata box comes out with the first opened bytes, which for a short clip is
      // only when the opener finishes (it holds back the last age chunk until then).
      const tell = () => {
        const metadata = feed.metadata;
        if (!told && metadata) {
          told = true;
          onMetadata?.(metadata);
        }
      };
      for await (const chunk of payload(detail, payloadPath)) {
        await give(feed.push(opener.push(chunk)));
        tell();
      }
      await give(feed.push(opener.finish()));
      tell();
      feed.finish();
      if (source.readyState === "open") source.endOfStream();
    } catch (e) {
      if (source.readyState === "open") source.endOfStream("decode");
      throw e;
    } finally {
      opener.free();
    }
  })();
  return { checked, metadata: () => feed.metadata ?? undefined, done };
}

/** Opens the clip into a file to save: the plaintext MP4, checked as the player checks it. */
export async function openToBlob(chain: Chain, detail: ClipDetail): Promise<Blob> {
  const opener = await store.withDeviceKey((secret) => new ClipOpener(chain, JSON.stringify(detail), secret));
  try {
    const parts: BlobPart[] = [];
    for await (const chunk of payload(detail)) parts.push(opener.push(chunk) as Uint8Array<ArrayBuffer>);
    parts.push(opener.finish() as Uint8Array<ArrayBuffer>);
    return new Blob(parts, { type: "video/mp4" });
  } finally {
    opener.free();
  }
}

/** The sealed clip as one age file (header then payload), for `age -d` with an exported
 * identity: the owner is never locked in. */
export async function sealedBlob(detail: ClipDetail): Promise<Blob> {
  const header = Uint8Array.from(atob(detail.header), (c) => c.charCodeAt(0));
  const res = await api.stream(`/api/clips/${encodeURIComponent(detail.id)}/payload`);
  return new Blob([header, await res.blob()], { type: "application/octet-stream" });
}

/** Bytes of sealed payload read for a thumbnail: four age chunks, enough for the init segment
 * and the first fragment (a keyframe) of a camera clip. */
const THUMB_BYTES = 4 * 65_552;
/** Pixels across a first-frame picture. */
const THUMB_WIDTH = 320;

/** What the start of a clip gives without reading the rest: the events the hub sealed in it
 * (the metadata box sits right after the init segment) and a picture of its first frame. */
export interface Opening {
  /** The clip's metadata JSON, or null when the start holds none. */
  metadata: string | null;
  /** A small JPEG of the first frame, or null when the start holds no whole frame. */
  thumb: Blob | null;
}

/**
 * Opens the start of a clip on this device: the start of the payload is fetched with a
 * Range, each age chunk authenticated as it is opened (the statement was checked against the
 * chain first), the metadata box taken out, and the first fragment decoded by a hidden video
 * element and drawn to a canvas.
 */
export async function opening(chain: Chain, detail: ClipDetail): Promise<Opening> {
  const opener = await store.withDeviceKey((secret) => new ClipOpener(chain, JSON.stringify(detail), secret));
  const feed = new Mp4Feed();
  const video = document.createElement("video");
  video.muted = true;
  video.className = "offscreen";
  video.setAttribute("aria-hidden", "true");
  document.body.append(video);
  try {
    // A short clip is read whole, and checked whole; a longer one only from its start.
    const whole = detail.payload_size <= THUMB_BYTES;
    const res = await api.stream(
      `/api/clips/${encodeURIComponent(detail.id)}/payload`,
      whole ? undefined : `bytes=0-${THUMB_BYTES - 1}`,
    );
    const boxes: Uint8Array[] = [];
    const reader = res.body?.getReader();
    if (!reader) return { metadata: null, thumb: null };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const out = feed.push(opener.push(value));
      if (out.length > 0) boxes.push(out);
    }
    if (whole) {
      const out = feed.push(opener.finish());
      if (out.length > 0) boxes.push(out);
    }
    const metadata = feed.metadata ?? null;
    // A frame that will not decode leaves the card without a picture, not without its events.
    const thumb = await firstFrame(video, feed.codec, boxes).catch(() => null);
    return { metadata, thumb };
  } finally {
    URL.revokeObjectURL(video.src);
    video.remove();
    opener.free();
    feed.free();
  }
}

/** The first frame of `boxes` (an init segment and fragments) as a small JPEG, or null. */
async function firstFrame(video: HTMLVideoElement, codec: string | undefined, boxes: Uint8Array[]): Promise<Blob | null> {
  if (!codec || boxes.length === 0) return null;
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((r) => source.addEventListener("sourceopen", r, { once: true }));
  const buffer = source.addSourceBuffer(`video/mp4; codecs="${codec}"`);
  for (const b of boxes) await appended(buffer, b);
  if (buffer.buffered.length === 0) return null;
  video.currentTime = buffer.buffered.start(0);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no frame to draw")), 5_000);
    const ready = () => {
      if (video.readyState >= 2) {
        clearTimeout(timer);
        resolve();
      }
    };
    video.addEventListener("seeked", ready);
    video.addEventListener("loadeddata", ready);
    ready();
  });
  const canvas = document.createElement("canvas");
  // Wide enough for a Home card (about 340 px across), small enough to keep (~15 kB).
  canvas.width = THUMB_WIDTH;
  canvas.height = Math.max(1, Math.round((THUMB_WIDTH * (video.videoHeight || 9)) / (video.videoWidth || 16)));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) return null;
  // Chromium can say a frame is ready before it has one to draw (the canvas comes out black,
  // and would be kept so): draw again, a little later, while it is all black.
  for (let tries = 0; ; tries++) {
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    if (!allBlack(context, canvas) || tries >= BLACK_RETRIES) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return await new Promise<Blob | null>((r) => canvas.toBlob(r, "image/jpeg", 0.8));
}

/** Draws of a black first frame before it is taken as really black (a dark scene). */
const BLACK_RETRIES = 5;

function allBlack(context: CanvasRenderingContext2D, canvas: HTMLCanvasElement): boolean {
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < data.length; i += 4 * 97) if (data[i]! + data[i + 1]! + data[i + 2]! > 24) return false;
  return true;
}
