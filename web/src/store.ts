// What this browser keeps, in IndexedDB: its device id, its device key (sealed under a
// non-extractable AES-GCM key that never leaves WebCrypto), and, per account, the chain pin
// (the root and the highest link verified). The device key itself must reach the Rust crypto
// (age needs the X25519 scalar), so it is unsealed into memory only for the call that uses it.

const DB_NAME = "porchlight";
const KV = "kv";

function database(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(KV);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error("this browser's storage is not available (private mode?)"));
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await database();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(KV, mode);
      const req = op(tx.objectStore(KV));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(new Error("this browser's storage refused a write"));
    });
  } finally {
    db.close();
  }
}

const read = <T>(key: string) => run<T | undefined>("readonly", (s) => s.get(key));
const write = (key: string, value: unknown) => run<void>("readwrite", (s) => s.put(value, key));
const remove = (key: string) => run<void>("readwrite", (s) => s.delete(key));

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** This browser's device id (made once): sent with every request, never shown. */
export async function deviceId(): Promise<string> {
  const existing = await read<string>("device_id");
  if (existing) return existing;
  const id = randomId();
  await write("device_id", id);
  return id;
}

interface SealedKey {
  wrap: CryptoKey;
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

/** Whether this browser has made its device key. */
export async function hasDeviceKey(): Promise<boolean> {
  return (await read<SealedKey>("device_key")) !== undefined;
}

/** Seals and keeps a new device key; refuses to replace one. */
export async function keepDeviceKey(secret: Uint8Array): Promise<void> {
  if (await hasDeviceKey()) throw new Error("this browser already has a device key");
  const wrap = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrap, secret as Uint8Array<ArrayBuffer>);
  await write("device_key", { wrap, iv, data } satisfies SealedKey);
}

/**
 * Runs `use` with the device key unsealed, then wipes the copy. The key never leaves the
 * page: it goes only to the WebAssembly crypto.
 */
export async function withDeviceKey<T>(use: (secret: Uint8Array) => T | Promise<T>): Promise<T> {
  const sealed = await read<SealedKey>("device_key");
  if (!sealed) throw new Error("this browser has no device key yet");
  const secret = new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.iv }, sealed.wrap, sealed.data),
  );
  try {
    return await use(secret);
  } finally {
    secret.fill(0);
  }
}

/** The chain pin kept for `account`, as the WebAssembly `Chain.trust()` wrote it. */
export const trustOf = (account: string) => read<string>(`trust:${account}`);
export const keepTrust = (account: string, trust: string) => write(`trust:${account}`, trust);

/** The highest link seen of each household member's chain, for `account`, as the WebAssembly
 * `Chain.setMembers()` returned it: a member chain served older than this is refused. */
export const memberPositionsOf = (account: string) => read<string>(`members:${account}`);
export const keepMemberPositions = (account: string, positions: string) =>
  write(`members:${account}`, positions);

/** The highest link seen of each household owner's chain, for member `account`, as the
 * WebAssembly `Households.positions()` returned it: an owner's chain served older is refused. */
export const ownerPositionsOf = (account: string) => read<string>(`owners:${account}`);
export const keepOwnerPositions = (account: string, positions: string) => write(`owners:${account}`, positions);

/** Forgets everything but the device id and key (signing out does not unpin the chain). */
export async function forgetAccount(account: string): Promise<void> {
  await remove(`trust:${account}`);
}

/** The accounts `account` may share with, by root, each with the name this device gave it
 * (kept on this device only: the server never learns who is whose contact). */
export const contactsOf = async (account: string) => (await read<{ root: string; name: string }[]>(`contacts:${account}`)) ?? [];
export const keepContacts = (account: string, contacts: { root: string; name: string }[]) =>
  write(`contacts:${account}`, contacts);

/** Where `account` posts to the feed from (a neighbourhood name and a 0.01° grid cell, never a
 * point), so the location is asked once. */
export const placeOf = (account: string) => read<{ neighbourhood: string; area: string }>(`place:${account}`);
export const keepPlace = (account: string, place: { neighbourhood: string; area: string }) => write(`place:${account}`, place);

/** The transparency-log pin kept for `account` (key, checkpoint, entries verified). */
export const logPinOf = (account: string) => read<string>(`log:${account}`);
export const keepLogPin = (account: string, pin: string) => write(`log:${account}`, pin);

/** The account whose notices this browser's push subscription brings (the service worker,
 * which has no session of its own in memory, opens them for this account). */
export const pushAccount = () => read<string>("push_account");
export const keepPushAccount = (account: string) => write("push_account", account);
export const forgetPushAccount = () => remove("push_account");

/** The chain's links as last served to the page (JSON), for the service worker when it cannot
 * fetch them: it verifies them from the pin itself, like any served chain. */
export const chainLinksOf = (account: string) => read<string>(`chain:${account}`);
export const keepChainLinks = (account: string, links: string) => write(`chain:${account}`, links);
/** What this device opened of a clip's start (its events and first-frame picture), kept so a
 * list does not fetch and open it again; keyed by clip id. */
export interface KeptPreview {
  /** The clip's sealed metadata JSON as opened, or null when it had none. */
  metadata: string | null;
  thumb: Blob | null;
}

const PREVIEW = "preview:";

export const previewOf = (clip: string) => read<KeptPreview>(`${PREVIEW}${clip}`);
export const keepPreview = (clip: string, preview: KeptPreview) => write(`${PREVIEW}${clip}`, preview);

/** Forgets every kept preview (signing out: what the clips showed is the account's). */
export const forgetPreviews = () =>
  run<void>("readwrite", (s) => s.delete(IDBKeyRange.bound(PREVIEW, `${PREVIEW}\uffff`)));
