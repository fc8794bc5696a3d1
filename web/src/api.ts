// The one way the app talks to the server: same-origin fetch with the session cookie, this
// browser's device id on every request, and the CSRF token on every write. Errors arrive in
// the API's one shape and become an ApiError with a sentence fit to show.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From `Retry-After`, when the server said how long to wait (a `429`). */
    readonly retryAfterSecs: number | null = null,
  ) {
    super(message);
  }
}

let deviceId = "";
let csrfToken: string | null = null;

export function useDevice(id: string): void {
  deviceId = id;
}

export function useCsrf(token: string | null): void {
  csrfToken = token;
}

const SAFE = new Set(["GET", "HEAD"]);

/** Sends a request with the device id (and, for writes, the CSRF token); a failure to reach
 * the server or an error answer becomes an ApiError. */
async function send(
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<Response> {
  const headers: Record<string, string> = { "porchlight-device": deviceId, ...extra };
  const raw = body instanceof Uint8Array;
  if (body !== undefined) headers["content-type"] ??= raw ? "application/octet-stream" : "application/json";
  if (!SAFE.has(method) && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, "offline", "Porchlight cannot be reached. Check your connection, then try again.");
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** A request answered with JSON (or nothing). */
export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<T> {
  const res = await send(method, path, body, extra);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code && body.error.message) {
      const wait = Number(res.headers.get("retry-after") ?? "");
      return new ApiError(res.status, body.error.code, body.error.message, Number.isFinite(wait) && wait > 0 ? wait : null);
    }
  } catch {
    // Not the API's error shape (a proxy's page, say): fall through to a plain sentence.
  }
  return new ApiError(res.status, "unexpected", `The server answered ${res.status}.`);
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}, extra?: Record<string, string>) =>
  call<T>("POST", path, body, extra);
export const put = <T>(path: string, body: unknown) => call<T>("PUT", path, body);
export const patch = <T>(path: string, body: unknown) => call<T>("PATCH", path, body);
export const del = <T>(path: string) => call<T>("DELETE", path);

/** A GET whose body is read as a stream (clip payloads), with a `Range` when given. */
export const stream = (path: string, range?: string): Promise<Response> =>
  send("GET", path, undefined, range ? { range } : {});

/** A request answered with text (a signed checkpoint note). */
export async function text(method: string, path: string): Promise<string> {
  return (await send(method, path)).text();
}
