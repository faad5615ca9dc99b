"""benchmarks/results.py turns each benchmark's result into the keyed figures with their goals."""

from __future__ import annotations

import json

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
    unmeasured = {"value": None, "goal_at_most": 10.0, "met": None, "note": results.NOT_MEASURED}
    assert figures["loop_lag_p99_ms_50x4k"] == unmeasured
    assert figures["context20_vs_b64"]["value"] is None
    assert set(figures) == set(results.GOALS)


def test_the_floor_ratio_is_read_from_the_floor_benchmark():
    parts = {"floor": {"ratio": 0.96, "easel_cpu_s": 1.34, "floor_cpu_s": 1.39}}
    figure = results.figures(parts)["job_cpu_vs_floor"]
    assert figure["value"] == 0.96 and figure["met"] is True
    assert "1.34" in figure["note"] and "1.39" in figure["note"]


def test_the_readme_table_is_rewritten_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{results.START}\nold table\n{results.END}\nafter\n")
    document = {
        "measured_at": "2026-12-02T15:00:00Z",
        "machine": "x86_64, CPython 3.11",
        "figures": results.figures({"queue": {"tick_cpu_10k": 0.02}}),
    }
    assert results.update_readme(document, readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"{results.END}\nafter\n")
    row = next(line for line in text.splitlines() if "`queue_tick_cpu_10k`" in line)
    assert "| 0.02 | 0.01 | **no** |" in row
    assert "| not measured |" in text  # the figures this run did not measure
    bare = tmp_path / "bare.md"
    bare.write_text("no markers here\n")
    assert not results.update_readme(document, bare)
    assert bare.read_text() == "no markers here\n"


def test_the_readme_shows_the_last_results_json():
    """``make bench`` writes both; a hand edit of either one fails here."""
    document = json.loads(results.PATH.read_text())
    text = results.README.read_text()
    block = text.split(results.START, 1)[1].split(results.END, 1)[0]
    assert block.strip() == results.table(document).strip()


def test_the_queue_figure_notes_what_the_progress_board_adds():
    parts = {
        "queue": {"tick_cpu_10k": 0.0047},
        "progress": {
            "board_10k": {"cpu": 0.0089, "edits_per_s": 30.0, "max_per_channel_second": 1},
            "board_cpu_vs_old_10k": 0.037,
            "queue_only_cpu_10k": 0.0080,
        },
    }
    figure = results.figures(parts)["queue_tick_cpu_10k"]
    assert figure["value"] == 0.0047 and figure["met"] is True  # the queue's own, as defined
    assert "board 0.0089 vs the queue alone 0.0080" in figure["note"]
    assert "30 edits/s" in figure["note"]
    del parts["queue"]
    assert results.figures(parts)["queue_tick_cpu_10k"]["value"] == 0.0089


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
