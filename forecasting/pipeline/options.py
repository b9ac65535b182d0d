"""What every run shares, backtest or forecast: one dataclass, checked in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from forecasting.errors import ConfigError


@dataclass(kw_only=True)
class RunOptions:
    """Options shared by :class:`~forecasting.pipeline.backtest.BacktestConfig` and
    :class:`~forecasting.pipeline.forecast.ForecastConfig` (both extend it)."""
    levels: Sequence[int] = (80, 95)                                     # prediction-interval levels, percent
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name -> its settings
    season_length: int | None = None                                     # None: found from the data
    seed: int = 0
    non_negative: bool = True            # clip forecasts and bounds at zero when the history is non-negative
    engine: str = "local"                # serial, local (process pool) or dask
    address: str | None = None           # Dask scheduler address (engine dask)
    n_workers: int | None = None

    def check_options(self, models: Sequence[str]) -> None:
        """Raise :class:`ConfigError` for a bad shared option or a setting a chosen model refuses."""
        from forecasting.engines import check_engine
        from forecasting.models.registry import check_settings, get_spec

        if self.season_length is not None and int(self.season_length) < 1:
            raise ConfigError(f"season length must be at least 1 (got {self.season_length})")
        check_engine(self.engine)
        check_levels(self.levels)
        for m in models:
            get_spec(m)
        for m, params in self.model_params.items():
            if m not in models:
                raise ConfigError(f"settings given for model '{m}', which is not among the chosen models")
            check_settings(m, params)


def check_levels(levels: Sequence[int]) -> None:
    if not levels:
        raise ConfigError("give at least one interval level, e.g. 80,95")
    for l in levels:
        if not (0 < float(l) < 100) or float(l) != int(l):
            raise ConfigError(f"interval levels must be whole percentages between 1 and 99 (got {l})")
