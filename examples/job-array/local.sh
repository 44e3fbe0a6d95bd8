#!/usr/bin/env bash
# The job array on this machine: the R × C tasks of task.sh one after
# another, then `assemble`, which writes every case of FILE to stdout as
# `kernel FILE` does, byte for byte.
#
#   local.sh FILE R C [kernel options] > kernel.txt
#
# The binaries are $KERNEL and $ASSEMBLE (default: target/release/examples
# of this repository). Blocks go to $BLOCKS (default: a temporary folder,
# removed afterwards). The exit status is that of `assemble` (0 computed,
# 1 a case failed, 3 to 6 blocks that do not assemble), or a task's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 3 ]; then
  echo "usage: local.sh FILE R C [kernel options]" >&2
  exit 2
fi
file=$1 rows=$2 cols=$3
shift 3
assemble=${ASSEMBLE:-$here/../../target/release/examples/assemble}
if [ -n "${BLOCKS:-}" ]; then
  dir=$BLOCKS
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
for ((id = 0; id < rows * cols; id++)); do
  TASK_ID=$id bash "$here/task.sh" "$file" "$dir" "$rows" "$cols" "$@"
done
"$assemble" "$dir"/block-*.txt
