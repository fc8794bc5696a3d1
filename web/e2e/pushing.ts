// A push service stand-in for the tests and the doorbell bench: an HTTP server on loopback
// that records what the Porchlight server POSTs to a subscription's endpoint, RFC 8291
// decryption with Node's own crypto (what a browser does with a push message), and a
// subscription registered for the page's device as the app registers one.

import assert from "node:assert/strict";
import { createDecipheriv, type ECDH, hkdfSync } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import type { Page } from "playwright-core";

export interface Pushed {
  at: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A push service stand-in: records each POST and answers 201. */
export async function pushService(): Promise<{ origin: string; received: Pushed[]; close(): void }> {
  const received: Pushed[] = [];
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  return { origin: `http://127.0.0.1:${address.port}`, received, close: () => server.close() };
}

/** RFC 8291 decryption (aes128gcm, one record) with Node's crypto: what a browser does. */
export function decrypt(body: Buffer, ua: ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const sealed = body.subarray(21 + idlen);
  const shared = ua.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", shared, auth, info, 32));
  const cek = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16));
  const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12));
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const record = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  let end = record.length - 1;
  while (end >= 0 && record[end] === 0) end--;
  assert.equal(record[end], 2, "the last record's delimiter");
  return record.subarray(0, end).toString("utf8");
}

/** Registers a subscription for this browser's device as the app does (its cookie, device id
 * and CSRF token), with keys made here and an endpoint at the stand-in. */
export async function register(page: Page, endpoint: string, p256dh: string, auth: string): Promise<void> {
  const status = await page.evaluate(
    async ({ endpoint, p256dh, auth }) => {
      const id = await new Promise<string>((resolve, reject) => {
        const open = indexedDB.open("porchlight", 1);
        open.onsuccess = () => {
          const get = open.result.transaction("kv").objectStore("kv").get("device_id");
          get.onsuccess = () => resolve(get.result as string);
          get.onerror = () => reject(new Error("no device id"));
        };
        open.onerror = () => reject(new Error("no database"));
      });
      const headers = { "porchlight-device": id, "content-type": "application/json" };
      const { csrf_token } = (await (await fetch("/api/session/csrf", { headers })).json()) as { csrf_token: string };
      const answer = await fetch("/api/push/subscription", {
        method: "PUT",
        headers: { ...headers, "x-csrf-token": csrf_token },
        body: JSON.stringify({ endpoint, p256dh, auth }),
      });
      return answer.status;
    },
    { endpoint, p256dh, auth },
  );
  assert.equal(status, 204);
}
