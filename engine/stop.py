"""Stopping a run cleanly: SIGINT/SIGTERM set a flag, the loop stops at the next step boundary
(every process after the same step) and checkpoints; the caller's handlers come back at the end."""

from __future__ import annotations

import contextlib
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_CHECK_EVERY = 10  # steps between the processes' agreement on a stop request (torchrun)


class StopRequest:
    """A second signal falls through to the default handler (immediate exit)."""

    def __init__(self, dist, device):
        self.signal = None
        self.dist, self.device = dist, device

    def install(self) -> StopRequest:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signum
        signal.signal(signum, signal.SIG_DFL)

    def agreed(self, step: int) -> bool:
        """Has a stop been requested? Processes agree on it (every STOP_CHECK_EVERY steps, a
        collective), so they all stop after the same step; step 0 checks at once."""
        if not self.dist.enabled:
            return self.signal is not None
        if step % STOP_CHECK_EVERY:
            return False
        if self.dist.any(self.signal is not None, self.device):
            self.signal = self.signal or signal.SIGTERM  # a rank the signal did not reach
            return True
        return False

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signal


@contextlib.contextmanager
def signal_handlers_restored(signals=STOP_SIGNALS):
    """StopRequest replaces the handlers for the whole run; the caller gets its own back when
    training ends, however it ends (in a notebook or a test, Ctrl-C would be swallowed once)."""
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(sig, handler)
