// Sign-up with TOTP, a wrong code, this browser as the first device, a second browser that
// is pending (and refused clips) until the first approves it after comparing fingerprints, a
// third restored by the key recovery code, and sign-out everywhere.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { Authenticator, device, launch, missing, serve, snap, type Server } from "./harness";
import { PASSWORD, signIn } from "./flows";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

const EMAIL = "owner@example.com";

/** The device id this page's browser sends, read from its own storage. */
async function clipsAnswer(page: Page): Promise<{ status: number; code: string }> {
  return page.evaluate(async () => {
    const id = await new Promise<string>((ok, fail) => {
      const open = indexedDB.open("porchlight", 1);
      open.onsuccess = () => {
        const get = open.result.transaction("kv").objectStore("kv").get("device_id");
        get.onsuccess = () => ok(get.result as string);
        get.onerror = () => fail(new Error("no device id"));
      };
      open.onerror = () => fail(new Error("no database"));
    });
    const res = await fetch("/api/clips", { headers: { "porchlight-device": id } });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: body.error?.code ?? "" };
  });
}

describe("accounts and devices in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;
  let auth: Authenticator;
  let recoveryCode = "";
  let signinCodes: string[] = [];

  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("signs up with an authenticator, refusing a wrong code, and starts the device chain", async () => {
    const { page, errors } = await device(browser);
    await page.goto(server.url);
    await page.waitForURL(/\/signin$/);
    await snap(page, "signin");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await snap(page, "signup");
    await page.getByRole("button", { name: "Continue" }).click();

    await page.getByRole("img", { name: "QR code for your authenticator app" }).waitFor();
    const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
    assert.match(secret, /^[A-Z2-7]+=*$/);
    auth = new Authenticator(secret);
    assert.equal(await page.getByTestId("signin-recovery-codes").locator("li").count(), 10);
    signinCodes = await page.getByTestId("signin-recovery-codes").locator("li").allTextContents();
    await snap(page, "signup-authenticator");

    await page.getByLabel("Authenticator code").fill(auth.wrong());
    await page.getByLabel("I have kept my recovery codes").check();
    await page.getByRole("button", { name: "Confirm" }).click();
    await assert.doesNotReject(page.getByRole("alert").filter({ hasText: "That code is not right" }).waitFor());
    await snap(page, "signup-wrong-code");

    await page.getByLabel("Authenticator code").fill(await auth.code());
    await page.getByRole("button", { name: "Confirm" }).click();
    const code = page.getByTestId("key-recovery-code");
    await code.waitFor();
    recoveryCode = (await code.textContent()) ?? "";
    assert.ok(recoveryCode.length > 20, "a key recovery code is shown");
    await snap(page, "key-recovery-code");
    await page.getByLabel("I have written down my key recovery code").check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(/\/cameras$/);
    await page.getByText("No cameras yet").waitFor();
    await snap(page, "cameras-empty");
    assert.deepEqual(errors, [], "no console errors or CSP violations");
    await page.context().close();
  });

  it("shows a wrong sign-in code as an error and signs in with the right one", async () => {
    const { page, errors } = await device(browser);
    await page.goto(`${server.url}/signin`);
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByLabel("Authenticator code").fill(auth.wrong());
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "The email, password or code is not right" }).waitFor();
    await snap(page, "signin-wrong-code");
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it("keeps a new browser pending and refused clips until a device approves it", async () => {
    // The first browser again (a fresh profile that signs in is a new device; so we approve
    // from a browser that restores itself with the recovery code first).
    const first = await device(browser);
    await signIn(first.page, server.url, EMAIL, auth, "Laptop");
    await first.page.waitForURL(/\/device$/);
    await first.page.getByLabel("Key recovery code", { exact: true }).fill(recoveryCode);
    await first.page.getByRole("button", { name: "Restore this browser" }).click();
    await first.page.waitForURL(/\/cameras$/);
    await first.page.getByText(/This browser is restored/).waitFor();

    const second = await device(browser);
    await signIn(second.page, server.url, EMAIL, auth, "Phone");
    await second.page.waitForURL(/\/device$/);
    const fingerprint = (await second.page.getByTestId("fingerprint").textContent()) ?? "";
    assert.match(fingerprint, /^[0-9a-f]{4}(-[0-9a-f]{4}){4}$/);
    // Nothing works yet for a pending browser, so no navigation is offered.
    assert.equal(await second.page.locator("#nav a").count(), 0);
    await snap(second.page, "device-pending");
    assert.deepEqual(await clipsAnswer(second.page), { status: 403, code: "device_not_approved" });

    await first.page.getByRole("link", { name: "Devices" }).click();
    const row = first.page.locator("li.state-pending", { hasText: "Phone" });
    await row.waitFor();
    assert.equal(await row.locator("code.fingerprint").textContent(), fingerprint, "both screens show one fingerprint");
    await snap(first.page, "devices");
    // Approving without ticking the fingerprint check is refused.
    await row.getByRole("button", { name: "Approve Phone" }).click();
    await first.page.getByText("First check that the fingerprint matches").waitFor();
    await row.getByLabel("The fingerprint matches the new device").check();
    await row.getByRole("button", { name: "Approve Phone" }).click();
    await first.page.getByText(/Approved "Phone"/).waitFor();

    await second.page.waitForURL(/\/cameras$/, { timeout: 15_000 });
    assert.equal((await clipsAnswer(second.page)).status, 200);
    assert.deepEqual(first.errors, []);

    await first.page.getByRole("link", { name: "Sessions" }).click();
    await first.page.getByRole("button", { name: "Sign out everywhere" }).waitFor();
    await snap(first.page, "sessions");
    await first.page.getByRole("link", { name: "Activity" }).click();
    await first.page.getByText("Account created", { exact: true }).waitFor();
    await snap(first.page, "activity");

    // On a phone the bar holds the everyday screens and Settings, on one line; the rest is
    // under Settings.
    await first.page.setViewportSize({ width: 390, height: 844 });
    const bar = await first.page.locator("#nav").boundingBox();
    assert.ok(bar && bar.height < 40, `the phone navigation is one line (${bar?.height} px)`);
    await first.page.getByRole("link", { name: "Settings" }).click();
    await first.page.waitForURL(/\/settings$/);
    for (const name of ["Hubs", "Household", "Devices", "Sessions", "Activity", "Access log", "Research"]) {
      await first.page.getByRole("list", { name: "Settings and privacy" }).getByRole("link", { name, exact: true }).waitFor();
    }
    await first.page.setViewportSize({ width: 1280, height: 800 });
    await snap(first.page, "settings");

    // Signing out everywhere ends the other browser's session at once.
    await first.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
    await first.page.getByRole("button", { name: "Sign out everywhere" }).click();
    await first.page.waitForURL(/\/signed-out$/);
    await first.page.getByRole("heading", { level: 1 }).waitFor();
    await snap(first.page, "signed-out");
    await second.page.getByRole("link", { name: "Devices" }).click();
    await second.page.waitForURL(/\/signin$/);

    // Back in with a sign-in recovery code: its field appears only when asked for (no label
    // without a field), and a browser that is a device already is not asked its name again.
    await first.page.goto(`${server.url}/signin`);
    await first.page.getByLabel("Email").fill(EMAIL);
    await first.page.getByLabel("Password").fill(PASSWORD);
    assert.equal(await first.page.getByText("Sign-in recovery code", { exact: true }).isVisible(), false);
    await first.page.getByRole("button", { name: "Use a sign-in recovery code instead" }).click();
    await first.page.getByLabel("Sign-in recovery code").fill(signinCodes[0] ?? "");
    assert.equal(await first.page.getByLabel("Authenticator code").isVisible(), false);
    assert.equal(await first.page.getByLabel("Name for this browser").isVisible(), false);
    await snap(first.page, "signin-recovery-code");
    await first.page.getByRole("button", { name: "Sign in" }).click();
    await first.page.waitForURL(/\/cameras$/, { timeout: 15_000 });
    await first.context.close();
    await second.context.close();
  });
});
