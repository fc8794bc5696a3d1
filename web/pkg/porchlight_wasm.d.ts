/* tslint:disable */
/* eslint-disable */

/**
 * The account's device chain as this browser checked it.
 */
export class Chain {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * As [`Chain::append`], signed by the key recovery code's key.
     */
    appendByRecovery(recovery_code: string, op: string): string;
    /**
     * Signs the next link with this device's secret; `op` is
     * `{"add_device": {...}} | {"remove_device": {...}} | {"add_hub": {...}} | {"remove_hub": {...}}`.
     * Returns `{"links": [link]}` for `POST /api/chain`; the chain moves on only if it signs.
     */
    append(secret: Uint8Array | number[], op: string): string;
    /**
     * As [`Chain::rewrap`], opened with the key recovery code's key.
     */
    rewrapByRecovery(header: string, recovery_code: string, hub_key: string, camera: string): string;
    /**
     * A clip header (base64) re-wrapped to every device now in the chain and to the devices
     * of the household members given the clip's camera (`hubKey` hex and `camera`, from the
     * clip's detail), opened with this device's secret. Base64 out.
     */
    rewrap(header: string, secret: Uint8Array | number[], hub_key: string, camera: string): string;
    /**
     * Takes the household members' chains (`GET /api/household/members`, as JSON text),
     * keeping those that verify from the roots this chain names and are no older than the
     * positions `kept` (what the last call returned, or ""). Returns the positions to keep.
     */
    setMembers(members: string, kept: string): string;
    /**
     * Starts an account's chain: link 0 names this device and a fresh recovery key.
     */
    static start(secret: Uint8Array | number[], device_name: string): Genesis;
    /**
     * What to remember: `{"root", "seen_seq", "seen_hash"}`.
     */
    trust(): string;
    /**
     * Verifies `links` for a browser restored by the key recovery code: link 0 must name the
     * code's key, and becomes the pin.
     */
    static verifyByRecovery(links: string, recovery_code: string): Chain;
    /**
     * Verifies another account's `links` from the root (hex) it is known by: the owner of a
     * share, or the account a clip is shared with. Nothing is pinned.
     */
    static verifyFromRoot(links: string, root: string): Chain;
    /**
     * Verifies `links` (`{"links": [...]}` as the server serves them) from the pinned trust
     * (`{"root", "seen_seq", "seen_hash"}`), or pins link 0 when `trust` is absent.
     */
    static verify(links: string, trust?: string | null): Chain;
    /**
     * Who is in the chain: devices (with fingerprints), hubs, members, the recovery key.
     */
    view(): string;
    /**
     * Whether this verification pinned the root (first sight of the chain).
     */
    readonly pinnedNow: boolean;
}

/**
 * A recorded clip being opened as it downloads (see [`clip::ClipOpener`]).
 */
export class ClipOpener {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The download ended: the rest of the plaintext, after the whole-payload check.
     */
    finish(): Uint8Array;
    /**
     * Checks the clip's details (`GET /api/clips/{id}`, as JSON text) against the chain and
     * prepares to open its payload with this device's secret.
     */
    constructor(chain: Chain, detail: string, secret: Uint8Array | number[]);
    /**
     * The next downloaded bytes in; the plaintext now authenticated out.
     */
    push(ciphertext: Uint8Array | number[]): Uint8Array;
    /**
     * `{id, camera, start_ms, duration_ms, hub_name}` as the hub signed them.
     */
    readonly checked: string;
}

/**
 * A chain started by this browser: its first link, and the key recovery code to show once.
 */
export class Genesis {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The chain, for the app to keep using.
     */
    intoChain(): Chain;
    /**
     * `{"links": [...]}` for `POST /api/chain`.
     */
    readonly links: string;
    /**
     * The key recovery code (shown once; never stored by the app).
     */
    readonly recoveryCode: string;
}

/**
 * A camera another account gave this one: the owner's chain that gives it, and its hub's
 * key from that chain.
 */
export class GivenCamera {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The owner's chain, to open clips and check live answers under.
     */
    chain(): Chain;
    /**
     * The camera's hub key (hex), as the owner's chain names it.
     */
    readonly hubKey: string;
}

