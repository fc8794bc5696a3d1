// Listings checked before they are drawn: the Rust crypto (`checkListing`) decides, clip by
// clip, whether a hub of the chain signed it as listed; this file only splits the listing by
// that verdict and words the warning for what was left out.

import * as api from "./api";
import type { ClipSummary } from "./types";
import { checkListing } from "./wasm";
import type { Chain, Households } from "./wasm";
import { h, notice } from "./ui";

export interface Refused {
  code: string;
  reason: string;
}

interface Verdict {
  id: string;
  verified: boolean;
  hub_name?: string;
  refused?: Refused;
}

export interface Checked<T> {
  shown: T[];
  refused: { clip: T; refused: Refused }[];
}

/** Splits `clips` (entries of `GET /api/clips` or `GET /api/shared`) by the verdict of the
 * listing check under `chain` (`ofOwner`: another account's chain, a share's owner's). */
export function checkUnder<T>(chain: Chain, clips: T[], ofOwner = false): Checked<T> {
  return split(clips, checkListing(chain, JSON.stringify(clips), ofOwner));
}

/** Splits `clips` (entries of `GET /api/clips`) each checked under the chain that vouches for
 * it: `own` for the account's own hubs, the household owner's that gives this account the
 * clip's camera otherwise (the same choice the CLI makes). */
export function checkInHouseholds<T>(households: Households, own: Chain, clips: T[]): Checked<T> {
  return split(clips, households.checkListing(own, JSON.stringify(clips)));
}

function split<T>(clips: T[], answer: string): Checked<T> {
  const verdicts = JSON.parse(answer) as Verdict[];
  const out: Checked<T> = { shown: [], refused: [] };
  clips.forEach((clip, i) => {
    const v = verdicts[i];
    if (v?.verified) out.shown.push(clip);
    else out.refused.push({ clip, refused: v?.refused ?? { code: "unchecked", reason: "it could not be checked" } });
  });
  return out;
}

/** The warning above a list that left clips out, naming how many and why; null when none. */
export function refusedWarning(refused: { refused: Refused }[], whose = "your account"): HTMLElement | null {
  if (refused.length === 0) return null;
  const reasons = new Map<string, number>();
  for (const r of refused) reasons.set(r.refused.reason, (reasons.get(r.refused.reason) ?? 0) + 1);
  const n = refused.length;
  const lead = `${n} clip${n === 1 ? "" : "s"} could not be checked`;
  const shown = n === 1 ? "it was not shown" : "they were not shown";
  const why =
    reasons.size === 1
      ? [h("p", {}, h("strong", {}, `${lead}: `), `${[...reasons.keys()][0]} — ${shown}.`)]
      : [
          h("p", {}, h("strong", {}, `${lead}, so ${shown}:`)),
          h("ul", {}, ...[...reasons].map(([reason, count]) => h("li", {}, `${count} — ${reason}`))),
        ];
  return notice(
    "warning",
    h(
      "div",
      { "data-testid": "unverified-clips", "data-count": String(n) },
      ...why,
      h(
        "p",
        { class: "muted" },
        `Porchlight shows only clips a hub of ${whose} signed. Someone with access to the server may have added ${n === 1 ? "it; do not trust it" : "them; do not trust them"}.`,
      ),
    ),
  );
}

/** The clips starting in [`fromMs`, `toMs`) of `camera` (null: every camera the account may
 * see), oldest first, as listed (not yet checked), read page by page up to 5000. */
export async function clipsOf(camera: string | null, fromMs: number, toMs: number): Promise<ClipSummary[]> {
  const out: ClipSummary[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ from_ms: String(fromMs), to_ms: String(toMs), limit: "500" });
    if (camera) q.set("camera", camera);
    if (cursor) q.set("cursor", cursor);
    const page: { clips: ClipSummary[]; next_cursor: string | null } = await api.get(`/api/clips?${q}`);
    out.push(...page.clips);
    cursor = page.next_cursor;
  } while (cursor && out.length < 5000);
  return out;
}
