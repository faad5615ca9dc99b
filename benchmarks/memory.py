"""Peak resident memory (VmHWM) of the bot's image work, each case in a fresh process.

``jobs`` (3 runs, the median shown): 20 queued 4K Gemini jobs through the real ``JobQueue`` and
``ImageService`` (defaults: ``MAX_CONCURRENT_JOBS=4``, ``MAX_IMAGE_MEMORY_MB`` fitted to this
machine) against the fake router in another process, each result fitted under 10 MiB from the
bytes delivery posts (``Store.result_images``: the run's own, not read back); ``jobs_budget``:
the same with ``MAX_IMAGE_MEMORY_MB`` set to four 4K jobs' estimate, so that at most four hold
images at once, delivery included; ``one``: a single such job, not fitted. ``gif``: 6 input preparations at once of a 49-megapixel GIF (tens of KB on disk);
``gif-decoded`` is the same with ``MAX_DECODE_PIXELS`` raised so they are decoded. The baseline
is the same process after importing everything, one small warm-up job and a second of idling.
Linux only (reads /proc/self/status); loopback only; each case under 4 minutes.

    python -m benchmarks.memory
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from benchmarks.common import ROOT, router_process, service

JOBS = 20
LIMIT = 10 * 1024 * 1024  # Discord's default per-file upload limit
GEMINI = "vertex/google/gemini-3-pro-image-preview"
GIF_SIDE = 7000  # 49 megapixels
PREPARATIONS = 6
CASE_TIMEOUT = (
    240  # seconds (a shared machine is slow); a case that takes longer is reported as failed
)
ROUNDS = 3  # runs of the jobs case
MIB = 1024 * 1024
GOAL = 2.5  # the goal: RSS per running 4K job at most this many times the image's bytes


def big_gif() -> bytes:
    """A 7000x7000 two-colour palette GIF: LZW squeezes 49 megapixels into tens of KB."""
    img = Image.new("P", (GIF_SIDE, GIF_SIDE), 0)
    img.putpalette([0, 0, 0, 230, 40, 40])
    img.paste(1, (500, 500, GIF_SIDE - 500, GIF_SIDE // 2))
    buf = io.BytesIO()
    img.save(buf, "GIF")
    return buf.getvalue()


# --- in the child process ----------------------------------------------------------------


def _status_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def _baseline() -> int:
    """Resident bytes now, and the high-water mark reset to it so the peak is the work's."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _peak() -> int:
    return _status_kib("VmHWM") * 1024


async def _fault(base_url: str, **spec: Any) -> None:
    async with httpx.AsyncClient() as client:
        root = base_url.rsplit("/v1", 1)[0]
        (await client.post(f"{root}/_fake/faults", json=spec, timeout=10)).raise_for_status()


