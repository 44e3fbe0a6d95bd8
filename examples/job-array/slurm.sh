#!/usr/bin/env bash
# Submits the blocks of FILE as a Slurm job array of R × C tasks (task.sh),
# and an `assemble` job that runs once they all succeed and writes
# OUTDIR/kernel.txt, as `kernel FILE` writes it, byte for byte.
#
#   bash examples/job-array/slurm.sh FILE OUTDIR R C [kernel options]
#
# OUTDIR must be on a file system every node sees; so must the binaries
# ($KERNEL and $ASSEMBLE, default target/release/examples of this
# repository: build them once with `cargo build --release --examples`).
# Extra sbatch options (partition, time, memory) go in $SBATCH_OPTIONS.
# Each task holds h·w·16 bytes of matrices in f64 plus its inputs; a case
# above --max-n (default 4096) inputs needs that option raised.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 4 ]; then
  echo "usage: slurm.sh FILE OUTDIR R C [kernel options]" >&2
  exit 2
fi
file=$(realpath "$1") out=$(realpath -m "$2") rows=$3 cols=$4
shift 4
export KERNEL=${KERNEL:-$here/../../target/release/examples/kernel}
assemble=${ASSEMBLE:-$here/../../target/release/examples/assemble}
mkdir -p "$out"
opts=$(printf ' %q' "$@")
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_OPTIONS:-} --job-name=ntk-blocks \
  --array="0-$((rows * cols - 1))" --output="$out/block-%a.log" \
  --export=ALL \
  --wrap="bash $(printf '%q' "$here/task.sh") $(printf '%q' "$file") $(printf '%q' "$out") $rows $cols$opts")
# shellcheck disable=SC2086
sbatch --parsable ${SBATCH_OPTIONS:-} --job-name=ntk-assemble \
  --dependency="afterok:$array" --output="$out/assemble.log" \
  --wrap="$(printf '%q' "$assemble") $(printf '%q' "$out")/block-*.txt > $(printf '%q' "$out/kernel.txt")"
echo "submitted array $array ($((rows * cols)) blocks); the matrices go to $out/kernel.txt"
