// The household (DESIGN §4, §6), as the CLI's `household` commands do it. On the owner's
// browser: members added by the root their invitation carried, cameras given and taken, and
// members removed — each a chain link signed here with this device's key, after which the
// owned clips are re-wrapped so their headers name exactly the devices that may open them.
// On a member's browser: the owners' chains that name this account, verified in the Rust
// crypto from their roots and against the positions this browser kept, and, for each clip or
// live view of a given camera, the one owner's chain that gives it — or nothing.

import * as api from "./api";
import * as account from "./account";
import type { RewrapReport } from "./account";
import { parseRoot, rootFingerprint } from "./sharing";
import * as store from "./store";
import type { CameraInfo, ChainView, HubInfo } from "./types";
import { Households } from "./wasm";
import type { Chain } from "./wasm";

/** A camera as chain links name it: its hub's key and the name its hub signs. */
export interface CameraRef {
  hub_key: string;
  camera: string;
}

export type Member = ChainView["members"][number];

/** An owned camera that can be given: what the list shows, and what the link names. */
export interface Givable {
  camera: CameraInfo;
  ref: CameraRef;
}

/** The cameras this account owns whose hub is in its verified chain, with the hub key the
 * chain names (the server's hub list only says which hub is which; the Rust crypto refuses a
 * camera of any hub the chain does not have). */
export async function givable(view: ChainView): Promise<Givable[]> {
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras.filter((c) => c.owned);
  const hubs = (await api.get<{ hubs: HubInfo[] }>("/api/hubs")).hubs;
  const inChain = new Set(view.hubs.map((h) => h.key));
  const out: Givable[] = [];
  for (const camera of cameras) {
    const hub = hubs.find((x) => x.id === camera.hub_id);
    if (hub && inChain.has(hub.hub_key)) out.push({ camera, ref: { hub_key: hub.hub_key, camera: camera.name } });
  }
  return out;
}

/** Adds the account with `rootText` to the household as `label`, giving it `cameras`. */
export async function addMember(rootText: string, label: string, cameras: CameraRef[]): Promise<RewrapReport> {
  const root = parseRoot(rootText);
  const view = account.viewOf(await account.verifiedChain());
  if (root === view.root) throw new Error("That is this account's own root: your devices see your cameras already.");
  if (view.members.some((m) => m.root === root)) throw new Error("That account is in your household already: change its cameras below.");
  const name = label.trim() || "Member";
  const ops: object[] = [{ add_member: { root, label: name } }];
  if (cameras.length > 0) ops.push({ member_cameras: { root, cameras } });
  return account.signAndRewrap(ops);
}

/** Replaces the cameras member `root` may watch, live and recorded. */
export const giveCameras = (root: string, cameras: CameraRef[]): Promise<RewrapReport> =>
  account.signAndRewrap([{ member_cameras: { root, cameras } }]);

/** Removes member `root`: new clips no longer name their devices, stored ones are re-wrapped
 * without them, and the server no longer gives them this account's cameras. */
export const removeMember = (root: string): Promise<RewrapReport> => account.signAndRewrap([{ remove_member: { root } }]);

// ---- a member's side ----

export interface HouseholdsView {
  owners: { root: string; cameras: (CameraRef & { hub_name: string })[] }[];
  refused: { root: string; reason: string }[];
}

/** The households this account belongs to, verified from the owners' roots against the
 * positions this browser kept (which are then moved on). `own` is this account's chain. */
export async function households(own: Chain): Promise<Households> {
  const me = account.me().account_id;
  const served = JSON.stringify(await api.get("/api/household/owners"));
  const checked = Households.verify(own, served, (await store.ownerPositionsOf(me)) ?? "");
  await store.keepOwnerPositions(me, checked.positions());
  return checked;
}

export const viewOf = (checked: Households): HouseholdsView => JSON.parse(checked.view()) as HouseholdsView;

/** Why a clip or live view of a camera no household gives was not shown. */
export const NOT_GIVEN =
  "No household whose device list this browser checked gives your account this camera, so nothing of it is shown. " +
  "If its owner gave it to you a moment ago, reload; if they removed you, it is no longer yours to see.";

/** [`NOT_GIVEN`], with why each household's device list this browser refused was refused. */
export function whyNotGiven(checked: Households): string {
  const refused = viewOf(checked).refused.map((r) => ` The device list of account ${rootFingerprint(r.root)} was refused: ${r.reason}.`);
  return NOT_GIVEN + refused.join("");
}
