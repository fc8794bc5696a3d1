// A planted clip on the timeline (issue 15): a file sealed with Go `age -r` to the account's
// real device keys is slipped into the server's store behind its back — a row copied from a
// real clip, its payload in the blob folder, its statement signed by a key the server added as
// a "hub" of the account but that no link of the device chain names. The timeline, the day's
// list, the 14-day chart and the thumbnails leave it out, and a warning says how many clips
// were left out and why.

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { device, launch, missing, root, serve, snap, type Server } from "./harness";
import { signUp } from "./flows";
import { ageRecipientOf, cameraWithClips, home, reload, type Home } from "./home";

const AGE = "/usr/bin/age";
const skip = missing() ?? (existsSync(AGE) ? null : `${AGE} is not installed`);
if (skip) console.log(`web e2e skipped: ${skip}`);

const PLANTED = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const IMPOSTOR_HUB = "feedfacefeedfacefeedfacefeedface";

function sqlite(db: string, script: string, ...args: string[]): string {
  return execFileSync("python3", ["-c", `import sqlite3, sys, json\ndb = sqlite3.connect(sys.argv[1])\n${script}`, db, ...args]).toString();
}

/** The statement a hub signs (docs/CRYPTO.md): version, camera, start, duration, hashes. */
function statement(camera: string, startMs: number, durationMs: number, payloadSha256: Buffer): Buffer {
  const head = Buffer.alloc(1 + 1);
  head[0] = 1;
  head[1] = Buffer.byteLength(camera);
  const times = Buffer.alloc(16);
  times.writeBigInt64BE(BigInt(startMs), 0);
  times.writeBigUInt64BE(BigInt(durationMs), 8);
  return Buffer.concat([head, Buffer.from(camera), times, payloadSha256, Buffer.alloc(32)]);
}

describe("a planted clip in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let hub: Home | undefined;
  let work: string;

  before(async () => {
    server = await serve();
    browser = await launch();
    work = mkdtempSync(join(tmpdir(), "porchlight-e2e-planted-"));
  });
  after(async () => {
    hub?.stop();
    await browser?.close();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("leaves a clip no hub of the chain signed off the timeline and says why", async () => {
    const owner = await device(browser);
    await signUp(owner.page, server.url, "planted@example.com");
    hub = await home(owner.page, "porch");
    await hub.record(1);
    await cameraWithClips(owner.page, "porch");

    // What the attacker reads from the database: the real clip, and the account's device keys.
    const db = join(server.data, "porchlight.db");
    const found = JSON.parse(
      sqlite(
        db,
        "c = db.execute('SELECT id, account_id, camera_id, start_ms, duration_ms FROM clips').fetchone()\n" +
          "keys = [bytes(k).hex() for (k,) in db.execute(\"SELECT age_key FROM devices WHERE account_id = ? AND state = 'active'\", (c[1],))]\n" +
          "print(json.dumps({'id': c[0], 'account': c[1], 'camera': c[2], 'start_ms': c[3], 'duration_ms': c[4], 'keys': keys}))\n",
      ),
    ) as { id: string; account: string; camera: string; start_ms: number; duration_ms: number; keys: string[] };
    assert.ok(found.keys.length >= 1);

    // Sealed with Go age to those keys: the account's devices could open it.
    const sealed = join(work, "planted.age");
    execFileSync(AGE, [
      ...found.keys.flatMap((k) => ["-r", ageRecipientOf(Buffer.from(k, "hex"))]),
      "-o",
      sealed,
      join(root, "crates", "porchlight", "tests", "fixtures", "sample.mp4"),
    ]);
    const file = readFileSync(sealed);
    const cut = file.indexOf("\n--- ") + 1;
    const headerEnd = file.indexOf("\n", cut) + 1;
    const header = file.subarray(0, headerEnd);
    const payload = file.subarray(headerEnd);
    const payloadSha256 = createHash("sha256").update(payload).digest();

    // Signed by a key the server registers as a hub of the account; no chain link names it.
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const hubKey = Buffer.from((publicKey.export({ format: "jwk" }) as { x: string }).x, "base64url");
    const startMs = found.start_ms + 1_000;
    const bytes = statement("porch", startMs, found.duration_ms, payloadSha256);
    const signature = sign(null, Buffer.concat([Buffer.from("porchlight clip-statement v1\0"), bytes]), privateKey);

    const fan = createHash("sha256").update(PLANTED).digest();
    const blob = join(server.data, "blobs", fan.subarray(0, 1).toString("hex"), fan.subarray(1, 2).toString("hex"), PLANTED);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, payload);
    sqlite(
      db,
      "a = sys.argv[2:]\n" +
        "db.execute(\"INSERT INTO hubs (id, account_id, hub_key, name, state, created_at_ms) VALUES (?, ?, ?, 'Porch hub', 'active', 0)\", (a[0], a[1], bytes.fromhex(a[2])))\n" +
        "db.execute('INSERT INTO clips (id, account_id, camera_id, hub_id, upload_key, start_ms, duration_ms, payload_size, payload_sha256, header, statement, signature, created_at_ms) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)', (a[3], a[1], a[4], a[0], 'planted-upload', int(a[5]), int(a[6]), int(a[7]), bytes.fromhex(a[8]), bytes.fromhex(a[9]), bytes.fromhex(a[10]), bytes.fromhex(a[11])))\n" +
        "db.commit()\n",
      IMPOSTOR_HUB,
      found.account,
      hubKey.toString("hex"),
      PLANTED,
      found.camera,
      String(startMs),
      String(found.duration_ms),
      String(payload.length),
      payloadSha256.toString("hex"),
      header.toString("hex"),
      bytes.toString("hex"),
      signature.toString("hex"),
    );

    // The server now lists two clips; the timeline shows one, and says why the other is not.
    await reload(owner.page);
    const warning = owner.page.getByTestId("unverified-clips");
    await warning.waitFor({ timeout: 15_000 });
    const text = (await warning.textContent()) ?? "";
    assert.match(text, /1 clip could not be checked: it is not signed by a hub of your device chain — it was not shown\./);
    assert.equal(await warning.getAttribute("data-count"), "1");
    const rows = owner.page.getByRole("list", { name: "Clips" }).locator("a");
    assert.equal(await rows.count(), 1, "only the real clip is a row");
    assert.equal(await rows.first().getAttribute("href"), `/clips/${found.id}`);
    assert.equal(await owner.page.getByRole("button", { name: /: 1 clip$/ }).count(), 1, "the chart counts the real clip only");
    assert.equal(await owner.page.locator(`img[data-clip="${PLANTED}"]`).count(), 0, "no thumbnail is made of it");
    await owner.page.locator('img.thumb[alt="First frame"]').first().waitFor({ timeout: 20_000 });
    await snap(owner.page, "timeline-unverified");

    // Opened directly, the player refuses it with the same reason.
    await owner.page.goto(`${server.url}/clips/${PLANTED}`);
    const refused = owner.page.locator(".notice.danger", { hasText: "This clip did not open" });
    await refused.waitFor({ timeout: 15_000 });
    assert.match((await refused.textContent()) ?? "", /failed verification: it is not signed by a hub of your device chain/);
    assert.deepEqual(owner.errors, []);
  });
});
