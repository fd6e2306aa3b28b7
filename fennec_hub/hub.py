"""Every call fennec_hub makes to the Hugging Face Hub.

One place for listing, repo info, downloads (through the HF cache, so they work offline once
cached) and commits, so that endpoints, tokens, retries and error messages are handled alike.
Each function takes ``endpoint`` (default: ``HF_ENDPOINT`` read at call time, else the
huggingface_hub default) and ``token`` (``str``, ``True`` for the stored token, ``False`` for
none, ``None`` for the default).

huggingface_hub errors are translated into :class:`HubError` subclasses with readable messages:
:class:`RepoNotFound`, :class:`GatedRepo`, :class:`RevisionNotFound`, :class:`EntryNotFound` and
:class:`HubOffline` (offline mode, Hub unreachable, or not in the cache). The original error is
kept as ``__cause__``. huggingface_hub is imported inside the functions so that
``import fennec_hub.hub`` stays cheap.
"""

from __future__ import annotations

import contextlib
import email.utils
import importlib
import os
import random
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import CommitInfo, DatasetInfo, HfApi, ModelInfo

__all__ = [
    "HubError",
    "RepoNotFound",
    "GatedRepo",
    "RevisionNotFound",
    "EntryNotFound",
    "HubOffline",
    "RETRY_STATUS_CODES",
    "api",
    "endpoint_url",
    "is_offline",
    "list_models",
    "list_datasets",
    "model_info",
    "dataset_info",
    "list_files",
    "download",
    "snapshot",
    "push_files",
    "upload_folder",
    "with_retries",
    "whoami",
]

T = TypeVar("T")

#: HTTP statuses worth retrying: rate limiting and transient server errors.
RETRY_STATUS_CODES: tuple[int, ...] = (429, 500, 502, 503, 504)

_HEX40 = re.compile(r"^[0-9a-f]{40}$")


# ---------------------------------------------------------------------------- errors
class HubError(OSError):
    """A Hub call failed. ``status_code`` / ``retry_after`` are set when the server answered."""

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.retryable = retryable

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


class RepoNotFound(HubError):
    """The repo does not exist, or is private and the token (if any) cannot see it."""


class GatedRepo(HubError):
    """The repo is gated: its conditions must be accepted on the Hub and a token passed."""


class RevisionNotFound(HubError):
    """The repo exists but the branch, tag or commit does not."""


class EntryNotFound(HubError):
    """The repo exists but the file does not (at that revision)."""


class HubOffline(HubError):
    """Offline mode is on, the Hub cannot be reached, or the file is not in the local cache."""


def _transport_module() -> Any:
    """The HTTP library huggingface_hub is built on (``httpx`` in 1.x, ``httpx2`` in 2.x)."""
    from huggingface_hub.utils import _http

    for name in ("httpx2", "httpx"):
        mod = getattr(_http, name, None)
        if mod is not None and hasattr(mod, "TransportError"):
            return mod
    from huggingface_hub.utils import get_session

    return importlib.import_module(type(get_session()).__module__.split(".")[0])


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
                revision: str | None = None, filename: str | None = None,
                local_only: bool = False) -> Iterator[None]:
    """Re-raise huggingface_hub / transport errors as :class:`HubError` subclasses."""
    try:
        yield
    except HubError:
        raise
    except Exception as err:  # noqa: BLE001 - translated or re-raised below
        translated = _translate(err, repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision,
                                filename=filename, local_only=local_only)
        if translated is None:
            raise
        raise translated from err


