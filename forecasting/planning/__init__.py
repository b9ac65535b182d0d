"""From forecast to decision: lead-time demand, stock targets, ABC/XYZ classes, exceptions and the
policy backtest that checks the targets keep their promised service level."""
from forecasting.planning.run import PlanConfig, PlanResult, run_plan

__all__ = ["PlanConfig", "PlanResult", "run_plan"]
