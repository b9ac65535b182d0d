"""Lead-time demand from sample paths and the stock targets read from it, against hand computations."""
import math

import numpy as np
import pytest
from scipy.stats import expon, gamma, norm

from forecasting.planning.leadtime import (Marginals, knot_probs, lead_time_demand, pooled_uniforms,
                                           rho_from_pool)
from forecasting.planning.policy import order_quantity, targets


def marginals(ppf, periods, non_negative=True):
    p = knot_probs()
    return Marginals.from_knots(p, np.tile(ppf(p), (periods, 1)), non_negative)


def test_safety_stock_of_normal_demand_matches_the_formula():
    # demand N(100, 10²) per period, independent periods, L = 4, α = 0.95:
    # σ_L = 10·√4 = 20, safety stock = 1.645 · 20 = 32.9, reorder point = 432.9
    m = marginals(lambda p: norm.ppf(p, 100, 10), 5)
    ltd = lead_time_demand(m, 4, 1, rho=0.0, n_paths=60000, rng=np.random.default_rng(1))
    t = targets(ltd, 0.95)
    assert t.lead_time_demand == pytest.approx(400, abs=0.5)
    assert t.safety_stock == pytest.approx(norm.ppf(0.95) * 20, abs=1.0)
    assert t.reorder_point == pytest.approx(t.lead_time_demand + t.safety_stock)
    # order-up-to covers L + R = 5 periods: 500 + 1.645·10·√5
    assert t.order_up_to == pytest.approx(500 + norm.ppf(0.95) * 10 * np.sqrt(5), abs=1.2)
    # perfectly dependent periods (ρ = 1): the sum of the quantiles, 4 · 1.645 · 10
    t1 = targets(lead_time_demand(m, 4, 1, rho=1.0, n_paths=60000, rng=np.random.default_rng(1)), 0.95)
    assert t1.safety_stock == pytest.approx(4 * norm.ppf(0.95) * 10, abs=1.0)


def test_quantile_of_a_sum_is_not_the_sum_of_quantiles_on_skewed_demand():
    # exponential(1) demand per period, independent: lead-time demand over 4 periods is Gamma(4, 1)
    m = marginals(expon.ppf, 5)
    ltd = lead_time_demand(m, 4, 1, rho=0.0, n_paths=60000, rng=np.random.default_rng(2))
    rop = targets(ltd, 0.95).reorder_point
    sum_of_quantiles = 4 * expon.ppf(0.95)                 # 11.98
    assert rop == pytest.approx(gamma.ppf(0.95, 4), abs=0.15)   # 7.75
    assert sum_of_quantiles - rop > 3
    # the same from a pool of independent probability vectors (the bootstrap path)
    pool = np.random.default_rng(3).uniform(size=(5000, 5))
    ltd_b = lead_time_demand(m, 4, 1, pool=pool, n_paths=60000, rng=np.random.default_rng(4))
    assert ltd_b.method == "bootstrap"
    assert targets(ltd_b, 0.95).reorder_point == pytest.approx(gamma.ppf(0.95, 4), abs=0.2)


def test_probability_transform_is_exact_for_a_normal_and_uniform_on_an_atom():
    m = marginals(lambda p: norm.ppf(p, 50, 5), 3)
    rng = np.random.default_rng(0)
    u = m.pit(np.array([50.0, 55.0, 30.0]), rng)
    assert u == pytest.approx(norm.cdf([0.0, 1.0, -4.0]), abs=1e-9)
    # a forecast with 30 % of its mass at zero: an actual zero falls uniformly in [0, 0.3]
    z = marginals(lambda p: np.maximum(norm.ppf(p, 1, 2) - norm.ppf(0.3, 1, 2), 0.0), 1)
    us = np.array([z.pit(np.array([0.0]), rng)[0] for _ in range(4000)])
    assert us.min() >= 0 and us.max() <= 0.3 + 1e-9 and us.mean() == pytest.approx(0.15, abs=0.01)


