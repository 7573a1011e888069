"""Measurements of speed: a training step of each pipeline against the authors' code
(benchmark.py) and the one-command check of a GPU (gpu_check.py); scripts/ holds their command
lines."""
