// A camera's timeline (events per day, a day's clips) and the clip player. The timeline
// draws only clips whose listing passed the crypto's check; the others are named in a warning.

import * as api from "../api";
import * as account from "../account";
import { ChainAlarm } from "../account";
import { watchCamera } from "../events";
import { checkInHouseholds, checkUnder, refusedWarning } from "../listing";
import * as household from "../household";
import { rootFingerprint } from "../sharing";
import * as store from "../store";
import type { Chain, Households } from "../wasm";
import { openToBlob, play, sealedBlob, thumbnail } from "../player";
import type { CameraInfo, ClipDetail, ClipSummary } from "../types";
import { onLeave } from "../router";
import { h, message, notice, show, time } from "../ui";
import { cameraResearch, clipResearch } from "./research";
import { flash } from "./account";
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

async function clipsOf(camera: string, fromMs: number, toMs: number): Promise<ClipSummary[]> {
  const out: ClipSummary[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ camera, from_ms: String(fromMs), to_ms: String(toMs), limit: "500" });
    if (cursor) q.set("cursor", cursor);
    const page: { clips: ClipSummary[]; next_cursor: string | null } = await api.get(`/api/clips?${q}`);
    out.push(...page.clips);
    cursor = page.next_cursor;
  } while (cursor && out.length < 5000);
  return out;
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

/** Thumbnails made on this device, by clip id, for this page's life. */
const thumbs = new Map<string, string | null>();
/** At most this many thumbnails per day view (each reads ~256 KB of sealed payload). */
const THUMBS_PER_DAY = 12;

function thumbSlot(c: ClipSummary): HTMLElement {
  const img = h("img", { class: "thumb", alt: "", "data-clip": c.id, width: "96", height: "54" });
  const url = thumbs.get(c.id);
  if (url) img.src = url;
  return img;
}

/** The chain a clip is opened under: the account's own, or the household owner's that gives
 * its camera (null when none does: nothing of it is opened). */
type ChainFor = (detail: ClipDetail) => Chain | null;

async function drawThumbnails(box: HTMLElement, chainFor: ChainFor): Promise<void> {
  const slots = [...box.querySelectorAll<HTMLImageElement>("img.thumb")].slice(0, THUMBS_PER_DAY);
  let left = false;
  onLeave(() => (left = true));
  for (const img of slots) {
    if (left || !img.isConnected) return; // the viewer moved on: read no more clips for it
    const id = img.dataset.clip ?? "";
    if (!thumbs.has(id)) {
      try {
        const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(id)}`);
        const chain = chainFor(detail);
        thumbs.set(id, chain ? await thumbnail(chain, detail) : null);
      } catch (e) {
        console.warn(`no thumbnail for clip ${id}: ${message(e)}`);
        thumbs.set(id, null);
      }
    }
    const url = thumbs.get(id);
    if (url && img.isConnected) {
      img.src = url;
      img.alt = "First frame";
    }
  }
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
      void drawThumbnails(dayBox, chainFor);
    }));
    const those = clips.filter((c) => dayKey(c.start_ms) === selected).sort((a, b) => b.start_ms - a.start_ms);
    dayBox.replaceChildren(
      h("h2", {}, new Date(startOfDay(selected)).toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" })),
      those.length === 0
        ? h("p", { class: "empty" }, "No clips this day.")
        : h(
            "ul",
            { class: "rows", "aria-label": "Clips" },
            ...those.map((c) =>
              h(
                "li",
                { class: "row clip" },
                thumbSlot(c),
                h("a", { href: `/clips/${encodeURIComponent(c.id)}`, "data-link": true }, time(c.start_ms)),
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
    void drawThumbnails(dayBox, chainFor);
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
    cam.owned && cameraResearch(cam),
  );
  // Once the day's rows are on the page (a row no longer shown gets no thumbnail).
  void drawThumbnails(dayBox, chainFor);
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
  const events = h("div", {});
  const buttons = h("div", { class: "actions" });
  const stamp = new Date(detail.start_ms).toISOString().replace(/[:.]/g, "-");
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
    `${cameraName}, ${new Date(detail.start_ms).toLocaleString()}`,
    h("div", { class: "player" }, video),
    status,
    events,
    buttons,
    owned && clipResearch(detail),
    owned && clipSharing(detail),
    owned && clipDeletion(detail, cameraName),
    h("p", {}, h("a", { href: `/cameras/${encodeURIComponent(detail.camera_id)}`, "data-link": true }, "Back to the camera")),
  );
  try {
    const played = await play(video, chain, detail);
    status.replaceChildren(
      `Checked: recorded by hub "${played.checked.hub_name}"${owned ? "" : " of the household that gives you this camera"}, ${Math.round(played.checked.duration_ms / 1000)} s, opened on this device.`,
    );
    await played.done;
    status.setAttribute("data-verified", "true");
    status.append(" The whole clip matches what the hub signed.");
    const meta = played.metadata();
    if (meta) events.replaceChildren(eventsOf(meta));
  } catch (e) {
    status.replaceChildren(notice("danger", h("strong", {}, "This clip did not open. "), message(e)));
  }
}

const EVENT_NAMES: Record<string, string> = {
  motion: "Motion",
  doorbell: "Doorbell press",
  manual: "Manual recording",
};

function eventsOf(json: string): HTMLElement {
  try {
    const meta = JSON.parse(json) as { events?: { kind?: string; offset_ms?: number }[] };
    const list = meta.events ?? [];
    if (list.length === 0) return h("p", { class: "muted" }, "No events recorded in this clip.");
    return h(
      "p",
      { class: "muted" },
      "Why it recorded: ",
      list.map((e) => `${EVENT_NAMES[e.kind ?? ""] ?? "Event"} at ${((e.offset_ms ?? 0) / 1000).toFixed(1)} s`).join(", "),
    );
  } catch {
    return h("p", { class: "muted" }, "The clip's event list could not be read.");
  }
}
