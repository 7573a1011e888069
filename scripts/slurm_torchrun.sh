#!/usr/bin/env bash
# Multi-node (or multi-GPU) training under Slurm: one torchrun per node, rendezvous on the
# first node. Every rank runs train.py; train.batch_size stays the total batch.
#
#   sbatch --nodes=2 --gpus-per-node=4 scripts/slurm_torchrun.sh \
#       configs/webvision_mini/nce+rce.yaml --out runs/webvision_mini/nce+rce/seed0 --seed 0
#
# --resume is always passed: a requeued or resubmitted job continues from the last checkpoint
# (a fresh --out just starts). Slurm's SIGTERM before the time limit (--signal below) reaches
# every rank through srun and torchrun; the ranks agree to stop and rank 0 checkpoints.
#SBATCH --job-name=nln-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=32
#SBATCH --time=72:00:00
#SBATCH --signal=TERM@300
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: sbatch [--nodes=N --gpus-per-node=G] $0 CONFIG [train.py args...]" >&2
    exit 2
fi
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
CONFIG=$1
shift
GPUS_PER_NODE=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-$(nvidia-smi -L | wc -l)}}
HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
PORT=${PORT:-29500}
srun --kill-on-bad-exit=1 torchrun \
    --nnodes="$SLURM_NNODES" --nproc_per_node="$GPUS_PER_NODE" \
    --rdzv_backend=c10d --rdzv_endpoint="$HEAD_NODE:$PORT" --rdzv_id="$SLURM_JOB_ID" \
    train.py --config "$CONFIG" --resume --set train.progress=false "$@"
