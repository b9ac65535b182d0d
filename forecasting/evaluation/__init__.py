"""Evaluation: pooling the metrics of backtest windows per series, per model and over the total."""
