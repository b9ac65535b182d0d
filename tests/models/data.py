"""Real series for the model tests.

AIR: the classic monthly international airline passengers 1949–1960 (thousands), Box & Jenkins (1976)
Series G, as shipped in R's ``datasets::AirPassengers`` (statsmodels does not ship it; embedded here).
Other series come from ``statsmodels.datasets`` (loaded by :func:`load`).
"""
import numpy as np
import pandas as pd

AIR = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
    115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
    145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194,
    196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201,
    204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229,
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278,
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306,
    315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336,
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337,
    360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405,
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
]


def load(name: str) -> tuple[np.ndarray, int]:
    """(values, season length) of a named real series."""
    if name == "air":
        return np.array(AIR, dtype=float), 12
    import statsmodels.api as sm

    if name == "co2_monthly":   # Mauna Loa CO2, weekly 1958-2001, averaged per month
        d = sm.datasets.co2.load_pandas().data["co2"]
        return d.resample("MS").mean().interpolate().to_numpy()[-240:], 12
    if name == "nile":          # annual Nile flow 1871-1970
        return sm.datasets.nile.load_pandas().data["volume"].to_numpy(dtype=float), 1
    if name == "gdp":           # US real GDP, quarterly 1959-2009
        return sm.datasets.macrodata.load_pandas().data["realgdp"].to_numpy(dtype=float), 4
    raise KeyError(name)
