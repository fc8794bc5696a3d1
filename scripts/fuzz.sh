#!/usr/bin/env bash
# Coverage-guided fuzzing of Porchlight's decoders (fuzz/, cargo fuzz + libFuzzer, nightly).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds, every target
#
# Builds every target, then runs each for SECONDS from its committed seed corpus
# (fuzz/corpus/<target>, read only) plus a working corpus under fuzz/target/corpus/<target>
# (new inputs land there, so the committed seeds stay small). Prints, per target, libFuzzer's
# final figures: executions, execs/s, coverage (edges) and features reached, corpus size.
# A crash, a failed assertion, a timeout or a leak stops the run: the input is saved under
# fuzz/artifacts/<target>/ and the script exits non-zero.
#
# Needs the nightly toolchain and cargo-fuzz; FUZZ_INSTALL=1 installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "the nightly toolchain is not installed (rustup toolchain install nightly)" >&2
  exit 3
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  if [ "${FUZZ_INSTALL:-0}" = 1 ]; then
    cargo install cargo-fuzz --locked
  else
    echo "cargo-fuzz is not installed (cargo install cargo-fuzz, or FUZZ_INSTALL=1)" >&2
    exit 3
  fi
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  # Every fuzz target; fuzz-seeds is the seed writer, not a target.
  mapfile -t targets < <(cd fuzz && cargo fuzz list | grep -vx 'fuzz-seeds')
fi

(cd fuzz && cargo +nightly fuzz build)

report=$(mktemp)
trap 'rm -f "$report"' EXIT
printf '%-16s %12s %10s %8s %8s %8s\n' target execs execs/s cov ft corpus >"$report"
status=0
for t in "${targets[@]}"; do
  work=fuzz/target/corpus/$t
  mkdir -p "$work" "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log=fuzz/target/fuzz-$t.log
  echo "--- $t: ${seconds}s"
  if (cd fuzz && cargo +nightly fuzz run "$t" "../$work" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1) \
      >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # The last status line: "#N DONE cov: C ft: F corp: K/..." (or the line before a crash).
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-16s %12s %10s %8s %8s %8s %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" \
    "${ft:--}" "${corp:--}" "$result" >>"$report"
  if [ "$result" = FAILED ]; then
    echo "$t failed; the end of its log ($log):"
    tail -40 "$log"
  fi
done
echo
cat "$report"
exit "$status"
