"""fit_under on a 4K photo-like PNG against the naive "just save it as PNG", in the same run.

Figures are ratios fit/naive. Time and tracemalloc peak are best of 3. tracemalloc sees only
Python allocations (encoded buffers), not Pillow's pixel buffers, so the peak resident-memory
growth of one fresh child process per approach is reported too (Linux only).

    python -m benchmarks.fit
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bot import fitting

SIZE = (5504, 3072)
LIMIT = 10 * 1024 * 1024  # Discord's default per-file upload limit
SHRINK_LIMIT = 1024 * 1024  # a limit that forces the shrink path too
REPEATS = 3
MIB = 1024 * 1024


def photo_png(size: tuple[int, int] = SIZE, seed: int = 7) -> bytes:
    """Gradients, shapes and mild noise, saved as an ordinary PNG (about 36 MB at 5504x3072)."""
    w, h = size
    rnd = random.Random(seed)
    channels = (
        Image.linear_gradient("L").rotate(90).resize(size),
        Image.linear_gradient("L").resize(size),
        Image.radial_gradient("L").resize(size),
    )
    base = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(base)
    for _ in range(24):
        x, y = rnd.randrange(w), rnd.randrange(h)
        box = (x, y, x + rnd.randrange(w // 4), y + rnd.randrange(h // 4))
        fill = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=fill)
    noise = Image.frombytes("RGB", size, rnd.randbytes(w * h * 3))
    buf = io.BytesIO()
    Image.blend(base, noise, 0.12).save(buf, "PNG")
    return buf.getvalue()


def naive(data: bytes) -> bytes:
    """The baseline: open the image and save it again as PNG."""
    img = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def fit(data: bytes, limit: int = LIMIT) -> bytes:
    return fitting.fit_under(data, limit).data


def measure(fn: Callable[[bytes], bytes], data: bytes) -> dict[str, Any]:
    """Best-of-REPEATS wall time and tracemalloc peak, and the output size."""
    seconds, peaks, size = [], [], 0
    for _ in range(REPEATS):
        tracemalloc.start()
        started = time.perf_counter()
        size = len(fn(data))
        seconds.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return {"seconds": min(seconds), "traced_peak": min(peaks), "bytes": size}


def rss_growth(kind: str, path: Path) -> int | None:
    """Peak resident-memory growth of one run in a fresh process, or None where unavailable."""
    root = Path(__file__).resolve().parents[1]
    argv = [sys.executable, "-m", "benchmarks.fit", "--rss", kind, str(path)]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    return int(done.stdout) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def _child_rss(kind: str, path: str) -> None:
    data = Path(path).read_bytes()
    fn = {"naive": naive, "fit": fit}[kind]
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    fn(data)
    print((_status_kb("VmHWM") - before) * 1024)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def run() -> dict[str, Any]:
    data = photo_png()
    fitted = fitting.fit_under(data, LIMIT)
    result: dict[str, Any] = {
        "input": {"size": SIZE, "bytes": len(data)},
        "limit": LIMIT,
        "naive": measure(naive, data),
        "fit": measure(fit, data),
        "fit_shrink": measure(lambda d: fit(d, SHRINK_LIMIT), data),
        "fitted": {k: v for k, v in vars(fitted).items() if k != "data"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.png"
        path.write_bytes(data)
        for kind in ("naive", "fit"):
            result[kind]["rss_growth"] = rss_growth(kind, path)
    naive_, fit_ = result["naive"], result["fit"]
    result["ratios"] = {
        "time": fit_["seconds"] / naive_["seconds"],
        "traced_peak": fit_["traced_peak"] / naive_["traced_peak"],
        "bytes": fit_["bytes"] / naive_["bytes"],
    }
    if naive_["rss_growth"] and fit_["rss_growth"]:
        result["ratios"]["rss_growth"] = fit_["rss_growth"] / naive_["rss_growth"]
    return result


def main() -> None:
    r = run()
    w, h = r["input"]["size"]
    print(
        f"input: {w}x{h} PNG, {r['input']['bytes'] / MIB:.1f} MiB; limit {r['limit'] / MIB:g} MiB"
    )
    print(f"{'':12}{'time s':>9}{'traced MiB':>12}{'RSS+ MiB':>10}{'out MiB':>9}")
    for name in ("naive", "fit", "fit_shrink"):
        m = r[name]
        rss = f"{m['rss_growth'] / MIB:.0f}" if m.get("rss_growth") else "-"
        print(
            f"{name:12}{m['seconds']:9.2f}{m['traced_peak'] / MIB:12.1f}{rss:>10}"
            f"{m['bytes'] / MIB:9.2f}"
        )
    print("fit/naive: " + ", ".join(f"{k} {v:.2f}" for k, v in r["ratios"].items()))
    f = r["fitted"]
    print(
        f"fitted: {f['width']}x{f['height']} {f['mime']}, reencoded={f['reencoded']}, "
        f"scaled={f['scaled']}; fits under the limit: {r['fit']['bytes'] <= r['limit']}, "
        f"naive does: {r['naive']['bytes'] <= r['limit']}"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss"]:
        _child_rss(sys.argv[2], sys.argv[3])
    else:
        main()
