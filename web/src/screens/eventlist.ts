// Events: what the hubs saw across the account's cameras, newest first, by day — a doorbell
// press, motion, a manual recording — each with its time to the second, camera and picture,
// opening the clip at that moment. The server cannot tell an event from a clip (the events
// are sealed inside each clip), so the listing is read a day or more at a time and the clips'
// starts are opened here, a page at a time, newest first (`previews.ts` keeps what was opened
// on this device). Filters on type, camera and day; new notices join the list as they come.

import * as api from "../api";
import * as account from "../account";
import { ChainAlarm } from "../account";
import { type Heard, watchCamera } from "../events";
import { KINDS } from "../notices";
import { checkUnder, clipsOf, refusedWarning } from "../listing";
import { type Preview, kindChip, previewOf } from "../previews";
import { go, onLeave } from "../router";
import type { CameraInfo, ClipSummary } from "../types";
import { day, h, message, notice, show, time } from "../ui";
import type { Chain } from "../wasm";
import { shownName } from "./settings";

const DAY_MS = 86_400_000;
/** Events shown per page: "Show older" asks for this many more. */
const PAGE_EVENTS = 20;
/** Clips opened per page at most, when a filter leaves most of them out. */
const PAGE_CLIPS = 60;

interface Filters {
  kind: string;
  camera: string;
  /** "YYYY-MM-DD" (local), or "" for any day. */
  day: string;
}

