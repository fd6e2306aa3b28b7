"""Every call fennec_hub makes to the Hugging Face Hub.

One place for listing, repo info, downloads (through the HF cache, so they work offline once
cached) and commits, so that endpoints, tokens, timeouts, size bounds, retries and error messages
are handled alike. Each function takes ``endpoint`` (default: ``HF_ENDPOINT`` read at call time,
else the huggingface_hub default) and ``token`` (``str``, ``True`` for the stored token, ``False``
for none, ``None`` for the default).

Network policy. Every HTTP request huggingface_hub sends on fennec_hub's behalf has connect, read,
write and pool timeouts: requests that huggingface_hub sends without one (metadata calls such as
``dataset_info``, listings, commits) get :func:`network_timeout` seconds (``FENNEC_HUB_TIMEOUT``,
default 30); requests with huggingface_hub's own timeouts (``HF_HUB_ETAG_TIMEOUT``,
``HF_HUB_DOWNLOAD_TIMEOUT``) keep them, capped at ``FENNEC_HUB_TIMEOUT`` when that is set. A
request that times out is not retried: it raises :class:`HubTimeout`, naming the endpoint, the
call and the timeout. The policy is a ``huggingface_hub.set_client_factory`` client, installed on
the first Hub call (it applies to the whole process's huggingface_hub client).

Size policy. Downloads know their sizes before any byte moves (a HEAD request, or the repo's
file listing) and refuse with :class:`DownloadTooLarge` past ``max_bytes`` per file (and, for
:func:`snapshot`, in total).

Repo ids are read by :func:`parse_repo_id` (``owner/name``, ``hf://datasets/owner/name``,
``https://huggingface.co/datasets/owner/name``), validated with huggingface_hub's
``validate_repo_id``; a bad id raises :class:`InvalidRepoId` (a ``ValueError`` naming the argument).

Errors are :class:`HubError` subclasses with readable messages that are ALSO the matching
``huggingface_hub.errors`` classes, so code written against either catches them:
:class:`RepoNotFound` (``RepositoryNotFoundError``), :class:`GatedRepo` (``GatedRepoError``),
:class:`RevisionNotFound` (``RevisionNotFoundError``), :class:`EntryNotFound`
(``RemoteEntryNotFoundError``, an ``EntryNotFoundError``), :class:`HubOffline`
(``OfflineModeIsEnabled``: offline mode on, or the Hub unreachable), its subclasses
:class:`NotCached` (``LocalEntryNotFoundError``) and :class:`HubTimeout` (also a ``TimeoutError``).
The original error is kept as ``__cause__``. huggingface_hub is imported inside the functions (the
error classes are created on first use) so that ``import fennec_hub.hub`` stays cheap.

Long on purpose: every Hub call is here by design (one timeout, size-bound, retry and error
policy), so every kind of call the project makes is too.
"""

from __future__ import annotations

import contextlib
import email.utils
import importlib
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import CommitInfo, DatasetInfo, HfApi, ModelInfo

__all__ = [
    "HubError",
    "RepoNotFound",
    "GatedRepo",
    "RevisionNotFound",
    "EntryNotFound",
    "HubOffline",
    "NotCached",
    "HubTimeout",
    "InvalidRepoId",
    "DownloadTooLarge",
    "RETRY_STATUS_CODES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_TOTAL_BYTES",
    "RepoFiles",
    "api",
    "endpoint_url",
    "network_timeout",
    "is_offline",
    "parse_repo_id",
    "is_repo_id",
    "list_models",
    "list_datasets",
    "model_info",
    "dataset_info",
    "list_files",
    "repo_files",
    "download",
    "check_sizes",
    "snapshot",
    "push_files",
    "push_folder",
    "read_small_file",
    "with_retries",
    "whoami",
]

T = TypeVar("T")

#: HTTP statuses worth retrying: rate limiting and transient server errors.
RETRY_STATUS_CODES: tuple[int, ...] = (429, 500, 502, 503, 504)

#: Seconds a request may wait for a connection or for data when huggingface_hub sets no timeout
#: (``FENNEC_HUB_TIMEOUT`` overrides it, and then also caps huggingface_hub's own timeouts).
DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "FENNEC_HUB_TIMEOUT"

#: Default bound of one downloaded file, and of one :func:`snapshot` in total.
DEFAULT_MAX_FILE_BYTES = 2 << 30
DEFAULT_MAX_TOTAL_BYTES = 4 << 30

_HEX40 = re.compile(r"^[0-9a-f]{40}$")


# ---------------------------------------------------------------------------- errors
class HubError(OSError):
    """A Hub call failed. ``status_code`` / ``retry_after`` are set when the server answered.

    ``response`` is the HTTP response when there was one (huggingface_hub's ``HfHubHTTPError``
    attributes ``response``, ``request_id`` and ``server_message`` are always present).
    """

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None,
                 retryable: bool = False, response: Any = None, server_message: str | None = None) -> None:
        # huggingface_hub's HTTP error classes need a response in their __init__: the attributes
        # they set are set here instead, so every subclass is built the same way.
        OSError.__init__(self, message)
        self.status_code = status_code if status_code is not None else getattr(response, "status_code", None)
        self.retry_after = retry_after
        self.retryable = retryable
        self.response = response
        self.server_message = server_message
        headers = getattr(response, "headers", None) or {}
        self.request_id = headers.get("x-request-id") or headers.get("X-Amzn-Trace-Id") if headers else None
        if response is not None:
            try:
                self.request = response.request
            except (RuntimeError, AttributeError):
                pass

    def __str__(self) -> str:
        return self.args[0] if self.args else ""

    def __reduce__(self) -> tuple:
        # The HTTP response does not travel (it may not pickle); the message and status do.
        return (_rebuild_error, (type(self).__name__, str(self),
                                 {"status_code": self.status_code, "retry_after": self.retry_after,
                                  "retryable": self.retryable}))

    def __reduce_ex__(self, protocol: int) -> tuple:
        return self.__reduce__()


