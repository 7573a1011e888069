"""Shared training machinery used by train.py, evaluate.py and scripts/: config loading and
validation, checkpoints, atomic file writes, the device-side batch loop, and run bookkeeping."""