function startOfDay(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

function dayOf(key: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() : null;
}

function filtersFromAddress(): Filters {
  const q = new URLSearchParams(location.search);
  return { kind: q.get("type") ?? "", camera: q.get("camera") ?? "", day: q.get("day") ?? "" };
}

function addressOf(f: Filters): string {
  const q = new URLSearchParams();
  if (f.kind) q.set("type", f.kind);
  if (f.camera) q.set("camera", f.camera);
  if (f.day) q.set("day", f.day);
  const s = q.toString();
  return s ? `/events?${s}` : "/events";
}

/** The clips of the chosen camera(s), newest first, read backwards a window at a time: a
 * day, then windows doubling while they come back empty, as far back as retention reaches. */
class Backwards {
  private pending: ClipSummary[] = [];
  private end: number;
  private windowMs = DAY_MS;
  readonly refused: { clip: ClipSummary; refused: { code: string; reason: string } }[] = [];

  constructor(
    private readonly chain: Chain,
    private readonly camera: string | null,
    private readonly oldest: number,
    newest: number,
  ) {
    this.end = newest;
  }

  /** The next clip back in time, or null when none is left. */
  async next(): Promise<ClipSummary | null> {
    while (this.pending.length === 0) {
      if (this.end <= this.oldest) return null;
      const start = Math.max(this.oldest, this.end - this.windowMs);
      const checked = checkUnder(this.chain, await clipsOf(this.camera, start, this.end));
      this.refused.push(...checked.refused);
      this.pending = checked.shown.sort((a, b) => b.start_ms - a.start_ms);
      this.end = start;
      this.windowMs = this.pending.length === 0 ? Math.min(this.windowMs * 2, 64 * DAY_MS) : DAY_MS;
    }
    return this.pending.shift() ?? null;
  }
}

function kindOptions(selected: string): HTMLSelectElement {
  const select = h("select", { id: "filter-type", name: "type" });
  for (const [value, label] of [["", "All types"], ...Object.entries(KINDS)] as [string, string][]) {
    select.append(h("option", { value, ...(value === selected ? { selected: true } : {}) }, label));
  }
  return select;
}

function cameraOptions(cameras: CameraInfo[], selected: string): HTMLSelectElement {
  const select = h("select", { id: "filter-camera", name: "camera" });
  select.append(h("option", { value: "" }, "All cameras"));
  for (const c of cameras) select.append(h("option", { value: c.id, ...(c.id === selected ? { selected: true } : {}) }, shownName(c)));
  return select;
}

function labelled(label: string, control: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

interface Row {
  clip: ClipSummary;
  kind: string;
  offsetMs: number;
}

function eventRow(r: Row, cameraName: string, preview: Preview): HTMLElement {
  const at = r.clip.start_ms + r.offsetMs;
  const picture = preview.thumb
    ? h("img", { class: "thumb", src: preview.thumb, alt: "", width: "96", height: "54" })
    : h("span", { class: "thumb", "aria-hidden": "true" });
  return h(
    "li",
    { class: "row event", "data-testid": "event-row", "data-kind": r.kind, "data-camera": r.clip.camera_id, "data-clip": r.clip.id, "data-offset-ms": String(r.offsetMs) },
    h(
      "a",
      { href: `/clips/${encodeURIComponent(r.clip.id)}?at=${r.offsetMs}`, "data-link": true, class: "event-link" },
      picture,
      h("span", { class: "event-text" }, kindChip(r.kind), h("span", { class: "event-camera" }, cameraName)),
      time(at, "time"),
    ),
  );
}

/** A notice heard before its clip has landed: shown at once, replaced by the clip's rows. */
function heardRow(n: Heard): HTMLElement {
  return h(
    "li",
    { class: "row event heard", "data-testid": "event-row", "data-kind": n.kind, "data-camera": n.camera.id, "data-heard": "true" },
    h(
      "div",
      { class: "event-link" },
      h("span", { class: "thumb", "aria-hidden": "true" }),
      h("span", { class: "event-text" }, kindChip(n.kind), h("span", { class: "event-camera" }, shownName(n.camera)), h("span", { class: "muted" }, "Clip on its way…")),
      time(n.at_ms, "time"),
    ),
  );
}

export async function eventList(): Promise<void> {
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  let chain: Chain;
  try {
    chain = await account.verifiedChain();
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Events", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const filters = filtersFromAddress();
  if (filters.camera && !cameras.some((c) => c.id === filters.camera)) filters.camera = "";
  if (filters.day && dayOf(filters.day) === null) filters.day = "";
  const names = new Map(cameras.map((c) => [c.id, shownName(c)]));
  const maxRetention = Math.max(1, ...cameras.map((c) => c.retention_days));

  const typeSelect = kindOptions(filters.kind);
  const cameraSelect = cameraOptions(cameras, filters.camera);
  const dayInput = h("input", { id: "filter-day", name: "day", type: "date", value: filters.day, max: isoDay(Date.now()) });
  const clear = h("button", { type: "button", class: "secondary" }, "Clear filters");
  const bar = h(
    "form",
    { class: "filters", "aria-label": "Filter events", role: "search" },
    labelled("Type", typeSelect),
    labelled("Camera", cameraSelect),
    labelled("Day", dayInput),
    clear,
  );
  // Which filters it shows (the tests wait for the list of the address they asked for).
  const list = h("div", { class: "event-days", "aria-live": "polite", "aria-busy": "true", "data-for": addressOf(filters) });
  const status = h("p", { class: "muted", role: "status" });
  const older = h("button", { type: "button", class: "secondary", hidden: true }, "Show older events");
  const warning = h("div", {});
  show("Events", bar, warning, list, status, h("div", { class: "actions" }, older));

  const refilter = () => {
    const next: Filters = { kind: typeSelect.value, camera: cameraSelect.value, day: dayInput.value };
    void go(addressOf(next), true);
  };
  typeSelect.addEventListener("change", refilter);
  cameraSelect.addEventListener("change", refilter);
  dayInput.addEventListener("change", refilter);
  clear.addEventListener("click", () => {
    typeSelect.value = "";
    cameraSelect.value = "";
    dayInput.value = "";
    refilter();
  });
  bar.addEventListener("submit", (e) => e.preventDefault());

  let left = false;
  onLeave(() => (left = true));
  const chosenDay = dayOf(filters.day);
  const now = Date.now();
  // A minute ahead of this clock: a hub's clock a little ahead still lists its latest clip.
  const newest = chosenDay !== null ? chosenDay + DAY_MS : now + 60_000;
  const oldest = chosenDay !== null ? chosenDay : startOfDay(now) - maxRetention * DAY_MS;
  const clips = new Backwards(chain, filters.camera || null, oldest, newest);
  const days = new Map<number, HTMLUListElement>();
  let shown = 0;
  let seenNewest = 0;

  /** The list of day `ms`, made (in order, newest day first) when first needed. */
  const dayList = (ms: number): HTMLUListElement => {
    const key = startOfDay(ms);
    let ul = days.get(key);
    if (!ul) {
      ul = h("ul", { class: "rows events", "aria-label": `Events, ${day(key)}` });
      const section = h("section", { class: "event-day", "data-day": String(key) }, h("h2", {}, day(key)), ul);
      const after = [...list.querySelectorAll<HTMLElement>("section.event-day")].find((s) => Number(s.dataset.day) < key);
      list.insertBefore(section, after ?? null);
      days.set(key, ul);
    }
    return ul;
  };

  const rowsOf = (clip: ClipSummary, preview: Preview): Row[] => {
    const events = preview.events;
    // A clip whose event list could not be read still shows, as what it is.
    const all = events === null ? [{ kind: "unknown", offset_ms: 0 }] : events;
    return all
      .filter((e) => !filters.kind || e.kind === filters.kind)
      .map((e) => ({ clip, kind: e.kind, offsetMs: e.offset_ms }))
      .reverse();
  };

  const placed = new Set<string>();
  /** Adds `clip`'s events in their place (newest first within the day), once. */
  const place = (clip: ClipSummary, preview: Preview): number => {
    if (placed.has(clip.id)) return 0;
    placed.add(clip.id);
    const rows = rowsOf(clip, preview);
    for (const r of rows) {
      const ul = dayList(r.clip.start_ms + r.offsetMs);
      const at = r.clip.start_ms + r.offsetMs;
      const li = eventRow(r, names.get(clip.camera_id) ?? clip.camera_name, preview);
      li.dataset.at = String(at);
      const after = [...ul.children].find((c) => Number((c as HTMLElement).dataset.at ?? 0) < at);
      ul.insertBefore(li, after ?? null);
    }
    seenNewest = Math.max(seenNewest, clip.start_ms);
    return rows.length;
  };

  const page = async () => {
    older.hidden = true;
    list.setAttribute("aria-busy", "true");
    status.textContent = "Opening the latest clips on this device…";
    let added = 0;
    let opened = 0;
    let exhausted = false;
    while (added < PAGE_EVENTS && opened < PAGE_CLIPS && !left) {
      const clip = await clips.next();
      if (!clip) {
        exhausted = true;
        break;
      }
      opened++;
      try {
        added += place(clip, await previewOf(chain, clip.id));
      } catch (e) {
        console.warn(`clip ${clip.id} could not be opened for its events: ${message(e)}`);
      }
    }
    if (left) return;
    shown += added;
    list.setAttribute("aria-busy", "false");
    warning.replaceChildren(refusedWarning(clips.refused) ?? "");
    older.hidden = exhausted;
    status.textContent =
      shown === 0 && exhausted
        ? filters.kind || filters.camera || filters.day
          ? "No events match these filters."
          : "No events yet. When a camera sees motion or someone presses the doorbell, it shows here."
        : exhausted
          ? "That is every event kept."
          : "";
    status.dataset.state = exhausted ? "all" : "more";
  };
  older.addEventListener("click", () => void page());

  // Live: a notice for a camera in view shows at once (only with no day chosen: it is today);
  // its clip replaces it once it lands.
  if (chosenDay === null) {
    watchCamera(
      filters.camera || null,
      async () => {
        const fresh = checkUnder(chain, await clipsOf(filters.camera || null, seenNewest + 1, Date.now() + DAY_MS)).shown;
        if (fresh.length === 0) return false;
        for (const clip of fresh.sort((a, b) => a.start_ms - b.start_ms)) {
          const preview = await previewOf(chain, clip.id);
          for (const heard of list.querySelectorAll<HTMLElement>(`li[data-heard][data-camera="${CSS.escape(clip.camera_id)}"]`)) heard.remove();
          shown += place(clip, preview);
        }
        return true;
      },
      (n) => {
        if (filters.kind && n.kind !== filters.kind) return;
        const ul = dayList(n.at_ms);
        const li = heardRow(n);
        li.dataset.at = String(n.at_ms);
        ul.prepend(li);
        if (status.dataset.state === "all" && shown === 0) status.textContent = "";
      },
    );
  }
  await page();
}

function isoDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