/**
 * The households this account belongs to, as this device verified them (see
 * [`household::Households`]).
 */
export class Households {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The listing check of `GET /api/clips` (see [`check_listing`]), each clip under the
     * chain that vouches for it: `own` for the account's own hubs, a household owner's for
     * a camera that owner gives this account.
     */
    checkListing(own: Chain, clips: string): string;
    /**
     * The camera a household gives this account under the name its hub signs.
     */
    givenCamera(camera: string): GivenCamera | undefined;
    /**
     * The owner's chain that gives this account camera `camera` of hub `hubKey` (hex): what
     * a clip of it is opened under. None when no household gives it.
     */
    ownerOfCamera(hub_key: string, camera: string): Chain | undefined;
    /**
     * The positions to keep for next time.
     */
    positions(): string;
    /**
     * Verifies `GET /api/household/owners` (JSON text) for the account of `own`, against
     * the positions kept from the last call (`kept`, or empty).
     */
    static verify(own: Chain, served: string, kept: string): Households;
    /**
     * `{"owners": [{"root", "cameras": [{"hub_key", "camera", "hub_name"}]}],
     * "refused": [{"root", "reason"}]}`.
     */
    view(): string;
}

/**
 * One opened live frame.
 */
export class LiveFrame {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The init segment (`ftyp` + `moov`), as opposed to a fragment.
     */
    readonly init: boolean;
    /**
     * A fragment that starts with a keyframe: decoding can resume here after a gap.
     */
    readonly keyframe: boolean;
    /**
     * The opened bytes (whole MP4 boxes).
     */
    readonly payload: Uint8Array;
    /**
     * Frames missing before this one (dropped by the relay for a slow viewer).
     */
    readonly skipped: number;
}

/**
 * Watching a camera live (DESIGN §5): this device's signed offer, the hub's answer checked
 * against the verified chain (so the server cannot answer in the hub's place), then every
 * frame authenticated under the forward-secret stream key before it is handed out.
 */
export class LiveView {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Checks the hub's answer (base64, as the server relays it).
     */
    answer(answer: string): void;
    /**
     * An offer for `camera` on the hub `hub_key` (hex), signed with this device's secret.
     */
    constructor(chain: Chain, hub_key: string, camera: string, secret: Uint8Array | number[], now_ms: number);
    /**
     * The offer's bytes: the first message on the viewer's WebSocket.
     */
    offer(): Uint8Array;
    /**
     * Opens one sealed frame; an altered, replayed or reordered frame is an error.
     */
    open(frame: Uint8Array | number[]): LiveFrame;
}

/**
 * A check of the account's transparency-log entries (see [`log::LogCheck`]).
 */
export class LogCheck {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Step 1: the kept pin (or none), the log key, the listing and the latest checkpoint.
     */
    static begin(pin: string | null | undefined, key: string, listing: string, checkpoint: string): LogCheck;
    /**
     * Step 2: the proofs; the report as JSON. A check finishes once.
     */
    finish(consistency: string | null | undefined, inclusion: string): string;
    /**
     * The proofs to fetch, as JSON.
     */
    needs(): string;
}

/**
 * The opened clip split into whole MP4 boxes for `MediaSource` (see [`mp4::Mp4Feed`]).
 */
export class Mp4Feed {
    free(): void;
    [Symbol.dispose](): void;
    finish(): void;
    constructor();
    push(bytes: Uint8Array | number[]): Uint8Array;
    /**
     * `avc1.PPCCLL`, once the init segment has passed.
     */
    readonly codec: string | undefined;
    /**
     * The events the hub sealed in the clip (JSON text), once that box has passed.
     */
    readonly metadata: string | undefined;
}

/**
 * A hub pairing in progress (see [`clip::Pairing`]).
 */
export class Pairing {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The hub's key if its proof shows it holds this code; an error otherwise.
     */
    checkHub(hub_key: string, proof: string): string;
    /**
     * A new single-use code for `server_url`, naming the account's root.
     */
    constructor(server_url: string, chain: Chain);
    /**
     * The code as an SVG QR drawing.
     */
    qrSvg(): string;
    readonly code: string;
    readonly verifier: string;
}

