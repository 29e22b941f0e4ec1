"""`diff_repetitions`: a function counts only where the runs agree, by presence or Welch's t."""

from __future__ import annotations

import pytest

from orchestrator.analysis.diff import FunctionCounts, diff_repetitions, pooled, welch_p

# 2 * P(T > sqrt(3)) for df = 75/17, by Simpson's rule over the t density (100000 intervals)
WELCH_1234_2468 = 0.1515805048453056


def runs(*samples: dict[str, int], records: int = 1000) -> list[FunctionCounts]:
    return [FunctionCounts(counts, records) for counts in samples]


def test_welch_p_matches_the_t_distribution_integrated_apart():
    assert welch_p([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(WELCH_1234_2468, abs=1e-9)
    assert welch_p([2, 4, 6, 8], [1, 2, 3, 4]) == pytest.approx(WELCH_1234_2468, abs=1e-9)


def test_welch_p_without_spread_is_certain_either_way():
    assert welch_p([0.5, 0.5], [0.5, 0.5, 0.5]) == 1.0
    assert welch_p([0.5, 0.5], [0.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="at least two values"):
        welch_p([0.5], [0.1, 0.2])


def test_a_function_in_one_of_three_runs_is_noise_and_one_in_all_three_is_added():
    baseline = runs({"tcp_sendmsg": 900}, {"tcp_sendmsg": 950}, {"tcp_sendmsg": 920})
    target = runs(
        {"tcp_sendmsg": 900, "br_handle_frame": 600, "__irq_exit_rcu": 5},
        {"tcp_sendmsg": 910, "br_handle_frame": 640},
        {"tcp_sendmsg": 940, "br_handle_frame": 610},
    )

    result = diff_repetitions(baseline, target)

    (added,) = result.extra
    assert added["function"] == "br_handle_frame"
    assert added["samples"] == 1850
    assert (added["target_runs"], added["baseline_runs"], added["test"]) == (3, 0, "presence")
    assert added["target_share"] == pytest.approx(1850 / 3000)
    assert result.missing == () and result.changed == ()
    assert result.unsettled == 1  # __irq_exit_rcu: the raw view lists it
    assert (result.baseline_runs, result.target_runs) == (3, 3)


def test_presence_is_a_share_of_the_target_runs():
    baseline = runs({"a": 1}, {"a": 1}, {"a": 1}, {"a": 1})
    target = runs({"a": 1, "b": 3}, {"a": 1, "b": 300}, {"a": 1, "b": 2}, {"a": 1})

    assert diff_repetitions(baseline, target).extra == ()
    (added,) = diff_repetitions(baseline, target, presence=0.75).extra
    assert (added["function"], added["target_runs"], added["test"]) == ("b", 3, "presence")


def test_a_function_in_most_runs_with_a_steady_share_is_added_by_welch():
    baseline = runs(*({"a": 10} for _ in range(5)))
    target = runs(*({"a": 10, "b": n} for n in (400, 410, 390, 405)), {"a": 10})

    (added,) = diff_repetitions(baseline, target).extra
    assert (added["function"], added["target_runs"], added["test"]) == ("b", 4, "welch")
    assert float(added["p"]) < 0.05  # type: ignore[arg-type]


def test_missing_is_the_same_test_the_other_way_round():
    baseline = runs({"loopback_xmit": 500, "a": 1}, {"loopback_xmit": 480, "a": 1})
    target = runs({"a": 1}, {"a": 1})

    (dropped,) = diff_repetitions(baseline, target).missing
    assert (dropped["function"], dropped["samples"], dropped["baseline_runs"]) == (
        "loopback_xmit",
        980,
        2,
    )


def test_changed_needs_both_the_factor_and_a_difference_beyond_the_spread():
    baseline = runs({"steady": 100, "noisy": 10}, {"steady": 110, "noisy": 300})
    target = runs({"steady": 400, "noisy": 10}, {"steady": 420, "noisy": 700})

    result = diff_repetitions(baseline, target, factor=2.0)

    (changed,) = result.changed
    assert changed["function"] == "steady"
    assert changed["ratio"] == pytest.approx(820 / 210)
    assert (changed["samples"], changed["baseline_samples"]) == (820, 210)
    assert result.unsettled == 1  # noisy: its ratio is beyond 2, its runs' spread is wider
    assert diff_repetitions(baseline, target, factor=5.0).changed == ()


def test_it_refuses_what_it_cannot_test():
    two = runs({"a": 1}, {"a": 1})
    with pytest.raises(ValueError, match="two runs per side"):
        diff_repetitions(two[:1], two)
    with pytest.raises(ValueError, match="presence"):
        diff_repetitions(two, two, presence=0.0)
    with pytest.raises(ValueError, match="factor"):
        diff_repetitions(two, two, factor=0.5)


def test_pooled_sums_counts_and_records():
    total = pooled(runs({"a": 1, "b": 2}, {"a": 3}, records=10))
    assert (dict(total.counts), total.records) == ({"a": 4, "b": 2}, 20)
