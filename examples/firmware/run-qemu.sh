#!/usr/bin/env bash
# Builds the firmware example and runs it under QEMU (mps2-an386, Cortex-M4F),
# once with the default `libm` backend and once with `micromath`. Each run must
# print a line `PASS` and exit with status 0 (the firmware exits through
# semihosting with the status of its checks); anything else fails the script.
#
# QEMU runs with `-icount shift=0`: the emulated clock then advances 1 ns per
# instruction, so the SysTick times the firmware prints are reproducible
# instruction counts (1 tick of the 25 MHz clock = 40 instructions).
#
# Each build must also stay within the footprint budget: flash
# (.vector_table + .text + .rodata + .data) at most FLASH_BUDGET bytes and a
# stack high-water mark of at most STACK_BUDGET bytes, as the firmware
# reports it.
#
# Usage: bash examples/firmware/run-qemu.sh   (from anywhere)
# Environment: QEMU_TIMEOUT (seconds per run, default 120), FLASH_BUDGET
# (default 28672 = 28 KiB), STACK_BUDGET (default 8192 = 8 KiB).
set -euo pipefail
cd "$(dirname "$0")"

timeout_s="${QEMU_TIMEOUT:-120}"
flash_budget="${FLASH_BUDGET:-28672}"
stack_budget="${STACK_BUDGET:-8192}"
elf=target/thumbv7em-none-eabihf/release/ntk-firmware

# Flash = .vector_table + .text + .rodata + .data (the initial values of .data
# are stored in flash), from the ELF section headers.
flash_bytes() {
  local total=0 name size
  while read -r name size; do
    total=$((total + 16#$size))
  done < <(readelf -SW "$1" | sed 's/^ *\[ *[0-9]*\] //' |
    awk '$1 ~ /^\.(vector_table|text|rodata|data)$/ { print $1, $5 }')
  echo "$total"
}

failed=0
for features in "" "micromath"; do
  label="${features:-libm}"
  echo "==> firmware ($label): build"
  cargo build --release ${features:+--features "$features"}
  flash="$(flash_bytes "$elf")"
  over=0
  echo "==> firmware ($label): flash $flash bytes (budget $flash_budget); run under QEMU"
  if [ "$flash" -gt "$flash_budget" ]; then
    echo "==> firmware ($label): FAILED: flash $flash bytes > budget $flash_budget"
    failed=1
    over=1
  fi
  log="$(mktemp)"
  status=0
  timeout "$timeout_s" cargo run --release ${features:+--features "$features"} \
    -- -icount shift=0 >"$log" 2>&1 || status=$?
  cat "$log"
  if [ "$status" -eq 124 ]; then
    echo "==> firmware ($label): FAILED: no exit within ${timeout_s} s"
    failed=1
  elif [ "$status" -ne 0 ]; then
    echo "==> firmware ($label): FAILED: exit status $status"
    failed=1
  elif ! grep -qx 'PASS' "$log"; then
    echo "==> firmware ($label): FAILED: no PASS line"
    failed=1
  else
    stack="$(sed -n 's/^stack high-water mark: \([0-9]*\) bytes.*/\1/p' "$log")"
    if [ -z "$stack" ] || [ "$stack" -gt "$stack_budget" ]; then
      echo "==> firmware ($label): FAILED: stack ${stack:-unknown} bytes > budget $stack_budget"
      failed=1
    elif [ "$over" -eq 0 ]; then
      echo "==> firmware ($label): passed (flash $flash B, stack $stack B)"
    fi
  fi
  rm -f "$log"
done
exit "$failed"