def test_bootstrap_of_backtest_probabilities_widens_intervals_that_were_too_narrow():
    # the model says σ = 10 per period, the actuals of its backtest varied with σ = 20
    m = marginals(lambda p: norm.ppf(p, 100, 10), 2)
    rng = np.random.default_rng(5)
    pool = np.array([m.pit(rng.normal(100, 20, 2), rng) for _ in range(4000)])
    ltd = lead_time_demand(m, 1, 1, pool=pool, n_paths=40000, rng=np.random.default_rng(6))
    assert targets(ltd, 0.9).safety_stock == pytest.approx(norm.ppf(0.9) * 20, rel=0.05)
    assert rho_from_pool(pool) == pytest.approx(0.0, abs=0.06)
    # dependent periods are recognised: a common shock in both periods
    common = rng.normal(size=(3000, 1))
    dep = norm.cdf(0.9 * common + np.sqrt(1 - 0.81) * rng.normal(size=(3000, 2)))
    assert rho_from_pool(dep) == pytest.approx(0.81, abs=0.05)
    assert pooled_uniforms(np.zeros((3, 2)), 5, rng).min() > 0


def test_variable_lead_time_adds_stock():
    m = marginals(lambda p: norm.ppf(p, 100, 10), 20)
    fixed = targets(lead_time_demand(m, 4, 1, rho=0.0, n_paths=40000, rng=np.random.default_rng(7)), 0.95)
    var = targets(lead_time_demand(m, 4, 1, lead_time_sd=1.0, rho=0.0, n_paths=40000,
                                   rng=np.random.default_rng(7)), 0.95)
    # L = a normal(4, 1) rounded to whole periods: P(L = k) = Φ(k − 3.5) − Φ(k − 4.5); given L = k the demand
    # is N(100k, 10²k). The reorder point solves Σ_k P(k)·Φ((s − 100k) / (10√k)) = 0.95.
    from scipy.optimize import brentq

    k = np.arange(1, 12)
    pk = norm.cdf(k + 0.5, 4, 1) - norm.cdf(k - 0.5, 4, 1)
    pk[0] += norm.cdf(0.5, 4, 1)
    s = brentq(lambda s: (pk * norm.cdf((s - 100 * k) / (10 * np.sqrt(k)))).sum() - 0.95, 0, 2000)
    assert var.lead_time_demand == pytest.approx(400, abs=3)
    assert var.reorder_point == pytest.approx(s, abs=3)
    assert var.safety_stock > 4 * fixed.safety_stock


def test_order_quantity_is_never_negative():
    rng = np.random.default_rng(8)
    for S, oh, oo in zip(rng.normal(100, 80, 500), rng.normal(100, 80, 500), rng.uniform(0, 50, 500)):
        q = order_quantity(S, oh, oo)
        assert q >= 0 and q == pytest.approx(max(0.0, S - oh - oo))
    assert order_quantity(50, 80) == 0 and order_quantity(120, 80, 10) == 30
    assert order_quantity(120, 80, float("nan")) == 40


def test_all_zero_demand_needs_no_stock():
    m = marginals(lambda p: np.zeros_like(p), 4)
    t = targets(lead_time_demand(m, 3, 1, rho=0.5, n_paths=500), 0.99)
    assert (t.lead_time_demand, t.safety_stock, t.reorder_point, t.order_up_to, t.fill_rate) == (0, 0, 0, 0, 1.0)


def test_fill_rate_of_normal_demand_matches_the_loss_function():
    # (R, S) with R = 1, L = 1: units short per cycle = E(D2 − S)⁺ − E(D1 − S)⁺, demand per cycle 100
    m = marginals(lambda p: norm.ppf(p, 100, 10), 2)
    ltd = lead_time_demand(m, 1, 1, rho=0.0, n_paths=100000, rng=np.random.default_rng(9))
    t = targets(ltd, 0.9)
    s2, S = 10 * np.sqrt(2), t.order_up_to
    loss = lambda mu, s: s * (norm.pdf((S - mu) / s) - (S - mu) / s * norm.sf((S - mu) / s))
    expect = 1 - (loss(200, s2) - loss(100, 10)) / 100
    assert t.fill_rate == pytest.approx(expect, abs=0.003)
    assert t.fill_rate > 0.9


def test_calibrated_level_is_split_conformal():
    from forecasting.planning.backtest import calibrated_level

    u = np.arange(1, 100) / 100.0                     # 99 probabilities 0.01 … 0.99
    assert calibrated_level(u, 0.9) == pytest.approx(0.90)        # ⌈100·0.9⌉ = 90th smallest
    # intervals too wide: actuals fall in the middle, a lower level keeps the promise (less stock)
    assert calibrated_level(0.25 + u / 2, 0.9) == pytest.approx(0.70)
    # too narrow: actuals fall in the tails, the level goes up
    narrow = np.concatenate([np.full(40, 0.001), np.full(40, 0.999), np.full(19, 0.5)])
    assert calibrated_level(narrow, 0.9) == pytest.approx(0.999)
    assert calibrated_level(u[:10], 0.9) == 0.9          # too few to calibrate
    assert calibrated_level(u, 0.995) == 1.0


