"""``benchmarks/results.json``: the figures issue #18 names, each from the run that printed it,
with its goal and whether it was met. A figure this run did not measure is ``null`` with why."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("results.json")
README = PATH.parents[1] / "README.md"
START, END = "<!-- results.json: start -->", "<!-- results.json: end -->"
# What each key measures, for the README's table.
MEANING: dict[str, str] = {
    "service_vs_bare_post": "`/imagine` through the service ÷ a bare httpx POST (1024², median)",
    "job_cpu_vs_floor": "CPU of one 4K job ÷ a minimal script's (decode, write once, fit once)",
    "loop_lag_p99_ms_20x4k": "event-loop lag p99, 20 concurrent 4K jobs (ms)",
    "loop_lag_p99_ms_50x4k": "bot's event-loop lag p99, 50 queued 4K jobs via Discord (ms)",
    "queue_tick_cpu_10k": "the queue's bookkeeping, 10k waiting (CPU-s per s)",
    "rss_mib_per_running_4k_job": "peak RSS per running 4K job (MiB; goal 2.5 × the image)",
    "context20_vs_b64": "build + send a 20-turn context ÷ base64 of its images",
    "store_lookup_100k_vs_1k": "slowest store lookup at 100k jobs ÷ at 1k",
}

# key -> (goal, "le" for at most); see README "Benchmarks".
GOALS: dict[str, float] = {
    "service_vs_bare_post": 1.05,
    "job_cpu_vs_floor": 1.1,
    "loop_lag_p99_ms_20x4k": 10.0,
    "loop_lag_p99_ms_50x4k": 10.0,
    "queue_tick_cpu_10k": 0.01,
    "rss_mib_per_running_4k_job": 2.5,  # times the image's bytes in MiB
    "context20_vs_b64": 1.5,
    "store_lookup_100k_vs_1k": 2.0,
}
NOT_MEASURED = "its benchmark did not run, or failed, in this run"


def _rss(memory: dict[str, Any]) -> tuple[float, float] | None:
    runs = sorted(
        (r for r in memory.get("jobs", ()) if isinstance(r, dict)), key=lambda r: r["peak"]
    )
    if not runs:
        return None
    median = runs[len(runs) // 2]
    per_job = (median["peak"] - median["baseline"]) / median["running"]
    return per_job / 2**20, median["image_bytes"] / 2**20


def figures(parts: dict[str, Any]) -> dict[str, Any]:
    """The keyed figures from each benchmark's returned result."""
    values: dict[str, Any] = dict.fromkeys(GOALS)
    notes: dict[str, str] = {}
    if core := parts.get("core"):
        values["service_vs_bare_post"] = core["overhead"]["ratio"]
        values["loop_lag_p99_ms_20x4k"] = core["lag"]["easel_p99_ms"]
    if discord := parts.get("discord"):
        values["loop_lag_p99_ms_50x4k"] = discord["loaded"]["lag_p99_ms"]
    if floor := parts.get("floor"):
        values["job_cpu_vs_floor"] = floor["ratio"]
        notes["job_cpu_vs_floor"] = (
            f"easel {floor['easel_cpu_s']:.2f} CPU-s vs floor {floor['floor_cpu_s']:.2f}"
        )
    if (conversation := parts.get("conversation")) and "context20_vs_b64" in conversation:
        values["context20_vs_b64"] = conversation["context20_vs_b64"]
        bot_path = conversation["end_to_end"][f"{conversation['turns']}-turn unbounded"]
        notes["context20_vs_b64"] = (
            f"{bot_path['seconds'] * 1000:.0f} ms build + streamed body vs "
            f"{bot_path['b64_seconds'] * 1000:.0f} ms base64 of {bot_path['images_sent']} images"
        )
    if queue := parts.get("queue"):
        values["queue_tick_cpu_10k"] = queue["tick_cpu_10k"]
    if progress := parts.get("progress"):  # what the one progress loop adds on top
        board, alone = progress["board_10k"], progress["queue_only_cpu_10k"]
        values["queue_tick_cpu_10k"] = values["queue_tick_cpu_10k"] or board["cpu"]
        notes["queue_tick_cpu_10k"] = (
            f"progress board {board['cpu']:.4f} vs the queue alone {alone:.4f} CPU-s/s in "
            f"benchmarks/progress.py, {board['edits_per_s']:.0f} edits/s, "
            f"{progress['board_cpu_vs_old_10k']:.3f}x one task per job"
        )
    if (store := parts.get("store_lookups")) is not None:
        values["store_lookup_100k_vs_1k"] = store["ratio"]
        notes["store_lookup_100k_vs_1k"] = f"slowest lookup at 100k: {store['slowest']}"
    if (memory := parts.get("memory")) and (rss := _rss(memory)):
        per_job, image = rss
        values["rss_mib_per_running_4k_job"] = per_job
        notes["rss_mib_per_running_4k_job"] = f"{per_job / image:.2f}x the image's {image:.1f} MiB"
    out: dict[str, Any] = {}
    for key in [k for k, v in values.items() if v is None]:
        notes[key] = NOT_MEASURED
    for key, goal in GOALS.items():
        value = values[key]
        if key == "rss_mib_per_running_4k_job" and value is not None and memory:
            goal = goal * _rss(memory)[1]  # type: ignore[index]
        out[key] = {
            "value": value,
            "goal_at_most": goal,
            "met": None if value is None else value <= goal,
            **({"note": notes[key]} if key in notes else {}),
        }
    return out


def table(document: dict[str, Any]) -> str:
    """The README's table of ``document`` (what ``write`` puts in results.json)."""
    rows = [
        f"Measured {document['measured_at']} on {document['machine']} by `make bench`:",
        "",
        "| Figure | Measures | Value | Goal (at most) | Met |",
        "|---|---|---|---|---|",
    ]
    for key, figure in document["figures"].items():
        value = "not measured" if figure["value"] is None else f"{figure['value']:.4g}"
        met = {True: "yes", False: "**no**", None: "–"}[figure["met"]]
        note = f" ({figure['note']})" if figure.get("note") else ""
        rows.append(
            f"| `{key}` | {MEANING.get(key, '')}{note} | {value} "
            f"| {figure['goal_at_most']:.4g} | {met} |"
        )
    return "\n".join(rows)


def update_readme(document: dict[str, Any], readme: Path = README) -> bool:
    """Put ``table(document)`` between the README's markers; False if it has none."""
    text = readme.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{START}\n{table(document)}\n{END}{tail}")
    return True


def write(parts: dict[str, Any]) -> dict[str, Any]:
    """Write and print the figures, and the README's table; returns what was written."""
    document = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "figures": figures(parts),
    }
    PATH.write_text(json.dumps(document, indent=2) + "\n")
    update_readme(document)
    print(f"\n== {PATH.name}")
    for key, figure in document["figures"].items():
        value = "not measured" if figure["value"] is None else f"{figure['value']:.4g}"
        verdict = {True: "met", False: "NOT met", None: ""}[figure["met"]]
        print(f"{key:28s} {value:>14s}  goal <= {figure['goal_at_most']:.4g}  {verdict}")
    return document


if __name__ == "__main__":  # the README's table again from the last results.json
    update_readme(json.loads(PATH.read_text()))
