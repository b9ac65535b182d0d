"""Explore: the structure of a series before modelling it (no streamlit here).

Every function takes one series as a ``pandas.Series`` indexed by date (or a plain array where no
dates are needed) and the dataset's pandas frequency alias. Gaps and short histories never crash:
methods that need a complete grid interpolate and say so; methods that need two full seasons fall
back and say why (see the ``notes`` of each result).

Modules: :mod:`.prep` (grid, gaps), :mod:`.smoothing`, :mod:`.seasonality` (period detection,
strengths, seasonal indices), :mod:`.decompose`, :mod:`.cycles`, :mod:`.stationarity`,
:mod:`.profile`, :mod:`.anomalies`, :mod:`.aggregate`, :mod:`.summary` (card and table),
:mod:`.components` (the long components table of many series: CLI output and page download).
"""
