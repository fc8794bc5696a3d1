// Steps several tests take through the real UI.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import type { Page } from "playwright-core";
import { Authenticator, BINARY, serve, type Server } from "./harness";
import { signupCodeIn, type Mailbox } from "./mailbox";

export const PASSWORD = "correct horse battery staple 42";

/** A server that sends its email to `mailbox`, with its own address as its public URL, so
 * the links it mails open it. */
export async function serveWithMail(mailbox: Mailbox, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  return serve({ ...mailbox.env(), PORCHLIGHT_PUBLIC_URL: `http://127.0.0.1:${port}`, ...env }, port);
}

/** Signs up through the screens; the page ends on the cameras screen as the first device. A
 * server that sends email asks for the code it mailed, read here from `mailbox`. */
export async function signUp(page: Page, url: string, email: string, mailbox?: Mailbox): Promise<{ auth: Authenticator; recoveryCode: string }> {
  await page.goto(`${url}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Continue" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
  const auth = new Authenticator(secret);
  await page.getByLabel("Authenticator code").fill(await auth.code());
  const emailed = page.getByLabel(`The code we emailed to ${email}`);
  if (await emailed.isVisible()) {
    assert.ok(mailbox, "the server emailed a sign-up code: pass the mailbox it sends to");
    await emailed.fill(signupCodeIn(await mailbox.next(email, "Porchlight: Your sign-up code")));
  }
  await page.getByLabel("I have kept my recovery codes").check();
  await page.getByRole("button", { name: "Confirm" }).click();
  const recoveryCode = (await page.getByTestId("key-recovery-code").textContent()) ?? "";
  await page.getByLabel("I have written down my key recovery code").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(/\/cameras$/);
  return { auth, recoveryCode };
}

export async function signIn(page: Page, url: string, email: string, auth: Authenticator, name: string): Promise<void> {
  await page.goto(`${url}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Authenticator code").fill(await auth.code());
  // Asked only of a browser that is not a device yet (decided before the form is drawn).
  const nameField = page.getByLabel("Name for this browser");
  if (await nameField.isVisible()) await nameField.fill(name);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Runs the porchlight binary to completion; rejects with its output if it fails. */
export function run(args: string[], timeoutMs = 90_000, stdin = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { stdio: ["pipe", "pipe", "pipe"] });
    // A command that exits without reading its input (a refusal) closes the pipe under the
    // write: that EPIPE is not the test's failure, the exit code below says what happened.
    child.stdin.on("error", () => {});
    child.stdin.end(stdin);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // "close", not "exit": the output is read to its end before it is judged.
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`porchlight ${args.join(" ")} exited ${code}:\n${out}\n${err}`));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `check` returns a value, polling. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, withinMs = 60_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