/**
 * A research item made on this device as the clip downloads (see [`research::ResearchItem`]).
 */
export class ResearchItem {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The download ended: the sealed item (one age file), once the payload is checked.
     */
    finish(): Uint8Array;
    /**
     * Checks the clip's details against the chain, as the player does, and starts sealing
     * to the research program's age `recipient`.
     */
    constructor(chain: Chain, detail: string, secret: Uint8Array | number[], recipient: string);
    /**
     * The next downloaded bytes of the sealed payload.
     */
    push(ciphertext: Uint8Array | number[]): void;
    /**
     * The clip's UTC day (`YYYY-MM-DD`).
     */
    readonly day: string;
    /**
     * The clip's withdrawal tag (hex).
     */
    readonly withdrawalTag: string;
}

/**
 * A clip opened and stripped of its metadata as it downloads (see [`sharing::StrippedClip`]).
 */
export class StrippedClip {
    free(): void;
    [Symbol.dispose](): void;
    finish(): Uint8Array;
    constructor(chain: Chain, detail: string, secret: Uint8Array | number[]);
    push(ciphertext: Uint8Array | number[]): Uint8Array;
}

/**
 * Which clips of a listing may be shown: `clips` is a JSON array of listing entries
 * (`GET /api/clips`'s `clips`, or `GET /api/shared`'s, with `chain` the owner's); the answer
 * is a JSON array in the same order, `{"id", "verified": true, "hub_name"}` or
 * `{"id", "verified": false, "refused": {"code", "reason"}}` (see [`listing::check_listing`]).
 * `ofOwner`: `chain` is another account's (a share's owner), and the reasons say so.
 */
export function checkListing(chain: Chain, clips: string, of_owner: boolean): string;

/**
 * Research (DESIGN §9): a consent receipt signed with this device's key for the verified
 * chain's account; base64 of its bytes for `POST /api/consents`.
 */
export function consentReceipt(chain: Chain, secret: Uint8Array | number[], action: string, scope_kind: string, scope_id: string, now_ms: number): string;

/**
 * A fresh device key pair; the secret half as bytes, for the app to wrap and store.
 */
export function deviceGenerate(): Uint8Array;

/**
 * `{sign_key, age_recipient, fingerprint}` of a device secret.
 */
export function devicePublic(secret: Uint8Array | number[]): string;

/**
 * The fingerprint of public keys as the server lists them (to compare with another screen).
 */
export function fingerprintOf(sign_key: string, age_recipient: string): string;

/**
 * Checks and opens one event notice (base64, from `GET /api/events/live`) with this
 * device's secret against the verified chain. Answers JSON: `{"opened": true, "id", "kind",
 * "camera", "hub_name", "hub_key", "at_ms"}`, or `{"opened": false, "code", "reason"}` for a
 * notice that fails the check (nothing of its content). Throws only for an unusable secret.
 */
export function openNotice(chain: Chain, notice: string, secret: Uint8Array | number[]): string;

/**
 * An SVG drawing of `text` as a QR code (no script, no external reference).
 */
export function qrSvg(text: string): string;

/**
 * `plaintext` sealed as one age file to the research recipient (a feed post's research copy).
 */
export function sealToResearch(plaintext: Uint8Array | number[], recipient: string): Uint8Array;

/**
 * A share's header: the clip's header (base64) opened with this device's secret and its file
 * key wrapped to the devices of `sharee`, the other account's verified chain. Base64 out.
 */
export function shareHeader(header: string, secret: Uint8Array | number[], sharee: Chain): string;

/**
 * The research withdrawal key (hex) of a clip, from its header (base64), with this device's
 * key: only the account's devices can compute it, and it is sent only to withdraw.
 */
export function withdrawalKey(header: string, secret: Uint8Array | number[]): string;

/**
 * The research withdrawal tag (hex) of a clip: what its research item is stored under.
 */
