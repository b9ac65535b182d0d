"""Defaults read by the CLI, the pages and the API, in a module without imports (``--help`` stays fast).

``DEFAULT_MODEL`` is the default of the Forecast page and of ``forecast --model`` and what the Models page
suggests: the model that measures best on M3, Tourism and the sample data (``benchmarks/bench_selection.py``,
``benchmarks/results/selection.md``)."""
DEFAULT_MODEL = "ensemble"
# Measured (benchmarks/results/selection.md): the mean of ets, theta and sarima is at least as accurate as
# ``auto`` on every set (M3 subset: auto +0.99% mean MASE, Tourism subset and sample: equal), and cheaper.
