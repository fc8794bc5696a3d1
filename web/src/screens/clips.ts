// A camera's timeline (events per day, a day's clips) and the clip player. The timeline
// draws only clips whose listing passed the crypto's check; the others are named in a warning.

import * as api from "../api";
import * as account from "../account";
import { ChainAlarm } from "../account";
import { watchCamera } from "../events";
import { checkInHouseholds, checkUnder, clipsOf, refusedWarning } from "../listing";
import * as household from "../household";
import { rootFingerprint } from "../sharing";
import * as store from "../store";
import type { Chain, Households } from "../wasm";
import { openToBlob, play, sealedBlob } from "../player";
import { type ChainFor, type ClipEvent, eventsOf, kindChip, kindName, kindsOf, previewOf } from "../previews";
import type { CameraInfo, ClipDetail, ClipSummary } from "../types";
import { onLeave } from "../router";
import { day, fileStamp, h, message, notice, show, time, when } from "../ui";
import { cameraResearch, clipResearch } from "./research";
import { flash } from "./account";
import { recordingSettings } from "./recording";
import { cameraSettings, clipDeletion, shownName } from "./settings";
import { clipSharing } from "./sharing";

const DAY_MS = 86_400_000;
const DAYS_SHOWN = 14;
const SVG = "http://www.w3.org/2000/svg";

function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function startOfDay(key: string): number {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(y!, (m ?? 1) - 1, d ?? 1).getTime();
}

function size(bytes: number): string {
  return bytes >= 1_000_000 ? `${(bytes / 1_000_000).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1000))} kB`;
}

function chart(counts: Map<string, number>, days: string[], selected: string, pick: (day: string) => void): Element {
  const max = Math.max(1, ...days.map((d) => counts.get(d) ?? 0));
  const width = 28;
  const height = 90;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${days.length * width} ${height + 18}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", `Clips per day, last ${days.length} days`);
  days.forEach((day, i) => {
    const n = counts.get(day) ?? 0;
    const bar = Math.max(n === 0 ? 1 : 4, Math.round((n / max) * height));
    const g = document.createElementNS(SVG, "g");
    g.setAttribute("role", "button");
    g.setAttribute("tabindex", "0");
    g.setAttribute("aria-label", `${day}: ${n} clip${n === 1 ? "" : "s"}`);
    if (day === selected) g.setAttribute("aria-pressed", "true");
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", String(i * width + 4));
    rect.setAttribute("y", String(height - bar));
    rect.setAttribute("width", String(width - 8));
    rect.setAttribute("height", String(bar));
    rect.setAttribute("class", day === selected ? "bar selected" : "bar");
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(i * width + width / 2));
    label.setAttribute("y", String(height + 14));
    label.setAttribute("text-anchor", "middle");
    label.setAttribute("class", "day");
    label.textContent = day.slice(8);
    g.append(rect, label);
    g.addEventListener("click", () => pick(day));
    g.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter" || (e as KeyboardEvent).key === " ") {
        e.preventDefault();
        pick(day);
      }
    });
    svg.append(g);
  });
  return svg;
}

/** At most this many clips per day view are opened for their picture and events (each
 * reads ~256 KB of sealed payload, once: what was opened is kept on this device). */
const PREVIEWS_PER_DAY = 12;

function thumbSlot(c: ClipSummary): HTMLElement {
  return h("img", { class: "thumb", alt: "", "data-clip": c.id, width: "96", height: "54" });
}

/** Fills the rows' pictures and "why it recorded" from the clips' opened starts. */
async function drawPreviews(box: HTMLElement, chain: ChainFor): Promise<void> {
  const rows = [...box.querySelectorAll<HTMLElement>("li[data-clip]")].slice(0, PREVIEWS_PER_DAY);
  let left = false;
  onLeave(() => (left = true));
  await Promise.all(
    rows.map(async (row) => {
      const id = row.dataset.clip ?? "";
      let preview;
      try {
        preview = await previewOf(chain, id);
      } catch (e) {
        if (!left) console.warn(`clip ${id} could not be opened for its preview: ${message(e)}`);
        return;
      }
      if (left || !row.isConnected) return;
      const img = row.querySelector<HTMLImageElement>("img.thumb");
      if (img && preview.thumb) {
        img.src = preview.thumb;
        img.alt = "First frame";
      }
      const why = row.querySelector<HTMLElement>(".why");
      if (why && preview.events) {
        const kinds = kindsOf(preview.events);
        why.replaceChildren(...(kinds.length > 0 ? kinds.map(kindChip) : [h("span", { class: "muted" }, "No event")]));
      }
    }),
  );
}