class DownloadTooLarge(ValueError):
    """A download was refused before it started: a file (or the total) is over its size bound,
    or the Hub did not say how large it is."""


if TYPE_CHECKING:  # pragma: no cover - the real classes are built on first use (_make_error_classes)
    from huggingface_hub import errors as _hf

    class RepoNotFound(HubError, _hf.RepositoryNotFoundError): ...
    class GatedRepo(HubError, _hf.GatedRepoError): ...
    class RevisionNotFound(HubError, _hf.RevisionNotFoundError): ...
    class EntryNotFound(HubError, _hf.RemoteEntryNotFoundError): ...
    class HubOffline(HubError, _hf.OfflineModeIsEnabled): ...
    class NotCached(HubOffline, _hf.LocalEntryNotFoundError): ...
    class HubTimeout(HubOffline, TimeoutError): ...
    class InvalidRepoId(_hf.HFValidationError): ...


_LAZY_ERRORS = ("RepoNotFound", "GatedRepo", "RevisionNotFound", "EntryNotFound", "HubOffline", "NotCached",
                "HubTimeout", "InvalidRepoId")
_ERRORS_LOCK = threading.Lock()


def _make_error_classes() -> None:
    """Create the HubError subclasses that are also huggingface_hub.errors classes (once)."""
    with _ERRORS_LOCK:
        if "RepoNotFound" in globals():
            return
        from huggingface_hub import errors as hf

        def make(name: str, bases: tuple, doc: str, body: dict | None = None) -> type:
            cls = type(name, bases, {"__doc__": doc, "__module__": __name__, "__qualname__": name, **(body or {})})
            globals()[name] = cls
            return cls

        make("RepoNotFound", (HubError, hf.RepositoryNotFoundError),
             "The repo does not exist, or is private and the token (if any) cannot see it.\n\n"
             "Also a ``huggingface_hub.errors.RepositoryNotFoundError``.")
        make("GatedRepo", (HubError, hf.GatedRepoError),
             "The repo is gated: its conditions must be accepted on the Hub and a token passed.\n\n"
             "Also a ``huggingface_hub.errors.GatedRepoError``.")
        make("RevisionNotFound", (HubError, hf.RevisionNotFoundError),
             "The repo exists but the branch, tag or commit does not.\n\n"
             "Also a ``huggingface_hub.errors.RevisionNotFoundError``.")
        make("EntryNotFound", (HubError, hf.RemoteEntryNotFoundError),
             "The repo exists but the file does not (at that revision).\n\n"
             "Also a ``huggingface_hub.errors.RemoteEntryNotFoundError`` (an ``EntryNotFoundError``).")
        offline = make("HubOffline", (HubError, hf.OfflineModeIsEnabled),
                       "Offline mode is on, the Hub cannot be reached, or the answer is not in the local cache.\n\n"
                       "Also a ``huggingface_hub.errors.OfflineModeIsEnabled``.")
        make("NotCached", (offline, hf.LocalEntryNotFoundError),
             "A file or snapshot is not in the local cache, and the Hub was not (or could not be) asked.\n\n"
             "Also a ``huggingface_hub.errors.LocalEntryNotFoundError``.")

        def timeout_init(self, message: str, *, endpoint: str | None = None, call: str | None = None,
                         timeout: float | None = None, url: str | None = None, **kwargs: Any) -> None:
            HubError.__init__(self, message, **kwargs)
            self.endpoint, self.call, self.timeout, self.url = endpoint, call, timeout, url

        make("HubTimeout", (offline, TimeoutError),
             "The Hub accepted no connection, or sent no data, within the network timeout (not retried).\n\n"
             "``endpoint``, ``call``, ``timeout`` (seconds) and ``url`` say what timed out. Also a\n"
             "``TimeoutError`` and a ``huggingface_hub.errors.OfflineModeIsEnabled``.",
             {"__init__": timeout_init})

        def invalid_init(self, message: str, *, argument: str = "repo_id", value: Any = None) -> None:
            hf.HFValidationError.__init__(self, message)
            self.argument, self.value = argument, value

        make("InvalidRepoId", (hf.HFValidationError,),
             "An argument is not a valid Hub repo id (a ``ValueError`` naming the argument).\n\n"
             "Also a ``huggingface_hub.errors.HFValidationError``.", {"__init__": invalid_init})


def __getattr__(name: str) -> Any:
    if name in _LAZY_ERRORS:
        _make_error_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _rebuild_error(name: str, message: str, kwargs: dict) -> HubError:
    cls = HubError if name == "HubError" else __getattr__(name)
    return cls(message, **kwargs)


def _errors() -> Any:
    """This module with its lazily created error classes in place (``_errors().RepoNotFound``)."""
    _make_error_classes()
    return importlib.import_module(__name__)


