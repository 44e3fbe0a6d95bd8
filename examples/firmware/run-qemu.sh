#!/usr/bin/env bash
# Builds the firmware programs and runs each under QEMU, once with the
# default `libm` backend and once with `micromath`:
#
#   mlp     the 2-16-16-1 MLP (src/bin/mlp) on a Cortex-M4F (mps2-an386)
#   cnn     the 1-D CNN on accelerometer windows (src/bin/cnn), Cortex-M4F
#   mlp-m0  the MLP built for a Cortex-M0 without an FPU
#           (thumbv6m-none-eabi, soft-float f32) on the micro:bit
#           (QEMU `microbit`: nRF51, 256 KiB flash, 16 KiB RAM)
#
# Each run must print a line `PASS` and exit with status 0 (the firmware
# exits through semihosting with the status of its checks); anything else
# fails the script.
#
# QEMU runs with `-icount shift=0`: the emulated clock then advances 1 ns per
# instruction, so the SysTick times the firmware prints are reproducible
# instruction counts (1 tick of the 25 MHz clock = 40 instructions; of the
# micro:bit's 16 MHz clock, 62.5).
#
# Each program must also stay within its footprint budget: flash
# (.vector_table + .text + .rodata + .data) and a stack high-water mark, as
# the firmware reports it, of at most
#
#   mlp     20 KiB flash,  8 KiB stack (MLP_FLASH_BUDGET, MLP_STACK_BUDGET)
#   cnn     32 KiB flash, 12 KiB stack (CNN_FLASH_BUDGET, CNN_STACK_BUDGET)
#   mlp-m0  24 KiB flash,  8 KiB stack (MLP_M0_FLASH_BUDGET, MLP_M0_STACK_BUDGET)
#
# and prints one line `==> firmware (NAME, BACKEND): passed (flash N B,
# stack M B)` per program and backend.
#
# Usage: bash examples/firmware/run-qemu.sh [PROGRAM...]   (from anywhere;
# default: mlp cnn mlp-m0)
# Environment: QEMU_TIMEOUT (seconds per run, default 120) and the budgets
# above (in bytes).
set -euo pipefail
cd "$(dirname "$0")"

timeout_s="${QEMU_TIMEOUT:-120}"
declare -A flash_budget=(
  [mlp]="${MLP_FLASH_BUDGET:-20480}"
  [cnn]="${CNN_FLASH_BUDGET:-32768}"
  [mlp-m0]="${MLP_M0_FLASH_BUDGET:-24576}"
)
declare -A stack_budget=(
  [mlp]="${MLP_STACK_BUDGET:-8192}"
  [cnn]="${CNN_STACK_BUDGET:-12288}"
  [mlp-m0]="${MLP_M0_STACK_BUDGET:-8192}"
)
# The binary and the target of each program.
declare -A binary=([mlp]=mlp [cnn]=cnn [mlp-m0]=mlp)
declare -A target=(
  [mlp]=thumbv7em-none-eabihf
  [cnn]=thumbv7em-none-eabihf
  [mlp-m0]=thumbv6m-none-eabi
)
programs=("$@")
[ "${#programs[@]}" -gt 0 ] || programs=(mlp cnn mlp-m0)
for prog in "${programs[@]}"; do
  if [ -z "${flash_budget[$prog]+set}" ]; then
    echo "==> firmware: no program $prog (mlp, cnn, mlp-m0)"
    exit 2
  fi
done

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
  backend="${features:-libm}"
  for prog in "${programs[@]}"; do
    label="$prog, $backend"
    bin="${binary[$prog]}"
    tgt="${target[$prog]}"
    echo "==> firmware ($label): build for $tgt"
    cargo build --release --target "$tgt" --bin "$bin" ${features:+--features "$features"}
    elf="target/$tgt/release/$bin"
    flash="$(flash_bytes "$elf")"
    over=0
    echo "==> firmware ($label): flash $flash bytes (budget ${flash_budget[$prog]}); run under QEMU"
    if [ "$flash" -gt "${flash_budget[$prog]}" ]; then
      echo "==> firmware ($label): FAILED: flash $flash bytes > budget ${flash_budget[$prog]}"
      failed=1
      over=1
    fi
    log="$(mktemp)"
    status=0
    timeout "$timeout_s" cargo run --release --target "$tgt" --bin "$bin" ${features:+--features "$features"} \
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
      if [ -z "$stack" ] || [ "$stack" -gt "${stack_budget[$prog]}" ]; then
        echo "==> firmware ($label): FAILED: stack ${stack:-unknown} bytes > budget ${stack_budget[$prog]}"
        failed=1
      elif [ "$over" -eq 0 ]; then
        echo "==> firmware ($label): passed (flash $flash B, stack $stack B)"
      fi
    fi
    rm -f "$log"
  done
done
exit "$failed"
