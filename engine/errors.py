"""User-facing errors. train.py / evaluate.py print these as one line (no traceback unless
--debug) and exit non-zero; anything else is a bug and keeps its traceback."""


class UserError(Exception):
    """A problem with what the user gave us (config, data, checkpoint, output dir)."""


class ConfigError(UserError):
    pass


class CheckpointError(UserError):
    pass


class OutputDirError(UserError):
    pass


class NumericalFault(UserError):
    """A NaN/Inf loss or gradient under nan_policy: stop."""