def _transport_module() -> Any:
    """The HTTP library huggingface_hub is built on (``httpx`` in 1.x, ``httpx2`` in 2.x)."""
    from huggingface_hub.errors import HfHubHTTPError

    for base in HfHubHTTPError.__mro__:
        root = base.__module__.split(".")[0]
        if root in ("httpx", "httpx2"):
            return importlib.import_module(root)
    raise ImportError("cannot tell which HTTP library huggingface_hub uses")  # pragma: no cover


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Transport-level exception classes (connection refused/reset, timeouts, dropped responses)."""
    return (_transport_module().TransportError,)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(repo_type: str | None, repo_id: str | None) -> str:
    if repo_id is None:
        return "the Hub"
    kind = {"dataset": "dataset", "space": "Space"}.get(repo_type or "model", "model")
    return f"{kind} repo '{repo_id}'"


@contextlib.contextmanager
def _translated(repo_id: str | None = None, *, repo_type: str | None = "model", endpoint: str | None = None,
                revision: str | None = None, filename: str | None = None, local_only: bool = False,
                call: str | None = None) -> Iterator[None]:
    """Install the network policy, then re-raise huggingface_hub / transport errors as :class:`HubError`."""
    _install_network_policy()
    try:
        yield
    except Exception as err:  # noqa: BLE001 - translated or re-raised below
        E = _errors()
        if isinstance(err, E.HubTimeout) and err.call is None:  # straight from the client: say which call
            raise _timeout_error(err, call=call, what=_describe(repo_type, repo_id)) from err
        if isinstance(err, HubError):
            raise
        timed_out = _in_chain(err, E.HubTimeout)
        if timed_out is not None:  # huggingface_hub caught it and raised something else
            raise _timeout_error(timed_out, call=call, what=_describe(repo_type, repo_id)) from err
        translated = _translate(err, repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision,
                                filename=filename, local_only=local_only)
        if translated is None:
            raise
        raise translated from err


def _in_chain(err: BaseException | None, cls: type[BaseException]) -> BaseException | None:
    """The first exception of class ``cls`` in ``err``'s cause/context chain (``err`` included)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, cls):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _timeout_error(err: Any, *, call: str | None, what: str) -> HubError:
    E = _errors()
    timeout = getattr(err, "timeout", None)
    where = getattr(err, "endpoint", None) or endpoint_url()
    request = getattr(err, "url", None) or ""
    call = call or getattr(err, "call", None) or "a Hub request"
    seconds = f"{timeout:g} s" if isinstance(timeout, (int, float)) else "its timeout"
    return E.HubTimeout(
        f"{call} for {what} timed out: {where} sent no answer within {seconds}"
        + (f" ({request})" if request else "")
        + f"; set {TIMEOUT_ENV} (seconds) to wait longer, or HF_HUB_OFFLINE=1 to use the local cache only",
        endpoint=where, call=call, timeout=timeout, url=request or None)


def _translate(err: BaseException, repo_id: str | None, *, repo_type: str | None, endpoint: str | None,
               revision: str | None = None, filename: str | None = None,
               local_only: bool = False) -> HubError | None:
    from huggingface_hub import errors as hf_errors

    E = _errors()
    where = endpoint_url(endpoint)
    what = _describe(repo_type, repo_id)
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    http = {"response": response, "server_message": getattr(err, "server_message", None)}

    if isinstance(err, hf_errors.GatedRepoError):
        return E.GatedRepo(f"{what} on {where} is gated: accept its conditions on the Hub and pass a token "
                           f"(token=... or HF_TOKEN) that has access", **http)
    if isinstance(err, hf_errors.RepositoryNotFoundError):
        return E.RepoNotFound(f"{what} not found on {where} (or private: pass a token that can read it)", **http)
    if isinstance(err, hf_errors.RevisionNotFoundError):
        return E.RevisionNotFound(f"revision '{revision or 'main'}' of {what} not found on {where}", **http)
    if isinstance(err, hf_errors.OfflineModeIsEnabled):
        return E.HubOffline(f"cannot reach {where} for {what}: offline mode is enabled (HF_HUB_OFFLINE=1) "
                            "and the answer is not in the local cache")
    if isinstance(err, hf_errors.LocalEntryNotFoundError):
        target = f"'{filename}' of {what}" if filename else what
        if local_only:
            reason = "local_files_only=True"
        elif is_offline():
            reason = "offline mode is enabled (HF_HUB_OFFLINE=1)"
        else:
            reason = "the Hub could not be reached"
        return E.NotCached(f"{target} is not in the local cache and {reason} ({where})")
    remote_missing = getattr(hf_errors, "RemoteEntryNotFoundError", None) or hf_errors.EntryNotFoundError
    if isinstance(err, remote_missing):
        return E.EntryNotFound(f"file '{filename}' not found in {what} at revision '{revision or 'main'}' "
                               f"on {where}", **http)
    if isinstance(err, hf_errors.HfHubHTTPError):
        retryable = status in RETRY_STATUS_CODES
        detail = str(err).strip().splitlines()[0] if str(err).strip() else f"HTTP {status}"
        if status == 429:
            message = f"{where} is rate limiting requests for {what} (HTTP 429): {detail}"
        else:
            message = f"Hub request for {what} failed on {where}: {detail}"
        return HubError(message, retry_after=_retry_after(headers), retryable=retryable, **http)
    if isinstance(err, _transport_errors()):
        return E.HubOffline(f"cannot reach {where} for {what}: {type(err).__name__}: {err}", retryable=True)
    return None


def _is_retryable(err: BaseException, retry_on: Collection[int]) -> tuple[bool, float | None]:
    """Whether ``err`` is transient (status in ``retry_on`` or a transport error) and its Retry-After.

    A timeout is final: the timeout is the bound the caller set on waiting.
    """
    if isinstance(err, HubError):
        if isinstance(err, _errors().HubTimeout):
            return False, None
        if err.status_code is not None:
            return err.status_code in retry_on, err.retry_after
        if err.retryable:
            return True, None
        cause = err.__cause__
        return (cause is not None and isinstance(cause, _transport_errors())), None
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    try:
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:  # pragma: no cover
        HfHubHTTPError = ()  # type: ignore[assignment]
    if isinstance(err, HfHubHTTPError) and status is not None:
        return status in retry_on, _retry_after(getattr(response, "headers", None))
    if isinstance(err, _transport_errors()):
        return True, None
    return False, None