/** Whose household gives this account `cam`, by the name this browser kept for that account
 * (from its invitation) or by its root's fingerprint. */
async function givenBy(households: Households | null, cam: CameraInfo): Promise<string> {
  const given = households?.givenCamera(cam.name);
  if (!households || !given) return "A household camera.";
  const owner = household.viewOf(households).owners.find((o) => o.cameras.some((c) => c.camera === cam.name && c.hub_key === given.hubKey));
  given.free();
  if (!owner) return "A household camera.";
  const known = (await store.contactsOf(account.me().account_id)).find((c) => c.root === owner.root);
  return `Given to you by ${known ? `${known.name} (${rootFingerprint(owner.root)})` : `account ${rootFingerprint(owner.root)}`}; checked against their device list.`;
}

export async function camera(params: Record<string, string>): Promise<void> {
  const id = params.id ?? "";
  const cams = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const cam = cams.find((c) => c.id === id);
  if (!cam) return show("Camera not found", notice("warning", "This camera is not one you can see."));
  let chain;
  try {
    chain = await account.verifiedChain();
  } catch (e) {
    if (e instanceof ChainAlarm) return show(shownName(cam), notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const now = Date.now();
  const today = dayKey(now);
  const days = Array.from({ length: DAYS_SHOWN }, (_, i) => dayKey(startOfDay(today) - (DAYS_SHOWN - 1 - i) * DAY_MS + DAY_MS / 2));
  // Only clips a hub of the chain signed as listed are drawn, counted or thumbnailed; the
  // rest are named in a warning above the chart.
  // A household's camera: its clips are checked under the chain of the owner that gives it,
  // verified here from the owner's root (the CLI's check, in the same Rust).
  let households: Households | null = null;
  if (!cam.owned) {
    try {
      households = await household.households(chain);
    } catch (e) {
      return show(shownName(cam), notice("danger", h("strong", {}, "Verification failed. "), "The household's device list could not be checked: ", message(e)));
    }
  }
  const check = (list: ClipSummary[]) => (households ? checkInHouseholds(households, chain, list) : checkUnder(chain, list));
  const chainFor: ChainFor = (detail) => (households ? (households.ownerOfCamera(detail.hub_key, detail.camera_name) ?? null) : chain);
  const checked = check(await clipsOf(id, startOfDay(days[0]!), now + DAY_MS));
  const clips = checked.shown;
  const counts = new Map<string, number>();
  for (const c of clips) counts.set(dayKey(c.start_ms), (counts.get(dayKey(c.start_ms)) ?? 0) + 1);
  let selected = clips.length > 0 ? dayKey(Math.max(...clips.map((c) => c.start_ms))) : today;

  const chartBox = h("div", { class: "chart-box" });
  const dayBox = h("section", { "aria-live": "polite" });
  const render = () => {
    chartBox.replaceChildren(chart(counts, days, selected, (d) => {
      selected = d;
      render();
      void drawPreviews(dayBox, chainFor);
    }));
    const those = clips.filter((c) => dayKey(c.start_ms) === selected).sort((a, b) => b.start_ms - a.start_ms);
    dayBox.replaceChildren(
      h("h2", {}, day(startOfDay(selected))),
      those.length === 0
        ? h("p", { class: "empty" }, "No clips this day.")
        : h(
            "ul",
            { class: "rows", "aria-label": "Clips" },
            ...those.map((c) =>
              h(
                "li",
                { class: "row clip", "data-clip": c.id },
                thumbSlot(c),
                h(
                  "div",
                  { class: "clip-main" },
                  h("a", { href: `/clips/${encodeURIComponent(c.id)}`, "data-link": true }, time(c.start_ms, "time")),
                  h("div", { class: "why", "data-testid": "clip-kinds" }),
                ),
                h("span", { class: "muted" }, `${Math.round(c.duration_ms / 1000)} s · ${size(c.payload_size)}`),
              ),
            ),
          ),
    );
  };
  render();
  const kept = h("p", { class: "muted" }, cam.owned ? `Clips are kept ${cam.retention_days} days.` : await givenBy(households, cam));
  // The list updates itself: a notice for this camera (a doorbell press) means a clip is on
  // its way, so the listing is read and checked again until it has landed.
  watchCamera(id, async () => {
    const again = check(await clipsOf(id, startOfDay(days[0]!), Date.now() + DAY_MS)).shown;
    if (again.length === clips.length) return false;
    clips.splice(0, clips.length, ...again);
    counts.clear();
    for (const c of clips) counts.set(dayKey(c.start_ms), (counts.get(dayKey(c.start_ms)) ?? 0) + 1);
    selected = dayKey(Math.max(...clips.map((c) => c.start_ms)));
    render();
    void drawPreviews(dayBox, chainFor);
    return true;
  });
  show(
    shownName(cam),
    flash(),
    kept,
    h("p", {}, h("a", { href: `/cameras/${encodeURIComponent(id)}/live`, "data-link": true, class: "button" }, "Watch live")),
    households && !households.givenCamera(cam.name) && notice("warning", household.whyNotGiven(households)),
    refusedWarning(checked.refused, cam.owned ? "your account" : "the account that gives you this camera"),
    h("h2", { class: "chart-title" }, "Clips per day"),
    chartBox,
    dayBox,
    cam.owned &&
      cameraSettings(cam, (saved) => {
        kept.textContent = `Clips are kept ${saved.retention_days} days.`;
        const heading = document.querySelector("main h1");
        if (heading) heading.textContent = shownName(saved);
        document.title = `${shownName(saved)} · Porchlight`;
      }),
    cam.owned && recordingSettings(cam),
    cam.owned && cameraResearch(cam),
  );
  // Once the day's rows are on the page (a row no longer shown gets no picture).
  void drawPreviews(dayBox, chainFor);
}

function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function clip(params: Record<string, string>): Promise<void> {
  const id = params.id ?? "";
  const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(id)}`);
  const cam = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras.find((c) => c.id === detail.camera_id);
  const owned = cam?.owned === true;
  const cameraName = cam ? shownName(cam) : detail.camera_name;
  let chain: Chain;
  try {
    chain = await account.verifiedChain();
    // A household's camera: opened only under the chain of the owner that gives it to this
    // account, verified here from that owner's root; no such owner, nothing of the clip.
    if (!owned) {
      const households = await household.households(chain);
      const owner = households.ownerOfCamera(detail.hub_key, detail.camera_name);
      if (!owner) {
        return show(
          cameraName,
          notice("danger", h("strong", {}, "This clip was not opened. "), household.whyNotGiven(households)),
          h("p", {}, h("a", { href: "/cameras", "data-link": true }, "Back to your cameras")),
        );
      }
      chain = owner;
    }
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Clip", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const video = h("video", { controls: true, playsinline: true, muted: true, "aria-label": `Clip from ${detail.camera_name}` });
  const status = h("div", { role: "status", "aria-live": "polite" }, "Opening the clip on this device…");
  const events = h("div", { class: "clip-events" });
  const markers = h("div", { class: "markers", hidden: true });
  const buttons = h("div", { class: "actions" });
  const stamp = fileStamp(detail.start_ms);
  const mp4 = h("button", { type: "button" }, "Save video (MP4)");
  mp4.addEventListener("click", async () => {
    mp4.disabled = true;
    try {
      save(await openToBlob(chain, detail), `${detail.camera_name}-${stamp}.mp4`);
    } catch (e) {
      status.replaceChildren(notice("danger", message(e)));
    } finally {
      mp4.disabled = false;
    }
  });
  const sealed = h("button", { type: "button", class: "secondary" }, "Save sealed file (age)");
  sealed.addEventListener("click", async () => {
    try {
      save(await sealedBlob(detail), `${detail.camera_name}-${stamp}.mp4.age`);
    } catch (e) {
      status.replaceChildren(notice("danger", message(e)));
    }
  });
  buttons.append(mp4, sealed);
  show(
    `${cameraName}, ${when(detail.start_ms)}`,
    h("div", { class: "player" }, video, markers),
    status,
    events,
    buttons,
    owned && clipResearch(detail),
    owned && clipSharing(detail),
    owned && clipDeletion(detail, cameraName),
    h("p", {}, h("a", { href: `/cameras/${encodeURIComponent(detail.camera_id)}`, "data-link": true }, "Back to the camera")),
  );
  // Opened from an event (the Events view): start there.
  const at = Number(new URLSearchParams(location.search).get("at"));
  if (Number.isFinite(at) && at > 0) seekWhenBuffered(video, at);
  const heard = (json: string) => {
    const list = eventsOf(json);
    if (list === null) return events.replaceChildren(h("p", { class: "muted" }, "The clip's event list could not be read."));
    eventMarkers(video, markers, events, list, detail.duration_ms);
  };
  try {
    const played = await play(video, chain, detail, undefined, heard);
    status.replaceChildren(
      `Checked: recorded by hub "${played.checked.hub_name}"${owned ? "" : " of the household that gives you this camera"}, ${Math.round(played.checked.duration_ms / 1000)} s, opened on this device.`,
    );
    await played.done;
    status.setAttribute("data-verified", "true");
    status.append(" The whole clip matches what the hub signed.");
  } catch (e) {
    status.replaceChildren(notice("danger", h("strong", {}, "This clip did not open. "), message(e)));
  }
}

/** Seconds `ms` into the clip on the video's own timeline (which starts where its first
 * fragment does). */
function seekTo(video: HTMLVideoElement, ms: number): void {
  const base = video.buffered.length > 0 ? video.buffered.start(0) : 0;
  video.currentTime = base + ms / 1000;
}

/** Seeks to `ms` into the clip once the fragments that hold it have arrived: the media
 * source's duration grows as they are appended, and a seek past it would stop at its end. */
function seekWhenBuffered(video: HTMLVideoElement, ms: number): void {
  const events = ["loadeddata", "durationchange", "progress"] as const;
  const attempt = () => {
    if (video.buffered.length === 0) return;
    const target = video.buffered.start(0) + ms / 1000;
    if (video.buffered.end(video.buffered.length - 1) < target) return;
    for (const e of events) video.removeEventListener(e, attempt);
    video.currentTime = target;
  };
  for (const e of events) video.addEventListener(e, attempt);
}

/** "0:07", "1:02:03": a position in a clip. */
function position(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/** The events on a track under the video, where they happened in the clip, and listed below
 * it; each a button that plays the clip from there. */
function eventMarkers(video: HTMLVideoElement, track: HTMLElement, list: HTMLElement, events: ClipEvent[], durationMs: number): void {
  if (events.length === 0) {
    list.replaceChildren(h("p", { class: "muted" }, "No events recorded in this clip."));
    return;
  }
  const jump = (e: ClipEvent) => () => {
    seekTo(video, e.offset_ms);
    void video.play().catch(() => {});
  };
  const now = h("div", { class: "track-now" });
  video.addEventListener("timeupdate", () => {
    const base = video.buffered.length > 0 ? video.buffered.start(0) : 0;
    const pct = Math.min(100, Math.max(0, ((video.currentTime - base) * 1000 * 100) / Math.max(1, durationMs)));
    now.style.width = `${pct}%`;
  });
  track.replaceChildren(
    now,
    ...events.map((e) => {
      const pct = Math.min(100, (e.offset_ms * 100) / Math.max(1, durationMs));
      const label = `${kindName(e.kind)} at ${position(e.offset_ms)}`;
      const marker = h("button", {
        type: "button",
        class: `marker kind-${e.kind}`,
        "data-testid": "seek-marker",
        "data-kind": e.kind,
        "data-offset-ms": String(e.offset_ms),
        "aria-label": `${label}: play from here`,
        title: label,
      });
      marker.style.left = `${pct}%`;
      marker.addEventListener("click", jump(e));
      return marker;
    }),
  );
  track.setAttribute("role", "group");
  track.setAttribute("aria-label", "Events on the clip's timeline");
  track.hidden = false;
  list.replaceChildren(
    h(
      "div",
      { class: "why-list" },
      h("span", { class: "muted" }, "Why it recorded: "),
      ...events.map((e) => {
        const b = h("button", { type: "button", class: "secondary event-jump" }, kindChip(e.kind), ` ${position(e.offset_ms)}`);
        b.addEventListener("click", jump(e));
        return b;
      }),
    ),
  );
}
