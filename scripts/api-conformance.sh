#!/usr/bin/env bash
# Holds the server to its OpenAPI document: schemathesis (PyPI) generates requests for every
# operation of /api/openapi.json from a real `porchlight serve` (fresh data folder, SQLite, a
# free loopback port) and checks every answer: no 5xx, no status the operation does not
# document, bodies that match their schema, the documented content types and headers. Every
# operation without credentials, and every one (but two, below) signed in as a real account
# (sign-up, TOTP confirmed with a code from oathtool, this device's keys registered) with its
# device-bound bearer token; then the hub routes with a paired hub's token and the staff
# routes with a staff session, the only tokens that open them.
#
# Exits non-zero on any failure. Prints "skipped" and exits 0 only when schemathesis cannot be
# installed (no Python venv, no PyPI). Bounded in time: a few examples per operation.
#
#   scripts/api-conformance.sh            # builds the binary, runs every leg
#   ST_EXAMPLES=200 ST_SEED=$RANDOM scripts/api-conformance.sh   # a wider local search
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# Pinned, so a new schemathesis release cannot turn the suite red by itself.
SCHEMATHESIS=schemathesis==4.32.5
EXAMPLES="${ST_EXAMPLES:-40}"
# Each run is cut off (and fails) past this many seconds; all four take about a minute here.
LEG_SECS="${ST_LEG_SECS:-240}"
# Debian's interpreter: what a fresh Debian machine (and CI) has; the first python3 on PATH
# here is a separate build that may be absent elsewhere. Any python3 with venv works.
PYTHON="${ST_PYTHON:-/usr/bin/python3}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/porchlight/schemathesis-venv"

say "schemathesis"
installed() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null
}
if [ "$(installed)" != "${SCHEMATHESIS##*=}" ]; then
  rm -rf "$VENV"
  if ! { "$PYTHON" -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check "$SCHEMATHESIS"; }; then
    rm -rf "$VENV"
    echo "API conformance leg skipped: could not install $SCHEMATHESIS into a venv with $PYTHON"
    exit 0
  fi
fi
"$VENV/bin/st" --version

for tool in oathtool curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install $tool)"; exit 1; }
done

# API_CONFORMANCE_BIN: a binary already built (skips the build).
if [ -z "${API_CONFORMANCE_BIN:-}" ]; then
  cargo build --locked -p porchlight
fi
BIN="${API_CONFORMANCE_BIN:-$PWD/target/debug/porchlight}"

