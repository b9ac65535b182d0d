"""Planted signals shared by the Explore tests."""
import numpy as np
import pandas as pd

PATTERN_12 = np.array([5.0, 3, 0, -2, -4, -6, -4, -1, 2, 4, 6, -3])
PATTERN_12 = PATTERN_12 - PATTERN_12.mean()


def monthly(n=120, noise=1.0, seed=0, pattern=PATTERN_12, slope=0.5, level=100.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = level + slope * t + np.resize(pattern, n) + rng.normal(0, noise, n)
    return pd.Series(v, index=pd.date_range("2010-01-01", periods=n, freq="MS"))


def daily_two_seasons(n=3 * 365 + 30, seed=0) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = 5 * np.sin(2 * np.pi * t / 7)
    yearly = 10 * np.sin(2 * np.pi * t / 365.25)
    v = 50 + 0.01 * t + weekly + yearly + rng.normal(0, 2, n)
    return pd.Series(v, index=pd.date_range("2020-01-01", periods=n, freq="D")), weekly, yearly


