// The signed-in account and this browser's place in its device chain. Every decision about
// trust (is this chain the one pinned, may this device sign, which devices clips are sealed
// to) is the Rust crypto's, through `Chain`; this file only moves bytes between it and the API.

import * as api from "./api";
import { ApiError } from "./api";
import { endSubscriptionIfAny } from "./push";
import * as store from "./store";
import type { CameraInfo, ChainView, ClipDetail, ClipSummary, DeviceInfo, Links, Me, WebSession } from "./types";
import { Chain, devicePublic, deviceGenerate, fingerprintOf as fingerprintOfKeys } from "./wasm";

let current: Me | null = null;

export function me(): Me {
  if (!current) throw new Error("not signed in");
  return current;
}

export function signedIn(): boolean {
  return current !== null;
}

/** Picks up a session this browser already has (the cookie survives a reload; the CSRF
 * token does not, so it is asked for again). */
export async function resume(): Promise<Me | null> {
  try {
    const { csrf_token } = await api.get<{ csrf_token: string }>("/api/session/csrf");
    api.useCsrf(csrf_token);
    current = await api.get<Me>("/api/me");
    return current;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      current = null;
      api.useCsrf(null);
      return null;
    }
    throw e;
  }
}

export async function started(session: WebSession): Promise<Me> {
  api.useCsrf(session.csrf_token);
  current = await api.get<Me>("/api/me");
  return current;
}

/** Reads the account again (its address changed, say). */
export async function refresh(): Promise<Me> {
  current = await api.get<Me>("/api/me");
  return current;
}

/** The server ended this browser's session (a password reset, a change of address undone):
 * forget it here as signing out does, with nothing left to tell the server. */
export async function ended(): Promise<void> {
  api.useCsrf(null);
  current = null;
  await store.forgetPreviews().catch(() => {});
}

export async function signOut(everywhere = false): Promise<void> {
  // A signed-out browser is told of nothing more (removed while the session still works).
  await endSubscriptionIfAny();
  await api.post("/api/logout", { everywhere });
  api.useCsrf(null);
  current = null;
  await store.forgetPreviews().catch(() => {});
}

/** This browser's public keys and fingerprint. */
export interface PublicKeys {
  sign_key: string;
  age_recipient: string;
  fingerprint: string;
}

export async function ownKeys(): Promise<PublicKeys> {
  if (!(await store.hasDeviceKey())) {
    const secret = deviceGenerate();
    try {
      await store.keepDeviceKey(secret);
    } finally {
      secret.fill(0);
    }
  }
  return JSON.parse(await store.withDeviceKey((s) => devicePublic(s))) as PublicKeys;
}

/** A chain that failed verification: shown as an alarm, never worked around. */
export class ChainAlarm extends Error {}

/** The served chain, verified from this browser's pin (pinned now on first sight). */
export async function verifiedChain(): Promise<Chain> {
  const account = me().account_id;
  const links = await api.get<Links>("/api/chain");
  const trust = await store.trustOf(account);
  let chain: Chain;
  try {
    chain = Chain.verify(JSON.stringify(links), trust);
  } catch (e) {
    throw new ChainAlarm(
      `The account's device list failed its check: ${e instanceof Error ? e.message : String(e)}. ` +
        "Do not approve devices or trust clips from this browser until this is explained.",
    );
  }
  await remember(chain);
  // For the service worker, which checks a pushed notice against the chain (verified again).
  await store.keepChainLinks(account, JSON.stringify(links));
  return chain;
}

async function remember(chain: Chain): Promise<void> {
  await store.keepTrust(me().account_id, chain.trust());
}

export function viewOf(chain: Chain): ChainView {
  return JSON.parse(chain.view()) as ChainView;
}

export type Enrolment =
  | { kind: "active"; keys: PublicKeys; view: ChainView }
  | { kind: "pending"; keys: PublicKeys; view: ChainView }
  | { kind: "started"; keys: PublicKeys; view: ChainView; recoveryCode: string };

/** What signing in does for the keys, as the CLI does it: make this browser's keys once,
 * register their public half, then verify the chain, or start it if the account has none. */
export async function enrol(deviceName: string): Promise<Enrolment> {
  const keys = await ownKeys();
  // Registered before (this browser signing in again, or the pending screen checking): the
  // record must carry this browser's keys.
  const mine = (await devices()).find((d) => d.current);
  if (mine && mine.sign_key !== keys.sign_key) {
    throw new Error("This browser is registered with other keys. Sign out, clear this site's data, and sign in again.");
  }
  if (!mine) {
    await api.post<DeviceInfo>("/api/devices", {
      name: deviceName,
      sign_key: keys.sign_key,
      age_recipient: keys.age_recipient,
    });
  }
  const served = await api.get<Links>("/api/chain");
  if (served.links.length === 0) {
    const genesis = await store.withDeviceKey((s) => Chain.start(s, deviceName));
    const recoveryCode = genesis.recoveryCode;
    await api.post("/api/chain", JSON.parse(genesis.links));
    const chain = genesis.intoChain();
    await remember(chain);
    return { kind: "started", keys, view: viewOf(chain), recoveryCode };
  }
  const view = viewOf(await verifiedChain());
  const active = view.devices.some((d) => d.sign_key === keys.sign_key);
  return { kind: active ? "active" : "pending", keys, view };
}

