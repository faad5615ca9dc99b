"""benchmarks/results.py turns each benchmark's result into the keyed figures with their goals."""

from __future__ import annotations

from benchmarks import results

MIB = 2**20


def test_figures_carry_values_goals_and_verdicts():
    parts = {
        "core": {"overhead": {"ratio": 1.02}, "lag": {"easel_p99_ms": 37.9}},
        "queue": {"tick_cpu_10k": 0.0047},
        "store_lookups": {"ratio": 1.3, "slowest": "undelivered_jobs"},
        "memory": {
            "jobs": [
                {"peak": 600 * MIB, "baseline": 100 * MIB, "running": 4, "image_bytes": 32 * MIB},
                "a failed run",
            ]
        },
    }
    figures = results.figures(parts)
    assert figures["service_vs_bare_post"] == {"value": 1.02, "goal_at_most": 1.05, "met": True}
    assert figures["loop_lag_p99_ms_20x4k"]["met"] is False
    assert figures["queue_tick_cpu_10k"]["met"] is True
    rss = figures["rss_mib_per_running_4k_job"]
    assert rss["value"] == 125 and rss["goal_at_most"] == 80 and rss["met"] is False
    assert figures["loop_lag_p99_ms_50x4k"] == {"value": None, "goal_at_most": 10.0, "met": None}
    assert figures["context20_vs_b64"] == {"value": None, "goal_at_most": 1.5, "met": None}
    assert set(figures) == set(results.GOALS)


def test_the_conversation_figure_is_the_bot_path_against_base64():
    bot_path = {"seconds": 1.2, "b64_seconds": 1.0, "images_sent": 10}
    parts = {
        "conversation": {
            "turns": 20,
            "context20_vs_b64": 1.2,
            "end_to_end": {"20-turn unbounded": bot_path},
        }
    }
    figure = results.figures(parts)["context20_vs_b64"]
    assert figure["value"] == 1.2 and figure["goal_at_most"] == 1.5 and figure["met"] is True
    assert "base64 of 10 images" in figure["note"]
