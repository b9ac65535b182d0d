"""Exceptions that carry a message meant for the analyst (shown on a page or as `error: …` by the CLI)."""


class SalesCastError(Exception):
    """Base class: the message is complete and readable on its own."""


class DataError(SalesCastError, ValueError):
    """The input data cannot be used as given: say what is wrong and where (column, row, encoding)."""


class ConfigError(SalesCastError, ValueError):
    """A setting is invalid (unknown model, bad horizon, bad --set value …)."""


class EngineError(SalesCastError, RuntimeError):
    """The execution layer failed as a whole (workers keep dying, the cluster cannot run the code)."""
