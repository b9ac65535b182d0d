"""Evaluation: metrics, the shared orchestration (fallbacks, non-negativity), rolling-origin backtests."""