def with_retries(fn: Callable[[], T], *, attempts: int = 5, retry_on: Collection[int] = RETRY_STATUS_CODES,
                 backoff: float = 1.0, max_wait: float = 60.0, jitter: float = 0.1,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[int, BaseException, float], None] | None = None) -> T:
    """Call ``fn()`` and retry it on transient Hub failures; return its result.

    Retried: HTTP statuses in ``retry_on`` (429 and 5xx by default) and transport errors
    (connection refused/reset, dropped responses), raw or already translated to
    :class:`HubError`. A :class:`HubTimeout` is not retried. The wait honours ``Retry-After``
    (seconds or HTTP date) and otherwise grows as ``backoff * 2**i`` (+ up to ``jitter`` of it),
    capped at ``max_wait``. Offline mode, missing repos/files and other client errors are raised
    at once. After ``attempts`` tries the last error is raised. ``on_retry(attempt, error, wait)``
    is called before each wait (e.g. logging).
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as err:
            retry, retry_after = _is_retryable(err, retry_on)
            if not retry or attempt == attempts:
                raise
            if retry_after is not None:
                wait = min(max_wait, retry_after)
            else:
                wait = min(max_wait, backoff * 2 ** (attempt - 1))
                wait += random.uniform(0, jitter * wait) if jitter > 0 else 0.0
            if on_retry is not None:
                on_retry(attempt, err, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------- network policy
def network_timeout() -> float:
    """Seconds a Hub request may wait to connect or for data: ``FENNEC_HUB_TIMEOUT`` or 30."""
    explicit = _explicit_timeout()
    return DEFAULT_TIMEOUT if explicit is None else explicit


def _explicit_timeout() -> float | None:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds")
    return value


def _policy_timeouts(current: Mapping[str, Any] | None) -> dict[str, float]:
    """The request's connect/read/write/pool timeouts under the policy (see the module docstring)."""
    cap = _explicit_timeout()
    default = DEFAULT_TIMEOUT if cap is None else cap
    out = {}
    for key in ("connect", "read", "write", "pool"):
        value = (current or {}).get(key)
        if value is None:
            value = default
        elif cap is not None:
            value = min(float(value), cap)
        out[key] = float(value)
    return out


_POLICY_LOCK = threading.Lock()
_POLICY_CLIENT: type | None = None


def _policy_client_class() -> type:
    """An ``httpx(2).Client`` that applies the timeout policy and raises :class:`HubTimeout`."""
    global _POLICY_CLIENT
    if _POLICY_CLIENT is None:
        transport = _transport_module()
        E = _errors()

        class PolicyClient(transport.Client):
            """huggingface_hub's HTTP client with fennec_hub's timeouts (see fennec_hub.hub)."""

            def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
                limits = _policy_timeouts(request.extensions.get("timeout"))
                request.extensions = {**request.extensions, "timeout": limits}
                try:
                    return super().send(request, *args, **kwargs)
                except transport.TimeoutException as err:
                    url = request.url
                    origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
                    phase = "connect" if isinstance(err, transport.ConnectTimeout) else "read"
                    raise E.HubTimeout(
                        f"{origin} sent no answer within {limits[phase]:g} s ({request.method} {url.path})",
                        endpoint=origin, timeout=limits[phase], url=f"{request.method} {url.path}",
                    ) from err

        PolicyClient.__module__ = __name__
        _POLICY_CLIENT = PolicyClient
    return _POLICY_CLIENT


def _install_network_policy() -> None:
    """Make huggingface_hub's shared client apply the policy (once per process).

    huggingface_hub's own request hooks (request ids, debug logging) are kept.
    """
    if _POLICY_CLIENT is not None and _POLICY_INSTALLED.is_set():
        return
    from huggingface_hub import get_session, set_client_factory

    with _POLICY_LOCK:
        if _POLICY_INSTALLED.is_set():
            return
        cls = _policy_client_class()
        current = get_session()
        if not isinstance(current, cls):
            hooks = {name: list(fns) for name, fns in current.event_hooks.items()}

            def factory() -> Any:
                return cls(event_hooks=hooks, follow_redirects=True)

            set_client_factory(factory)
        _POLICY_INSTALLED.set()


_POLICY_INSTALLED = threading.Event()


# ---------------------------------------------------------------------------- repo ids
_HF_URI = re.compile(r"^hf://", re.IGNORECASE)
_HUB_URL = re.compile(r"^(?:https?://)?(?:www\.)?huggingface\.co/", re.IGNORECASE)
_URL_TYPES = {"datasets": "dataset", "spaces": "space", "models": "model"}


def parse_repo_id(value: Any, *, repo_type: str = "dataset", argument: str = "repo_id",
                  require_namespace: bool = True) -> str:
    """The ``owner/name`` id of a Hub repo named by ``value``; :class:`InvalidRepoId` if it is not one.

    Accepts ``owner/name``, ``hf://datasets/owner/name`` (``hf://owner/name`` takes ``repo_type``
    from the context) and Hub web URLs (``https://huggingface.co/datasets/owner/name[/...]``, or the
    configured endpoint's), checked with huggingface_hub's ``validate_repo_id``, which rejects what
    the Hub rejects (``foo/bar--baz``, ``foo/a..b``, ``../x``). A URI or URL of another repo type
    is refused. ``argument`` names the caller's argument in the message.
    """
    E = _errors()
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    kind_name = {"dataset": "dataset", "model": "model", "space": "Space"}.get(repo_type, repo_type)

    def invalid(reason: str) -> Exception:
        shown = repr(value) if not isinstance(value, str) or len(value) <= 120 else repr(value[:120] + "...")
        return E.InvalidRepoId(f"{argument}={shown} is not a valid Hub {kind_name} id: {reason}",
                               argument=argument, value=value)

    if not isinstance(value, str):
        raise invalid(f"expected a string like 'owner/name', got {type(value).__name__}")
    text = value.strip()
    body, kind, located = text, None, False
    endpoint = endpoint_url().rstrip("/") + "/"
    url = _HUB_URL.match(text)
    if _HF_URI.match(text):
        located, body = True, text[len("hf://"):]
        head, _, rest = body.partition("/")
        if head in _URL_TYPES and rest:
            kind, body = _URL_TYPES[head], rest
    elif url is not None or ("://" in text and text.lower().startswith(endpoint.lower())):
        located = True
        body = text[url.end():] if url is not None else text[len(endpoint):]
        body = re.split(r"[?#]", body, maxsplit=1)[0]
        head, _, rest = body.partition("/")
        kind, body = (_URL_TYPES[head], rest) if head in _URL_TYPES else ("model", body)
    if located:  # a location may go on into the repo (/tree/main/..., /viewer): the id is its start
        body = "/".join(body.strip("/").split("/")[:2])
    if kind is not None and kind != repo_type:
        raise invalid(f"it names a {kind} repo")
    body = body.strip("/")
    try:
        validate_repo_id(body)
    except HFValidationError as exc:
        raise invalid(str(exc)) from None
    if require_namespace and "/" not in body:
        raise invalid("expected 'owner/name'")
    return body


