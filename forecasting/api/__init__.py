"""SalesCast's HTTP API (``python -m forecasting serve``): forecasts, backtests and jobs over the same
library code path as the CLI. ``app`` (routes, auth, errors), ``pool`` (worker processes, queue,
cancellation), ``jobs``, ``work`` (request -> Dataset -> pipeline -> JSON), ``schemas``, ``settings``.
Imports FastAPI, so nothing below ``commands`` imports this package."""
