// What a list shows of a clip beyond what the server knows: why it was recorded (the events
// the hub sealed inside it) and a picture of its first frame. Both come from the start of the
// clip, opened on this device (`player.opening`: a few age chunks, never the whole clip), and
// are kept in IndexedDB so that each clip is fetched and opened once on this device.

import * as api from "./api";
import { KINDS } from "./notices";
import { opening } from "./player";
import * as store from "./store";
import type { ClipDetail } from "./types";
import { h } from "./ui";
import type { Chain } from "./wasm";

/** One event the hub saw, `offset_ms` into the clip. */
export interface ClipEvent {
  kind: string;
  offset_ms: number;
}

export interface Preview {
  /** The clip's events, in order; null when they could not be read. */
  events: ClipEvent[] | null;
  /** A `blob:` URL of the first frame, or null. */
  thumb: string | null;
}

/** Clips opened at once: opening runs in the page (the wasm), and a list asks for many. */
const AT_ONCE = 2;

const opened = new Map<string, Promise<Preview>>();
let running = 0;
const waiting: (() => void)[] = [];

async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= AT_ONCE) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** The events of a clip's metadata JSON, by offset; null when it is not the hub's shape. */
export function eventsOf(json: string | null): ClipEvent[] | null {
  if (json === null) return [];
  try {
    const meta = JSON.parse(json) as { events?: unknown };
    if (!Array.isArray(meta.events)) return [];
    return meta.events
      .filter((e): e is ClipEvent => typeof e?.kind === "string" && typeof e?.offset_ms === "number")
      .map((e) => ({ kind: e.kind, offset_ms: Math.max(0, e.offset_ms) }))
      .sort((a, b) => a.offset_ms - b.offset_ms);
  } catch {
    return null;
  }
}

function shown(kept: store.KeptPreview): Preview {
  return { events: eventsOf(kept.metadata), thumb: kept.thumb ? URL.createObjectURL(kept.thumb) : null };
}

/** The chain a clip is opened under: the account's own, or a function of the clip's detail
 * giving the household owner's chain that gives its camera (null when none does: nothing of
 * it is opened). */
export type ChainFor = Chain | ((detail: ClipDetail) => Chain | null);

/** The preview of clip `id` (listed and checked under `chain`): kept on this device, or
 * opened now from the clip's start and kept. A clip that fails to open is tried again on the
 * next screen, not kept as failed. */
export function previewOf(chain: ChainFor, id: string): Promise<Preview> {
  let known = opened.get(id);
  if (!known) {
    known = load(chain, id);
    opened.set(id, known);
    known.catch(() => opened.delete(id));
  }
  return known;
}

async function load(chainFor: ChainFor, id: string): Promise<Preview> {
  const kept = await store.previewOf(id).catch(() => undefined);
  if (kept) return shown(kept);
  return slot(async () => {
    const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(id)}`);
    const chain = typeof chainFor === "function" ? chainFor(detail) : chainFor;
    if (!chain) throw new Error("no device list of yours or of a household you are in vouches for this clip's camera");
    const start = await opening(chain, detail);
    const fresh: store.KeptPreview = { metadata: start.metadata, thumb: start.thumb };
    await store.keepPreview(id, fresh).catch(() => {}); // private mode: opened again next time
    return shown(fresh);
  });
}

/** A kind's name, as the alerts and lists say it. */
export function kindName(kind: string): string {
  return KINDS[kind] ?? "Event";
}

const SVG = "http://www.w3.org/2000/svg";
/** Small line icons (24×24): a bell, motion waves, a record dot. */
const ICONS: Record<string, string> = {
  doorbell: "M12 3a6 6 0 0 0-6 6v4l-2 3h16l-2-3V9a6 6 0 0 0-6-6zM10 19a2 2 0 0 0 4 0",
  motion: "M12 12m-2 0a2 2 0 1 0 4 0a2 2 0 1 0-4 0M7 7a7 7 0 0 0 0 10M17 7a7 7 0 0 1 0 10M4 4a11 11 0 0 0 0 16M20 4a11 11 0 0 1 0 16",
  manual: "M12 12m-7 0a7 7 0 1 0 14 0a7 7 0 1 0-14 0M12 12m-3 0a3 3 0 1 0 6 0a3 3 0 1 0-6 0",
};

/** A kind as a labelled chip: its icon (hidden from screen readers) and its name. */
export function kindChip(kind: string): HTMLElement {
  const known = ICONS[kind] ? kind : "other";
  const chip = h("span", { class: `kind kind-${known}`, "data-kind": kind });
  const path = ICONS[kind];
  if (path) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", path);
    svg.append(p);
    chip.append(svg);
  }
  chip.append(kindName(kind));
  return chip;
}

/** The distinct kinds of `events`, in the order they happened. */
export function kindsOf(events: ClipEvent[]): string[] {
  return [...new Set(events.map((e) => e.kind))];
}
