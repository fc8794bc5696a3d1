// Plays a sealed clip: the payload streams from the server into the Rust crypto, which checks
// and opens it chunk by chunk; the opened MP4 boxes go into a MediaSource as they come, so
// playback starts with the first fragment and nothing holds the whole clip. When the download
// ends the payload must hash to what the hub signed, or the player says so loudly.

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

function appended(buffer: SourceBuffer, bytes: Uint8Array): Promise<void> {
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

export async function play(video: HTMLVideoElement, chain: Chain, detail: ClipDetail): Promise<Played> {
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
      const res = await api.stream(`/api/clips/${encodeURIComponent(detail.id)}/payload`);
      if (!res.body) throw new Error("the download has no body");
      const reader = res.body.getReader();
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        await give(feed.push(opener.push(value)));
      }
      await give(feed.push(opener.finish()));
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
    const res = await api.stream(`/api/clips/${encodeURIComponent(detail.id)}/payload`);
    if (!res.body) throw new Error("the download has no body");
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(opener.push(value) as Uint8Array<ArrayBuffer>);
    }
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
