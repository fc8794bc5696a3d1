// Home: each camera as a card with the picture of its latest clip, whether its hub is online,
// its last event and "Watch live". The server holds only sealed clips, so the picture and the
// event are opened here from the start of the latest clip (`previews.ts`, kept on this
// device); the server says only whether the hub's control connection is up.

import * as api from "../api";
import * as account from "../account";
import { ChainAlarm } from "../account";
import { type Heard, watchCamera } from "../events";
import * as household from "../household";
import { type Checked, checkInHouseholds, checkUnder, clipsOf } from "../listing";
import { type ChainFor, kindChip, previewOf } from "../previews";
import { onLeave } from "../router";
import type { CameraInfo, ClipSummary, HubInfo } from "../types";
import { h, message, notice, show, time } from "../ui";
import type { Chain, Households } from "../wasm";
import { flash } from "./account";
import { shownName } from "./settings";

const DAY_MS = 86_400_000;
/** How often the hubs' online state is read again while Home is shown. */
const HUBS_EVERY_MS = 10_000;
/** How far back the latest clip is looked for: a day, then a week, a month, a year. */
const LOOK_BACK_DAYS = [1, 7, 31, 366];

/** How a camera's clips are checked and opened: under the account's own chain, or, for a
 * household camera, under the chain of the owner that gives it (verified from the owner's
 * root, as its camera screen does). */
interface Checker {
  check: (clips: ClipSummary[]) => Checked<ClipSummary>;
  chainFor: ChainFor;
}

function ownChecker(chain: Chain): Checker {
  return { check: (clips) => checkUnder(chain, clips), chainFor: chain };
}

function householdChecker(households: Households, chain: Chain): Checker {
  return {
    check: (clips) => checkInHouseholds(households, chain, clips),
    chainFor: (detail) => households.ownerOfCamera(detail.hub_key, detail.camera_name) ?? null,
  };
}

/** The latest clip of `camera` a hub of the vouching chain signed, or null. */
async function latestClip(checker: Checker, camera: string): Promise<ClipSummary | null> {
  const now = Date.now();
  for (const days of LOOK_BACK_DAYS) {
    const shown = checker.check(await clipsOf(camera, now - days * DAY_MS, now + DAY_MS)).shown;
    if (shown.length > 0) return shown.reduce((a, b) => (b.start_ms > a.start_ms ? b : a));
  }
  return null;
}

interface Card {
  camera: CameraInfo;
  root: HTMLElement;
  picture: HTMLImageElement;
  state: HTMLElement;
  last: HTMLElement;
  latest: string | null;
}

function onlineBadge(hub: HubInfo | undefined): HTMLElement {
  if (!hub) return h("span", { class: "badge", "data-testid": "hub-state", "data-online": "unknown" }, "Household camera");
  return hub.online
    ? h("span", { class: "badge online", "data-testid": "hub-state", "data-online": "true" }, "Online")
    : h("span", { class: "badge offline", "data-testid": "hub-state", "data-online": "false" }, "Hub offline");
}

function card(camera: CameraInfo, hub: HubInfo | undefined): Card {
  const href = `/cameras/${encodeURIComponent(camera.id)}`;
  const picture = h("img", { class: "card-thumb", alt: "", width: "320", height: "180", hidden: true });
  const placeholder = h("span", { class: "card-thumb-empty" }, "No picture yet");
  const state = h("span", {}, onlineBadge(hub));
  const last = h("p", { class: "last-event", "data-testid": "last-event" }, h("span", { class: "muted" }, "Looking for the latest clip…"));
  const name = shownName(camera);
  const root = h(
    "li",
    { class: "card camera-card", "data-camera": camera.id, "data-testid": "camera-card" },
    h("a", { href, "data-link": true, class: "card-picture", "aria-label": `${name}: clips`, tabindex: "-1" }, picture, placeholder),
    h(
      "div",
      { class: "card-body" },
      h("div", { class: "card-head" }, h("h2", {}, h("a", { href, "data-link": true }, name)), state),
      camera.label !== null && h("p", { class: "muted" }, `Its hub calls it “${camera.name}”`),
      last,
      h(
        "div",
        { class: "actions" },
        h("a", { href: `${href}/live`, "data-link": true, class: "button", "aria-label": `Watch live: ${name}` }, "Watch live"),
        h("a", { href, "data-link": true, class: "button secondary", "aria-label": `${name}: clips` }, "Clips"),
      ),
    ),
  );
  return { camera, root, picture, state, last, latest: null };
}

