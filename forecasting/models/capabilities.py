"""What a model can do, declared once per model in the registry."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    covariates: bool = False      # uses exogenous regressors (needs their future values)
    intervals: bool = True        # gives prediction intervals
    global_model: bool = False    # trained across many series at once
    needs_torch: bool = False
    intermittent: bool = False    # designed for intermittent demand