def test_order_up_to_level_is_calibrated_on_the_protection_period():
    """The order-up-to level covers lead time + review period, so it is read at the level calibrated on that
    period's demand, not the lead time's. Planted: the lead-time distribution is right, the protection one
    twice too wide (past demands over L + R fell in its lower half): S comes down to what kept the promise
    over L + R, the reorder point stays."""
    import pandas as pd

    from forecasting.planning.backtest import WindowDraw, policy_backtest

    rng = np.random.default_rng(3)
    lead = np.linspace(0, 100, 1001).astype(np.float32)          # uniform 0..100 over the lead time
    prot = 2 * lead                                               # uniform 0..200 over lead time + review
    draws = []
    for i in range(400):
        a_lead, a_prot = rng.uniform(0, 100), rng.uniform(0, 100)   # actual protection demand: 0..100 only
        draws.append(WindowDraw(f"s{i // 4}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=i % 4), i % 4,
                                lead, prot, a_lead, a_prot, a_lead / 100, a_prot / 200, "bootstrap",
                                (50.0, 100.0, 20.0)))
    pol = policy_backtest(draws, service_level=0.9, lead_time=1, review_period=1, windows=4)
    assert pol["hit"].mean() == pytest.approx(0.9, abs=0.04)                 # reorder point at ~0.9
    assert pol["reorder_point"].median() == pytest.approx(90, abs=4)
    assert pol["protection_hit"].mean() == pytest.approx(0.9, abs=0.04)      # S keeps the promise over L + R …
    assert pol["order_up_to"].median() == pytest.approx(90, abs=6)           # … at about half of the 0.9-quantile
    assert pol["order_up_to"].median() < 0.6 * float(np.quantile(prot, 0.9))


def test_tail_is_read_from_scaled_errors_where_the_samples_run_out():
    """At 99 % the level calibrated on the backtest asks for a sample beyond the largest one when the model's
    intervals are too narrow: the quantile read there (the largest sample) cannot keep the promise. Planted:
    sampled demand N(100, 10), actual demand N(100, 20), 100 series × 4 windows. The tail reading (median +
    q × spread, q from the other windows' scaled errors) keeps 99 %; the level reading stays near 95 %."""
    import pandas as pd

    from forecasting.planning.backtest import WindowDraw, policy_backtest

    rng = np.random.default_rng(5)
    lead = np.sort(rng.normal(100, 10, 1000)).astype(np.float32)
    prot = np.sort(rng.normal(200, 14, 1000)).astype(np.float32)
    draws = []
    for i in range(400):
        a_lead, a_prot = rng.normal(100, 20), rng.normal(200, 28)
        draws.append(WindowDraw(f"s{i // 4}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=i % 4), i % 4,
                                lead, prot, a_lead, a_prot, float(np.mean(lead <= a_lead)),
                                float(np.mean(prot <= a_prot)), "bootstrap", (100.0, 200.0, 20.0)))
    kw = dict(service_level=0.99, lead_time=1, review_period=1, windows=4)
    tail, level = policy_backtest(draws, **kw), policy_backtest(draws, **kw, tail=False)
    assert tail["hit"].mean() >= 0.975 and tail["protection_hit"].mean() >= 0.975
    assert level["hit"].mean() < 0.965                          # capped at the largest sample, ~131
    assert (level["reorder_point"] <= lead.max()).all() and tail["reorder_point"].median() > lead.max()
    # near the true 99 % quantile of the actual demand, 100 + 2.33 · 20 = 146.5
    assert tail["reorder_point"].median() == pytest.approx(100 + norm.ppf(0.99) * 20, rel=0.1)
    # below 98 % the calibrated level is kept
    assert policy_backtest(draws, **{**kw, "service_level": 0.9})["tail_score"].isna().all()


def test_tail_quantile_extends_past_the_largest_score_with_an_exponential_tail():
    from forecasting.planning.backtest import tail_quantile

    s = np.random.default_rng(0).exponential(1.0, 200)
    assert tail_quantile(s, 0.9) == np.sort(s)[math.ceil(201 * 0.9) - 1]        # split conformal
    q = tail_quantile(s, 0.999)                     # ⌈201 · 0.999⌉ = 201 > 200: extrapolated
    assert q > s.max() and q == pytest.approx(expon.ppf(0.999), rel=0.2)
    assert tail_quantile(s[:20], 0.99) is None      # too few to calibrate
