#!/usr/bin/env bash
# The paper's cifar10 grid (all losses, symmetric 0-0.8 and asymmetric 0.1-0.4, seeds 0/123/515).
# Extra flags go to scripts/sweep.py, e.g. --losses ce,nce+rce --epochs 10 --jobs 2 --slurm F.
exec python "$(dirname "$0")/sweep.py" --dataset cifar10 "$@"
