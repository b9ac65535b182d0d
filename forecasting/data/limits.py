"""How much a file may expand to when it is read: a compressed spreadsheet or a Parquet file can say
"a billion cells" in a few kilobytes. Beyond a limit ingest stops early with one :class:`DataError` line
that names the limit and the setting that raises it, instead of running the machine out of memory.

Every limit is a setting with a default that fits the largest files SalesCast is meant for (an upload is
at most 1 GB; Excel itself stops at 1,048,576 rows and 16,384 columns). Change one with an environment
variable of the process that runs the app or the CLI, e.g. ``SALESCAST_MAX_CELLS=50000000``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields

ENV_PREFIX = "SALESCAST_"


@dataclass(frozen=True)
class Limits:
    max_unzipped_mb: int = 512          # uncompressed size of one member of an .xlsx (a zip archive)
    max_rows: int = 20_000_000          # rows of a spreadsheet or Parquet file
    max_cells: int = 20_000_000         # rows x columns of a spreadsheet (every cell is a Python object)
    max_columns: int = 16_384           # columns of a spreadsheet (Excel's own maximum)
    max_row_groups: int = 100_000       # row groups of a Parquet file (each costs metadata and a read call)
    max_line_mb: int = 64               # one line of a CSV file

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, with any ``SALESCAST_MAX_…`` environment variable applied."""
        from forecasting.errors import ConfigError

        values = {}
        for f in fields(cls):
            var = ENV_PREFIX + f.name.upper()
            text = os.environ.get(var)
            if text is None or not text.strip():
                continue
            try:
                v = int(text.replace("_", ""))
            except ValueError:
                raise ConfigError(f"{var} must be a whole number (got '{text}')") from None
            if v < 1:
                raise ConfigError(f"{var} must be at least 1 (got {v})")
            values[f.name] = v
        return cls(**values)

    @staticmethod
    def setting(name: str) -> str:
        """The environment variable that raises limit ``name`` (for messages)."""
        return ENV_PREFIX + name.upper()