WORK="$(mktemp -d)"
SERVER_PID=""
PAIR_PID=""
cleanup() {
  if [ -n "$PAIR_PID" ]; then kill "$PAIR_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
say "porchlight serve on $URL (data in $WORK/data)"
# Research on, as a deployment that runs the program has it, so its routes answer for real
# rather than `503 research_off`. Only the recipient is named; its identity was thrown away.
cat >"$WORK/server.toml" <<'TOML'
[research]
recipient = "age1p26dqjst875cxq7j9fft4hl700nesjm39rte8a6ww52kdk0vqq2srfq5pv"
TOML
"$BIN" serve --listen "127.0.0.1:$PORT" --data "$WORK/data" --config "$WORK/server.toml" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done
curl -fsS "$URL/api/openapi.json" >"$WORK/openapi.json"

say "a real account for the signed-in run"
HOME_DIR="$WORK/home"
EMAIL="conformance@example.com"
PASSWORD="conformance-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
cli() { "$BIN" --home "$HOME_DIR" --server "$URL" --json "$@"; }
SECRET="$(printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | cli signup --email "$EMAIL" --password-stdin \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["totp_secret"])')"
cli totp confirm "$(oathtool --totp -b "$SECRET")" >/dev/null
DEVICE="$(tr -d '\n' <"$HOME_DIR/device-id")"

say "a hub of the account and a clip from it, so clip routes answer with real objects"
# `pair` shows the code on its first line and waits for the hub to redeem it, then signs the
# hub into the chain; the hub then seals and uploads a recording (any bytes will do: the
# server stores ciphertext and checks the statement, not the video).
"$BIN" --home "$HOME_DIR" --server "$URL" --json pair --name "conformance hub" --timeout 60 \
  >"$WORK/pair.out" 2>"$WORK/pair.err" &
PAIR_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/pair.out" ] && break; sleep 0.1; done
CODE="$(head -n1 "$WORK/pair.out" | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["code"])')"
"$BIN" --json hub pair "$CODE" --state "$WORK/hub" --timeout 60 >/dev/null
wait "$PAIR_PID"
head -c 50000 /dev/urandom >"$WORK/recording.mp4"
"$BIN" --json hub upload --state "$WORK/hub" --camera "front door" --duration-ms 3000 \
  "$WORK/recording.mp4" >/dev/null

say "a staff member (added on the server host, as an operator would)"
STAFF_HOME="$WORK/staff-home"
STAFF_PASSWORD="staff-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
STAFF_SECRET="$(printf '%s\n' "$STAFF_PASSWORD" | "$BIN" --json staff add --email staff@example.com \
  --role security --password-stdin --data "$WORK/data" --config "$WORK/server.toml" \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["totp_secret"])')"
printf '%s\n' "$STAFF_PASSWORD" | "$BIN" --home "$STAFF_HOME" --server "$URL" --json staff login \
  --email staff@example.com --password-stdin --totp "$(oathtool --totp -b "$STAFF_SECRET")" >/dev/null
token_of() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$1"; }
STAFF_TOKEN="$(token_of "$STAFF_HOME/staff-session.json")"
HUB_TOKEN="$(token_of "$WORK/hub/token.json")"
TOKEN="$(token_of "$HOME_DIR/session.json")"

checks=not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,response_headers_conformance
run() {
  local name="$1"; shift
  say "schemathesis, $name"
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$PWD/scripts" \
    timeout --kill-after=10 "$LEG_SECS" "$VENV/bin/st" --config-file scripts/schemathesis.toml \
    run "$WORK/openapi.json" --url "$URL" \
    --checks "$checks" \
    --phases examples,coverage,fuzzing \
    --max-examples "$EXAMPLES" \
    --workers 2 \
    --seed "${ST_SEED:-20261207}" \
    --request-timeout 35 \
    --no-color \
    "$@"
}
status=0
run "without credentials" || status=1
# Signed in: every operation, except the two that end the session the run signs in with,
# which would leave every later request a 401 that tests nothing. POST /api/logout ends it
# whatever the body; DELETE /api/sessions/{id} ends it as soon as schemathesis reuses the id
# GET /api/sessions answered. Both run without credentials above; tests/api covers them
# signed in.
run "signed in (device-bound bearer)" \
  --header "Authorization: Bearer $TOKEN" --header "porchlight-device: $DEVICE" \
  --exclude-operation-id logout --exclude-operation-id revoke_session || status=1
# Hub and staff routes open only to their own tokens (customer sessions get 401 there): each
# runs once more with the token that opens it.
run "as the paired hub (hub token)" --header "Authorization: Bearer $HUB_TOKEN" \
  --include-path-regex '^/api/hub/' || status=1
run "as staff (staff session, role security)" --header "Authorization: Bearer $STAFF_TOKEN" \
  --include-path-regex '^/api/staff/' || status=1
# The session must have lived through the run, or most of it tested only 401s.
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H "porchlight-device: $DEVICE" "$URL/api/me" \
  || { echo "the signed-in run's session ended during the run"; status=1; }

# How far the runs got: the routes that answered a success at least once (the server's own
# request counter, by route template).
curl -fsS "$URL/metrics" | "$PYTHON" -c '
import re, sys
ok = sorted({(m, r) for m, r, s in re.findall(r"porchlight_http_requests_total\{method=\"(\w+)\",route=\"([^\"]+)\",status=\"(2\d\d)\"\}", sys.stdin.read())})
print(f"{len(ok)} operations answered a 2xx:", ", ".join(f"{m} {r}" for m, r in ok))
' || true

if [ "$status" -ne 0 ]; then
  echo "API conformance failed; the server's log:"
  tail -n 50 "$WORK/server.log"
fi
exit "$status"
