"""The one loop backtest and forecast share: the per-series models over the series not done yet, then each
across-series model not done yet, every result handed to the sink as it finishes."""
from __future__ import annotations

from typing import Any

from forecasting.pipeline.plan import Job, RunPlan, SeriesData
from forecasting.progress import PriorResults, ProgressCallback, ResultSink, report


def run_models(plan: RunPlan, series: list[SeriesData], job: Job, stage: str, n_models: int, *,
               engine: dict[str, Any], progress: ProgressCallback | None, sink: ResultSink | None,
               prior: PriorResults, explain: bool = False, reuse: dict[str, Any] | None = None,
               on_model=None) -> tuple[list[dict[str, Any]], bool]:
    """(the prior results plus the new ones, cancelled?). ``explain``, ``reuse`` (global model name -> a
    function giving its trained model) and ``on_model``: as in
    :func:`~forecasting.pipeline.across_series.run_across_series`."""
    from forecasting.pipeline.across_series import progress_text, run_across_series
    from forecasting.pipeline.per_series import run_per_series

    results: list[dict[str, Any]] = list(prior.results)
    cancelled = False
    n_series = len(series)
    todo = [s for s in series if s.uid not in prior.series] if prior.series else series
    report(progress, stage, n_series - len(todo), n_series, f"{n_series} series × {n_models} model(s)")
    if plan.per_series and todo:
        new, cancelled = run_per_series(todo, plan.per_series, job, progress=progress, stage=stage,
                                        sink=sink, **engine)
        results += new
    if plan.across_series and series and not cancelled:
        for name in plan.across_series:
            if name in prior.models:
                continue
            report(progress, stage, n_series, n_series, progress_text(name))
            results.append(run_across_series(name, series, job, plan.covariates, explain=explain,
                                             reuse=(reuse or {}).get(name), on_model=on_model, **engine))
            if sink is not None:
                sink(name, [s.uid for s in series], results[-1])
    return results, cancelled
