// The owner's side of research (DESIGN §9), as the CLI's `consent` and `research-items` do
// it: consent receipts signed with this browser's device key, research items made on this
// device (the clip opened, stripped of container metadata and sealed to the research
// program's key by the Rust crypto as it downloads), and "what of mine is in research":
// this device computes each own clip's withdrawal key and its tag (a one-way hash, all the
// server stores) and asks which of those tags the dataset holds. The key that withdraws an
// item leaves this device only to withdraw it; nobody can list the dataset's tags or keys.

import * as api from "./api";
import { ApiError } from "./api";
import * as account from "./account";
import { payload } from "./player";
import * as store from "./store";
import type { CameraInfo, ClipDetail, ClipSummary } from "./types";
import { consentReceipt, ResearchItem, withdrawalKey, withdrawalTag } from "./wasm";

export type ScopeKind = "camera" | "clip";

export interface ConsentInfo {
  action: "give" | "withdraw";
  scope_kind: ScopeKind;
  scope_id: string;
  signer: string;
  issued_at_ms: number;
  recorded_at_ms: number;
  receipt: string;
}

export interface ConsentList {
  receipts: ConsentInfo[];
  live: { scope_kind: ScopeKind; scope_id: string }[];
}

export interface ResearchItemInfo {
  id: string;
  day: string;
  size_bytes: number;
  labels: string[];
}

/** What withdraws a clip's research item (`key`, secret) and what it is stored under (`tag`). */
export interface Withdrawal {
  key: string;
  tag: string;
}

/** A clip of this account found in the research dataset. */
export interface MyItem {
  clip: ClipSummary;
  withdrawal: Withdrawal;
}

/** The most tags the server answers in one question (`proto::MAX_MATCH_TAGS`). */
const MATCH_BATCH = 500;

export const consents = () => api.get<ConsentList>("/api/consents");

export function isLive(list: ConsentList, kind: ScopeKind, id: string): boolean {
  return list.live.some((s) => s.scope_kind === kind && s.scope_id === id);
}

/** Whether a clip is covered by a live consent, for itself or for its camera. */
export function covers(list: ConsentList, clip: { id: string; camera_id: string }): boolean {
  return isLive(list, "clip", clip.id) || isLive(list, "camera", clip.camera_id);
}

/** Every clip of the cameras this account owns (a household's shared cameras are not ours). */
export async function ownedClips(): Promise<ClipSummary[]> {
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const owned = new Set(cameras.filter((c) => c.owned).map((c) => c.id));
  const out: ClipSummary[] = [];
  let cursor: string | null = null;
  do {
    const page: { clips: ClipSummary[]; next_cursor: string | null } = await api.get(
      `/api/clips?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    out.push(...page.clips.filter((c) => owned.has(c.camera_id)));
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** A clip's withdrawal key and tag, computed with this device's key; null when this device
 * cannot open the clip (sealed before it joined and not re-wrapped): then it cannot be ours. */
export async function withdrawalOf(detail: ClipDetail): Promise<Withdrawal | null> {
  try {
    return await store.withDeviceKey((secret) => ({
      key: withdrawalKey(detail.header, secret),
      tag: withdrawalTag(detail.header, secret),
    }));
  } catch {
    return null;
  }
}

/** Which of these tags (computed here from this account's clips) the dataset holds. Asked at
 * least once, so a server without a research program answers 503 `research_off`. */
export async function presentTags(tags: string[]): Promise<Set<string>> {
  const present = new Set<string>();
  let i = 0;
  do {
    const batch = tags.slice(i, i + MATCH_BATCH);
    const r = await api.post<{ present: string[] }>("/api/research/items/match", { withdrawal_tags: batch });
    for (const t of r.present) present.add(t);
    i += MATCH_BATCH;
  } while (i < tags.length);
  return present;
}

/** This account's clips in the research dataset, found by the tags this device computes. */
export async function myItems(): Promise<MyItem[]> {
  const candidates: MyItem[] = [];
  for (const clip of await ownedClips()) {
    const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(clip.id)}`);
    const withdrawal = await withdrawalOf(detail);
    if (withdrawal) candidates.push({ clip, withdrawal });
  }
  const present = await presentTags(candidates.map((c) => c.withdrawal.tag));
  return candidates.filter((c) => present.has(c.withdrawal.tag));
}

/** Whether this account posted the clip to the feed (a post's research copy is an item too). */
export async function postedToFeed(clipId: string): Promise<boolean> {
  const { posts } = await api.get<{ posts: { clip_id: string | null }[] }>("/api/feed/mine");
  return posts.some((p) => p.clip_id === clipId);
}

/** Withdraws the research item this key withdraws; the key travels in the body, never a URL. */
export async function withdrawItem(w: Withdrawal): Promise<void> {
  await api.post("/api/research/withdrawals", { withdrawal_key: w.key });
}

/** Signs a receipt with this device and records it. Withdrawing also withdraws every item of
 * this account the scope covers; how many is returned. */
export async function recordConsent(action: "give" | "withdraw", kind: ScopeKind, id: string): Promise<number> {
  const chain = await account.verifiedChain();
  const receipt = await store.withDeviceKey((secret) => consentReceipt(chain, secret, action, kind, id, Date.now()));
  await api.post<ConsentInfo>("/api/consents", { receipt });
  if (action === "give") return 0;
  let mine: MyItem[];
  try {
    mine = await myItems();
  } catch (e) {
    // Without a research program there is no dataset, so nothing to withdraw.
    if (e instanceof ApiError && e.code === "research_off") return 0;
    throw e;
  }
  const covered = mine.filter((m) => (kind === "camera" ? m.clip.camera_id === id : m.clip.id === id));
  for (const m of covered) await withdrawItem(m.withdrawal);
  return covered.length;
}

/** Makes and uploads the research item of an owned clip under a live consent: the sealed
 * payload is read window by window into the Rust crypto, which checks it against what the hub
 * signed, strips its metadata and seals it to the research key; only the sealed item, its UTC
 * day and its withdrawal tag leave this device. */
export async function addItem(clipId: string): Promise<ResearchItemInfo> {
  const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(clipId)}`);
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  if (!cameras.some((c) => c.owned && c.id === detail.camera_id)) {
    throw new Error("Only the owner of a camera can put its clips in research.");
  }
  if (!covers(await consents(), detail)) {
    throw new Error("Give research consent for this clip or its camera first: research takes only consented clips.");
  }
  const { recipient } = await api.get<{ recipient: string }>("/api/research/recipient");
  const chain = await account.verifiedChain();
  const item = await store.withDeviceKey((secret) => new ResearchItem(chain, JSON.stringify(detail), secret, recipient));
  try {
    for await (const chunk of payload(detail)) item.push(chunk);
    const sealed = item.finish();
    const q = new URLSearchParams({ day: item.day, withdrawal_tag: item.withdrawalTag });
    return await api.call<ResearchItemInfo>("POST", `/api/research/items?${q}`, sealed);
  } finally {
    item.free();
  }
}