def is_repo_id(value: Any, *, repo_type: str = "dataset", require_namespace: bool = True) -> bool:
    """Whether :func:`parse_repo_id` accepts ``value``."""
    try:
        parse_repo_id(value, repo_type=repo_type, require_namespace=require_namespace)
    except ValueError:
        return False
    return True


def _checked(repo_id: str, repo_type: str | None) -> str:
    """``repo_id`` validated for a hub.py call (any spelling parse_repo_id accepts)."""
    return parse_repo_id(repo_id, repo_type=repo_type or "model", argument="repo_id", require_namespace=False)


# ---------------------------------------------------------------------------- basics
def endpoint_url(endpoint: str | None = None) -> str:
    """The Hub URL to talk to: ``endpoint``, else ``HF_ENDPOINT`` now, else huggingface_hub's default."""
    if endpoint:
        return endpoint.rstrip("/")
    env = os.environ.get("HF_ENDPOINT")
    if env:
        return env.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def api(endpoint: str | None = None, token: str | bool | None = None) -> HfApi:
    """An ``HfApi`` client for ``endpoint`` (see :func:`endpoint_url`) using ``token``."""
    from huggingface_hub import HfApi

    _install_network_policy()
    return HfApi(endpoint=endpoint_url(endpoint), token=token)


def is_offline() -> bool:
    """Whether huggingface_hub's offline mode (``HF_HUB_OFFLINE=1``) is on."""
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check()) if check is not None else bool(constants.HF_HUB_OFFLINE)


def whoami(*, endpoint: str | None = None, token: str | bool | None = None) -> dict[str, Any]:
    """The account ``token`` belongs to (``{"name": ..., ...}``); :class:`HubError` if invalid."""
    with _translated(None, endpoint=endpoint, call="whoami"):
        return api(endpoint, token).whoami()


# ---------------------------------------------------------------------------- listing and info
def list_models(*, filter: str | Iterable[str] | None = None, pipeline_tag: str | None = None,
                library: str | None = None, author: str | None = None, search: str | None = None,
                sort: str | None = "downloads", limit: int | None = None, expand: Iterable[str] | None = None,
                num_parameters: str | None = None, gated: bool | None = None, endpoint: str | None = None,
                token: str | bool | None = None) -> Iterator[ModelInfo]:
    """Iterate over Hub models matching the filters, following pagination lazily.

    ``filter``: tag(s) every model must carry (e.g. ``"timm"``, ``"dataset:cifar100"``);
    ``library`` is added as one more tag (huggingface_hub >= 1.0 has no ``library`` argument).
    ``expand``: wire fields to include (``config``, ``safetensors``, ``cardData``, ``tags``,
    ``downloads``, ``likes``, ``library_name``, ``pipeline_tag``, ``lastModified``, ``sha``,
    ``baseModels``, ...). Note the Hub's ``config`` field holds only a few keys of config.json
    (``architectures``, ``model_type``, ...): download ``config.json`` for the full file.
    ``num_parameters``: server-side size filter like ``"max:100M"``. Each page is retried on
    429/5xx/transport errors by huggingface_hub itself (not on a timeout: :class:`HubTimeout`);
    other errors raise :class:`HubError`.
    """
    tags = [filter] if isinstance(filter, str) else list(filter or [])
    if library and library not in tags:
        tags.append(library)
    kwargs: dict[str, Any] = {
        "filter": tags or None, "pipeline_tag": pipeline_tag, "author": author, "search": search,
        "sort": sort, "limit": limit, "expand": list(expand) if expand is not None else None,
    }
    if num_parameters is not None:
        kwargs["num_parameters"] = num_parameters
    if gated is not None:
        kwargs["gated"] = gated

    def pages() -> Iterator[ModelInfo]:
        with _translated(None, endpoint=endpoint, call="list_models"):
            yield from api(endpoint, token).list_models(**kwargs)

    return pages()


def list_datasets(*, filter: str | Iterable[str] | None = None, author: str | None = None,
                  search: str | None = None, sort: str | None = "downloads", limit: int | None = None,
                  expand: Iterable[str] | None = None, endpoint: str | None = None,
                  token: str | bool | None = None) -> Iterator[DatasetInfo]:
    """Iterate over Hub datasets matching the filters (same conventions as :func:`list_models`)."""
    tags = [filter] if isinstance(filter, str) else list(filter or [])
    kwargs = {"filter": tags or None, "author": author, "search": search, "sort": sort, "limit": limit,
              "expand": list(expand) if expand is not None else None}

    def pages() -> Iterator[DatasetInfo]:
        with _translated(None, endpoint=endpoint, call="list_datasets"):
            yield from api(endpoint, token).list_datasets(**kwargs)

    return pages()


