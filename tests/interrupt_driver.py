"""Run train.py's main() in this process, and interrupt it deterministically with a real signal.

    python tests/interrupt_driver.py SIGNAL EPOCH STEP [--during-checkpoint] -- <train.py args>

The process sends itself SIGNAL (SIGTERM, SIGINT or SIGKILL) when the training loop is about to
yield batch STEP (0-based) of epoch EPOCH (0-based). With --during-checkpoint the signal arrives
instead while the checkpoint written at the end of epoch EPOCH is half-way through its bytes.
Signals are real; only their timing is chosen, so tests are deterministic.
Under torchrun (this file as the script) only the rank in $NLN_INTERRUPT_RANK (default: every
rank) signals itself, to test that the processes agree on stopping.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datasets.device as device_module  # noqa: E402
import engine.io as io_module  # noqa: E402
import train  # noqa: E402


def main():
    sep = sys.argv.index("--")
    sig_name, epoch, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    during_checkpoint = "--during-checkpoint" in sys.argv[4:sep]
    sig = getattr(signal, sig_name)
    only_rank = os.environ.get("NLN_INTERRUPT_RANK")
    if only_rank is not None and os.environ.get("RANK", "0") != only_rank:
        epoch = -2  # never
    state = {"epoch": -1, "saves": 0}

    original_batches = device_module.DeviceDataset.train_batches

    def train_batches(self, batch_size, generator, first_step=0, **kwargs):
        state["epoch"] += 1
        for i, item in enumerate(
            original_batches(self, batch_size, generator, first_step, **kwargs), start=first_step
        ):
            if not during_checkpoint and state["epoch"] == epoch and i == step:
                os.kill(os.getpid(), sig)
            yield item

    device_module.DeviceDataset.train_batches = train_batches

    if during_checkpoint:
        original_atomic = io_module.atomic_write

        def atomic(path, write):
            if Path(path).suffix == ".pt":
                state["saves"] += 1
                if state["saves"] == epoch + 1:

                    def half_then_kill(f):
                        import io as _io

                        buf = _io.BytesIO()
                        write(buf)
                        data = buf.getvalue()
                        f.write(data[: len(data) // 2])
                        f.flush()
                        os.fsync(f.fileno())
                        os.kill(os.getpid(), sig)

                    return original_atomic(path, half_then_kill)
            return original_atomic(path, write)

        io_module.atomic_write = atomic

    sys.exit(train.main(sys.argv[sep + 1 :]))


if __name__ == "__main__":
    main()