export function withdrawalTag(header: string, secret: Uint8Array | number[]): string;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_chain_free: (a: number, b: number) => void;
    readonly __wbg_clipopener_free: (a: number, b: number) => void;
    readonly __wbg_genesis_free: (a: number, b: number) => void;
    readonly __wbg_givencamera_free: (a: number, b: number) => void;
    readonly __wbg_households_free: (a: number, b: number) => void;
    readonly __wbg_liveframe_free: (a: number, b: number) => void;
    readonly __wbg_liveview_free: (a: number, b: number) => void;
    readonly __wbg_logcheck_free: (a: number, b: number) => void;
    readonly __wbg_mp4feed_free: (a: number, b: number) => void;
    readonly __wbg_pairing_free: (a: number, b: number) => void;
    readonly __wbg_researchitem_free: (a: number, b: number) => void;
    readonly __wbg_strippedclip_free: (a: number, b: number) => void;
    readonly chain_append: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly chain_appendByRecovery: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly chain_pinnedNow: (a: number) => number;
    readonly chain_rewrap: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number) => [number, number, number, number];
    readonly chain_rewrapByRecovery: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number) => [number, number, number, number];
    readonly chain_setMembers: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly chain_start: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly chain_trust: (a: number) => [number, number];
    readonly chain_verify: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly chain_verifyByRecovery: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly chain_verifyFromRoot: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly chain_view: (a: number) => [number, number];
    readonly checkListing: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly clipopener_checked: (a: number) => [number, number];
    readonly clipopener_finish: (a: number) => [number, number, number, number];
    readonly clipopener_new: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly clipopener_push: (a: number, b: number, c: number) => [number, number, number, number];
    readonly consentReceipt: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number) => [number, number, number, number];
    readonly deviceGenerate: () => [number, number];
    readonly devicePublic: (a: number, b: number) => [number, number, number, number];
    readonly fingerprintOf: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly genesis_intoChain: (a: number) => number;
    readonly genesis_links: (a: number) => [number, number];
    readonly genesis_recoveryCode: (a: number) => [number, number];
    readonly givencamera_chain: (a: number) => number;
    readonly givencamera_hubKey: (a: number) => [number, number];
    readonly households_checkListing: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly households_givenCamera: (a: number, b: number, c: number) => number;
    readonly households_ownerOfCamera: (a: number, b: number, c: number, d: number, e: number) => number;
    readonly households_positions: (a: number) => [number, number];
    readonly households_verify: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly households_view: (a: number) => [number, number];
    readonly liveframe_init: (a: number) => number;
    readonly liveframe_keyframe: (a: number) => number;
    readonly liveframe_payload: (a: number) => [number, number];
    readonly liveframe_skipped: (a: number) => number;
    readonly liveview_answer: (a: number, b: number, c: number) => [number, number];
    readonly liveview_new: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => [number, number, number];
    readonly liveview_offer: (a: number) => [number, number, number, number];
    readonly liveview_open: (a: number, b: number, c: number) => [number, number, number];
    readonly logcheck_begin: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => [number, number, number];
    readonly logcheck_finish: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly logcheck_needs: (a: number) => [number, number];
    readonly mp4feed_codec: (a: number) => [number, number];
    readonly mp4feed_finish: (a: number) => [number, number];
    readonly mp4feed_metadata: (a: number) => [number, number];
    readonly mp4feed_new: () => number;
    readonly mp4feed_push: (a: number, b: number, c: number) => [number, number, number, number];
    readonly openNotice: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly pairing_checkHub: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly pairing_code: (a: number) => [number, number];
    readonly pairing_new: (a: number, b: number, c: number) => [number, number, number];
    readonly pairing_qrSvg: (a: number) => [number, number, number, number];
    readonly pairing_verifier: (a: number) => [number, number];
    readonly qrSvg: (a: number, b: number) => [number, number, number, number];
    readonly researchitem_day: (a: number) => [number, number];
    readonly researchitem_finish: (a: number) => [number, number, number, number];
    readonly researchitem_new: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => [number, number, number];
    readonly researchitem_push: (a: number, b: number, c: number) => [number, number];
    readonly researchitem_withdrawalTag: (a: number) => [number, number];
    readonly sealToResearch: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly shareHeader: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly strippedclip_finish: (a: number) => [number, number, number, number];
    readonly strippedclip_new: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly strippedclip_push: (a: number, b: number, c: number) => [number, number, number, number];
    readonly withdrawalKey: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly withdrawalTag: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