def model_info(repo_id: str, *, revision: str | None = None, expand: Iterable[str] | None = None,
               files_metadata: bool = False, endpoint: str | None = None,
               token: str | bool | None = None) -> ModelInfo:
    """Metadata of one model repo (``card_data``, ``safetensors``, ``config``, ``tags``, ``sha``...)."""
    repo_id = _checked(repo_id, "model")
    with _translated(repo_id, repo_type="model", endpoint=endpoint, revision=revision, call="model_info"):
        return api(endpoint, token).model_info(repo_id, revision=revision, files_metadata=files_metadata,
                                               expand=list(expand) if expand is not None else None)


def dataset_info(repo_id: str, *, revision: str | None = None, expand: Iterable[str] | None = None,
                 files_metadata: bool = False, endpoint: str | None = None,
                 token: str | bool | None = None) -> DatasetInfo:
    """Metadata of one dataset repo (``card_data`` holds ``dataset_info`` features/splits, ``sha``...)."""
    repo_id = _checked(repo_id, "dataset")
    with _translated(repo_id, repo_type="dataset", endpoint=endpoint, revision=revision, call="dataset_info"):
        return api(endpoint, token).dataset_info(repo_id, revision=revision, files_metadata=files_metadata,
                                                 expand=list(expand) if expand is not None else None)


def card_data_dict(card_data: Any) -> dict:
    """A repo's card data (``ModelCardData``, ``DatasetCardData``, a dict or None) as a plain dict.

    Cards are untrusted: anything that does not convert cleanly gives an empty dict.
    """
    if card_data is None:
        return {}
    if isinstance(card_data, Mapping):
        return dict(card_data)
    to_dict = getattr(card_data, "to_dict", None)
    try:
        out = to_dict() if callable(to_dict) else None
    except Exception:  # noqa: BLE001 - a malformed card is treated as an empty one
        return {}
    return dict(out) if isinstance(out, Mapping) else {}


def list_files(repo_id: str, *, repo_type: str = "model", revision: str | None = None,
               endpoint: str | None = None, token: str | bool | None = None) -> list[str]:
    """Paths of every file in a repo at ``revision``."""
    repo_id = _checked(repo_id, repo_type)
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, call="list_files"):
        return api(endpoint, token).list_repo_files(repo_id, repo_type=repo_type, revision=revision)


class RepoFiles(NamedTuple):
    """The files of a repo at one commit, with their sizes in bytes (``None`` where the Hub gave none)."""

    repo_id: str
    repo_type: str
    commit: str
    sizes: Mapping[str, int | None]


def repo_files(repo_id: str, *, repo_type: str = "dataset", revision: str | None = None,
               endpoint: str | None = None, token: str | bool | None = None) -> RepoFiles:
    """Every file of a repo at ``revision`` with its size, and the commit they belong to (one call).

    What a bounded download checks before fetching anything: the commit pins every later
    download to the same state of the repo.
    """
    repo_id = _checked(repo_id, repo_type)
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, call="repo_files"):
        info = api(endpoint, token).repo_info(repo_id, repo_type=repo_type, revision=revision,
                                              files_metadata=True)
    sizes: dict[str, int | None] = {}
    for s in info.siblings or []:
        lfs = getattr(s, "lfs", None)
        size = getattr(lfs, "size", None) if lfs is not None else None
        sizes[s.rfilename] = size if size is not None else getattr(s, "size", None)
    return RepoFiles(repo_id, repo_type, str(info.sha or revision or ""), sizes)


# ---------------------------------------------------------------------------- downloads
def _check_size(repo_id: str, filename: str, size: int | None, max_bytes: int | None, *,
                repo_type: str, bound: str = "max_bytes", where: str | None = None) -> None:
    if max_bytes is None:
        return
    what = f"'{filename}' of {where or _describe(repo_type, repo_id)}"
    if size is None:
        raise DownloadTooLarge(f"refusing to download {what}: the Hub did not say how large it is "
                               f"(the bound is {max_bytes:,} bytes)")
    if size > max_bytes:
        raise DownloadTooLarge(f"refusing to download {what}: it is {size:,} bytes, over the "
                               f"{max_bytes:,}-byte bound ({bound}); pass a larger {bound} to allow it")


def check_sizes(repo_id: str, sizes: Mapping[str, int | None], *, max_file_bytes: int | None,
                max_bytes: int | None, repo_type: str = "dataset", where: str | None = None) -> int:
    """Refuse files before they are downloaded: one over ``max_file_bytes`` (or of unknown size
    under a bound), or all of them together over ``max_bytes`` (:class:`DownloadTooLarge`, naming
    the bound; ``None`` = no bound). ``sizes``: file name -> bytes, e.g. :func:`repo_files`'
    ``sizes``. ``where`` names the repo in messages. Returns the files' total size."""
    where = where or _describe(repo_type, repo_id)
    for name, size in sizes.items():
        _check_size(repo_id, name, size, max_file_bytes, repo_type=repo_type, bound="max_file_bytes", where=where)
    total = sum(size or 0 for size in sizes.values())
    if max_bytes is not None and total > max_bytes:
        raise DownloadTooLarge(f"refusing to download {where}: its {len(sizes)} files are {total:,} bytes "
                               f"together, over the {max_bytes:,}-byte bound (max_bytes)")
    return total


