"""CLI subcommands. Each module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``,
and imports heavy libraries only inside ``run`` so ``python -m forecasting --help`` stays fast."""

COMMANDS = ["validate", "decompose", "backtest", "forecast", "plan", "models", "runs", "override", "accuracy", "serve"]
