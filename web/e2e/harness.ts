// What every end-to-end test needs: a real `porchlight serve` on a free port with its own
// data folder, Debian's Chromium driven by playwright-core, TOTP codes computed here as an
// authenticator app would, and screenshots of each screen at desktop and phone sizes.

import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "..", "..");
export const screenshots = resolve(root, "web", "screenshots");

export const CHROMIUM = process.env.PORCHLIGHT_CHROMIUM ?? "/usr/bin/chromium";
export const BINARY = process.env.PORCHLIGHT_BIN ?? join(root, "target", "debug", "porchlight");

export function missing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM}`;
  if (!existsSync(BINARY)) return `no porchlight binary at ${BINARY} (cargo build -p porchlight)`;
  return null;
}

export interface Server {
  url: string;
  data: string;
  child: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

/** `porchlight serve` on 127.0.0.1, resolved once it logs where it listens: on a free port
 * it picks, or on `port` when the test must know the address first (the server's
 * `public_url`, which emailed links name). */
export async function serve(env: Record<string, string> = {}, port = 0): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), "porchlight-e2e-"));
  const child = spawn(BINARY, ["serve", "--listen", `127.0.0.1:${port}`, "--data", data], {
    env: { ...process.env, PORCHLIGHT_LOG_FORMAT: "json", PORCHLIGHT_LOG_FILTER: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${log.join("\n")}`)), 30_000);
    child.on("exit", (code) => fail(new Error(`server exited ${code}:\n${log.join("\n")}`)));
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on("line", (line) => {
        log.push(line);
        try {
          const entry = JSON.parse(line) as { message?: string; addr?: string };
          if (entry.message === "porchlight serving" && entry.addr) {
            clearTimeout(timer);
            ok(`http://${entry.addr}`);
          }
        } catch {
          // not a JSON line
        }
      });
    }
  });
  return {
    url,
    data,
    child,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export async function launch(extra: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extra,
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A fresh browser profile (its own IndexedDB and cookies): another device. Console errors
 * and CSP violations are collected so a test can insist there were none. */
export async function device(browser: Browser, viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (process.env.E2E_DEBUG) console.log(`[browser ${m.type()}] ${m.text()}`);
    // A refused API call the app handles (401 before sign-in, 403 for a pending device) is
    // logged by the browser itself; anything else, CSP violations included, is an error.
    if (m.type() === "error" && !/^Failed to load resource: the server responded with a status of 40[13]/.test(m.text())) {
      errors.push(m.text());
    }
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return { context, page, errors };
}

/** What a screen reader or a keyboard user would miss on the page: inputs without a label,
 * buttons and links without a name, images without alt text, focusable things hidden from
 * assistive technology, more than one main heading. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const named = (el: Element) =>
      (el.getAttribute("aria-label") ?? "").trim() !== "" ||
      (el.getAttribute("aria-labelledby") ?? "").trim() !== "" ||
      (el.textContent ?? "").trim() !== "";
    for (const input of document.querySelectorAll("input, select, textarea")) {
      if (input.getAttribute("type") === "hidden" || (input as HTMLElement).closest("[hidden]")) continue;
      const id = input.getAttribute("id");
      const labelled = (id && document.querySelector(`label[for="${id}"]`)) || input.closest("label") || named(input);
      if (!labelled) problems.push(`an input without a label: ${input.outerHTML.slice(0, 80)}`);
    }
    for (const el of document.querySelectorAll("button, a[href]")) {
      if (!named(el)) problems.push(`a ${el.tagName.toLowerCase()} without a name: ${el.outerHTML.slice(0, 80)}`);
    }
    for (const img of document.querySelectorAll("img")) {
      if (!img.hasAttribute("alt")) problems.push(`an image without alt text: ${img.outerHTML.slice(0, 80)}`);
    }
    for (const el of document.querySelectorAll("[aria-hidden='true'] a, [aria-hidden='true'] button, [aria-hidden='true'] input")) {
      problems.push(`focusable content hidden from assistive technology: ${el.outerHTML.slice(0, 80)}`);
    }
    if (document.querySelectorAll("main h1").length !== 1) problems.push("the page does not have exactly one main heading");
    if (!document.documentElement.lang) problems.push("the page has no language");
    return problems;
  });
}

/** What axe-core (WCAG 2.1 A and AA rules) finds serious or critical on the page as it is
 * drawn now, one line per rule and element. */
export async function axeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.impact} ${v.id} (${v.help}): ${n.target.join(" ")} — ${n.failureSummary ?? ""}`));
}

/** Saves the page at desktop and phone sizes as web/screenshots/<name>-{desktop,phone}.png,
 * after checking it for the accessibility problems above and, at each size, with axe-core:
 * a serious or critical violation fails the test that drew the screen. */
export async function snap(page: Page, name: string): Promise<void> {
  const problems = await accessibilityProblems(page);
  if (problems.length > 0) throw new Error(`accessibility problems on the ${name} screen:\n${problems.join("\n")}`);
  mkdirSync(screenshots, { recursive: true });
  const before = page.viewportSize() ?? DESKTOP;
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(size);
    const axe = await axeViolations(page);
    if (axe.length > 0) throw new Error(`axe-core on the ${name} screen (${label}):\n${axe.join("\n")}`);
    await page.screenshot({ path: join(screenshots, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(before);
}

function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 (SHA-1, 6 digits, 30 s), as an authenticator app computes it. */
export function totpAt(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

/** An authenticator: each code it gives is for a step not used before (the server takes
 * each step once and accepts one step either side of now), waiting when it must. */
export class Authenticator {
  /** `last`: the last step something else already used (the demo confirms its sign-up
   * with the step before the current one), so no code for it or earlier is given. */
  constructor(
    readonly secret: string,
    private last = -Infinity,
  ) {}

  async code(): Promise<string> {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(now - 1, this.last + 1);
      if (step <= now + 1) {
        this.last = step;
        return totpAt(this.secret, step);
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** A code that is certainly wrong now. */
  wrong(): string {
    const now = Math.floor(Date.now() / 30_000);
    const right = new Set([now - 1, now, now + 1].map((s) => totpAt(this.secret, s)));
    for (let n = 0; ; n++) {
      const code = n.toString().padStart(6, "0");
      if (!right.has(code)) return code;
    }
  }
}
