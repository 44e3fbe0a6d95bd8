#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 30), one after
# another, on the nightly toolchain; fails as soon as a target finds a crash,
# a timeout or a leak. Usage: fuzz/run.sh [SECONDS]
#
# Each target starts from its seeds in fuzz/corpus/TARGET (kept in the
# repository) and from what earlier runs found in fuzz/target/corpus/TARGET
# (git-ignored, where new inputs go). Crashes land in fuzz/artifacts/TARGET.
# The last lines print executions per second and total executions per target.
set -euo pipefail
secs="${1:-30}"
cd "$(dirname "$0")"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

summary=()
for target in $(cargo +nightly fuzz list); do
  mkdir -p "target/corpus/$target" "corpus/$target"
  log="target/$target.log"
  echo "==> $target ($secs s)"
  if ! cargo +nightly fuzz run "$target" "target/corpus/$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=20 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz/run.sh: $target failed (log: fuzz/$log, inputs: fuzz/artifacts/$target)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary+=("$(printf '%-10s %10s exec/s %14s executions' "$target" "$rate" "$runs")")
  echo "    ${summary[-1]}"
done

echo
echo "all fuzz targets ran clean for $secs s each:"
printf '  %s\n' "${summary[@]}"
