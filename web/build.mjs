// Bundles the app (TypeScript + the wasm-bindgen glue) into crates/server/webapp/, which the
// server embeds. With --e2e, bundles the end-to-end tests for Node instead.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

if (process.argv.includes("--e2e")) {
  rmSync(join(here, "e2e-dist"), { recursive: true, force: true });
  const tests = readdirSync(join(here, "e2e")).filter((f) => f.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((f) => join(here, "e2e", f)),
    outdir: join(here, "e2e-dist"),
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
  for (const f of readdirSync(join(here, "static"))) cpSync(join(here, "static", f), join(out, f));
  cpSync(join(here, "pkg", "porchlight_wasm_bg.wasm"), join(out, "porchlight_wasm_bg.wasm"));
}
