"""The CLI end to end: the real httpx client against the fake router running in another process.

Most cases call ``bot.cli.main`` in this process (fast); a few run ``python -m bot`` as a
subprocess to cover the real entry point. Every fault checks what the user is told and that the
job row still holds the prompt.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.cli import main
from bot.domain import JobStatus
from bot.storage import Store
from tests.e2e.processes import router_process

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-e2e-0123456789"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def router_url() -> Iterator[str]:
    with router_process(KEY) as url:
        yield url


@pytest.fixture
def env(router_url, tmp_path, monkeypatch) -> Path:
    base = router_url.rsplit("/v1", 1)[0]
    httpx.post(f"{base}/_fake/reset", timeout=5).raise_for_status()
    monkeypatch.chdir(tmp_path)
    settings = {
        "ROUTER_BASE_URL": router_url,
        "ROUTER_API_KEY": KEY,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        "ROUTER_MAX_RETRIES": "2",
        "ROUTER_RETRY_BUDGET": "20",
        "REQUEST_TIMEOUT": "20",
    }
    for name in ("DATABASE_URL", "IMAGINE_MODEL", "EDIT_MODEL", "CATALOG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def fault(router_url: str, **spec) -> None:
    base = router_url.rsplit("/v1", 1)[0]
    httpx.post(f"{base}/_fake/faults", json=spec, timeout=5).raise_for_status()


def recorded(router_url: str) -> list[dict]:
    base = router_url.rsplit("/v1", 1)[0]
    return httpx.get(f"{base}/_fake/requests", timeout=5).json()["requests"]


def last_job(data_dir: Path):
    async def read():
        async with await Store.open(
            f"sqlite+aiosqlite:///{data_dir / 'easel.db'}", data_dir
        ) as store:
            jobs = await store.jobs_with_status(*JobStatus)
            return jobs[-1]

    return asyncio.run(read())


def png(size=(64, 48), colour=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def run(capsys, *argv: str) -> tuple[int, list[str], str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, [line for line in out.splitlines() if line], err


# -- success paths --------------------------------------------------------------------------------
def test_imagine_images_model_saves_real_pngs(env, capsys, router_url):
    status, paths, err = run(
        capsys,
        "imagine",
        "a red fox",
        "--n",
        "2",
        "--size",
        "1536x1024",
        "--quality",
        "low",
        "--out",
        "out",
    )
    assert status == 0, err
    assert len(paths) == 2
    for path in paths:
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (1536, 1024)
    assert "cost $" in err
    body = recorded(router_url)[-1]["body"]
    assert body["response_format"] == "b64_json" and body["n"] == 2 and body["quality"] == "low"
    job = last_job(env / "data")
    assert (
        job.status is JobStatus.DONE and job.prompt == "a red fox" and len(job.result_images) == 2
    )


def test_imagine_chat_model_with_aspect_and_resolution(env, capsys, router_url):
    status, paths, err = run(
        capsys,
        "imagine",
        "a lighthouse",
        "--model",
        "vertex/google/gemini-3-pro-image-preview",
        "--aspect",
        "16:9",
        "--resolution",
        "2K",
        "--out",
        "out",
    )
    assert status == 0, err
    with Image.open(paths[0]) as im:
        assert im.size == (2752, 1536)
    assert "Model: " in err  # the model's own text is shown
    body = recorded(router_url)[-1]["body"]
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}


def test_imagine_format_webp(env, capsys):
    status, paths, err = run(capsys, "imagine", "a boat", "--format", "webp", "--out", "out")
    assert status == 0, err
    assert paths[0].endswith(".webp")
    with Image.open(paths[0]) as im:
        assert im.format == "WEBP"


def test_edit_with_two_images_and_mask(env, capsys, router_url):
    Path("a.png").write_bytes(png((300, 200)))
    Path("b.jpg").write_bytes(_jpeg())
    Path("mask.png").write_bytes(png((300, 200), (0, 0, 0, 0), "RGBA"))
    status, paths, err = run(
        capsys,
        "edit",
        "a.png",
        "b.jpg",
        "--prompt",
        "merge them",
        "--mask",
        "mask.png",
        "--fidelity",
        "high",
        "--out",
        "out",
    )
    assert status == 0, err
    body = recorded(router_url)[-1]["body"]
    assert len(body["image[]"]) == 2 and body["mask"]["width"] == 300
    assert body["input_fidelity"] == "high"
    job = last_job(env / "data")
    assert len(job.input_images) == 2 and job.mask_image is not None
    assert Path(paths[0]).is_file()


def test_edit_with_chat_model_sends_image_parts(env, capsys, router_url):
    Path("a.png").write_bytes(png((300, 200)))
    status, paths, err = run(
        capsys,
        "edit",
        "a.png",
        "--prompt",
        "make it blue",
        "--model",
        "vertex/gemini-3.1-flash-image-preview",
        "--out",
        "out",
    )
    assert status == 0, err
    message = recorded(router_url)[-1]["body"]["messages"][0]
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["text", "image_url"]


def test_check_lists_models_and_families(env, capsys):
    status, lines, err = run(capsys, "check")
    # No DISCORD_TOKEN here: the bot couldn't start, so check says so (tests/e2e/test_check.py).
    assert status == 2, err
    assert [line for line in lines if line.startswith("FIX")] == [
        "FIX  DISCORD_TOKEN is not set: create an application at "
        "https://discord.com/developers/applications, open Bot → Reset Token, and put the token "
        "in .env as DISCORD_TOKEN=…"
    ]
    text = "\n".join(lines)
    assert "key accepted" in text
    assert "azure/openai/gpt-image-1: images API" in text
    assert "gemini-3-pro-image-preview: chat API" in text
    assert KEY not in text and KEY not in err


def test_url_answer_is_downloaded(env, capsys, router_url):
    fault(router_url, kind="url")
    status, paths, err = run(capsys, "imagine", "a url image", "--out", "out")
    assert status == 0, err
    with Image.open(paths[0]) as im:
        assert im.size == (1024, 1024)


def test_latency_and_one_server_error_are_survived(env, capsys, router_url):
    fault(router_url, kind="latency", seconds=1.0)
    fault(router_url, kind="status", status=502, shape="text")
    status, paths, err = run(capsys, "imagine", "patience", "--out", "out")
    assert status == 0, err
    assert len(paths) == 1


def test_huge_4k_image_is_saved_whole(env, capsys, router_url):
    fault(router_url, kind="huge")
    status, paths, err = run(
        capsys,
        "imagine",
        "a 4k photo",
        "--model",
        "vertex/google/gemini-3-pro-image-preview",
        "--aspect",
        "16:9",
        "--resolution",
        "4K",
        "--out",
        "out",
    )
    assert status == 0, err
    assert Path(paths[0]).stat().st_size > 10 * 1024 * 1024  # the original, never shrunk here
    with Image.open(paths[0]) as im:
        assert im.size == (5504, 3072)


# -- every fault: what the user is told, and the prompt kept --------------------------------------
FAULTS = [
    ({"kind": "status", "status": 503, "times": 5}, "unavailable", "router_unavailable"),
    (
        {"kind": "status", "status": 529, "shape": "openai", "times": 5},
        "unavailable",
        "router_unavailable",
    ),
    (
        {"kind": "status", "status": 429, "retry_after": 120, "times": 5},
        "Try again in about 120 s",
        "rate_limited",
    ),
    ({"kind": "status", "status": 402}, "out of credit", "out_of_credit"),
    ({"kind": "status", "status": 412, "shape": "openai"}, "spend limit", "out_of_credit"),
    (
        {"kind": "status", "status": 400, "message": "prompt too odd"},
        "prompt too odd",
        "bad_request",
    ),
    (
        {"kind": "status", "status": 500, "shape": "text", "times": 5},
        "unavailable",
        "router_unavailable",
    ),
    ({"kind": "drop", "times": 5}, "reach the image service", "router_unavailable"),
    ({"kind": "refusal"}, "refused", "refused"),
    ({"kind": "no_image"}, "without an image", "no_image"),
    ({"kind": "truncated_b64"}, "damaged", "bad_response"),
    ({"kind": "malformed_json"}, "unreadable", "bad_response"),
    (
        {"kind": "url", "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
        "a place I don't fetch from",
        "bad_response",
    ),
]


@pytest.mark.parametrize(
    ("spec", "words", "code"), FAULTS, ids=[f[2] + "-" + str(i) for i, f in enumerate(FAULTS)]
)
def test_fault_tells_the_user_and_keeps_the_prompt(env, capsys, router_url, spec, words, code):
    fault(router_url, **spec)
    prompt = f"a prompt that must survive {code}"
    status, paths, err = run(capsys, "imagine", prompt, "--out", "out")
    assert status == 1
    assert paths == []
    assert words.lower() in err.lower()
    assert "Traceback" not in err and KEY not in err
    job = last_job(env / "data")
    assert job.prompt == prompt and job.status is JobStatus.FAILED and job.error_code == code


def test_chat_refusal_quotes_the_model(env, capsys, router_url):
    fault(router_url, kind="refusal")
    status, _paths, err = run(
        capsys, "imagine", "forbidden", "--model", "vertex/google/gemini-3-pro-image-preview"
    )
    assert status == 1
    assert "refused" in err and "The model said" in err
    assert last_job(env / "data").result_text  # the model's words are kept on the job


def test_hang_times_out_with_a_clear_message(env, capsys, router_url, monkeypatch):
    monkeypatch.setenv("REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("ROUTER_MAX_RETRIES", "0")
    fault(router_url, kind="hang")
    status, _paths, err = run(capsys, "imagine", "wait forever")
    assert status == 1
    assert "time" in err.lower()
    assert last_job(env / "data").prompt == "wait forever"


@pytest.mark.timeout(60)
def test_trickle_is_cut_off_at_the_request_timeout(env, capsys, router_url, monkeypatch):
    """A byte a second keeps every read alive; REQUEST_TIMEOUT still ends each attempt."""
    monkeypatch.setenv("REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("ROUTER_MAX_RETRIES", "1")
    fault(router_url, kind="trickle", seconds=1, times=2)
    status, paths, err = run(capsys, "imagine", "a slow fox", "--out", "out")
    assert status == 1 and paths == []
    assert "took longer than 2 s" in err and "Traceback" not in err
    job = last_job(env / "data")
    assert job.prompt == "a slow fox" and job.error_code == "router_unavailable"
    assert [r["fault"] for r in recorded(router_url)] == ["trickle", "trickle"]


def test_url_answer_elsewhere_is_never_fetched(env, capsys, router_url):
    port = router_url.split(":")[2].split("/")[0]
    fault(router_url, kind="url", url=f"http://localhost:{port}/v1/files/not-the-router")
    status, _paths, err = run(capsys, "imagine", "a fox elsewhere", "--out", "out")
    assert status == 1
    told = err.strip().splitlines()[-1]
    assert told == "The image service pointed at a place I don't fetch from."
    assert "WARNING" in err and "from localhost" in err  # the operator's log names the host
    assert [r["path"] for r in recorded(router_url)] == ["/v1/images/generations"]


def test_wrong_key_and_unknown_model(env, capsys, monkeypatch):
    monkeypatch.setenv("ROUTER_API_KEY", "wrong-key-abcdef")
    status, _paths, err = run(capsys, "imagine", "x")
    assert status == 1 and "key" in err and "wrong-key-abcdef" not in err
    monkeypatch.setenv("ROUTER_API_KEY", KEY)
    status, _paths, err = run(capsys, "imagine", "x", "--model", "acme/no-such-model")
    assert status == 1 and "doesn't know the model acme/no-such-model" in err
    assert last_job(env / "data").prompt == "x"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("imagine", "x", "--size", "999x999"), "doesn't offer size"),
        (("imagine", "x", "--n", "11"), "between 1 and 10"),
        (("edit", "nope.png", "--prompt", "x"), "Can't read nope.png"),
    ],
)
def test_bad_options_are_refused_before_any_request(env, capsys, router_url, args, words):
    status, _paths, err = run(capsys, *args)
    assert status == 1 and words in err
    assert recorded(router_url) == []


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("text.png", b"just some text, renamed", "isn't an image"),
        ("cut.png", None, "damaged"),
    ],
)
def test_bad_input_files_are_explained_and_the_prompt_kept(
    env, capsys, router_url, name, data, words
):
    Path(name).write_bytes(data if data is not None else png((400, 400))[:200])
    status, _paths, err = run(capsys, "edit", name, "--prompt", "fix it")
    assert status == 1 and words in err
    assert recorded(router_url) == []
    job = last_job(env / "data")
    assert job.prompt == "fix it" and job.status is JobStatus.FAILED


def test_mask_with_chat_model_is_refused(env, capsys):
    Path("a.png").write_bytes(png())
    Path("m.png").write_bytes(png(mode="RGBA", colour=(0, 0, 0, 0)))
    status, _paths, err = run(
        capsys,
        "edit",
        "a.png",
        "--mask",
        "m.png",
        "--prompt",
        "x",
        "--model",
        "vertex/google/gemini-3-pro-image-preview",
    )
    assert status == 1 and "can't use a mask" in err


# -- the real entry point as a subprocess ---------------------------------------------------------
def test_python_m_bot_imagine_subprocess(env, router_url):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "imagine", "a subprocess cat", "--out", "out"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    path = proc.stdout.strip().splitlines()[0]
    with Image.open(path) as im:
        assert im.format == "PNG"


def test_python_m_bot_config_error_exits_2(env, monkeypatch):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "imagine", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "ROUTER_API_KEY": ""},
    )
    assert proc.returncode == 2
    assert "ROUTER_API_KEY is not set" in proc.stderr


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()
