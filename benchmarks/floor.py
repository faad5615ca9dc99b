"""CPU of one 4K job through Easel against the floor: a minimal script doing only the work no bot
can avoid (send the request, parse the answer, decode the base64 once, write the image once,
encode it once to fit Discord's 10 MiB), each in a fresh process, in the same run.

Both children first run one warm-up job (imports, connection, any worker pool started), then
``JOBS`` measured jobs. CPU is the process tree's: user + system time of the child and of every
process it started, alive or reaped (``/proc/<pid>/stat``), so work moved into other processes
is counted. The fake router runs in a third process and is not counted.

    python -m benchmarks.floor
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import KEY, ROOT, router_process

GEMINI = "vertex/google/gemini-3-pro-image-preview"
JOBS = 3
ROUNDS = 3  # alternating floor/easel children; the median of each is reported
LIMIT = 10 * 1024 * 1024
CHILD_TIMEOUT = 300
_TICKS = os.sysconf("SC_CLK_TCK")


# -- CPU of a process tree ------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree_cpu(pid: int | None = None) -> float:
    """CPU-seconds of ``pid`` (this process) and its descendants, including reaped children."""
    total, stack = 0, [pid or os.getpid()]
    while stack:
        current = stack.pop()
        fields = _stat(current)
        if fields is None:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        stack += _children(current)
    return total / _TICKS


# -- the two children ------------------------------------------------------------------------------


def _floor_job(client: Any, url: str, body: dict[str, Any], out: Path) -> None:
    import base64
    import io

    from PIL import Image

    answer = client.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}).json()
    data_url = answer["choices"][0]["message"]["images"][0]["image_url"]["url"]
    raw = base64.b64decode(data_url.split(",", 1)[1])
    out.write_bytes(raw)
    with Image.open(io.BytesIO(raw)) as img:
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=90)
    assert len(buf.getvalue()) <= LIMIT


def floor_child(base_url: str, body_json: str, tmp: str) -> float:
    import httpx

    body = json.loads(body_json)
    with httpx.Client(timeout=CHILD_TIMEOUT) as client:
        url = f"{base_url}/chat/completions"
        _floor_job(client, url, body, Path(tmp, "warm.png"))
        start = tree_cpu()
        for index in range(JOBS):
            _floor_job(client, url, body, Path(tmp, f"{index}.png"))
        return (tree_cpu() - start) / JOBS


async def _easel_jobs(base_url: str) -> float:
    from benchmarks.common import service
    from bot import fitting
    from bot.domain import ImageSpec

    spec = ImageSpec(model=GEMINI, aspect_ratio="16:9", resolution="4K")
    async with service(base_url, request_timeout=CHILD_TIMEOUT) as svc:

        async def one(prompt: str) -> None:
            result = await svc.imagine(prompt, spec)
            # As delivery gets them: the run's own images, read back only after a restart.
            (data,) = await svc.store.result_images(result.job, result.images)
            await fitting.fitted(data, LIMIT)  # as delivery fits it (cogs/render.py)

        await one("warm")
        start = tree_cpu()
        for index in range(JOBS):
            await one(f"4k {index}")
        return (tree_cpu() - start) / JOBS


def easel_child(base_url: str) -> float:
    return asyncio.run(_easel_jobs(base_url))


# -- the parent -----------------------------------------------------------------------------------


def _fault(base_url: str, times: int) -> None:
    import httpx

    root = base_url.rsplit("/v1", 1)[0]
    spec = {"kind": "huge", "endpoint": "chat", "times": times}
    httpx.post(f"{root}/_fake/faults", json=spec, timeout=10).raise_for_status()


def _run_child(args: list[str]) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _body() -> str:
    from bot.router import bodies
    from bot.router.profiles import PROFILES

    messages = [{"role": "user", "content": "a 4k bench"}]
    body = bodies.chat_body(
        PROFILES["requesty"],
        GEMINI,
        messages,
        aspect_ratio="16:9",
        image_size="4K",
        modalities=None,
        who=None,
    )
    return json.dumps(body)


def run() -> dict[str, Any]:
    import tempfile

    floors, easels = [], []
    with router_process() as base_url, tempfile.TemporaryDirectory() as tmp:
        for _ in range(ROUNDS):
            _fault(base_url, JOBS + 1)
            floors.append(_run_child(["--floor", base_url, _body(), tmp]))
            _fault(base_url, JOBS + 1)
            easels.append(_run_child(["--easel", base_url]))
    floor, easel = statistics.median(floors), statistics.median(easels)
    return {"floor_cpu_s": floor, "easel_cpu_s": easel, "ratio": easel / floor}


def main() -> dict[str, Any]:
    began = time.perf_counter()
    result = run()
    print(
        f"CPU of one 4K job (median of {ROUNDS} children, {JOBS} jobs each): easel "
        f"{result['easel_cpu_s']:.2f} s vs floor script {result['floor_cpu_s']:.2f} s "
        f"-> ratio {result['ratio']:.2f}x  ({time.perf_counter() - began:.0f} s)"
    )
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        print(floor_child(*sys.argv[2:5]))
    elif sys.argv[1:2] == ["--easel"]:
        print(easel_child(sys.argv[2]))
    else:
        main()
