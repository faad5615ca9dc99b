"""A real S3-protocol server for the tests: moto's server mode, on loopback, in a subprocess.

moto is a PyPI package (in the dev extras), so it installs wherever the suite does; its server
speaks the S3 REST protocol over HTTP to the real aiobotocore client. MinIO would be closer to
production but ships no Debian or PyPI package here.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from tests import pg

START_TIMEOUT_S = 30
ACCESS_KEY = "easel-test"
SECRET_KEY = "easel-test-secret"


class MotoServer:
    """``start()``, ``endpoint``, ``stop()``."""

    def __init__(self) -> None:
        self.port = pg.free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with status {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server did not listen within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
