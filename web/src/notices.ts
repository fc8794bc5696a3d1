// What an event notice says once the wasm has checked and opened it (or why it refused), and
// the names of event kinds: shared by the page (`events.ts`) and the service worker, which
// opens pushed notices the same way.

/** A notice the wasm opened: sealed to this device and signed by a hub of the chain. */
export interface OpenedNotice {
  opened: true;
  id: string;
  kind: string;
  camera: string;
  hub_name: string;
  hub_key: string;
  at_ms: number;
}

/** A notice the wasm refused, with none of its content. */
export interface RefusedNotice {
  opened: false;
  code: string;
  reason: string;
}

/** Event kinds as the app names them. */
export const KINDS: Record<string, string> = {
  doorbell: "Doorbell",
  motion: "Motion",
  manual: "Manual recording",
};
