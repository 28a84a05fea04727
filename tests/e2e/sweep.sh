#!/usr/bin/env bash
# launch/sweep.sh over two seed configs (shrunk to a tiny synthetic dataset by overrides): both run,
# each in its own run directory with its report, and the comparison table has both.
set -euo pipefail
finch=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work"
"$finch" synth --out "$work/data" --classes 5 --per-class 10 --size 40 --seed 2 >/dev/null
export FINCH=$finch
export SET="--set data.root=$work/data --set model.classes=5 --set model.pretrained= --set output_dir=$work/runs --set train.max_steps=2 --set data.image_size=32 --set data.resize=32 --set train.batch_size=4 --set data.workers=1 --set logging.progress=off"
bash "$repo/launch/sweep.sh" "$repo/configs/seed/b0_full_finetune.json" "$repo/configs/seed/b0_last_block_bn_relu_head.json" >"$work/out" 2>&1 || { tail -20 "$work/out"; exit 1; }
for run in seed_b0_full_finetune seed_b0_last_block_bn_relu_head; do
  [ -f "$work/runs/$run/report/curves.png" ] || { echo "no report for $run"; exit 1; }
done
table=$(ls "$work"/runs/sweep-*/comparison.md)
grep -q "| seed_b0_full_finetune (synthetic data) | efficientnet_b0 | none |" "$table"
grep -q "| seed_b0_last_block_bn_relu_head (synthetic data) | efficientnet_b0 | last_blocks:1+bn |" "$table"
# A second sweep keeps finished runs instead of training them again.
again=$(bash "$repo/launch/sweep.sh" "$repo/configs/seed/b0_full_finetune.json" 2>&1)
grep -q "already finished" <<<"$again"
echo "sweep: all checks passed"