def download(repo_id: str, filename: str, *, repo_type: str = "model", revision: str | None = None,
             cache_dir: str | Path | None = None, local_files_only: bool = False,
             max_bytes: int | None = DEFAULT_MAX_FILE_BYTES, size: int | None = None,
             endpoint: str | None = None, token: str | bool | None = None) -> str:
    """Local path of one repo file, fetched through the HF cache, at most ``max_bytes`` large.

    The file's size is known before it is fetched: ``size`` when the caller has it from the repo
    listing (:func:`repo_files`), else a HEAD request; over ``max_bytes`` (``None``: no bound)
    raises :class:`DownloadTooLarge` and nothing is downloaded. Offline (``HF_HUB_OFFLINE=1``) or
    when the Hub cannot be reached, the cached copy for ``revision`` is returned;
    :class:`NotCached` if there is none.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache

    repo_id = _checked(repo_id, repo_type)
    where = endpoint_url(endpoint)
    cache = str(cache_dir) if cache_dir else None

    def fetch(local_only: bool) -> str:
        with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, filename=filename,
                         local_only=local_only, call=f"download of '{filename}'"):
            return hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision, cache_dir=cache,
                                   local_files_only=local_only, endpoint=where, token=token)

    if local_files_only or is_offline() or max_bytes is None:
        return fetch(local_files_only)
    if revision and _HEX40.match(revision):
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision, repo_type=repo_type)
        if isinstance(cached, str):  # pinned and already here: no request at all
            return cached
    if size is None:
        try:
            with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, filename=filename,
                             call=f"size check of '{filename}'"):
                url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=where)
                size = get_hf_file_metadata(url, token=token, endpoint=where).size
        except _errors().HubOffline as err:  # unreachable: a cached copy still serves
            try:
                return fetch(True)
            except HubError:
                raise err from None
    _check_size(repo_id, filename, size, max_bytes, repo_type=repo_type)
    return fetch(False)


def _pattern(path: str) -> str:
    """An fnmatch pattern matching exactly ``path``."""
    return re.sub(r"([*?\[])", r"[\1]", path)


def snapshot(repo_id: str, *, repo_type: str = "dataset", revision: str | None = None,
             allow_patterns: str | list[str] | None = None, ignore_patterns: str | list[str] | None = None,
             cache_dir: str | Path | None = None, local_files_only: bool = False,
             max_bytes: int | None = DEFAULT_MAX_TOTAL_BYTES, max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
             endpoint: str | None = None, token: str | bool | None = None) -> tuple[str, str]:
    """Download (or reuse from the cache) the matching files of a repo; returns ``(local_dir, commit_sha)``.

    The repo's file list and sizes are read first (:func:`repo_files`): a matching file over
    ``max_file_bytes``, or matching files over ``max_bytes`` together, raise
    :class:`DownloadTooLarge` before anything is downloaded; then only the matching files are
    fetched, at the listed commit. Offline or unreachable, the cached snapshot of ``revision``
    (default ``main``) and its commit are returned; :class:`NotCached` if not cached.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import filter_repo_objects

    repo_id = _checked(repo_id, repo_type)
    cache = str(cache_dir) if cache_dir else None

    def fetch(rev: str | None, allow: Any, ignore: Any, local_only: bool) -> tuple[str, str]:
        with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=rev, local_only=local_only,
                         call="snapshot"):
            path = snapshot_download(repo_id, repo_type=repo_type, revision=rev, allow_patterns=allow,
                                     ignore_patterns=ignore, cache_dir=cache, local_files_only=local_only,
                                     endpoint=endpoint_url(endpoint), token=token)
        sha = Path(path).name
        if not _HEX40.match(sha):  # not a cache snapshot folder: the revision is the best we know
            sha = rev if rev and _HEX40.match(rev) else ""
        return str(path), sha

    if local_files_only or is_offline():
        return fetch(revision, allow_patterns, ignore_patterns, local_files_only)
    try:
        listing = repo_files(repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint, token=token)
    except _errors().HubOffline as err:  # unreachable: a cached snapshot still serves
        try:
            return fetch(revision, allow_patterns, ignore_patterns, True)
        except HubError:
            raise err from None
    wanted = sorted(filter_repo_objects(list(listing.sizes), allow_patterns=allow_patterns,
                                        ignore_patterns=ignore_patterns))
    check_sizes(repo_id, {n: listing.sizes[n] for n in wanted}, max_file_bytes=max_file_bytes,
                max_bytes=max_bytes, repo_type=repo_type)
    # Exactly the files just checked. The caller's revision (not the listed commit) is passed on so
    # that the cache records which commit it names and serves it offline later.
    local, sha = fetch(revision, [_pattern(n) for n in wanted], None, False)
    if sha != listing.commit:  # the repo moved between the listing and the download: re-check
        on_disk = {n: (Path(local) / n).stat().st_size for n in wanted if (Path(local) / n).is_file()}
        try:
            check_sizes(repo_id, on_disk, max_file_bytes=max_file_bytes, max_bytes=max_bytes, repo_type=repo_type)
        except DownloadTooLarge as err:
            raise DownloadTooLarge(f"{_describe(repo_type, repo_id)} changed during the download and is now "
                                   f"over a bound: {err}") from None
    return local, sha


