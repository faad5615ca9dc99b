"""A loopback imitation of the Requesty router, for end-to-end tests and manual trials.

    async with FakeRouter() as router:          # router.base_url == "http://127.0.0.1:PORT/v1"
        router.add_fault(Fault("status", status=429, retry_after=2))
        ...
        assert router.requests[-1].body["model"] == "azure/openai/gpt-image-1"

Run ``python -m tests.fakes.router`` to get one on the command line.
"""

from .faults import KINDS, Fault, FaultError
from .server import FakeRouter, RecordedRequest

__all__ = ["KINDS", "FakeRouter", "Fault", "FaultError", "RecordedRequest"]