function showEvent(c: Card, kind: string | null, atMs: number): void {
  c.last.replaceChildren(
    kind ? kindChip(kind) : h("span", {}, "Clip"),
    " ",
    time(atMs),
  );
  c.last.dataset.kind = kind ?? "";
}

/** Fills a card from its camera's latest clip; true if that is a clip it did not show yet. */
async function fill(checker: Checker, c: Card): Promise<boolean> {
  const latest = await latestClip(checker, c.camera.id);
  if (!latest) {
    if (!c.latest) c.last.replaceChildren(h("span", { class: "muted" }, "No clips yet"));
    return false;
  }
  if (latest.id === c.latest) return false;
  c.latest = latest.id;
  c.root.dataset.latestClip = latest.id;
  const preview = await previewOf(checker.chainFor, latest.id);
  if (preview.thumb) {
    c.picture.src = preview.thumb;
    c.picture.alt = `Latest picture from ${shownName(c.camera)}`;
    c.picture.hidden = false;
    c.root.querySelector(".card-thumb-empty")?.remove();
  }
  const event = preview.events?.at(-1);
  showEvent(c, event?.kind ?? null, latest.start_ms + (event?.offset_ms ?? 0));
  return true;
}

export async function home(): Promise<void> {
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const hubsNow = async () => new Map((await api.get<{ hubs: HubInfo[] }>("/api/hubs")).hubs.map((hub) => [hub.id, hub]));
  const hubs = await hubsNow();
  const cards = cameras.map((c) => card(c, c.owned ? hubs.get(c.hub_id) : undefined));
  let chain: Chain | null = null;
  let alarm: HTMLElement | null = null;
  try {
    chain = await account.verifiedChain();
  } catch (e) {
    if (!(e instanceof ChainAlarm)) throw e;
    alarm = notice("danger", h("strong", {}, "Verification failed. "), message(e));
  }
  show(
    "Home",
    flash(),
    alarm,
    cameras.length === 0
      ? h("p", { class: "empty" }, "No cameras yet. ", h("a", { href: "/hubs", "data-link": true }, "Pair a hub"), " and its cameras appear here.")
      : h("ul", { class: "cards camera-cards", "aria-label": "Cameras" }, ...cards.map((c) => c.root)),
  );
  let left = false;
  const timer = setInterval(async () => {
    try {
      const now = await hubsNow();
      for (const c of cards) if (c.camera.owned) c.state.replaceChildren(onlineBadge(now.get(c.camera.hub_id)));
    } catch {
      // Offline for a moment: the badges say what they said until the next read.
    }
  }, HUBS_EVERY_MS);
  onLeave(() => {
    left = true;
    clearInterval(timer);
  });
  if (!chain) return;
  const own = ownChecker(chain);
  // Household cameras: their owners' chains are verified once, for every such card.
  let given: Checker | null = null;
  if (cards.some((c) => !c.camera.owned)) {
    try {
      given = householdChecker(await household.households(chain), chain);
    } catch (e) {
      for (const c of cards) {
        if (!c.camera.owned) c.last.replaceChildren(h("span", { class: "muted" }, `The household's device list could not be checked: ${message(e)}`));
      }
    }
  }
  const checkerOf = (c: Card) => (c.camera.owned ? own : given);
  // A notice shows as the card's last event at once; its clip's picture follows once it lands.
  watchCamera(
    null,
    async () => {
      let changed = false;
      for (const c of cards) {
        const checker = checkerOf(c);
        if (!left && checker) changed = (await fill(checker, c).catch(() => false)) || changed;
      }
      return changed;
    },
    (n: Heard) => {
      const c = cards.find((c) => c.camera.id === n.camera.id);
      if (c) showEvent(c, n.kind, n.at_ms);
    },
  );
  for (const c of cards) {
    if (left) return;
    const checker = checkerOf(c);
    if (!checker) continue;
    try {
      await fill(checker, c);
    } catch (e) {
      c.last.replaceChildren(h("span", { class: "muted" }, `The latest clip could not be opened: ${message(e)}`));
    }
  }
}
