#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what the tests need, then runs
# formatting, lints and every test. CI runs exactly this (.ci/run).
#
# Real services, not mocks: SQLite files, the PostgreSQL server on 127.0.0.1:5432 (trust auth,
# database `test`; started here if installed but stopped), oathtool as an independent TOTP
# generator, Go `age` as an independent implementation of the clip format, ffprobe/ffmpeg to
# check recorded clips, GStreamer's RTSP server as a real camera for the hub, and Debian's
# Chromium driven by playwright-core for the web app's end-to-end tests, and schemathesis
# (PyPI) against the server's own OpenAPI document, http-ece and py-vapid (PyPI) checking what
# the server sends by Web Push. A leg whose service is truly absent prints
# that it was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

say "system packages"
missing=()
command -v oathtool >/dev/null || missing+=(oathtool)
command -v curl >/dev/null || missing+=(curl)
command -v age >/dev/null || missing+=(age)
# The hub's camera tests: ffmpeg/ffprobe check clips, GStreamer's RTSP server is the camera.
command -v ffprobe >/dev/null || missing+=(ffmpeg)
# The web app's end-to-end tests run in Debian's Chromium (playwright cannot fetch browsers here).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The API conformance leg makes a venv for schemathesis with Debian's python3.
dpkg -s python3-venv >/dev/null 2>&1 || missing+=(python3-venv)
# The ACME test orders a certificate from Pebble, Let's Encrypt's test CA.
command -v pebble >/dev/null || missing+=(pebble)
for pkg in python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq "${missing[@]}"; } \
    || echo "could not install ${missing[*]}; tests that need them will say they were skipped"
fi

say "PostgreSQL"
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 20); do pg_up && break; sleep 0.5; done
fi
if pg_up; then
  echo "PostgreSQL at 127.0.0.1:5432: the store and API suites run against it as well as SQLite"
  export PORCHLIGHT_TEST_POSTGRES="${PORCHLIGHT_TEST_POSTGRES:-require}"
else
  echo "postgres leg skipped: no PostgreSQL server at 127.0.0.1:5432"
  export PORCHLIGHT_TEST_POSTGRES=skip
fi

say "Web Push checkers"
# http-ece and py-vapid (PyPI), independent implementations of RFC 8291 and RFC 8292, decrypt
# and verify what the server pushes (crates/server/tests/api/push.rs); pinned, in a cached venv.
WEBPUSH_VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/porchlight/webpush-venv"
if "$WEBPUSH_VENV/bin/python" -c 'import http_ece, py_vapid' 2>/dev/null \
  || { rm -rf "$WEBPUSH_VENV" && "$(command -v /usr/bin/python3 || command -v python3)" -m venv "$WEBPUSH_VENV" \
    && "$WEBPUSH_VENV/bin/pip" install -q --disable-pip-version-check http-ece==1.2.1 py-vapid==1.9.6; }; then
  export PORCHLIGHT_TEST_WEBPUSH_PYTHON="$WEBPUSH_VENV/bin/python"
else
  rm -rf "$WEBPUSH_VENV"
  echo "independent Web Push check skipped: could not install http-ece and py-vapid into a venv"
fi

say "format"
cargo fmt --all -- --check

say "web bundle"
# The app is committed built (crates/server/webapp, embedded in the binary); its inputs must be
# the ones it was built from.
scripts/build-web.sh --check

say "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "tests"
cargo test --workspace --all-targets --locked

say "fuzz smoke"
# Every decoder's coverage-guided fuzz target (fuzz/, cargo fuzz on nightly) for a few seconds
# from its seed corpus; a crash or a failed property fails the suite. Long runs: scripts/fuzz.sh.
cargo +nightly --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked >/dev/null 2>&1 || true
if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
  scripts/fuzz.sh 5
else
  echo "fuzz smoke skipped: the nightly toolchain or cargo-fuzz could not be installed"
fi

say "web app"
if command -v npm >/dev/null; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error && npx tsc --noEmit -p . && npx tsc --noEmit -p worker)
  cargo build --locked -p porchlight
  # Screenshots of every main screen, desktop and phone, land in web/screenshots/.
  (cd web && npm run --silent e2e)
else
  echo "web e2e leg skipped: no Node.js/npm on this machine"
fi

say "API conformance"
# The OpenAPI document against the running server (schemathesis from PyPI); says "skipped"
# if schemathesis cannot be installed.
scripts/api-conformance.sh

say "all green"