export async function devices(): Promise<DeviceInfo[]> {
  return (await api.get<{ devices: DeviceInfo[] }>("/api/devices")).devices;
}

/** Approves a pending device: this browser signs the link that adds it, then re-wraps every
 * clip of the account so the new device can open what was recorded before. */
export async function approve(device: DeviceInfo): Promise<RewrapReport> {
  return signAndRewrap([{ add_device: { name: device.name, sign_key: device.sign_key, age_recipient: device.age_recipient } }]);
}

/** Removes a device: its sessions end, and stored clips stop naming it. */
export async function removeDevice(device: DeviceInfo): Promise<RewrapReport> {
  return signAndRewrap([{ remove_device: { sign_key: device.sign_key } }]);
}

/** Signs `ops` (chain operations, in order) on this browser and stores the links, then
 * re-wraps the account's clips to the devices the chain now names — its own, and its
 * household members' for the cameras given to them. The Rust crypto refuses an operation the
 * chain does not allow (a camera of no hub of the chain, a member named twice). */
export async function signAndRewrap(ops: object[]): Promise<RewrapReport> {
  const chain = await verifiedChain();
  // All signed before any is sent, and sent in one append: stored together or not at all.
  const links = await store.withDeviceKey((s) => ops.flatMap((op) => (JSON.parse(chain.append(s, JSON.stringify(op))) as Links).links));
  await api.post("/api/chain", { links });
  await remember(chain);
  return rewrapOwned(chain, (header, hub, camera) =>
    store.withDeviceKey((s) => chain.rewrap(header, s, hub, camera)),
  );
}

/** Adds this (pending) browser to the chain with the key recovery code, which signs the link
 * and re-wraps the clips. The code is used here and forgotten. */
export async function restore(recoveryCode: string, deviceName: string): Promise<RewrapReport> {
  const code = recoveryCode.trim();
  const keys = await ownKeys();
  const links = await api.get<Links>("/api/chain");
  let chain: Chain;
  try {
    chain = Chain.verifyByRecovery(JSON.stringify(links), code);
  } catch (e) {
    throw new Error(e instanceof Error ? e.message : String(e));
  }
  const pinned = await store.trustOf(me().account_id);
  if (pinned && JSON.parse(pinned).root !== viewOf(chain).root) {
    throw new ChainAlarm("The account's device list does not start where this browser saw it start.");
  }
  if (viewOf(chain).devices.some((d) => d.sign_key === keys.sign_key)) {
    throw new Error("This browser is already an approved device.");
  }
  const op = JSON.stringify({
    add_device: { name: deviceName, sign_key: keys.sign_key, age_recipient: keys.age_recipient },
  });
  const link = chain.appendByRecovery(code, op);
  await api.post("/api/chain", JSON.parse(link));
  await remember(chain);
  return rewrapOwned(chain, async (header, hub, camera) =>
    chain.rewrapByRecovery(header, code, hub, camera),
  );
}

export interface RewrapReport {
  rewrapped: number;
  failed: string[];
}

/** Re-wraps a clip header (base64) for the clip's hub and camera. */
type Rewrap = (header: string, hubKey: string, camera: string) => Promise<string>;

/** Re-wraps every clip of the account's own cameras to its devices, and to the devices of the
 * household members its chain gives each clip's camera (their chains verified in wasm from the
 * roots the account's chain names). */
async function rewrapOwned(chain: Chain, rewrap: Rewrap): Promise<RewrapReport> {
  const account = me().account_id;
  const served = JSON.stringify(await api.get("/api/household/members"));
  const positions = chain.setMembers(served, (await store.memberPositionsOf(account)) ?? "");
  await store.keepMemberPositions(account, positions);
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const owned = new Set(cameras.filter((c) => c.owned).map((c) => c.id));
  const report: RewrapReport = { rewrapped: 0, failed: [] };
  let cursor: string | null = null;
  do {
    const page: { clips: ClipSummary[]; next_cursor: string | null } = await api.get(
      `/api/clips?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    for (const clip of page.clips) {
      if (!owned.has(clip.camera_id)) continue;
      try {
        await rewrapOne(clip.id, rewrap);
        report.rewrapped++;
      } catch {
        report.failed.push(clip.id);
      }
    }
    cursor = page.next_cursor;
  } while (cursor);
  return report;
}

async function rewrapOne(id: string, rewrap: Rewrap): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const detail = await api.get<ClipDetail>(`/api/clips/${encodeURIComponent(id)}`);
    const sealed = await rewrap(detail.header, detail.hub_key, detail.camera_name);
    const header = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0));
    try {
      // Compare-and-swap: refused (412) if another device re-wrapped it meanwhile.
      await api.call("PUT", `/api/clips/${encodeURIComponent(id)}/header`, header, {
        "if-match": `"${detail.header_sha256}"`,
      });
      return;
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 412 || e.code === "conflict")) || attempt >= 3) throw e;
    }
  }
}

/** The fingerprint of a device as the server lists it, computed here from its keys. */
export function fingerprintOf(device: DeviceInfo): string {
  return fingerprintOfKeys(device.sign_key, device.age_recipient);
}