def _translate(err: BaseException, repo_id: str | None, *, repo_type: str | None, endpoint: str | None,
               revision: str | None = None, filename: str | None = None,
               local_only: bool = False) -> HubError | None:
    from huggingface_hub import errors as hf_errors

    where = endpoint_url(endpoint)
    what = _describe(repo_type, repo_id)
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None)
    local_missing = getattr(hf_errors, "LocalEntryNotFoundError", ())
    remote_missing = getattr(hf_errors, "RemoteEntryNotFoundError", None) or getattr(
        hf_errors, "EntryNotFoundError", ())

    if isinstance(err, hf_errors.GatedRepoError):
        return GatedRepo(f"{what} on {where} is gated: accept its conditions on the Hub and pass a token "
                         f"(token=... or HF_TOKEN) that has access", status_code=status)
    if isinstance(err, hf_errors.RepositoryNotFoundError):
        return RepoNotFound(f"{what} not found on {where} (or private: pass a token that can read it)",
                            status_code=status)
    if isinstance(err, hf_errors.RevisionNotFoundError):
        return RevisionNotFound(f"revision '{revision or 'main'}' of {what} not found on {where}",
                                status_code=status)
    if isinstance(err, hf_errors.OfflineModeIsEnabled):
        return HubOffline(f"cannot reach {where} for {what}: offline mode is enabled (HF_HUB_OFFLINE=1) "
                          "and the answer is not in the local cache")
    if isinstance(err, local_missing):
        target = f"'{filename}' of {what}" if filename else what
        if local_only:
            reason = "local_files_only=True"
        elif is_offline():
            reason = "offline mode is enabled (HF_HUB_OFFLINE=1)"
        else:
            reason = "the Hub could not be reached"
        return HubOffline(f"{target} is not in the local cache and {reason} ({where})")
    if isinstance(err, remote_missing):
        return EntryNotFound(f"file '{filename}' not found in {what} at revision '{revision or 'main'}' "
                             f"on {where}", status_code=status)
    if isinstance(err, hf_errors.HfHubHTTPError):
        retryable = status in RETRY_STATUS_CODES
        detail = str(err).strip().splitlines()[0] if str(err).strip() else f"HTTP {status}"
        if status == 429:
            message = f"{where} is rate limiting requests for {what} (HTTP 429): {detail}"
        else:
            message = f"Hub request for {what} failed on {where}: {detail}"
        return HubError(message, status_code=status, retry_after=_retry_after(headers), retryable=retryable)
    if isinstance(err, _transport_errors()):
        return HubOffline(f"cannot reach {where} for {what}: {type(err).__name__}: {err}", retryable=True)
    return None


def _is_retryable(err: BaseException, retry_on: Collection[int]) -> tuple[bool, float | None]:
    """Whether ``err`` is transient (status in ``retry_on`` or a transport error) and its Retry-After."""
    if isinstance(err, HubError):
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
    (connection refused/reset, dropped responses, timeouts), raw or already translated to
    :class:`HubError`. The wait honours ``Retry-After`` (seconds or HTTP date) and otherwise grows
    as ``backoff * 2**i`` (+ up to ``jitter`` of it), capped at ``max_wait``. Offline mode, missing
    repos/files and other client errors are raised at once. After ``attempts`` tries the last
    error is raised. ``on_retry(attempt, error, wait)`` is called before each wait (e.g. logging).
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

    return HfApi(endpoint=endpoint_url(endpoint), token=token)


def is_offline() -> bool:
    """Whether huggingface_hub's offline mode (``HF_HUB_OFFLINE=1``) is on."""
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check()) if check is not None else bool(constants.HF_HUB_OFFLINE)


def whoami(*, endpoint: str | None = None, token: str | bool | None = None) -> dict[str, Any]:
    """The account ``token`` belongs to (``{"name": ..., ...}``); :class:`HubError` if invalid."""
    with _translated(None, endpoint=endpoint):
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
    429/5xx/transport errors by huggingface_hub itself; other errors raise :class:`HubError`.
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
        with _translated(None, endpoint=endpoint):
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
        with _translated(None, endpoint=endpoint):
            yield from api(endpoint, token).list_datasets(**kwargs)

    return pages()


def model_info(repo_id: str, *, revision: str | None = None, expand: Iterable[str] | None = None,
               files_metadata: bool = False, endpoint: str | None = None,
               token: str | bool | None = None) -> ModelInfo:
    """Metadata of one model repo (``card_data``, ``safetensors``, ``config``, ``tags``, ``sha``...)."""
    with _translated(repo_id, repo_type="model", endpoint=endpoint, revision=revision):
        return api(endpoint, token).model_info(repo_id, revision=revision, files_metadata=files_metadata,
                                               expand=list(expand) if expand is not None else None)


def dataset_info(repo_id: str, *, revision: str | None = None, expand: Iterable[str] | None = None,
                 files_metadata: bool = False, endpoint: str | None = None,
                 token: str | bool | None = None) -> DatasetInfo:
    """Metadata of one dataset repo (``card_data`` holds ``dataset_info`` features/splits, ``sha``...)."""
    with _translated(repo_id, repo_type="dataset", endpoint=endpoint, revision=revision):
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
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision):
        return api(endpoint, token).list_repo_files(repo_id, repo_type=repo_type, revision=revision)


# ---------------------------------------------------------------------------- downloads
def download(repo_id: str, filename: str, *, repo_type: str = "model", revision: str | None = None,
             cache_dir: str | Path | None = None, local_files_only: bool = False,
             endpoint: str | None = None, token: str | bool | None = None) -> str:
    """Local path of one repo file, fetched through the HF cache.

    Offline (``HF_HUB_OFFLINE=1``) or when the Hub cannot be reached, the cached copy for
    ``revision`` is returned; :class:`HubOffline` if there is none.
    """
    from huggingface_hub import hf_hub_download

    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, filename=filename,
                     local_only=local_files_only):
        return hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision,
                               cache_dir=str(cache_dir) if cache_dir else None,
                               local_files_only=local_files_only, endpoint=endpoint_url(endpoint), token=token)


