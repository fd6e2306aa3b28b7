"""Helpers shared by the Space's tests and its load benchmark (benchmarks/bench_space_load.py).

Standard library only, so the benchmark can import it before anything else.
"""

from __future__ import annotations

import re
import socket

__all__ = ["free_port", "model_of_cell"]

_LINK = re.compile(r"^\[(?P<id>[^\]]+)\]\((?P<url>[^)]+)\)(?: · same weights: .*)?$")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a server the caller starts next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_of_cell(cell: str) -> str:
    """The model id shown in a table cell: a Markdown Hub link (then, maybe, the other upload of its
    weights), or plain text for off-Hub models."""
    m = _LINK.match(cell)
    return m.group("id") if m else cell.split(" *(", 1)[0]
