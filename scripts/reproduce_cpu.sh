#!/usr/bin/env bash
# The reduced-scale CPU reproduction recorded in docs/REPRODUCTION.md (real data, this repo's
# sweep tool). Every step is resumable: re-run the script to continue an interrupted sweep.
#   DATA=data OUT=runs/repro bash scripts/reproduce_cpu.sh
# Scale: EPOCHS (default 6) epochs with the cosine schedule compressed to them, bf16 autocast
# on the CPU (losses in fp32); MNIST on its full training set, CIFAR-10 and CIFAR-10N on a fixed
# CIFAR_SUBSET (default 8000) of theirs. See docs/REPRODUCTION.md.
set -u
cd "$(dirname "$0")/.."
DATA=${DATA:-data}
OUT=${OUT:-runs/repro}
EPOCHS=${EPOCHS:-6}
CIFAR_SUBSET=${CIFAR_SUBSET:-8000}
JOBS=${JOBS:-2}   # 2 runs in parallel, 1 thread each: more throughput than 1 run x 2 threads here
COMMON=(--data-root "$DATA" --out "$OUT" --epochs "$EPOCHS" --set train.amp=bf16)
MNIST_LOSSES=ce,gce,sce,nce,mae,nce+rce,nce+mae,nfl+rce,nfl+mae

# MNIST: 9 losses x (sym 0.0/0.4/0.8, asym 0.4), seed 0; then seeds 123 and 515 for CE, NCE+RCE.
python scripts/sweep.py --dataset mnist --losses "$MNIST_LOSSES" --sym-rates 0,0.4,0.8 \
    --asym-rates 0.4 --seeds 0 --jobs "$JOBS" "${COMMON[@]}"
python scripts/sweep.py --dataset mnist --losses ce,nce+rce --sym-rates 0,0.4,0.8 \
    --asym-rates 0.4 --seeds 123,515 --jobs "$JOBS" "${COMMON[@]}"
# CIFAR-10 (JPEG-degraded local copy): CE, NCE, NCE+RCE at sym 0.4 and 0.8.
python scripts/sweep.py --dataset cifar10 --kinds sym --losses ce,nce,nce+rce \
    --sym-rates 0.4,0.8 --seeds 0 --train-subset "$CIFAR_SUBSET" --jobs "$JOBS" "${COMMON[@]}"
# CIFAR-10N "worse" human labels (40.2 % noise): CE against NCE+RCE, CIFAR-10 recipe.
python scripts/sweep.py --dataset cifar10n --label-sets worse --losses ce,nce+rce --seeds 0 \
    --train-subset "$CIFAR_SUBSET" --jobs "$JOBS" "${COMMON[@]}"
