"""Default season length per pandas frequency alias (the period most sales data repeats over)."""
from __future__ import annotations

import re

# base alias (prefix, upper case, anchor dropped) -> season length
_SEASONS: dict[str, int] = {
    "Y": 1, "A": 1, "YS": 1, "AS": 1, "BY": 1, "BYS": 1, "BA": 1, "BAS": 1,
    "Q": 4, "QS": 4, "BQ": 4, "BQS": 4,
    "M": 12, "MS": 12, "ME": 12, "BM": 12, "BMS": 12, "BME": 12, "SM": 24, "SMS": 24,
    "W": 52,
    "D": 7, "B": 5, "C": 5,
    "H": 24, "BH": 24,
    "T": 60, "MIN": 60, "S": 60,
}


def season_length_for(freq: str | None) -> int:
    """The default season length for a frequency alias: 12 for monthly, 4 quarterly, 7 daily, 52 weekly …

    Unknown or missing frequencies give 1 (no seasonality)."""
    if not freq:
        return 1
    alias = str(freq).split("-")[0].upper()
    match = re.fullmatch(r"(\d*)([A-Z]+)", alias)
    if not match:
        return 1
    mult, base = match.groups()
    season = _SEASONS.get(base, 1)
    if mult and int(mult) > 1 and season > 1:
        season = max(1, round(season / int(mult)))
    return season


def dataset_season_length(dataset) -> tuple[int, str]:
    """The season length models use by default for a dataset, and why.

    The period detector of the Explore step (periodogram and ACF, cross-checked with the calendar) runs on
    the total over all series; the shortest calendar period it confirms is used. When it confirms none
    (too short a history, or no seasonal pattern) the season length is 1, unless the history is too short to
    check at all, in which case the calendar default stands (the models fall back on their own when a season
    cannot be fitted)."""
    from forecasting.explore.seasonality import detect_periods

    calendar = season_length_for(dataset.freq)
    total = dataset.df.groupby("ds")["y"].sum(min_count=1)
    if dataset.freq:
        try:
            total = total.asfreq(dataset.freq)
        except (ValueError, TypeError):
            pass
    if calendar > 1 and total.notna().sum() < 2 * calendar:
        return calendar, f"calendar default for frequency {dataset.freq} (history too short to confirm it)"
    try:
        m = int(detect_periods(total, dataset.freq).season_length)
    except Exception:  # a default must never break the caller
        return calendar, f"calendar default for frequency {dataset.freq}"
    if m == calendar:
        return m, f"detected on the total of all series (calendar period of {dataset.freq})"
    return m, f"detected on the total of all series (calendar default would be {calendar})"