def snapshot(repo_id: str, *, repo_type: str = "dataset", revision: str | None = None,
             allow_patterns: str | list[str] | None = None, ignore_patterns: str | list[str] | None = None,
             cache_dir: str | Path | None = None, local_files_only: bool = False,
             endpoint: str | None = None, token: str | bool | None = None) -> tuple[str, str]:
    """Download (or reuse from the cache) a repo snapshot; returns ``(local_dir, commit_sha)``.

    The commit sha pins exactly what was read. Offline or unreachable, the cached snapshot of
    ``revision`` (default ``main``) and its commit are returned; :class:`HubOffline` if not cached.
    """
    from huggingface_hub import snapshot_download

    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision,
                     local_only=local_files_only):
        path = snapshot_download(repo_id, repo_type=repo_type, revision=revision, allow_patterns=allow_patterns,
                                 ignore_patterns=ignore_patterns, cache_dir=str(cache_dir) if cache_dir else None,
                                 local_files_only=local_files_only, endpoint=endpoint_url(endpoint), token=token)
    sha = Path(path).name
    if not _HEX40.match(sha):  # not a cache snapshot folder: ask the cache which commit it holds
        sha = revision if revision and _HEX40.match(revision) else ""
    return str(path), sha


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
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint):
        repo_url = with_retries(lambda: client.create_repo(repo_id, repo_type=repo_type, private=private,
                                                           exist_ok=True), attempts=attempts)
    full_id = getattr(repo_url, "repo_id", None) or repo_id

    def commit() -> CommitInfo:
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=v) for p, v in payload.items()]
        with _translated(full_id, repo_type=repo_type, endpoint=endpoint, revision=revision):
            return client.create_commit(full_id, operations=operations, commit_message=commit_message,
                                        commit_description=commit_description, repo_type=repo_type,
                                        revision=revision)

    return with_retries(commit, attempts=attempts)


def upload_folder(repo_id: str, folder: str | Path, *, repo_type: str = "space", space_sdk: str | None = None,
                  private: bool | None = None, commit_message: str = "Upload with fennec_hub",
                  delete_patterns: str | list[str] | None = None, attempts: int = 3,
                  endpoint: str | None = None, token: str | bool | None = None) -> CommitInfo:
    """Create the repo if needed and commit every file under ``folder`` in ONE commit.

    ``space_sdk`` (e.g. ``"gradio"``) is required by the Hub to create a Space repo.
    ``delete_patterns``: remote files matching these are removed unless ``folder`` holds them
    (``"*"`` makes the repo mirror the folder; ``.gitattributes`` is always kept). Transient
    failures are retried as in :func:`push_files`; returns huggingface_hub's ``CommitInfo``.
    """
    if not Path(folder).is_dir():
        raise NotADirectoryError(f"upload_folder: {folder} is not a folder")
    client = api(endpoint, token)
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint):
        repo_url = with_retries(lambda: client.create_repo(repo_id, repo_type=repo_type, private=private,
                                                           space_sdk=space_sdk, exist_ok=True), attempts=attempts)
    full_id = getattr(repo_url, "repo_id", None) or repo_id

    def commit() -> CommitInfo:
        with _translated(full_id, repo_type=repo_type, endpoint=endpoint):
            return client.upload_folder(repo_id=full_id, folder_path=str(folder), repo_type=repo_type,
                                        commit_message=commit_message, delete_patterns=delete_patterns)

    return with_retries(commit, attempts=attempts)


# ---------------------------------------------------------------------------- crawl
# Added for fennec_hub.crawl (CRAWL): one GET per small file, no HEAD request and no cache write.
def read_small_file(repo_id: str, filename: str, *, revision: str | None = None, repo_type: str = "model",
                    max_bytes: int = 2_000_000, timeout: float = 20.0, endpoint: str | None = None,
                    token: str | bool | None = None) -> bytes:
    """Bytes of one small repo file (config.json, README.md) at ``revision``, in a single GET.

    For crawling many repos: :func:`download` costs a HEAD and a GET per file plus a cache write.
    Errors are the usual :class:`HubError` subclasses (:class:`EntryNotFound` for a missing file,
    :class:`GatedRepo`, ...); a file larger than ``max_bytes`` raises ``ValueError`` without being
    read further. Not retried here: wrap the call in :func:`with_retries`.
    """
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=endpoint_url(endpoint))
    headers = build_hf_headers(token=token)
    chunks: list[bytes] = []
    with _translated(repo_id, repo_type=repo_type, endpoint=endpoint, revision=revision, filename=filename):
        with get_session().stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as r:
            if r.status_code >= 400:
                r.read()
                hf_raise_for_status(r)
            size = 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"{repo_id}: {filename} is larger than {max_bytes} bytes")
                chunks.append(chunk)
    return b"".join(chunks)
