// The JSON the API speaks, as the server's OpenAPI document (/api/openapi.json) describes it.

export interface WebSession {
  session_id: string;
  account_id: string;
  expires_at_ms: number;
  csrf_token: string;
}

export interface SignupStarted {
  enrolment_token: string;
  otpauth_uri: string;
  totp_secret: string;
  recovery_codes: string[];
  expires_at_ms: number;
  /** A code was emailed to the address; confirming needs it as `email_code`. */
  email_code_sent?: boolean;
}

export interface Me {
  account_id: string;
  email: string;
  created_at_ms: number;
  session_id: string;
  /** Whether the server has a research program: without one, no consent is offered. */
  research_program: boolean;
  /** Whether the address was proven by a code or link sent to it. */
  email_verified?: boolean;
  server_sends_email?: boolean;
}

/** A request taken in (a reset link, a confirmation link); what became of it arrives by email. */
export interface MailAccepted {
  message: string;
}

export interface PasswordResetDone {
  revoked_sessions: number;
}

/** The account's address after a confirmation or an undo. */
export interface EmailChanged {
  email: string;
  revoked_sessions: number;
}

export type DeviceState = "pending" | "active" | "removed";

export interface DeviceInfo {
  id: string;
  name: string;
  sign_key: string;
  age_recipient: string;
  state: DeviceState;
  current: boolean;
  created_at_ms: number;
  /** When a session of the device was last used; absent once it has none. */
  last_used_at_ms?: number | null;
}

export interface SessionInfo {
  id: string;
  device_name: string;
  source_addr: string;
  created_at_ms: number;
  last_seen_at_ms: number;
  expires_at_ms: number;
  idle_expires_at_ms: number;
  current: boolean;
}

export interface ActivityEntry {
  id: string;
  at_ms: number;
  kind: string;
  source_addr: string;
  device_name: string;
  detail: string;
}

export interface Links {
  links: string[];
}

export interface ChainView {
  root: string;
  head: string;
  length: number;
  devices: { name: string; sign_key: string; age_recipient: string; fingerprint: string }[];
  hubs: { name: string; key: string }[];
  members: { root: string; label: string; cameras: { hub_key: string; camera: string }[] }[];
  recovery_fingerprint: string;
}

export interface CameraInfo {
  id: string;
  /** What its hub signs in every clip statement: clips are checked against this. */
  name: string;
  /** The name its owner gave it, shown in place of `name`; never checked. */
  label: string | null;
  hub_id: string;
  retention_days: number;
  owned: boolean;
}

export interface ClipSummary {
  id: string;
  camera_id: string;
  camera_name: string;
  start_ms: number;
  duration_ms: number;
  payload_size: number;
  payload_sha256: string;
  statement: string;
  signature: string;
  hub_key: string;
}

export interface ClipDetail extends ClipSummary {
  header: string;
  header_sha256: string;
}

export interface HubInfo {
  id: string;
  name: string;
  hub_key: string;
  state: "pending" | "active" | "removed";
  created_at_ms: number;
  /** Whether the hub holds its control connection to the server now. */
  online: boolean;
}

export interface PairingStatus {
  id: string;
  state: "waiting" | "redeemed" | "expired";
  name: string;
  expires_at_ms: number;
  hub: { hub_id: string; hub_key: string; proof: string } | null;
}
