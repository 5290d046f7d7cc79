"""What a user would run instead of `wfm-bridge` forecasts and staffing: pandas for the
mean-of-4-weeks baseline over 1,000 queues, statsmodels Holt-Winters (the usual "better model" in
Python) on a few queues, and a textbook Erlang C in pure Python (what a spreadsheet macro does).

Same shape as crates/forecast/examples/forecast_throughput.rs: 1,000 queues, 56 days of 15-minute
history, 14 days x 96 intervals forecast. Synthetic counts (numpy's Poisson), so the figures compare
work, not accuracy.

    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install numpy pandas statsmodels
    /tmp/pyenv/bin/python bench/forecast_python.py [QUEUES]
"""

import math
import sys
import time
import warnings

import numpy as np
import pandas as pd

QUEUES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
HISTORY_DAYS, FORECAST_DAYS, SLOTS = 56, 14, 96


def erlang_c_staffing(calls, interval_s, aht_s, sl=0.8, within_s=20.0):
    """The textbook loop: the smallest N with SL >= target (Erlang B recursion for stability)."""
    a = calls * aht_s / interval_s
    n = max(1, math.floor(a) + 1)
    while True:
        b = 1.0
        for k in range(1, n + 1):
            b = a * b / (k + a * b)
        c = n * b / (n - a * (1 - b))
        service = 1 - c * math.exp(-(n - a) * within_s / aht_s)
        if service >= sl:
            return n
        n += 1


def main():
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    slot = np.arange(SLOTS)
    intraday = 0.2 + np.exp(-((slot - 44) / 18.0) ** 2)
    weekday = np.array([1.1, 1.0, 0.95, 0.95, 0.9, 0.5, 0.4])
    sizes = 5 + 200 * rng.random(QUEUES)
    days = np.arange(HISTORY_DAYS)
    mean = sizes[:, None, None] * weekday[days % 7][None, :, None] * intraday[None, None, :]
    counts = rng.poisson(mean)  # queues x days x slots
    frame = pd.DataFrame(
        {
            "queue": np.repeat(np.arange(QUEUES), HISTORY_DAYS * SLOTS),
            "day": np.tile(np.repeat(days, SLOTS), QUEUES),
            "slot": np.tile(slot, QUEUES * HISTORY_DAYS),
            "calls": counts.ravel(),
        }
    )
    t_gen = time.perf_counter() - t0

    # Baseline: mean of the last 4 same weekdays per slot, for each of the 14 days ahead.
    t0 = time.perf_counter()
    frame["weekday"] = frame["day"] % 7
    last4 = frame[frame["day"] >= HISTORY_DAYS - 28]
    profile = last4.groupby(["queue", "weekday", "slot"], sort=False)["calls"].mean()
    ahead = pd.DataFrame(
        {
            "queue": np.repeat(np.arange(QUEUES), FORECAST_DAYS * SLOTS),
            "weekday": np.tile(np.repeat((HISTORY_DAYS + np.arange(FORECAST_DAYS)) % 7, SLOTS), QUEUES),
            "slot": np.tile(slot, QUEUES * FORECAST_DAYS),
        }
    )
    forecast = ahead.join(profile, on=["queue", "weekday", "slot"])
    t_baseline = time.perf_counter() - t0
    assert len(forecast) == QUEUES * FORECAST_DAYS * SLOTS

    # Erlang C staffing of every forecast interval, one Python call each (15-minute intervals).
    t0 = time.perf_counter()
    sample = forecast["calls"].to_numpy()
    n_staff = min(len(sample), 100_000)
    for calls in sample[:n_staff]:
        erlang_c_staffing(float(calls), 900.0, 180.0)
    t_staff = (time.perf_counter() - t0) * len(sample) / n_staff

    # One interval, microseconds.
    reps = 20_000
    t0 = time.perf_counter()
    for _ in range(reps):
        erlang_c_staffing(100.0, 1800.0, 180.0)
    t_one = (time.perf_counter() - t0) / reps * 1e6
    assert erlang_c_staffing(100.0, 1800.0, 180.0) == 14

    # statsmodels Holt-Winters with a weekly season of 672 slots, on a few queues.
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    few = 5
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for q in range(few):
            y = counts[q].ravel().astype(float) + 1.0
            model = ExponentialSmoothing(y, trend=None, seasonal="add", seasonal_periods=7 * SLOTS)
            model.fit().forecast(FORECAST_DAYS * SLOTS)
    t_hw = (time.perf_counter() - t0) / few

    print(f"{QUEUES} queues x {FORECAST_DAYS} days x {SLOTS} intervals, {HISTORY_DAYS} days of history")
    print(f"generate history (numpy): {t_gen:.2f} s")
    print(f"pandas mean-of-4-weeks baseline, all queues: {t_baseline:.2f} s")
    print(f"pure-Python Erlang C staffing of every interval: {t_staff:.1f} s "
          f"(measured on {n_staff:,} of {len(sample):,} intervals)")
    print(f"pure-Python Erlang C staffing, one interval (100 calls/30 min, 80/20 -> 14): {t_one:.1f} us")
    print(f"statsmodels Holt-Winters (weekly season): {t_hw:.2f} s per queue "
          f"-> {t_hw * QUEUES / 60:.0f} min for {QUEUES} queues on one core")


if __name__ == "__main__":
    main()
