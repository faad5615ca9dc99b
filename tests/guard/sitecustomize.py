"""Loaded by every Python process the tests start with ``hermetic.guarded_env``: the same
loopback-only guard as in the test process."""

import os
from pathlib import Path

_log = os.environ.get("EASEL_TEST_NETWORK_LOG")
if _log:
    from tests import hermetic

    hermetic.install(Path(_log))
