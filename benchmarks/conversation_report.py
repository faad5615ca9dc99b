"""Printing ``benchmarks.conversation``'s figures: the old builder alone, the bot's streamed path
against base64, data URLs.

Takes everything from the dict ``conversation.run`` returns, so it imports nothing from there.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import ratio

MIB = 1024 * 1024


def show(r: dict[str, Any]) -> None:
    """Print every figure of one ``conversation.run``."""
    turns = r["turns"]
    w, h = r["image"]["size"]
    print(
        f"image: {w}x{h} photo-like PNG, {_mib(r['image']['bytes'])} MiB; {turns}-turn = "
        f"{turns // 2} user + {turns // 2} assistant turns, one distinct image per assistant "
        f"turn; 1-turn = one user turn with one image; times best of {r['repeats']}"
    )
    _show_build(r)
    _show_end_to_end(r)
    d = r["data_url"]
    print(
        f"data_url per 4K image: {d['data_url_seconds'] * 1000:.0f} ms, peak "
        f"{_mib(d['data_url_peak'])} MiB = {d['data_url_peak'] / d['encoded_bytes']:.1f}x its "
        f"base64 ({_mib(d['encoded_bytes'])} MiB); bare b64encode "
        f"{d['b64encode_seconds'] * 1000:.0f} ms, peak {_mib(d['b64encode_peak'])} MiB"
    )


def _show_build(r: dict[str, Any]) -> None:
    turns = r["turns"]
    print("1. conversation.build alone (history in memory), then the JSON body (router._dumps):")
    print(
        f"  {'':19}{'sent':>6}{'images':>7}{'build ms':>10}{'peak MiB':>10}"
        f"{'body MiB':>10}{'dumps ms':>10}{'dumps peak':>11}"
    )
    for name, m in r["build"].items():
        print(
            f"  {name:19}{m['turns_sent']:>6}{m['images_sent']:>7}{m['seconds'] * 1000:10.0f}"
            f"{_mib(m['traced_peak']):>10}{_mib(m['body_bytes']):>10}"
            f"{m['dumps_seconds'] * 1000:10.0f}{_mib(m['dumps_peak']):>11}"
        )
    big, small = r["build"][f"{turns}-turn unbounded"], r["build"]["1-turn unbounded"]
    dbig, dsmall = r["build"][f"{turns}-turn default"], r["build"]["1-turn default"]
    print(
        f"  {turns}-turn context with 4K images vs 1-turn: build "
        f"{ratio(big['seconds'], small['seconds'])} time, "
        f"{ratio(big['traced_peak'], small['traced_peak'])} peak memory; body "
        f"{_mib(big['body_bytes'])} MiB vs {_mib(small['body_bytes'])} MiB "
        f"({ratio(big['body_bytes'], small['body_bytes'])}), serialising it "
        f"{ratio(big['dumps_seconds'], small['dumps_seconds'])} time"
    )
    print(
        f"  with the default budget ({turns}-turn trimmed to {dbig['turns_sent']} of "
        f"{dbig['turns_sent'] + dbig['turns_dropped']} turns, {dbig['images_sent']} image): "
        f"build {ratio(dbig['seconds'], dsmall['seconds'])} time, "
        f"{ratio(dbig['traced_peak'], dsmall['traced_peak'])} peak memory; body "
        f"{_mib(dbig['body_bytes'])} MiB vs {_mib(dsmall['body_bytes'])} MiB"
    )


def _show_end_to_end(r: dict[str, Any]) -> None:
    print(
        "2. the bot's path: TurnContexts.build + the streamed chat body read to its end "
        "(sqlite store, base64 caches), vs b64encode of the images it sends:"
    )
    print(
        f"  {'':19}{'total ms':>9}{'build':>7}{'body':>7}{'first':>7}{'peak MiB':>10}"
        f"{'body MiB':>10}{'images':>7}{'b64 ms':>8}{'vs b64':>8}"
    )
    for name, m in r["end_to_end"].items():
        vs = "-" if m["vs_b64"] is None else f"{m['vs_b64']:.2f}x"
        print(
            f"  {name:19}{m['seconds'] * 1000:9.0f}{m['build_seconds'] * 1000:7.0f}"
            f"{m['body_seconds'] * 1000:7.0f}{m['first_seconds'] * 1000:7.0f}"
            f"{_mib(m['traced_peak']):>10}{_mib(m['body_bytes']):>10}{m['images_sent']:>7}"
            f"{m['b64_seconds'] * 1000:8.0f}{vs:>8}"
        )
    hwm = r.get("vm_hwm")
    print(
        f"  context20_vs_b64 = {r['context20_vs_b64']:.2f} (goal <= 1.5); process peak RSS "
        f"(VmHWM) {'?' if hwm is None else _mib(hwm)} MiB"
    )


def _mib(n: float) -> str:
    return f"{n / MIB:.1f}"
