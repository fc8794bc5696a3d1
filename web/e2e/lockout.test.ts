// Sign-in states a person must be able to read: locked out (repeated wrong sign-ins for one
// address pause sign-in for it; its own server, so the lock touches no other test) and offline.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { device, launch, missing, serve, snap, type Server } from "./harness";

const skip = missing();
if (skip) console.log(`web e2e skipped: ${skip}`);

describe("locked out and offline in the browser", { skip: skip ?? false }, () => {
  let server: Server;
  let browser: Browser;

  before(async () => {
    server = await serve();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("shows that sign-in is paused after repeated failures", async () => {
    const { page, errors } = await device(browser);
    await page.goto(`${server.url}/signin`);
    const alert = page.getByRole("alert");
    let paused = false;
    for (let attempt = 0; attempt < 8 && !paused; attempt++) {
      await page.getByLabel("Email").fill("someone@example.com");
      await page.getByLabel("Password").fill(`not the password ${attempt}`);
      await page.getByLabel("Authenticator code").fill("123456");
      await page.getByRole("button", { name: "Sign in" }).click();
      await alert.filter({ hasText: /./ }).waitFor();
      const text = (await alert.textContent()) ?? "";
      paused = text.startsWith("Sign-in is paused");
      if (!paused) assert.match(text, /The email, password or code is not right/);
      await page.getByRole("button", { name: "Sign in" }).and(page.locator(":enabled")).waitFor();
    }
    assert.ok(paused, "sign-in pauses within 8 attempts");
    await snap(page, "signin-locked");
    assert.deepEqual(errors.filter((e) => !e.includes("status of 429")), []);
  });

  it("says so when the connection is gone, and carries on when it is back", async () => {
    const { context, page, errors } = await device(browser);
    await page.goto(`${server.url}/signin`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await context.setOffline(true);
    await page.getByText("You are offline.").waitFor();
    await page.getByLabel("Email").fill("someone@example.com");
    await page.getByLabel("Password").fill("whatever it is");
    await page.getByLabel("Authenticator code").fill("123456");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Porchlight cannot be reached" }).waitFor();
    await snap(page, "offline");
    await context.setOffline(false);
    await page.getByText("You are offline.").waitFor({ state: "hidden" });

    // Installable: a manifest, and a service worker that keeps the app's shell, so that a
    // reload with no network opens Porchlight saying it is offline, not the browser's error.
    const manifest = await page.evaluate(async () => (await fetch("/manifest.webmanifest")).json());
    assert.equal(manifest.name, "Porchlight");
    assert.equal(manifest.start_url, "/cameras");
    const worker = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL ?? "");
    assert.ok(worker.endsWith("/sw.js"), worker);
    await context.setOffline(true);
    await page.reload();
    await page.getByText("You are offline.").waitFor();
    await page.getByRole("heading", { name: "You are offline" }).waitFor();
    await snap(page, "offline-start");
    await context.setOffline(false);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.deepEqual(errors.filter((e) => !e.includes("ERR_INTERNET_DISCONNECTED") && !e.includes("Failed to fetch")), []);
  });
});
