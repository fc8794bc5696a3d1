// Access transparency in the browser: a member of staff asks for access, the owner approves
// with an authenticator code, staff reads under the grant, and the page shows who, when, why
// and under which grant, verified against the transparency log on the device; then a row of
// the log is edited in the database behind the server's back and the page raises its alarm.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { Authenticator, device, launch, missing, serve, snap, type Server } from "./harness";
import { run, signUp } from "./flows";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const CUSTOMER = "watched@example.com";
const STAFF = "agent@porchlight.example";
const STAFF_PASSWORD = "staff console passphrase 99";
const WHY = "Customer asked why the hub shows offline (ticket T-4412)";

describe("access transparency in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let console_: string;

  before(async () => {
    server = await serve();
    browser = await launch();
    console_ = mkdtempSync(join(tmpdir(), "porchlight-e2e-staff-"));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(console_, { recursive: true, force: true });
  });

  it("shows a staff access verified in the log, and flags the log once it is tampered with", async () => {
    const owner = await device(browser);
    const { auth } = await signUp(owner.page, server.url, CUSTOMER);

    const added = JSON.parse(
      await run(["staff", "add", "--data", server.data, "--json", "--email", STAFF, "--role", "support"], 30_000, `${STAFF_PASSWORD}\n`),
    ) as { totp_secret: string };
    const staffAuth = new Authenticator(added.totp_secret);
    const staff = ["--server", server.url, "--home", console_];
    await run([...staff, "staff", "login", "--email", STAFF, "--totp", await staffAuth.code()], 30_000, `${STAFF_PASSWORD}\n`);
    const request = JSON.parse(
      await run([...staff, "--json", "staff", "request", "--email", CUSTOMER, "--scope", "devices:read", "--justification", WHY, "--ticket", "T-4412", "--hours", "2"]),
    ) as { id: string };

    // The owner sees the request and approves it with a code (a wrong one first).
    await owner.page.getByRole("link", { name: "Access" }).click();
    const row = owner.page.locator(`li[data-request="${request.id}"]`);
    await row.getByText(WHY).waitFor();
    await snap(owner.page, "access-request");
    await row.getByLabel("Authenticator code to approve").fill(auth.wrong());
    await row.getByRole("button", { name: "Approve" }).click();
    await row.getByRole("alert").filter({ hasText: "That code is not right" }).waitFor();
    await row.getByLabel("Authenticator code to approve").fill(await auth.code());
    await row.getByRole("button", { name: "Approve" }).click();
    await owner.page.locator(`li[data-request="${request.id}"].state-approved`).waitFor();

    // Staff reads under the grant; the page shows it, verified on this device.
    await run([...staff, "staff", "access", request.id, "devices"]);
    await owner.page.reload();
    await owner.page.getByTestId("log-verified").waitFor({ timeout: 30_000 });
    const entry = owner.page.getByRole("list", { name: "Staff access" }).locator("li.entry");
    assert.equal(await entry.count(), 1);
    const text = (await entry.textContent()) ?? "";
    for (const part of [STAFF, "support", "devices:read", WHY, request.id, "verified in the log"]) {
      assert.ok(text.includes(part), `the entry shows ${part}: ${text}`);
    }
    await snap(owner.page, "access-verified");

    // Behind the server's back, the staff-access row is edited to name someone else.
    const index = await entry.getAttribute("data-index");
    execFileSync("python3", [
      "-c",
      "import sqlite3, sys\n" +
        "db = sqlite3.connect(sys.argv[1])\n" +
        "(body,) = db.execute('SELECT body FROM log_entries WHERE idx = ?', (int(sys.argv[2]),)).fetchone()\n" +
        "db.execute('UPDATE log_entries SET body = ? WHERE idx = ?', (bytes(body).replace(b'agent@', b'other@'), int(sys.argv[2])))\n" +
        "db.commit()\n",
      join(server.data, "porchlight.db"),
      index ?? "",
    ]);
    await owner.page.reload();
    const alarm = owner.page.getByTestId("log-alarm");
    await alarm.waitFor({ timeout: 30_000 });
    const alarmText = (await alarm.textContent()) ?? "";
    assert.match(alarmText, /Verification failed/);
    assert.match(alarmText, new RegExp(`entry_changed: entry ${index} \\(staff_access\\)`));
    assert.ok(await owner.page.locator(`li.entry.unverified[data-index="${index}"]`).count() === 1);
    await snap(owner.page, "access-tampered");
    assert.deepEqual(owner.errors, []);
  });
});
