"""Command line on the same ImageService: ``python -m bot check|sync|imagine|edit|invite|worker``.

With no subcommand it starts the Discord bot. Exit status: 0 success, 1 router or input error
(the friendly message on stderr), 2 configuration error. Logs go to stderr at WARNING, except
for the bot itself (``LOG_LEVEL``) and with ``--verbose``. ``imagine`` and ``edit`` keep their
jobs in the user's data directory (platformdirs) unless ``DATA_DIR`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

import platformdirs
from rich.console import Console

from bot import checks, media
from bot.catalog import ASPECT_RATIOS, OUTPUT_FORMATS, QUALITIES, RESOLUTIONS
from bot.config import Settings, load_settings
from bot.domain import ImageSpec, JobResult
from bot.errors import ConfigError, EaselError, RouterPathNotFound, RouterUnavailable
from bot.inputs import RawImage
from bot.logs import setup_logging
from bot.service import ImageService

T = TypeVar("T")
EXIT_OK, EXIT_ERROR, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="easel", description="Easel: Discord image bot and CLI.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO on stderr")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the Discord bot (the default)")
    # For the container image: what it sets here wins over an --env-file's values.
    run.add_argument("--data-dir", type=Path, help="DATA_DIR, overriding the environment")
    run.add_argument("--health-port", type=int, help="HEALTH_PORT, overriding the environment")
    run.add_argument("--health-host", help="HEALTH_HOST, overriding the environment")
    sub.add_parser("check", help="check everything a start needs; list every problem")
    sub.add_parser("sync", help="sync the slash commands to Discord now, then exit")
    sub.add_parser("worker", help="take jobs from the shared store and post them (no gateway)")
    sub.add_parser("invite", help="print the bot's invite link")
    imagine = sub.add_parser("imagine", help="generate images from a prompt")
    imagine.add_argument("prompt")
    edit = sub.add_parser("edit", help="edit one or more images with an instruction")
    edit.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    edit.add_argument("--prompt", required=True)
    edit.add_argument("--mask", type=Path, help="PNG whose transparent (or white) area is edited")
    edit.add_argument("--fidelity", choices=("high", "low"), help="input fidelity (images models)")
    for command in (imagine, edit):
        command.add_argument("--model", help="model id (default from settings)")
        command.add_argument("--n", type=int, default=1, help="number of images (1-10)")
        command.add_argument("--size", help="WxH for images models, e.g. 1536x1024")
        command.add_argument("--aspect", choices=ASPECT_RATIOS, help="aspect ratio (chat models)")
        command.add_argument("--resolution", choices=RESOLUTIONS, help="1K, 2K or 4K (chat models)")
        command.add_argument("--quality", choices=QUALITIES)
        command.add_argument("--format", choices=OUTPUT_FORMATS, dest="output_format")
        command.add_argument("--background", choices=("auto", "transparent", "opaque"))
        command.add_argument("--out", type=Path, default=Path("."), help="directory for the files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.command == "check":
            return _check(args)
        settings = _settings(args)
        setup_logging(_log_level(args, settings), _secrets(settings))
        if args.command in (None, "run", "sync"):
            from bot.launch import run_bot, sync_commands  # Discord is only imported for these

            return (sync_commands if args.command == "sync" else run_bot)(settings)
        if args.command == "worker":
            from bot.worker import run_worker

            return run_worker(settings)
        if args.command == "invite":
            from bot.app import invite_url

            print(invite_url(settings))
            return EXIT_OK
        return asyncio.run(_dispatch(args, settings, err))
    except ConfigError as exc:
        err.print(f"Configuration error: {exc.user_message}", markup=False)
        return EXIT_CONFIG
    except EaselError as exc:
        err.print(exc.user_message, markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    """The settings; a CLI job goes to the user's data directory unless DATA_DIR is set."""
    names = ("data_dir", "health_port", "health_host")
    overrides = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    settings = load_settings(**overrides)
    if args.command in ("imagine", "edit") and "data_dir" not in settings.model_fields_set:
        return load_settings(data_dir=platformdirs.user_data_path("easel", appauthor=False))
    return settings


def _log_level(args: argparse.Namespace, settings: Settings) -> str:
    if args.command in (None, "run"):
        return settings.log_level
    if args.verbose:
        return "DEBUG" if settings.log_level == "DEBUG" else "INFO"
    return "WARNING"


def _check(args: argparse.Namespace) -> int:
    """Every check at once: one line each, problems first marked FIX; 2 if any."""
    loaded = checks.load()
    # The findings say what went wrong; the log lines behind them only with --verbose.
    level = _log_level(args, loaded.settings) if args.verbose else "ERROR"
    setup_logging(level, _secrets(loaded.settings))
    findings = asyncio.run(checks.run_checks(loaded))
    for finding in findings:
        print(finding)
    bad = checks.problems(findings)
    print(f"{len(bad)} problem(s) to fix." if bad else "Everything a start needs is in place.")
    return EXIT_CONFIG if bad else EXIT_OK


def _secrets(settings: Settings) -> list[str]:
    return [
        s.get_secret_value()
        for s in (settings.router_api_key, settings.discord_token, settings.web_secret)
        if s
    ]


async def _dispatch(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    async with ImageService.open(settings) as service:
        spec = _spec(args, settings)
        if args.command == "imagine":
            run = service.imagine(args.prompt, spec, user_id=None, origin={"source": "cli"})
        else:
            inputs = [RawImage(_read(path), path.name) for path in args.images]
            mask = RawImage(_read(args.mask), args.mask.name) if args.mask else None
            run = service.edit(args.prompt, inputs, spec, mask=mask, origin={"source": "cli"})
        label = service.catalog.get(spec.model).label
        try:
            result = await _with_progress(run, f"Asking {label}", err)
        except (RouterUnavailable, RouterPathNotFound) as exc:
            where = f" (ROUTER_BASE_URL is {settings.router_base_url})"
            if isinstance(exc, RouterPathNotFound) and not settings.router_kind:
                where += (
                    f"; if the router isn't {settings.kind.capitalize()}, set ROUTER_KIND "
                    "(openrouter, litellm, openai or requesty)"
                )
            raise EaselError(exc.user_message + where) from None
        _save(result, args.out, err)
        return EXIT_OK


def _spec(args: argparse.Namespace, settings: Settings) -> ImageSpec:
    default = settings.imagine_model if args.command == "imagine" else settings.edit_model
    return ImageSpec(
        model=args.model or default,
        n=args.n,
        size=args.size,
        aspect_ratio=args.aspect,
        resolution=args.resolution,
        quality=args.quality,
        output_format=args.output_format,
        background=args.background,
        input_fidelity=getattr(args, "fidelity", None),
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EaselError(f"Can't read {path}: {exc.strerror or exc}") from None


async def _with_progress(work: Awaitable[T], label: str, err: Console) -> T:
    """Show a spinner with the elapsed time on stderr while ``work`` runs."""
    started = time.monotonic()
    with err.status(label) as status:
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            status.update(f"{label}… {time.monotonic() - started:.0f}s")
        return task.result()


def _save(result: JobResult, out: Path, err: Console) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(result.images, start=1):
        path = out / f"easel-{result.job.id}-{index}.{media.extension(image.mime)}"
        path.write_bytes(image.data)
        print(path)
    if result.text:
        err.print(f"Model: {result.text}", markup=False)
    cost = f"${result.cost:.4f}" if result.cost is not None else "not reported"
    err.print(f"Job {result.job.id}, cost {cost}", markup=False)
