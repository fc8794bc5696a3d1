#!/usr/bin/env bash
# Builds the browser app into crates/server/webapp/ (committed, embedded in the server), and
# records a digest of every input (and output) in web/BUNDLE.sha256.
#
#   scripts/build-web.sh          build: the crypto crate to WebAssembly (wasm-bindgen), the
#                                 TypeScript with esbuild, then the digest
#   scripts/build-web.sh --check  fail if any input changed since the bundle was built
#
# The test command runs --check, so a change to the app or the crypto without a rebuilt
# bundle cannot land; building needs the wasm32 target and wasm-bindgen-cli (see docs/WEB.md).
set -euo pipefail
cd "$(dirname "$0")/.."

inputs() {
  {
    git ls-files -co --exclude-standard -- web/src web/worker web/static web/build.mjs web/package.json \
      web/package-lock.json web/tsconfig.json web/pkg crates/wasm crates/crypto crates/media \
      .cargo/config.toml scripts/build-web.sh
  } | LC_ALL=C sort -u
}

digest() {
  inputs | while read -r f; do sha256sum "$f"; done
  # The exact versions of what the wasm crate is built from (not the whole Cargo.lock, which
  # changes with every other crate's dependencies), without the checkout's own path.
  cargo tree --locked -p porchlight-wasm --target wasm32-unknown-unknown -e normal,build --prefix none \
    | sed 's| (/[^)]*)||' | LC_ALL=C sort -u | sha256sum | sed 's|-$|porchlight-wasm dependency tree|'
  (cd crates/server/webapp && find . -type f | LC_ALL=C sort | xargs sha256sum | sed 's|  \./|  crates/server/webapp/|')
}

if [ "${1:-}" = "--check" ]; then
  if ! diff <(digest) web/BUNDLE.sha256 >/dev/null; then
    echo "the web bundle is stale: its inputs changed since it was built. Run scripts/build-web.sh and commit crates/server/webapp and web/BUNDLE.sha256." >&2
    diff <(digest) web/BUNDLE.sha256 | head -20 >&2 || true
    exit 1
  fi
  echo "web bundle is current"
  exit 0
fi

wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wasm_bindgen_version\$"; then
  echo "==> installing wasm-bindgen-cli $wasm_bindgen_version (its lock file names crates this registry lacks, so not --locked)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

echo "==> crypto to WebAssembly"
CARGO_TARGET_DIR=target/wasm cargo build --locked --release -p porchlight-wasm --target wasm32-unknown-unknown
rm -rf web/pkg
wasm-bindgen --target web --out-dir web/pkg target/wasm/wasm32-unknown-unknown/release/porchlight_wasm.wasm

echo "==> app bundle"
(cd web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs)
digest > web/BUNDLE.sha256
ls -l crates/server/webapp
