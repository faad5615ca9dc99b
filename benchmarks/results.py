"""``benchmarks/results.json``: the figures issue #18 names, each from the run that printed it,
with its goal and whether it was met. A figure this run did not measure is ``null`` with why."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("results.json")

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
NOT_MEASURED = {
    "job_cpu_vs_floor": "no floor script yet",
}


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
    if (conversation := parts.get("conversation")) and "context20_vs_b64" in conversation:
        values["context20_vs_b64"] = conversation["context20_vs_b64"]
        bot_path = conversation["end_to_end"][f"{conversation['turns']}-turn unbounded"]
        notes["context20_vs_b64"] = (
            f"{bot_path['seconds'] * 1000:.0f} ms build + streamed body vs "
            f"{bot_path['b64_seconds'] * 1000:.0f} ms base64 of {bot_path['images_sent']} images"
        )
    if queue := parts.get("queue"):
        values["queue_tick_cpu_10k"] = queue["tick_cpu_10k"]
    if (store := parts.get("store_lookups")) is not None:
        values["store_lookup_100k_vs_1k"] = store["ratio"]
        notes["store_lookup_100k_vs_1k"] = f"slowest lookup at 100k: {store['slowest']}"
    if (memory := parts.get("memory")) and (rss := _rss(memory)):
        per_job, image = rss
        values["rss_mib_per_running_4k_job"] = per_job
        notes["rss_mib_per_running_4k_job"] = f"{per_job / image:.2f}x the image's {image:.1f} MiB"
    out: dict[str, Any] = {}
    for key in NOT_MEASURED.keys() - {k for k, v in values.items() if v is not None}:
        notes[key] = NOT_MEASURED[key]
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


def write(parts: dict[str, Any]) -> dict[str, Any]:
    """Write and print the figures; returns what was written."""
    document = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "figures": figures(parts),
    }
    PATH.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n== {PATH.name}")
    for key, figure in document["figures"].items():
        value = "not measured" if figure["value"] is None else f"{figure['value']:.4g}"
        verdict = {True: "met", False: "NOT met", None: ""}[figure["met"]]
        print(f"{key:28s} {value:>14s}  goal <= {figure['goal_at_most']:.4g}  {verdict}")
    return document
