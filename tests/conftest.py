"""Test-wide environment: no test ever reaches the real Hub.

A loopback Hub (tests/loophub.py) is started once for the whole session and ``HF_ENDPOINT`` points
at it. The environment is set here, at import time, before huggingface_hub, datasets or fennec_hub
are imported, because they read it at import time. A socket guard refuses every connection that is
not to the loopback interface (set ``FENNEC_LIVE=1`` to lift it for ``live`` tests).

Fixtures: ``loophub`` (the running LoopHub, shared by the session: use unique repo ids, e.g. from
``unique_repo_id``, or ``fresh_hub`` for an emptied one), ``hub_token`` (a token the server
accepts; ``whoami`` names its user ``hub_user``), ``hub_fixture_repos`` (tests/fixtures/hub loaded),
``offline`` (in-process HF_HUB_OFFLINE=1), ``hf_home``.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import itertools
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

_TESTS_DIR = Path(__file__).resolve().parent
if str(_TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(_TESTS_DIR))

from loophub import DEFAULT_TOKEN, DEFAULT_USER, LoopHub  # noqa: E402  (stdlib + yaml only)

_HF_HOME = tempfile.mkdtemp(prefix="fennec-test-hf-home-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)
os.environ["HF_HOME"] = _HF_HOME
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
os.environ["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
             "HF_DATASETS_OFFLINE", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE"):
    os.environ.pop(_var, None)

LOOPHUB = LoopHub().start()
os.environ["HF_ENDPOINT"] = LOOPHUB.url

if any(m == "huggingface_hub" or m.startswith(("huggingface_hub.", "datasets.")) for m in sys.modules):
    # Something imported them before this conftest: their endpoint constant is stale.
    import warnings

    warnings.warn("huggingface_hub/datasets were imported before tests/conftest.py; HF_ENDPOINT may be "
                  "ignored by them (pass endpoint= explicitly)", stacklevel=1)


class _DatasetsConfigPatch(importlib.abc.MetaPathFinder):
    """After ``datasets.config`` is imported, switch off its dataset-viewer (parquet export) lookups."""

    def find_spec(self, name, path, target=None):  # noqa: D401
        if name != "datasets.config":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            module.USE_PARQUET_EXPORT = False

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "datasets.config" in sys.modules:
    sys.modules["datasets.config"].USE_PARQUET_EXPORT = False
else:
    sys.meta_path.insert(0, _DatasetsConfigPatch())


# ---------------------------------------------------------------------------- network guard
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}


class NetworkBlocked(ConnectionRefusedError):
    """A test tried to reach something other than the loopback interface."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    h = host.decode() if isinstance(host, bytes) else str(host)
    return h in _LOOPBACK_HOSTS or h.startswith("127.") or h.endswith(".localhost")


def _check_address(sock: socket.socket, address: object) -> None:
    if sock.family == getattr(socket, "AF_UNIX", object()):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host):
        raise NetworkBlocked(f"tests must not reach the network (tried to connect to {address!r})")


def _guarded_connect(self, address):
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"tests must not resolve {host!r} (network blocked)")
    return _real_getaddrinfo(host, *args, **kwargs)


def _install_guard() -> None:
    if os.environ.get("FENNEC_LIVE") == "1":
        return
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo


_install_guard()


@pytest.fixture(autouse=True)
def _no_network():
    """Autouse: keep the loopback-only socket guard in place for every test."""
    _install_guard()
    yield


# ---------------------------------------------------------------------------- Hub fixtures
@pytest.fixture(scope="session")
def loophub() -> LoopHub:
    """The session's running LoopHub (``HF_ENDPOINT`` points at ``loophub.url``)."""
    return LOOPHUB


@pytest.fixture(autouse=True)
def _clear_hub_faults():
    """Faults injected by one test never leak into the next."""
    yield
    LOOPHUB.clear_faults()


@pytest.fixture
def fresh_hub(loophub: LoopHub) -> LoopHub:
    """The session LoopHub emptied (repos, request log, faults) before this test."""
    loophub.reset()
    return loophub


@pytest.fixture(scope="session")
def hub_token() -> str:
    """A bearer token the LoopHub accepts (user ``fennec-tester``, sees private/gated repos)."""
    return DEFAULT_TOKEN


@pytest.fixture(scope="session")
def hub_user() -> str:
    """The user name ``whoami`` returns for ``hub_token`` (namespace of repos it creates)."""
    return DEFAULT_USER


_repo_counter = itertools.count(1)


@pytest.fixture
def unique_repo_id(request, hub_user: str) -> str:
    """A repo id no other test uses, e.g. ``fennec-tester/test-push-files-3``."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).lower()[:60].strip("-")
    return f"{hub_user}/{name}-{next(_repo_counter)}"


@pytest.fixture(scope="session")
def hub_fixture_repos(loophub: LoopHub) -> list[str]:
    """Load the model repo fixtures of tests/fixtures/hub into the LoopHub (once); returns their ids."""
    return loophub.add_fixture_dir(_TESTS_DIR / "fixtures" / "hub")


@pytest.fixture(scope="session")
def hf_home() -> Path:
    """The session's temporary ``HF_HOME`` (its ``hub`` folder is the HF cache)."""
    return Path(_HF_HOME)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch):
    """In-process offline mode: what ``HF_HUB_OFFLINE=1`` does, without re-importing anything.

    Patches ``huggingface_hub.constants.HF_HUB_OFFLINE`` (read by ``is_offline_mode()``, which
    huggingface_hub, transformers and fennec_hub.hub consult), the ``datasets.config`` copies when
    datasets is imported, and the env var (for subprocesses).
    """
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if "datasets.config" in sys.modules:
        ds_config = sys.modules["datasets.config"]
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if hasattr(ds_config, name):
                monkeypatch.setattr(ds_config, name, True)
    yield