async def _jobs(base_url: str, budgeted: bool = False) -> dict[str, Any]:
    from bot.config import load_settings
    from bot.domain import ApiFamily, ImageSpec, JobKind
    from bot.jobs import JobQueue, Outcome
    from bot.memory import image_bytes, output_pixels
    from cogs.render import fit_for_upload

    defaults = load_settings(_env_file=None)
    spec = ImageSpec(model=GEMINI, aspect_ratio="16:9", resolution="4K")
    budget = defaults.max_image_memory_mb * MIB
    if budgeted:  # room for as many 4K jobs as may run at once, delivery included
        budget = defaults.max_concurrent_jobs * image_bytes(output_pixels(ApiFamily.CHAT, spec))
    async with service(base_url, request_timeout=300) as svc:
        warm = await svc.imagine("warm", ImageSpec(model=GEMINI, aspect_ratio="16:9"))
        await fit_for_upload([warm.images[0].data], LIMIT)
        del warm
        await asyncio.sleep(1)
        await _fault(base_url, kind="huge", endpoint="chat", times=JOBS)
        queue = JobQueue(
            svc,
            max_concurrent=defaults.max_concurrent_jobs,
            max_per_user=defaults.max_jobs_per_user,
            memory_budget=budget,
        )
        done, sizes, holding = asyncio.Event(), [], [0]

        async def deliver(outcome: Outcome) -> None:
            assert outcome.result is not None, outcome.error
            holding[0] = max(holding[0], queue.memory.holding)
            image = outcome.result.images[0]
            originals = await svc.store.result_images(outcome.result.job, outcome.result.images)
            fitted = await fit_for_upload(originals, LIMIT)
            sizes.append((len(image.data), image.width, image.height, len(fitted[0].data)))
            if len(sizes) == JOBS:
                done.set()

        queue.on_finished(deliver)
        base = _baseline()
        for index in range(JOBS):
            job = await svc.store.create_job(
                kind=JobKind.IMAGINE,
                prompt=f"4k {index}",
                params=spec.to_params(),
                user_id=f"u{index}",
                origin={},
            )
            await queue.enqueue(job)
        await asyncio.wait_for(done.wait(), CASE_TIMEOUT - 20)
        peak = _peak()
        await queue.close()
    largest, width, height, fitted_bytes = max(sizes)
    return {
        "baseline": base,
        "peak": peak,
        "running": defaults.max_concurrent_jobs,
        "budget": budget,
        "holding": holding[0],  # most jobs seen holding images at once (running or delivering)
        "image_bytes": largest,
        "size": [width, height],
        "fitted_bytes": fitted_bytes,
        "fitted_all": all(fitted <= LIMIT for *_, fitted in sizes),
    }


async def _gifs(gif: bytes, decode_pixels: int | None) -> dict[str, Any]:
    from bot.catalog import Catalog
    from bot.config import load_settings
    from bot.inputs import Limits, RawImage, prepare_inputs

    overrides = {} if decode_pixels is None else {"max_decode_pixels": decode_pixels}
    limits = Limits.from_settings(load_settings(_env_file=None, **overrides))
    model = Catalog.load().get(GEMINI)
    raw = RawImage(gif, "big.gif")
    await asyncio.sleep(1)
    base = _baseline()
    runs = [prepare_inputs(model, [raw], None, limits) for _ in range(PREPARATIONS)]
    results = await asyncio.gather(*runs, return_exceptions=True)
    peak = _peak()
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "baseline": base,
        "peak": peak,
        "gif_bytes": len(raw.data),
        "prepared": len(results) - len(errors),
        "refused": len(errors),
        "message": getattr(errors[0], "user_message", repr(errors[0])) if errors else None,
    }


async def _one_job(base_url: str) -> dict[str, Any]:
    """One 4K job alone, delivered nowhere: what the router answer and the store cost."""
    from bot.domain import ImageSpec

    async with service(base_url, request_timeout=300) as svc:
        await svc.imagine("warm", ImageSpec(model=GEMINI, aspect_ratio="16:9"))
        await _fault(base_url, kind="huge", endpoint="chat", times=1)
        await asyncio.sleep(1)
        base = _baseline()
        spec = ImageSpec(model=GEMINI, aspect_ratio="16:9", resolution="4K")
        result = await svc.imagine("4k alone", spec)
        return {"baseline": base, "peak": _peak(), "image_bytes": len(result.images[0].data)}


def _child(case: str, arg: str) -> None:
    if case in ("jobs", "jobs_budget", "one"):
        with router_process() as base_url:
            if case == "one":
                result = asyncio.run(_one_job(base_url))
            else:
                result = asyncio.run(_jobs(base_url, budgeted=case == "jobs_budget"))
    else:
        gif = Path(arg).read_bytes()
        result = asyncio.run(_gifs(gif, 50_000_000 if case == "gif-decoded" else None))
    print(json.dumps(result))


# --- in the parent -----------------------------------------------------------------------


