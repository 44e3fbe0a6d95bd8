#!/usr/bin/env bash
# One task of a job array: block number ID of the R × C blocks of every
# case of FILE, written to OUTDIR/block-ID.txt by the `kernel` example.
#
#   task.sh FILE OUTDIR R C [kernel options, e.g. --f32 --max-n 20000]
#
# ID comes from TASK_ID, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (a
# Kubernetes Indexed Job), in that order. Block ID is row band ID / C and
# column band ID % C of a cut of 0..N into R (and C) bands of
# floor(k·N/R) .. floor((k+1)·N/R), N the largest number of inputs of a
# case in FILE; the `kernel` example cuts each band to the case's own N.
#
# The kernel binary is $KERNEL (default: target/release/examples/kernel of
# this repository: `cargo build --release --examples`). A case that fails
# is written with its `error` line and the task still succeeds (exit 0):
# `assemble` reports it. Other failures exit non-zero and leave no block
# file, so that `assemble` reports the block missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 4 ]; then
  echo "usage: task.sh FILE OUTDIR R C [kernel options]" >&2
  exit 2
fi
file=$1 out=$2 rows=$3 cols=$4
shift 4
id=${TASK_ID:-${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}}
if [ -z "$id" ]; then
  echo "task.sh: no task id (TASK_ID, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)" >&2
  exit 2
fi
kernel=${KERNEL:-$here/../../target/release/examples/kernel}
n=$(awk '$1 == "inputs" && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' "$file")
r=$((id / cols))
c=$((id % cols))
if [ "$r" -ge "$rows" ]; then
  echo "task.sh: task $id past the $rows × $cols blocks" >&2
  exit 2
fi
a=$((r * n / rows)) b=$(((r + 1) * n / rows))
ca=$((c * n / cols)) cb=$(((c + 1) * n / cols))
mkdir -p "$out"
tmp="$out/.block-$id.txt.$$"
status=0
"$kernel" "$file" --rows "$a..$b" --cols "$ca..$cb" "$@" >"$tmp" || status=$?
if [ "$status" -gt 1 ]; then
  rm -f "$tmp"
  exit "$status"
fi
mv "$tmp" "$out/block-$id.txt"
