#!/usr/bin/env bash
# Full-length runs of both codes side by side (docs/REPRODUCTION.md, "The authors' code, run
# here"): the paper's 50-epoch MNIST schedule, fp32, real data, the same seed and therefore the
# same noisy labels (scripts/official_apl.py checks it). Two queues run at once, one thread
# each: this project's train.py (through scripts/sweep.py) and the authors' train.py (through
# scripts/official_apl.py). Every run resumes: re-run the script to continue.
#   DATA=data OUT=runs/side SEEDS="0 123 515" bash scripts/side_by_side.sh
#   RECIPE=paper CELLS="sym:0.4:nce" bash scripts/side_by_side.sh   # the paper-era recipe
# RECIPE defaults to the one MNIST's configs run (release: configs/base/mnist.yaml).
# Cells in priority order (the ones that deviate most from the published tables). DATA and OUT
# are taken relative to the directory the script is started from.
set -u
DATA=$(realpath -m "${DATA:-data}")
OUT=$(realpath -m "${OUT:-runs/side}")
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-0}
RECIPE=${RECIPE:-release}
CELLS=${CELLS:-"sym:0.8:ce sym:0.8:nce+rce sym:0.8:nce asym:0.4:ce asym:0.4:nce+rce sym:0.8:gce sym:0.8:mae"}
mkdir -p "$OUT"

ours() {
  for seed in $SEEDS; do for cell in $CELLS; do
    IFS=: read -r kind rate loss <<<"$cell"
    python scripts/sweep.py --dataset mnist --kinds "$kind" --"$kind"-rates "$rate" \
      --losses "$loss" --seeds "$seed" --data-root "$DATA" --out "$OUT/ours" --jobs 1 \
      --recipe "$RECIPE" --set train.threads=1 train.amp=none
  done; done
}

official() {
  for seed in $SEEDS; do for cell in $CELLS; do
    IFS=: read -r kind rate loss <<<"$cell"
    python scripts/official_apl.py --config "configs/mnist/$kind/$loss.yaml" --noise-rate "$rate" \
      --seed "$seed" --data-root "$DATA" --runs "$OUT/official" --threads 1 --resume \
      --recipe "$RECIPE"
  done; done
}

ours >>"$OUT/ours.log" 2>&1 &
official >>"$OUT/official.log" 2>&1 &
wait
