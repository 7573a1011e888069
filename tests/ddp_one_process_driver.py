"""train.py under `torchrun --nproc_per_node=1`, forced through its distributed path: a NCCL
process group, DDP, SyncBatchNorm and the collectives. train.py skips all of that for one
process (nothing to share) and one GPU cannot hold two NCCL ranks, so this is how a machine
with one GPU checks the NCCL path (tests/test_cuda.py)."""

import sys
from pathlib import Path

import torch
import torch.distributed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import engine.distributed as ed  # noqa: E402


class OneProcessDist(ed.Dist):
    @property
    def enabled(self) -> bool:  # every collective and DDP run, over a world of one
        return True


def init_distributed(device_setting):
    if not torch.cuda.is_available():  # gloo on the CPU: how the driver itself is checked
        torch.distributed.init_process_group("gloo")
        return OneProcessDist(), "cpu"
    torch.cuda.set_device(0)
    torch.distributed.init_process_group("nccl")
    return OneProcessDist(), "cuda:0"


ed.init_distributed = init_distributed  # before train.py imports it
import train  # noqa: E402

if __name__ == "__main__":
    sys.exit(train.main(sys.argv[1:]))
