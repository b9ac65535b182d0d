"""Exceptions that carry a message meant for the analyst (shown on a page or as `error: …` by the CLI)."""


class SalesCastError(Exception):
    """Base class: the message is complete and readable on its own. It speaks of settings by what they
    are ("name the date column"); ``setting`` names the one to change (``date_col``), so that each
    interface can add its own wording (the CLI: "with --date-col")."""

    def __init__(self, message: str = "", *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class DataError(SalesCastError, ValueError):
    """The input data cannot be used as given: say what is wrong and where (column, row, encoding)."""


class ConfigError(SalesCastError, ValueError):
    """A setting is invalid (unknown model, bad horizon, a value a model refuses …)."""


class EngineError(SalesCastError, RuntimeError):
    """The execution layer failed as a whole (workers keep dying, the cluster cannot run the code)."""


class OutputError(SalesCastError, OSError):
    """An output file could not be written (disk full, no permission); nothing partial is left behind."""
