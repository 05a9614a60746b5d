#!/usr/bin/env bash
# The project's GPU check, in one go (under 8 minutes on a GPU machine): the device maskscope
# picks, the forward-pass and GUI benchmarks on the GPU, a 200-pair occlusion sweep on the GPU
# and a few training steps on it. Every command's output goes to OUT_DIR/gpu-check.log.
#
# Usage: tools/gpu-check.sh [OUT_DIR]   (default: ./gpu-check); needs ../shared/data/lfw-view1
# for the sweep (skipped, and said so, without it). Builds the release binary if it is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
log="$out/gpu-check.log"
: > "$log"
bin=target/release/maskscope
[ -x "$bin" ] || cargo build --release >> "$log" 2>&1 || { echo "build failed; see $log" >&2; exit 1; }

failures=0
step() {
  local name=$1; shift
  echo "== $name: $*" | tee -a "$log"
  local start=$SECONDS
  if timeout 300 "$@" >> "$log" 2>&1; then
    echo "   ok in $((SECONDS - start)) s" | tee -a "$log"
  else
    echo "   FAILED (exit $?) after $((SECONDS - start)) s" | tee -a "$log"
    failures=$((failures + 1))
  fi
}

{ echo "date: $(date -u)"; echo "load: $(cat /proc/loadavg)"; nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"; } >> "$log"
step info "$bin" info --device gpu
step "bench from" "$bin" --device gpu bench from --batch 1,32 --runs 5
step "bench faces" "$bin" --device gpu bench faces --batch 1,64 --runs 10
step "bench gui" "$bin" --device gpu bench gui --runs 30
step "bench train" "$bin" --device gpu bench train --batch 64 --runs 5
lfw=../shared/data/lfw-view1
if [ -f "$lfw/pairsDevTest.txt" ]; then
  # 100 same-person and 100 different-people pairs of View 1 pairsDevTest (its first 500 lines
  # after the count are the same-person pairs), as a CSV of absolute paths.
  pairs="$out/pairs200.csv"
  awk -v root="$(cd "$lfw/images" && pwd)" 'NR == 1 { next }
    NF == 3 && same < 100 { printf "%s/%s/%s_%04d.jpg,%s/%s/%s_%04d.jpg,1\n", root, $1, $1, $2, root, $1, $1, $3; same++ }
    NF == 4 && diff < 100 { printf "%s/%s/%s_%04d.jpg,%s/%s/%s_%04d.jpg,0\n", root, $1, $1, $2, root, $3, $3, $4; diff++ }
    BEGIN { print "path_a,path_b,same" }' "$lfw/pairsDevTest.txt" > "$pairs"
  step "eval (200 pairs)" "$bin" --device gpu eval --pairs "$pairs" --protocol clean,regions,occ-lfw-2.0 \
    --no-cache --out "$out/eval"
else
  echo "== eval: skipped, $lfw/pairsDevTest.txt is not there" | tee -a "$log"
fi
echo "load: $(cat /proc/loadavg)" >> "$log"
echo "$failures step(s) failed; log: $log"
exit $((failures > 0))