# ---------------------------------------------------------------------------- publishing
def push_files(repo_id: str, files: Mapping[str, bytes | str | Path], *, repo_type: str = "dataset",
               private: bool | None = None, commit_message: str = "Upload with fennec_hub",
               commit_description: str | None = None, revision: str | None = None, attempts: int = 3,
               endpoint: str | None = None, token: str | bool | None = None) -> CommitInfo:
    """Create the repo if needed and add ``files`` in ONE commit; returns the commit URL.

    ``files`` maps a path in the repo to bytes or to a local file path (``str``/``Path``). The
    result is huggingface_hub's ``CommitInfo``: a ``str`` equal to the commit URL, with ``.oid``
    (the new commit sha) and ``.repo_url``. Transient failures (429/5xx/transport) are retried up
    to ``attempts`` times with freshly built operations (they are single-use). A retry after a
    commit that did land but whose answer was lost makes no second commit: preupload reports
    the files as unchanged, the client then skips the commit and returns the current head.
    """
    from huggingface_hub import CommitOperationAdd

    repo_id = _checked(repo_id, repo_type)
    payload: dict[str, bytes | str] = {}
    for path_in_repo, value in files.items():
        if isinstance(value, (bytes, bytearray, memoryview)):
            payload[path_in_repo] = bytes(value)
        elif isinstance(value, (str, Path)):
            if not Path(value).is_file():
                raise FileNotFoundError(f"push_files: local file for '{path_in_repo}' not found: {value}")
            payload[path_in_repo] = str(value)
        else:
            raise TypeError(f"push_files: '{path_in_repo}' must map to bytes or a file path, "
                            f"not {type(value).__name__}")
    if not payload:
        raise ValueError("push_files: nothing to commit")
    client = api(endpoint, token)
    full_id = _create_repo(client, repo_id, repo_type=repo_type, private=private, attempts=attempts,
                           endpoint=endpoint)

    def commit() -> CommitInfo:
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=v) for p, v in payload.items()]
        with _translated(full_id, repo_type=repo_type, endpoint=endpoint, revision=revision, call="push_files"):
            return client.create_commit(full_id, operations=operations, commit_message=commit_message,
                                        commit_description=commit_description, repo_type=repo_type,
                                        revision=revision)

    return with_retries(commit, attempts=attempts)


def _create_repo(client: Any, repo_id: str, *, repo_type: str, private: bool | None, attempts: int,
                 endpoint: str | None, space_sdk: str | None = None) -> str:
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, call="create_repo"):
        repo_url = with_retries(lambda: client.create_repo(repo_id, repo_type=repo_type, private=private,
                                                           space_sdk=space_sdk, exist_ok=True), attempts=attempts)
    return getattr(repo_url, "repo_id", None) or repo_id


def push_folder(repo_id: str, folder: str | Path, *, repo_type: str = "dataset", private: bool | None = None,
                revision: str | None = None, create_pr: bool = False, commit_message: str = "Upload with fennec_hub",
                commit_description: str | None = None, delete_patterns: str | list[str] | None = "*",
                space_sdk: str | None = None, attempts: int = 3, endpoint: str | None = None,
                token: str | bool | None = None) -> CommitInfo:
    """Make the repo (at ``revision``) hold exactly the files of ``folder``, in one commit.

    ``HfApi.upload_folder`` with ``delete_patterns`` (default ``"*"``: every remote file the folder
    does not have is deleted in the same commit, ``.gitattributes`` excepted). Creates the repo if
    needed, and the branch ``revision`` if it does not exist yet. ``create_pr=True`` opens a pull
    request against the default branch instead (``revision`` must then be unset or ``"main"``);
    the result's ``pr_url`` / ``pr_revision`` name it. ``space_sdk`` (e.g. ``"gradio"``) is what
    the Hub needs to create a Space repo. Returns the ``CommitInfo`` (a ``str``, the commit URL).
    Transient failures are retried; every retry lists the remote files afresh.
    """
    repo_id = _checked(repo_id, repo_type)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"push_folder: {folder} is not a directory")
    if create_pr and revision not in (None, "main"):
        raise ValueError(f"create_pr=True opens a pull request against 'main'; revision={revision!r} cannot "
                         "be combined with it")
    client = api(endpoint, token)
    full_id = _create_repo(client, repo_id, repo_type=repo_type, private=private, attempts=attempts,
                           endpoint=endpoint, space_sdk=space_sdk)
    if revision and revision != "main" and not create_pr and not _HEX40.match(revision):
        with _translated(full_id, repo_type=repo_type, endpoint=endpoint, revision=revision, call="create_branch"):
            with_retries(lambda: client.create_branch(full_id, branch=revision, repo_type=repo_type,
                                                      exist_ok=True), attempts=attempts)

    def upload() -> CommitInfo:
        with _translated(full_id, repo_type=repo_type, endpoint=endpoint, revision=revision, call="push_folder"):
            return client.upload_folder(repo_id=full_id, folder_path=str(folder), repo_type=repo_type,
                                        revision=None if create_pr else revision, create_pr=create_pr or None,
                                        commit_message=commit_message, commit_description=commit_description,
                                        delete_patterns=delete_patterns)

    return with_retries(upload, attempts=attempts)


# ---------------------------------------------------------------------------- crawl
def read_small_file(repo_id: str, filename: str, *, revision: str | None = None, repo_type: str = "model",
                    max_bytes: int = 2_000_000, timeout: float | None = None, endpoint: str | None = None,
                    token: str | bool | None = None) -> bytes:
    """Bytes of one small repo file (config.json, README.md) at ``revision``, in a single GET.

    For crawling many repos: :func:`download` costs a HEAD and a GET per file plus a cache write.
    Errors are the usual :class:`HubError` subclasses (:class:`EntryNotFound` for a missing file,
    :class:`GatedRepo`, ...); a file larger than ``max_bytes`` raises :class:`DownloadTooLarge` (a
    ``ValueError``) without being read further. ``timeout``: seconds (default: the network
    policy's). Not retried here: wrap the call in :func:`with_retries`.
    """
    from huggingface_hub import get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    repo_id = _checked(repo_id, repo_type)
    url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=endpoint_url(endpoint))
    headers = build_hf_headers(token=token)
    chunks: list[bytes] = []
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, filename=filename,
                     call=f"read of '{filename}'"):
        with get_session().stream("GET", url, headers=headers, follow_redirects=True,
                                  timeout=network_timeout() if timeout is None else timeout) as r:
            if r.status_code >= 400:
                r.read()
                hf_raise_for_status(r)
            length = r.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise DownloadTooLarge(f"{repo_id}: {filename} is larger than {max_bytes} bytes")
            size = 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadTooLarge(f"{repo_id}: {filename} is larger than {max_bytes} bytes")
                chunks.append(chunk)
    return b"".join(chunks)
