// Clips that leave their owner (DESIGN §6), as the CLI's `share`, `unshare`, `post` and
// `unpost` do it. A share is the clip's file key wrapped, on this device, to the devices of
// the other account's chain, verified here from the root its owner gave; the sharee's browser
// verifies the owner's chain from the root the share names and opens the clip with its own
// device key. A feed post is the clip opened and stripped of metadata here, uploaded as plain
// MP4 for every signed-in user, with a research copy sealed to the research program's key.

import * as api from "./api";
import { ApiError } from "./api";
import * as account from "./account";
import { checkUnder } from "./listing";
import type { Checked } from "./listing";
import { appended, payload } from "./player";
import * as store from "./store";
import type { CameraInfo, ClipDetail, Links } from "./types";
import { Chain, ClipOpener, Mp4Feed, sealToResearch, shareHeader, StrippedClip, withdrawalKey, withdrawalTag } from "./wasm";

// ---- shares ----

export interface ShareInfo {
  id: string;
  clip_id: string;
  sharee_root: string;
  created_at_ms: number;
}

export interface SharedClipInfo {
  share_id: string;
  owner_root: string;
  camera_name: string;
  start_ms: number;
  duration_ms: number;
  payload_size: number;
  shared_at_ms: number;
  payload_sha256: string;
  statement: string;
  signature: string;
  hub_key: string;
}

export interface SharedClipDetail {
  share_id: string;
  owner_root: string;
  clip: ClipDetail;
  owner_chain: string[];
}

/** A root as a person types or pastes it: 64 hex digits, spaces and dashes ignored. */
export function parseRoot(text: string): string {
  const digits = text.replace(/[\s-]/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(digits)) {
    throw new Error("An account's root is 64 hexadecimal digits: ask its owner for the one their Shared screen shows.");
  }
  return digits;
}

/** A root's short form for people to compare: its first 80 bits as five groups of four. */
export function rootFingerprint(root: string): string {
  return (root.slice(0, 20).match(/.{4}/g) ?? []).join("-");
}

/** This account's root, from its chain as this browser verified it. */
export async function ownRoot(): Promise<string> {
  return account.viewOf(await account.verifiedChain()).root;
}

/** The chain of the account with `root`, verified from that root. */
async function chainOfRoot(root: string): Promise<Chain> {
  const links = await api.get<Links>(`/api/accounts/${encodeURIComponent(root)}/chain`);
  try {
    return Chain.verifyFromRoot(JSON.stringify(links), root);
  } catch (e) {
    throw new Error(`That account's device list does not verify from the root you gave: ${e instanceof Error ? e.message : String(e)}. Nothing was shared.`);
  }
}

/** Where another account sends this one its invitation: the root travels in the fragment,
 * which the browser never sends to the server. */
export function invitationLink(root: string): string {
  return `${location.origin}/invite#${root}`;
}

export interface Contact {
  root: string;
  name: string;
}

export const contacts = async (): Promise<Contact[]> => store.contactsOf(account.me().account_id);

/** Takes an invitation: the root is checked to be another account whose device list
 * verifies from it (as a share would check it), then kept as a contact named `name`. */
export async function acceptInvitation(rootText: string, name: string): Promise<Contact> {
  const root = parseRoot(rootText);
  const chain = await account.verifiedChain();
  if (root === account.viewOf(chain).root) {
    throw new Error("This is your own invitation link: send it to the person who will share clips with you.");
  }
  (await chainOfRoot(root)).free();
  const contact = { root, name: name.trim() || `Account ${rootFingerprint(root)}` };
  const kept = (await contacts()).filter((c) => c.root !== root);
  await store.keepContacts(account.me().account_id, [...kept, contact]);
  return contact;
}