def run_case(case: str, arg: str = "") -> dict[str, Any] | str:
    """One case in a fresh process: its JSON result, or why it failed."""
    argv = [sys.executable, "-m", "benchmarks.memory", "--child", case, arg]
    try:
        done = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=CASE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {CASE_TIMEOUT} s"
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run() -> dict[str, Any]:
    if not Path("/proc/self/clear_refs").exists():
        return {"error": "needs Linux (/proc/self/status and clear_refs)"}
    # The jobs' peak depends on how router answers and fits happen to overlap: a few runs.
    results: dict[str, Any] = {"jobs": [run_case("jobs") for _ in range(ROUNDS)]}
    results["jobs_budget"] = [run_case("jobs_budget") for _ in range(ROUNDS)]
    results["one"] = run_case("one")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.gif"
        path.write_bytes(big_gif())
        for case in ("gif", "gif-decoded"):
            results[case] = run_case(case, str(path))
    return results


def _mib(n: float) -> str:
    return f"{n / MIB:.0f} MiB"


def _print_jobs(runs: list[dict[str, Any] | str], label: str) -> None:
    done = sorted((r for r in runs if isinstance(r, dict)), key=lambda r: r["peak"])
    for failed in (r for r in runs if isinstance(r, str)):
        print(f"4K jobs, {label}: {failed}")
    if not done:
        return
    jobs = done[len(done) // 2]  # the median run
    (w, h), image = jobs["size"], jobs["image_bytes"]
    per_job = (jobs["peak"] - jobs["baseline"]) / jobs["running"]
    print(
        f"{JOBS} queued 4K jobs ({w}x{h} PNG of {image / MIB:.1f} MiB; decoded RGB "
        f"{w * h * 3 / MIB:.1f} MiB), {jobs['running']} running at once, {label} "
        f"(MAX_IMAGE_MEMORY_MB={jobs['budget'] // MIB}), each fitted under {LIMIT // MIB} MiB "
        f"(all fit: {all(r['fitted_all'] for r in done)})"
    )
    print(
        f"  peak RSS {_mib(jobs['peak'])} (median of {len(done)} runs: "
        f"{', '.join(_mib(r['peak']) for r in done)}), baseline {_mib(jobs['baseline'])}; "
        f"at most {jobs['holding']} jobs seen holding images (running or delivering)"
    )
    per_held = (jobs["peak"] - jobs["baseline"]) / max(jobs["running"], jobs["holding"])
    print(
        f"  per running job {per_job / MIB:.1f} MiB = {per_job / image:.2f}x the image's bytes "
        f"(goal <= {GOAL}x: {'met' if per_job / image <= GOAL else 'not met'}), "
        f"{per_job / (w * h * 3):.2f}x its decoded RGB; per job holding images "
        f"{per_held / MIB:.1f} MiB = {per_held / image:.2f}x"
    )


def _print_one(one: dict[str, Any] | str) -> None:
    if isinstance(one, dict):
        alone = one["peak"] - one["baseline"]
        print(
            f"  one 4K job alone, not fitted (router answer, base64, store): +{_mib(alone)} = "
            f"{alone / one['image_bytes']:.2f}x the image's bytes"
        )


def _print_gifs(results: dict[str, Any]) -> None:
    for case, label in (("gif", "default cap"), ("gif-decoded", "MAX_DECODE_PIXELS=50000000")):
        g = results[case]
        if isinstance(g, str):
            print(f"{case}: {g}")
            continue
        print(
            f"{PREPARATIONS} input preparations at once of a {GIF_SIDE}x{GIF_SIDE} GIF "
            f"({g['gif_bytes'] / 1024:.0f} KB), {label}: peak RSS {_mib(g['peak'])}, "
            f"baseline {_mib(g['baseline'])}, growth {_mib(g['peak'] - g['baseline'])}; "
            f"prepared {g['prepared']}, refused {g['refused']}"
        )
        if g["message"]:
            print(f"  refusal: {g['message']}")


def main() -> dict[str, Any]:
    r = run()
    if "error" in r:
        print(r["error"])
        return r
    _print_jobs(r["jobs"], "default budget")
    _print_jobs(r["jobs_budget"], "budget of 4 jobs")
    _print_one(r["one"])
    _print_gifs(r)
    return r


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    else:
        main()
