// Bundles the app (TypeScript + the wasm-bindgen glue) into crates/server/webapp/, which the
// server embeds. With --e2e (or --bench), bundles the end-to-end tests (or the benchmarks)
// for Node instead.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

const node = process.argv.includes("--e2e") ? ["e2e", ".test.ts"] : process.argv.includes("--bench") ? ["bench", ".ts"] : null;
if (node) {
  const [dir, suffix] = node;
  rmSync(join(here, `${dir}-dist`), { recursive: true, force: true });
  const entries = readdirSync(join(here, dir)).filter((f) => f.endsWith(suffix));
  await build({
    entryPoints: entries.map((f) => join(here, dir, f)),
    outdir: join(here, `${dir}-dist`),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
} else {
  const out = join(here, "..", "crates", "server", "webapp");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(here, "src", "main.ts")],
    outfile: join(out, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  // The service worker: its own file at the root, so that its scope is the whole app.
  await build({
    entryPoints: [join(here, "worker", "sw.ts")],
    outfile: join(out, "sw.js"),
    bundle: true,
    format: "iife",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    // The wasm-bindgen glue finds its .wasm by import.meta.url only when not told where it
    // is; the worker always tells it (/porchlight_wasm_bg.wasm).
    logOverride: { "empty-import-meta": "silent" },
  });
  for (const f of readdirSync(join(here, "static"))) cpSync(join(here, "static", f), join(out, f));
  cpSync(join(here, "pkg", "porchlight_wasm_bg.wasm"), join(out, "porchlight_wasm_bg.wasm"));
}