/** Shares an owned clip with the account whose chain starts at `rootText`. */
export async function share(clipId: string, rootText: string): Promise<ShareInfo> {
  const root = parseRoot(rootText);
  const chain = await account.verifiedChain();
  if (root === account.viewOf(chain).root) {
    throw new Error("That root is this account's own: your devices open your clips already.");
  }
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(clipId)}`);
  if (!cameras.some((c) => c.owned && c.id === detail.camera_id)) {
    throw new Error("Only the owner of a camera can share its clips.");
  }
  const sharee = await chainOfRoot(root);
  // The clip is checked against this account's chain before its key is handed on.
  const header = await store.withDeviceKey((secret) => {
    new ClipOpener(chain, JSON.stringify(detail), secret).free();
    return shareHeader(detail.header, secret, sharee);
  });
  return api.post<ShareInfo>(`/api/clips/${encodeURIComponent(clipId)}/shares`, { root, header });
}

export const sharesOf = async (clipId: string) =>
  (await api.get<{ shares: ShareInfo[] }>(`/api/clips/${encodeURIComponent(clipId)}/shares`)).shares;

export const unshare = (clipId: string, shareId: string) =>
  api.del<void>(`/api/clips/${encodeURIComponent(clipId)}/shares/${encodeURIComponent(shareId)}`);

/** The clips shared with this account, each checked under its owner's chain (verified from
 * the root the share names, fetched once per owner): what may be shown, and what may not. */
export async function sharedWithMe(): Promise<Checked<SharedClipInfo>> {
  const clips = (await api.get<{ clips: SharedClipInfo[] }>("/api/shared")).clips;
  const out: Checked<SharedClipInfo> = { shown: [], refused: [] };
  for (const owner of new Set(clips.map((c) => c.owner_root))) {
    const theirs = clips.filter((c) => c.owner_root === owner);
    let chain: Chain;
    try {
      const links = await api.get<Links>(`/api/accounts/${encodeURIComponent(parseRoot(owner))}/chain`);
      chain = Chain.verifyFromRoot(JSON.stringify(links), owner);
    } catch (e) {
      const reason = `the owner's device list could not be checked (${e instanceof Error ? e.message : String(e)})`;
      out.refused.push(...theirs.map((clip) => ({ clip, refused: { code: "owner_chain_invalid", reason } })));
      continue;
    }
    try {
      const checked = checkUnder(chain, theirs, true);
      out.shown.push(...checked.shown);
      out.refused.push(...checked.refused);
    } finally {
      chain.free();
    }
  }
  out.shown.sort((a, b) => a.start_ms - b.start_ms);
  return out;
}

/** A shared clip's details and its owner's chain, verified from the root the share names. */
export async function openShared(shareId: string): Promise<{ detail: SharedClipDetail; chain: Chain }> {
  const detail = await api.get<SharedClipDetail>(`/api/shared/${encodeURIComponent(shareId)}`);
  const root = parseRoot(detail.owner_root);
  let chain: Chain;
  try {
    chain = Chain.verifyFromRoot(JSON.stringify({ links: detail.owner_chain }), root);
  } catch (e) {
    throw new Error(`The owner's device list does not verify from their root: ${e instanceof Error ? e.message : String(e)}. Do not trust this clip.`);
  }
  return { detail, chain };
}

export const sharedPayloadPath = (shareId: string) => `/api/shared/${encodeURIComponent(shareId)}/payload`;

// ---- the neighbourhood feed ----

export interface FeedPost {
  id: string;
  neighbourhood: string;
  area: string;
  hour_ms: number;
  size_bytes: number;
}

export interface FeedPage {
  posts: FeedPost[];
  next_cursor?: string;
}

export interface MyFeedPost extends FeedPost {
  clip_id: string | null;
  created_at_ms: number;
}

/** The 0.01° grid cell (about 1 km) a point falls in, as `LAT,LON` of its south-west corner:
 * what a post names, never the point itself. */
export function gridCell(lat: number, lon: number): string {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
    throw new Error("A latitude is between -90 and 90 and a longitude between -180 and 180.");
  }
  const cell = (v: number) => {
    const n = Math.floor(Math.round(v * 1e6) / 1e4);
    return (n / 100).toFixed(2).replace(/^-0\.00$/, "0.00");
  };
  return `${cell(lat)},${cell(lon)}`;
}

/** A typed area: a grid cell or any point as `LAT,LON` (reduced to its cell here). */
export function areaOf(text: string): string {
  const parts = text.replace(/\s/g, "").split(",");
  if (parts.length !== 2 || parts.some((p) => p === "" || !Number.isFinite(Number(p)))) {
    throw new Error("Give the area as latitude,longitude, e.g. 51.51,-0.12 — or use your location.");
  }
  return gridCell(Number(parts[0]), Number(parts[1]));
}

/** Where this account posts from, as this device remembers it: a neighbourhood name and a grid
 * cell, never a point. */
export interface Place {
  neighbourhood: string;
  area: string;
}

export const myPlace = async (): Promise<Place | undefined> => store.placeOf(account.me().account_id);
export const keepMyPlace = (place: Place) => store.keepPlace(account.me().account_id, place);

/** Asks the browser where it is, once, and keeps only the grid cell: the point is reduced on
 * this device before anything is stored or sent, and then forgotten. */
export function locateCell(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject(new Error("This browser cannot tell its location. Type the area instead."));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => {
        try {
          resolve(gridCell(position.coords.latitude, position.coords.longitude));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
      (error) =>
        reject(
          new Error(
            error.code === error.PERMISSION_DENIED
              ? "Location is blocked for this site. Allow it in the browser's site settings, or type the area instead."
              : "The location could not be found just now. Try again, or type the area instead.",
          ),
        ),
      { enableHighAccuracy: false, timeout: 15_000, maximumAge: 3_600_000 },
    );
  });
}

/** The UTC hour a clip's start falls in: the only time a post carries. */
export function hourOf(ms: number): number {
  return Math.floor(ms / 3_600_000) * 3_600_000;
}

export type ResearchCopy = "added" | "already" | "off";

/** Posts an owned clip: opened and stripped on this device, uploaded as MP4, then its
 * research copy (the same stripped video sealed to the research key) added. */
export async function post(clipId: string, neighbourhood: string, area: string): Promise<{ post: FeedPost; research: ResearchCopy }> {
  const chain = await account.verifiedChain();
  const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(clipId)}`);
  const stripper = await store.withDeviceKey((secret) => new StrippedClip(chain, JSON.stringify(detail), secret));
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of payload(detail)) parts.push(stripper.push(chunk));
    parts.push(stripper.finish());
  } finally {
    stripper.free();
  }
  const video = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    video.set(p, at);
    at += p.length;
  }
  const q = new URLSearchParams({ clip_id: clipId, neighbourhood, area });
  const made = await api.call<FeedPost>("POST", `/api/feed/posts?${q}`, video, { "content-type": "video/mp4" });
  return { post: made, research: await researchCopy(detail, video) };
}

async function researchCopy(detail: ClipDetail, video: Uint8Array): Promise<ResearchCopy> {
  let recipient: string;
  try {
    recipient = (await api.get<{ recipient: string }>("/api/research/recipient")).recipient;
  } catch (e) {
    if (e instanceof ApiError && e.code === "research_off") return "off";
    throw e;
  }
  const tag = await store.withDeviceKey((secret) => withdrawalTag(detail.header, secret));
  const sealed = sealToResearch(video, recipient);
  const q = new URLSearchParams({ day: new Date(detail.start_ms).toISOString().slice(0, 10), withdrawal_tag: tag });
  try {
    await api.call("POST", `/api/research/items?${q}`, sealed);
    return "added";
  } catch (e) {
    if (e instanceof ApiError && e.code === "conflict") return "already";
    throw e;
  }
}

export const myPosts = async () => (await api.get<{ posts: MyFeedPost[] }>("/api/feed/mine")).posts;

/** Deletes one of this account's posts and withdraws its research copy; whether there was
 * one to withdraw is returned. */
export async function unpost(p: MyFeedPost): Promise<boolean> {
  await api.del(`/api/feed/posts/${encodeURIComponent(p.id)}`);
  if (!p.clip_id) return false; // the clip is deleted: with its header went the withdrawal key
  let detail: ClipDetail;
  try {
    detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(p.clip_id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
  const key = await store.withDeviceKey((secret) => withdrawalKey(detail.header, secret));
  try {
    await api.post("/api/research/withdrawals", { withdrawal_key: key });
    return true;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.code === "research_off")) return false;
    throw e;
  }
}

/** Posts a feed page shows: a handful of videos, then "Older posts". */
export const FEED_PAGE = 5;

export async function feedPage(neighbourhood: string, area: string, before?: string): Promise<FeedPage> {
  const q = new URLSearchParams({ neighbourhood, limit: String(FEED_PAGE) });
  if (area) q.set("area", area);
  if (before) q.set("before", before);
  return api.get<FeedPage>(`/api/feed?${q}`);
}

/** Plays a post's video (plain MP4, read in ranges) through MediaSource. */
export async function playPost(video: HTMLVideoElement, p: FeedPost): Promise<void> {
  const feed = new Mp4Feed();
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((r) => source.addEventListener("sourceopen", r, { once: true }));
  let buffer: SourceBuffer | null = null;
  const waiting: Uint8Array[] = [];
  try {
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
    for await (const chunk of payload({ id: p.id, payload_size: p.size_bytes }, `/api/feed/posts/${encodeURIComponent(p.id)}/video`)) {
      await give(feed.push(chunk));
    }
    feed.finish();
    if (source.readyState === "open") source.endOfStream();
  } catch (e) {
    if (source.readyState === "open") source.endOfStream("decode");
    throw e;
  } finally {
    feed.free();
  }
}
