"""LoopHub: a small stateful in-memory Hugging Face Hub for tests (loopback HTTP, no network).

It speaks the subset of the Hub HTTP API that ``huggingface_hub`` (1.x and 2.x) and ``datasets``
call (see /work/shared/notes/hub-api.md section 9.3): model/dataset search with ``expand`` and
``Link`` pagination, repo info (optionally at a revision), ``resolve`` downloads (HEAD/GET, Range),
repo creation, preupload + NDJSON commits with full history (old revisions stay readable), tree and
paths-info listings, whoami, refs and commit listings, branch creation and pull requests (a
``create_pr`` commit lands on a new ``refs/pr/N`` branch). Private repos need a token with access
(otherwise 401/404 + ``RepoNotFound``, like the real Hub); gated repos show their info but refuse
downloads with ``GatedRepo``. Faults can be injected per path regex (status codes with headers,
delays, dropped connections) and every request is logged.

``StallingServer`` is the opposite stand-in: a Hub that accepts connections and never answers, for
timeout tests and benchmarks.

This module must not import huggingface_hub or datasets at import time: the conftest starts the
server first and only then points ``HF_ENDPOINT`` at it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import io
import itertools
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, NamedTuple
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

__all__ = ["LoopHub", "StallingServer", "Request", "DEFAULT_TOKEN", "DEFAULT_USER"]

DEFAULT_USER = "fennec-tester"
DEFAULT_TOKEN = "hf_loophub_fennec_tester_token"

_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}

# Keys of config.json the real Hub keeps in the ``config`` info field (it is NOT the whole file:
# huggingface/huggingface_hub#2571 shows model_info(expand=["config"]) returning only
# architectures / model_type / tokenizer_config). Set ``LoopHub.full_config = True`` to inline
# the whole file instead.
HUB_CONFIG_KEYS = (
    "architectures",
    "model_type",
    "tokenizer_config",
    "quantization_config",
    "auto_map",
    "task_specific_params",
    "adapter_transformers",
    "peft",
    "sentence_transformers",
    "diffusers",
    "speechbrain",
    "additional_chat_templates",
)

_MODEL_DEFAULT_LIST_FIELDS = (
    "_id", "id", "likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag",
    "library_name", "createdAt", "modelId",
)
_DATASET_DEFAULT_LIST_FIELDS = (
    "_id", "id", "author", "sha", "lastModified", "private", "gated", "disabled", "downloads",
    "likes", "tags", "createdAt", "trendingScore", "description",
)
_MODEL_INFO_FIELDS = (
    "_id", "id", "modelId", "author", "sha", "lastModified", "private", "disabled", "gated",
    "pipeline_tag", "tags", "downloads", "library_name", "likes", "model-index", "config",
    "cardData", "transformersInfo", "siblings", "spaces", "createdAt", "safetensors",
    "usedStorage", "widgetData", "mask_token",
)
_DATASET_INFO_FIELDS = (
    "_id", "id", "author", "sha", "lastModified", "private", "gated", "disabled", "downloads",
    "likes", "tags", "cardData", "siblings", "createdAt", "usedStorage", "description",
    "citation", "paperswithcode_id",
)
# A Space's info adds its SDK (``SpaceInfo.sdk``), which the Hub requires when the Space is created.
_SPACE_INFO_FIELDS = _DATASET_INFO_FIELDS + ("sdk",)
_SPACE_SDKS = {"gradio", "docker", "static", "streamlit"}
_SORT_KEYS = {"downloads", "likes", "createdAt", "lastModified", "trendingScore", "id"}


class Request(NamedTuple):
    """One logged request: method, unquoted path, parsed query (name -> list of values)."""

    method: str
    path: str
    query: dict[str, list[str]]


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub reports as ``oid`` / ETag for regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _as_bytes(value: bytes | str | Path | Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, Path):
        return value.read_bytes()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2).encode("utf-8")
    raise TypeError(f"file content must be bytes, str, Path, dict or list, not {type(value).__name__}")


def parse_front_matter(readme: bytes | str | None) -> dict | None:
    """YAML front matter of a card (``None`` if absent or invalid)."""
    if readme is None:
        return None
    text = readme.decode("utf-8", "replace") if isinstance(readme, bytes) else readme
    m = re.match(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not m:
        return None
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _parse_count(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMBT]?)\s*", text, re.I)
    if not m:
        raise ValueError(text)
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m.group(2).upper()]
    return float(m.group(1)) * scale


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    date: str
    author: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    info: dict = field(default_factory=dict)
    private: bool = False
    gated: bool | str = False
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    created_at: str = field(default_factory=_now_iso)
    access: set[str] = field(default_factory=set)
    uid: str = ""

    @property
    def head(self) -> Commit:
        return self.commits[self.branches["main"]]

    def resolve(self, rev: str | None) -> Commit | None:
        rev = rev or "main"
        if rev in self.branches:
            return self.commits[self.branches[rev]]
        if rev in self.tags:
            return self.commits[self.tags[rev]]
        rev = rev.removeprefix("refs/heads/").removeprefix("refs/tags/")
        if rev in self.branches:
            return self.commits[self.branches[rev]]
        if rev in self.tags:
            return self.commits[self.tags[rev]]
        return self.commits.get(rev)

    def history(self, commit: Commit) -> list[Commit]:
        out = []
        c: Commit | None = commit
        while c is not None:
            out.append(c)
            c = self.commits.get(c.parent) if c.parent else None
        return out


@dataclass
class _Fault:
    pattern: re.Pattern
    kind: str  # "fail" | "slow" | "drop" | "lose"
    times: int
    status: int = 500
    headers: dict | None = None
    body: bytes | None = None
    seconds: float = 0.0
    methods: tuple[str, ...] | None = None


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


class LoopHub:
    """In-memory Hub served on ``http://127.0.0.1:<port>``.

    ``tokens`` maps bearer tokens to user names; ``admins`` may read every private/gated repo.
    ``page_size`` bounds list pages (``Link: rel="next"`` pagination beyond it).
    """

    def __init__(self, *, page_size: int = 1000, full_config: bool = False) -> None:
        self.page_size = page_size
        self.full_config = full_config
        self.tokens: dict[str, str] = {DEFAULT_TOKEN: DEFAULT_USER}
        self.admins: set[str] = {DEFAULT_USER}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LoopHub":
        """Start serving on a free loopback port (idempotent); returns self."""
        if self._server is not None:
            return self
        hub = self

        class Handler(_Handler):
            loophub = hub

        server = _Server(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="loophub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> "LoopHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Endpoint URL, e.g. ``http://127.0.0.1:43210`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("LoopHub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every repo, logged request and pending fault (tokens are kept)."""
        with self._lock:
            self.repos.clear()
            self.requests.clear()
            self._faults.clear()

    # ------------------------------------------------------------------ users / access
    def add_token(self, token: str, user: str, *, admin: bool = False) -> str:
        """Accept ``token`` as user ``user`` (``admin`` sees every private/gated repo)."""
        with self._lock:
            self.tokens[token] = user
            if admin:
                self.admins.add(user)
        return token

    def grant_access(self, repo_type: str, repo_id: str, user: str) -> None:
        """Let ``user`` read a private repo / download from a gated repo."""
        with self._lock:
            self._get(repo_type, repo_id).access.add(user)

    # ------------------------------------------------------------------ fault injection
    def fail_next(self, path_regex: str, status: int = 500, times: int = 1, headers: dict | None = None,
                  body: bytes | str | dict | None = None, methods: Iterable[str] | None = None) -> None:
        """Answer the next ``times`` requests whose path matches with ``status`` (+ headers/body)."""
        raw = None if body is None else _as_bytes(body)
        self._add_fault(_Fault(re.compile(path_regex), "fail", times, status, headers, raw, methods=_m(methods)))

    def slow(self, path_regex: str, seconds: float, times: int = 1, methods: Iterable[str] | None = None) -> None:
        """Delay the next ``times`` matching requests by ``seconds`` before answering normally."""
        self._add_fault(_Fault(re.compile(path_regex), "slow", times, seconds=seconds, methods=_m(methods)))

    def drop_next(self, path_regex: str, times: int = 1, methods: Iterable[str] | None = None) -> None:
        """Close the connection of the next ``times`` matching requests without any response."""
        self._add_fault(_Fault(re.compile(path_regex), "drop", times, methods=_m(methods)))

    def lose_response_next(self, path_regex: str, times: int = 1, methods: Iterable[str] | None = None) -> None:
        """Process the next ``times`` matching requests normally but close the connection instead of
        answering (the change happened, the client never hears of it)."""
        self._add_fault(_Fault(re.compile(path_regex), "lose", times, methods=_m(methods)))

    def pending_faults(self) -> int:
        """How many injected faults are still waiting to fire."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.pattern.search(path) and (
                        fault.methods is None or method in fault.methods):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------------ request log helpers
    def calls(self, method: str | None = None, path_regex: str | None = None) -> list[Request]:
        """Logged requests filtered by method and path regex."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method)
                    and (path_regex is None or re.search(path_regex, r.path))]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------ repos
    def add_repo(self, repo_type: str, repo_id: str, files: dict[str, bytes | str | Path | dict] | None = None,
                 info: dict | None = None, private: bool = False, gated: bool | str = False,
                 commit_message: str = "initial commit") -> str:
        """Create (or replace) a repo holding ``files``; returns the commit sha of its ``main``.

        ``info`` holds extra wire fields (camelCase, as the Hub reports them: ``downloads``,
        ``likes``, ``tags``, ``safetensors``, ``cardData``, ``library_name``, ``pipeline_tag``,
        ``baseModels``, ``evalResults``, ...); fields not given are derived from the files
        (``cardData`` from README front matter, ``config`` from config.json, siblings, sha).
        """
        repo_type = _norm_type(repo_type)
        with self._lock:
            repo = Repo(repo_type, repo_id, dict(info or {}), private=private,
                        gated=("auto" if gated is True else gated), uid=self._uid())
            self.repos[(repo_type, repo_id)] = repo
            content = {p: _as_bytes(v) for p, v in (files or {}).items()}
            return self._commit(repo, None, content, commit_message, "", DEFAULT_USER).oid

    def commit_files(self, repo_type: str, repo_id: str, files: dict[str, bytes | str | Path | dict],
                     *, delete: Iterable[str] = (), message: str = "update", branch: str = "main") -> str:
        """Add a commit on ``branch`` (files added/replaced, ``delete`` removed); returns its sha."""
        with self._lock:
            repo = self._get(repo_type, repo_id)
            head = repo.commits[repo.branches[branch]]
            content = dict(head.files)
            for p in delete:
                content.pop(p, None)
            content.update({p: _as_bytes(v) for p, v in files.items()})
            return self._commit(repo, head.oid, content, message, "", DEFAULT_USER, branch).oid

    def set_ref(self, repo_type: str, repo_id: str, ref: str, files: dict[str, bytes | str | Path | dict],
                message: str = "Update parquet files") -> str:
        """Point branch/ref ``ref`` (e.g. ``"refs/convert/parquet"``, ``"dev"``) at a new commit holding
        exactly ``files`` (the Hub's parquet-conversion refs have their own file tree); returns its sha."""
        with self._lock:
            repo = self._get(repo_type, repo_id)
            content = {p: _as_bytes(v) for p, v in files.items()}
            return self._commit(repo, repo.branches.get(ref), content, message, "", "parquet-converter", ref).oid

    def set_info(self, repo_type: str, repo_id: str, **fields: Any) -> None:
        """Update wire info fields of a repo (e.g. ``downloads=10``)."""
        with self._lock:
            self._get(repo_type, repo_id).info.update(fields)

    def files(self, repo_type: str, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """Files of a repo at ``revision`` (for assertions)."""
        with self._lock:
            commit = self._get(repo_type, repo_id).resolve(revision)
            if commit is None:
                raise KeyError(revision)
            return dict(commit.files)

    def commits(self, repo_type: str, repo_id: str) -> list[str]:
        """Commit shas of ``main``, newest first."""
        with self._lock:
            repo = self._get(repo_type, repo_id)
            return [c.oid for c in repo.history(repo.head)]

    def has_repo(self, repo_type: str, repo_id: str) -> bool:
        return (_norm_type(repo_type), repo_id) in self.repos

    def _get(self, repo_type: str, repo_id: str) -> Repo:
        return self.repos[(_norm_type(repo_type), repo_id)]

    def _uid(self) -> str:
        return hashlib.md5(str(next(self._counter)).encode()).hexdigest()[:24]

    def _commit(self, repo: Repo, parent: str | None, files: dict[str, bytes], title: str, message: str,
                author: str, branch: str = "main") -> Commit:
        n = next(self._counter)
        digest = hashlib.sha1()
        digest.update(f"{repo.repo_type}/{repo.repo_id}\n{parent}\n{title}\n{n}\n".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha1(files[path])}\n".encode())
        commit = Commit(digest.hexdigest(), parent, title, message, _now_iso(), author, files)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit

    # ------------------------------------------------------------------ test helpers
    def add_model_repo(self, repo_id: str, *, config: dict | None = None, card: str | None = None,
                       safetensors_params: int | dict[str, int] | None = None, tags: Iterable[str] = (),
                       library_name: str | None = "transformers", pipeline_tag: str | None = "image-classification",
                       downloads: int = 0, likes: int = 0, files: dict | None = None,
                       weights: str | None = None, private: bool = False, gated: bool | str = False,
                       info: dict | None = None) -> str:
        """Add a model repo whose info fields look like the real Hub's; returns the commit sha.

        ``weights``: ``"safetensors"`` (default when ``safetensors_params`` is given), ``"bin"``
        or ``None``; a tiny placeholder weight file is written (never a real checkpoint).
        Tags get ``library_name``, ``license:<id>``, ``dataset:<id>`` and ``base_model:...`` from the card.
        """
        content: dict[str, Any] = {}
        if config is not None:
            content["config.json"] = json.dumps(config, indent=2)
        if card is not None:
            content["README.md"] = card
        if weights is None and safetensors_params is not None:
            weights = "safetensors"
        if weights == "safetensors":
            content["model.safetensors"] = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "
        elif weights == "bin":
            content["pytorch_model.bin"] = b"PLACEHOLDER: not a checkpoint"
        content.update(files or {})
        wire: dict[str, Any] = {"downloads": downloads, "likes": likes}
        if library_name is not None:
            wire["library_name"] = library_name
        if pipeline_tag is not None:
            wire["pipeline_tag"] = pipeline_tag
        if safetensors_params is not None:
            params = ({"F32": int(safetensors_params)} if isinstance(safetensors_params, int)
                      else {k: int(v) for k, v in safetensors_params.items()})
            wire["safetensors"] = {"parameters": params, "total": sum(params.values())}
        all_tags = list(tags)
        if library_name and library_name not in all_tags:
            all_tags.insert(0, library_name)
        if weights == "safetensors" and "safetensors" not in all_tags:
            all_tags.append("safetensors")
        if weights == "bin" and "pytorch" not in all_tags:
            all_tags.append("pytorch")
        if pipeline_tag and pipeline_tag not in all_tags:
            all_tags.append(pipeline_tag)
        wire["tags"] = all_tags
        wire.update(info or {})
        return self.add_repo("model", repo_id, content, wire, private=private, gated=gated)

    def add_image_dataset(self, repo_id: str, images: list, labels: list[int], class_names: list[str], *,
                          split: str = "train", private: bool = False, gated: bool | str = False,
                          extra_splits: dict[str, tuple[list, list[int]]] | None = None,
                          info: dict | None = None) -> str:
        """Add a parquet image-classification dataset (``image``: Image, ``label``: ClassLabel).

        Writes ``data/<split>-00000-of-00001.parquet`` and a README whose YAML has ``configs:``
        and ``dataset_info.features`` (class names) like ``push_to_hub`` does; returns the commit sha.
        ``images``: PIL images, HxWxC uint8 arrays or encoded image bytes.
        """
        import datasets  # lazy: only tests that need it pay for it

        features = datasets.Features({"image": datasets.Image(),
                                      "label": datasets.ClassLabel(names=list(class_names))})
        splits = {split: (images, labels), **(extra_splits or {})}
        files: dict[str, Any] = {}
        split_info = []
        for name, (imgs, labs) in splits.items():
            rows = {"image": [_image_value(i) for i in imgs], "label": [int(x) for x in labs]}
            ds = datasets.Dataset.from_dict(rows, features=features)
            buf = io.BytesIO()
            ds.to_parquet(buf)
            data = buf.getvalue()
            files[f"data/{name}-00000-of-00001.parquet"] = data
            split_info.append({"name": name, "num_bytes": len(data), "num_examples": len(labs)})
        card_data = {
            "dataset_info": {
                "features": [
                    {"name": "image", "dtype": "image"},
                    {"name": "label", "dtype": {"class_label": {"names": {
                        str(i): n for i, n in enumerate(class_names)}}}},
                ],
                "splits": split_info,
            },
            "configs": [{"config_name": "default",
                         "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}],
            "task_categories": ["image-classification"],
        }
        readme = "---\n" + yaml.safe_dump(card_data, sort_keys=False) + "---\n\n# " + repo_id + "\n"
        files["README.md"] = readme
        wire = {"tags": ["task_categories:image-classification", "format:parquet", "modality:image"]}
        wire.update(info or {})
        return self.add_repo("dataset", repo_id, files, wire, private=private, gated=gated)

    def add_fixture_dir(self, path: str | Path) -> list[str]:
        """Load every repo fixture under ``path``; returns the repo ids added.

        A fixture is a directory holding ``info.json`` (``{"id": ..., "repo_type": "model",
        "private": false, "gated": false, "info": {wire fields}}``) plus the repo files
        (everything else in that directory, relative paths kept). Fixture directories may be
        nested at any depth.
        """
        root = Path(path)
        added = []
        for info_file in sorted(root.rglob("info.json")):
            meta = json.loads(info_file.read_text())
            repo_dir = info_file.parent
            files = {p.relative_to(repo_dir).as_posix(): p.read_bytes()
                     for p in sorted(repo_dir.rglob("*")) if p.is_file() and p != info_file}
            self.add_repo(meta.get("repo_type", "model"), meta["id"], files, meta.get("info"),
                          private=bool(meta.get("private", False)), gated=meta.get("gated", False))
            added.append(meta["id"])
        return added

    # ------------------------------------------------------------------ wire views
    def _user(self, headers) -> str | None:
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return self.tokens.get(auth[7:].strip())
        return None

    def _can_read(self, repo: Repo, user: str | None) -> bool:
        if not repo.private:
            return True
        return user is not None and (user in self.admins or user in repo.access
                                     or repo.repo_id.split("/")[0] == user)

    def _can_download(self, repo: Repo, user: str | None) -> bool:
        if not repo.gated:
            return True
        return user is not None and (user in self.admins or user in repo.access
                                     or repo.repo_id.split("/")[0] == user)

    def _wire(self, repo: Repo, commit: Commit) -> dict[str, Any]:
        """Every wire field of a repo at ``commit``."""
        info = repo.info
        readme = commit.files.get("README.md")
        card = info.get("cardData", parse_front_matter(readme))
        author = repo.repo_id.split("/")[0] if "/" in repo.repo_id else None
        tags = list(info.get("tags", []))
        if isinstance(card, dict):
            lic = card.get("license")
            if isinstance(lic, str) and f"license:{lic}" not in tags:
                tags.append(f"license:{lic}")
            dsets = card.get("datasets")
            for d in ([dsets] if isinstance(dsets, str) else dsets or []):
                if isinstance(d, str) and f"dataset:{d}" not in tags:
                    tags.append(f"dataset:{d}")
            base = card.get("base_model")
            relation = card.get("base_model_relation", "finetune")
            for b in ([base] if isinstance(base, str) else base or []):
                if isinstance(b, str):
                    for t in (f"base_model:{b}", f"base_model:{relation}:{b}"):
                        if t not in tags:
                            tags.append(t)
        wire: dict[str, Any] = {
            "_id": repo.uid,
            "id": repo.repo_id,
            "author": author,
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": info.get("downloads", 0),
            "downloadsAllTime": info.get("downloadsAllTime", info.get("downloads", 0)),
            "likes": info.get("likes", 0),
            "trendingScore": info.get("trendingScore", 0),
            "tags": tags,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            "usedStorage": sum(len(b) for b in commit.files.values()),
        }
        if card is not None:
            wire["cardData"] = card
        if repo.repo_type == "model":
            wire["modelId"] = repo.repo_id
            wire["spaces"] = []
            wire["widgetData"] = None
            if isinstance(card, dict) and "model-index" in card:
                wire["model-index"] = card["model-index"]
            cfg_bytes = commit.files.get("config.json")
            if cfg_bytes is not None and "config" not in info:
                try:
                    cfg = json.loads(cfg_bytes)
                except ValueError:
                    cfg = None
                if isinstance(cfg, dict):
                    wire["config"] = cfg if self.full_config else {
                        k: cfg[k] for k in HUB_CONFIG_KEYS if k in cfg}
            if isinstance(card, dict) and card.get("base_model") and "baseModels" not in info:
                base = card["base_model"]
                wire["baseModels"] = {
                    "relation": card.get("base_model_relation", "finetune"),
                    "models": [{"id": b} for b in ([base] if isinstance(base, str) else base)
                               if isinstance(b, str)]}
        else:
            if isinstance(card, dict):
                wire["description"] = info.get("description", "")
        for k, v in info.items():
            if k not in ("tags",):
                wire[k] = v
        return wire

    def _view(self, repo: Repo, commit: Commit, fields: Iterable[str]) -> dict[str, Any]:
        wire = self._wire(repo, commit)
        out = {k: wire[k] for k in fields if k in wire}
        out.setdefault("_id", repo.uid)
        out.setdefault("id", repo.repo_id)
        return out


def _m(methods: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if methods is None else tuple(x.upper() for x in methods)


def _norm_type(repo_type: str | None) -> str:
    t = (repo_type or "model").lower()
    t = _REPO_TYPES.get(t, t)
    if t not in ("model", "dataset", "space"):
        raise ValueError(f"unknown repo type {repo_type!r}")
    return t


def _image_value(img: Any) -> Any:
    if isinstance(img, (bytes, bytearray)):
        return {"bytes": bytes(img), "path": None}
    if hasattr(img, "save"):  # PIL image
        return img
    from PIL import Image as PILImage  # numpy array

    return PILImage.fromarray(img)


# ====================================================================== HTTP handler
class _Server(ThreadingHTTPServer):
    """One thread per connection. A client that hung up before its answer (a timeout test's, once the
    server wakes from an injected delay) is no server error: it is not printed. Printing it would
    also format a traceback in the handler thread while a test runs, and Python 3.11 parses source
    code to draw a traceback's carets, which can race with a test's own `ast.parse` (SystemError:
    AST constructor recursion depth mismatch)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LoopHub/1.0"
    loophub: LoopHub  # set by LoopHub.start

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _dispatch(self, method: str) -> None:
        hub = self.loophub
        split = urlsplit(self.path)
        raw_path = split.path
        path = unquote(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with hub._lock:
            hub.requests.append(Request(method, path, query))
        fault = hub._take_fault(method, path)
        if fault is not None:
            if fault.kind == "drop":
                self._hang_up()
                return
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "fail":
                payload = fault.body if fault.body is not None else json.dumps(
                    {"error": f"injected failure {fault.status}"}).encode()
                self._send(fault.status, payload, headers=fault.headers, content_type="application/json")
                return
        if fault is not None and fault.kind == "lose":
            real_wfile, self.wfile = self.wfile, io.BytesIO()
            try:
                self._route(method, raw_path, query, body)
            except Exception:  # noqa: BLE001 - the answer is discarded anyway
                pass
            finally:
                self.wfile = real_wfile
            self._hang_up()
            return
        try:
            self._route(method, raw_path, query, body)
        except _HTTPError as err:
            headers = dict(err.headers)
            if err.code:
                headers["X-Error-Code"] = err.code
            headers["X-Error-Message"] = err.message
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers=headers,
                       content_type="application/json")
        except Exception as err:  # a bug in the double: answer 500 with the reason
            self._send(500, json.dumps({"error": f"LoopHub internal error: {err!r}"}).encode(),
                       content_type="application/json")

    def _hang_up(self) -> None:
        """Close the connection without an answer (a dropped or lost response)."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _send(self, status: int, body: bytes = b"", *, headers: dict | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if not any(k.lower() == "content-length" for k in (headers or {})):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    @property
    def _base(self) -> str:
        return self.loophub.url

    def _user(self) -> str | None:
        return self.loophub._user(self.headers)

    def _find_repo(self, repo_type: str, segments: list[str]) -> tuple[Repo, list[str]]:
        """Split ``segments`` into a repo (1 or 2 components) and the rest; 401/404 like the Hub."""
        hub = self.loophub
        user = self._user()
        for n in (2, 1):
            if len(segments) >= n:
                repo = hub.repos.get((repo_type, "/".join(segments[:n])))
                if repo is not None:
                    if hub._can_read(repo, user):
                        return repo, segments[n:]
                    break
        repo_id = "/".join(segments[:2])
        if user is None:
            raise _HTTPError(401, "Invalid username or password.", "RepoNotFound")
        raise _HTTPError(404, f"Repository not found: {repo_type} {repo_id}", "RepoNotFound")

    @staticmethod
    def _commit_of(repo: Repo, rev: str | None) -> Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise _HTTPError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, raw_path: str, query: dict, body: bytes) -> None:
        segs = [unquote(s) for s in raw_path.split("/")[1:]]
        if segs and segs[-1] == "" and len(segs) > 1:
            segs = segs[:-1]
        if segs[:1] == ["api"]:
            return self._route_api(method, segs[1:], query, body)
        # /{id}/resolve/{rev}/{path}, /datasets/{id}/resolve/..., also raw
        repo_type = "model"
        if segs and segs[0] in ("datasets", "spaces"):
            repo_type = _REPO_TYPES[segs[0]]
            segs = segs[1:]
        for verb in ("resolve", "raw"):
            if verb in segs:
                i = segs.index(verb)
                if method not in ("GET", "HEAD") or i == 0 or len(segs) < i + 3:
                    break
                repo, _ = self._find_repo(repo_type, segs[:i])
                return self._resolve(repo, segs[i + 1], "/".join(segs[i + 2:]))
        raise _HTTPError(404, f"Not found: {method} {unquote(raw_path)}")

    def _route_api(self, method: str, segs: list[str], query: dict, body: bytes) -> None:
        hub = self.loophub
        if segs == ["whoami-v2"] and method == "GET":
            return self._whoami()
        if segs == ["validate-yaml"] and method == "POST":
            return self._validate_yaml(body)
        if segs == ["repos", "create"] and method == "POST":
            return self._create_repo(body)
        if segs == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo(body)
        if not segs or segs[0] not in _REPO_TYPES:
            raise _HTTPError(404, "Not found")
        repo_type = _REPO_TYPES[segs[0]]
        rest = segs[1:]
        if not rest:
            if method != "GET":
                raise _HTTPError(405, "Method not allowed")
            return self._list(repo_type, query)
        with hub._lock:
            repo, tail = self._find_repo(repo_type, rest)
        verb = tail[0] if tail else None
        if verb is None and method == "GET":
            return self._info(repo, None, query)
        if verb == "revision" and method == "GET" and len(tail) >= 2:
            return self._info(repo, "/".join(tail[1:]), query)
        if verb == "tree" and method == "GET" and len(tail) >= 2:
            return self._tree(repo, tail[1], "/".join(tail[2:]), query)
        if verb == "paths-info" and method == "POST" and len(tail) >= 2:
            return self._paths_info(repo, tail[1], body)
        if verb == "preupload" and method == "POST" and len(tail) >= 2:
            return self._preupload(repo, tail[1], body)
        if verb == "commit" and method == "POST" and len(tail) >= 2:
            return self._commit(repo, tail[1], query, body)
        if verb == "refs" and method == "GET":
            return self._refs(repo)
        if verb == "commits" and method == "GET":
            return self._commits(repo, tail[1] if len(tail) > 1 else "main")
        if verb == "branch" and method == "POST" and len(tail) >= 2:
            return self._create_branch(repo, "/".join(tail[1:]), body)
        if verb == "settings" and method == "PUT":
            return self._settings(repo, body)
        raise _HTTPError(404, f"Not found: {method} /api/{'/'.join(segs)}")

    # ------------------------------------------------------------------ endpoints
    def _whoami(self) -> None:
        user = self._user()
        if user is None:
            raise _HTTPError(401, "Invalid credentials in Authorization header")
        self._json({
            "type": "user", "id": hashlib.md5(user.encode()).hexdigest()[:24], "name": user,
            "fullname": user, "email": None, "emailVerified": False, "isPro": False, "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "loophub", "role": "write"}},
        })

    def _validate_yaml(self, body: bytes) -> None:
        data = json.loads(body or b"{}")
        content = data.get("content", "")
        m = re.match(r"^\s*---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
        if m:
            try:
                yaml.safe_load(m.group(1))
            except yaml.YAMLError as err:
                return self._json({"errors": [{"message": f"Invalid YAML: {err}"}], "warnings": []}, 400)
        self._json({"errors": [], "warnings": []})

    def _create_repo(self, body: bytes) -> None:
        hub = self.loophub
        user = self._user()
        if user is None:
            raise _HTTPError(401, "You must be authenticated to create a repo")
        data = json.loads(body or b"{}")
        repo_type = _norm_type(data.get("type") or "model")
        namespace = data.get("organization") or user
        repo_id = f"{namespace}/{data['name']}"
        url = f"{self._base}/{_URL_PREFIX[repo_type]}{repo_id}"
        private = bool(data.get("private")) or data.get("visibility") == "private"
        info: dict[str, Any] = {}
        if repo_type == "space":
            if data.get("sdk") not in _SPACE_SDKS:
                raise _HTTPError(400, f"Invalid sdk {data.get('sdk')!r}: a Space needs one of "
                                      f"{sorted(_SPACE_SDKS)}")
            info["sdk"] = data["sdk"]
        with hub._lock:
            if (repo_type, repo_id) in hub.repos:
                return self._json({"error": f"You already created this {repo_type} repo", "url": url}, 409)
            repo = Repo(repo_type, repo_id, info, private=private, uid=hub._uid())
            hub.repos[(repo_type, repo_id)] = repo
            hub._commit(repo, None, {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"},
                        "initial commit", "", user)
        self._json({"url": url, "name": repo_id, "id": repo.uid})

    def _delete_repo(self, body: bytes) -> None:
        hub = self.loophub
        if self._user() is None:
            raise _HTTPError(401, "You must be authenticated")
        data = json.loads(body or b"{}")
        repo_type = _norm_type(data.get("type") or "model")
        repo_id = f"{data.get('organization') or self._user()}/{data['name']}"
        with hub._lock:
            if hub.repos.pop((repo_type, repo_id), None) is None:
                raise _HTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")
        self._json({})

    def _settings(self, repo: Repo, body: bytes) -> None:
        data = json.loads(body or b"{}")
        with self.loophub._lock:
            if "private" in data:
                repo.private = bool(data["private"])
            if "gated" in data:
                repo.gated = data["gated"]
        self._json({})

    def _list(self, repo_type: str, query: dict) -> None:
        hub = self.loophub
        user = self._user()
        q1 = {k: v[-1] for k, v in query.items() if v}
        with hub._lock:
            items = [(r, hub._wire(r, r.head)) for (t, _), r in hub.repos.items()
                     if t == repo_type and hub._can_read(r, user)]
        filters = query.get("filter", [])
        search = q1.get("search", "").lower()
        out = []
        for repo, w in items:
            bag = set(w.get("tags", [])) | {w.get("library_name"), w.get("pipeline_tag")}
            if any(f not in bag for f in filters):
                continue
            if search and search not in repo.repo_id.lower():
                continue
            if "author" in q1 and w.get("author") != q1["author"]:
                continue
            if "pipeline_tag" in q1 and w.get("pipeline_tag") != q1["pipeline_tag"]:
                continue
            if "gated" in q1 and bool(w.get("gated")) != (q1["gated"].lower() == "true"):
                continue
            if "num_parameters" in q1:
                total = (w.get("safetensors") or {}).get("total")
                if total is None or not _in_range(total, q1["num_parameters"]):
                    continue
            out.append((repo, w))
        sort = q1.get("sort")
        if sort:
            if sort not in _SORT_KEYS:
                raise _HTTPError(400, f"Invalid sort key {sort!r}")
            descending = q1.get("direction", "-1") != "1"
            out.sort(key=lambda rw: (rw[1].get(sort) or 0) if sort != "id" else rw[0].repo_id,
                     reverse=descending)
        limit = int(q1["limit"]) if q1.get("limit") else None
        if limit is not None:
            out = out[:limit]
        start = int(q1.get("cursor", 0))
        page = out[start:start + hub.page_size]
        expand = query.get("expand")
        if expand and any(q1.get(k, "").lower() == "true" for k in ("full", "cardData", "config")):
            raise _HTTPError(400, "expand cannot be combined with full, cardData or config")
        if expand:
            fields = tuple(expand)
        else:
            fields = _MODEL_DEFAULT_LIST_FIELDS if repo_type == "model" else _DATASET_DEFAULT_LIST_FIELDS
            if q1.get("full", "").lower() == "true":
                fields += ("author", "sha", "lastModified", "gated", "disabled", "siblings")
            if q1.get("cardData", "").lower() == "true":
                fields += ("cardData",)
            if q1.get("config", "").lower() == "true":
                fields += ("config",)
        body = [{k: w[k] for k in ("_id", "id", *fields) if k in w} for _, w in page]
        headers = {}
        if start + hub.page_size < len(out):
            params = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
            params.append(("cursor", str(start + hub.page_size)))
            prefix = "/api/" + {"model": "models", "dataset": "datasets", "space": "spaces"}[repo_type]
            headers["Link"] = f'<{self._base}{prefix}?{urlencode(params)}>; rel="next"'
        self._json(body, headers=headers)

    def _info(self, repo: Repo, rev: str | None, query: dict) -> None:
        hub = self.loophub
        with hub._lock:
            commit = self._commit_of(repo, rev)
            expand = query.get("expand")
            if expand:
                fields: tuple = tuple(expand)
            else:
                fields = {"model": _MODEL_INFO_FIELDS, "space": _SPACE_INFO_FIELDS}.get(repo.repo_type,
                                                                                      _DATASET_INFO_FIELDS)
            view = hub._view(repo, commit, fields)
            if (query.get("blobs", [""])[-1].lower() == "true") and "siblings" in view:
                view["siblings"] = [{"rfilename": p, "size": len(commit.files[p]),
                                     "blobId": git_blob_sha1(commit.files[p])} for p in sorted(commit.files)]
        self._json(view)

    def _resolve(self, repo: Repo, rev: str, filename: str) -> None:
        hub = self.loophub
        with hub._lock:
            commit = self._commit_of(repo, rev)
            if not hub._can_download(repo, self._user()):
                user = self._user()
                msg = (f"Access to {repo.repo_type} {repo.repo_id} is restricted. You must have access to it "
                       "and be authenticated to access it. Please log in.")
                raise _HTTPError(401 if user is None else 403, msg, "GatedRepo",
                                 {"X-Repo-Commit": commit.oid})
            data = commit.files.get(filename)
        if data is None:
            raise _HTTPError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        etag = f'"{git_blob_sha1(data)}"'
        headers = {"X-Repo-Commit": commit.oid, "ETag": etag, "Accept-Ranges": "bytes",
                   "Cache-Control": "private, max-age=0"}
        ctype = "application/json" if filename.endswith(".json") else (
            "text/plain; charset=utf-8" if filename.endswith((".md", ".txt", ".yaml", ".yml")) else
            "application/octet-stream")
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip()) if rng else None
        if m and (m.group(1) or m.group(2)):
            size = len(data)
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size or start > end:
                return self._send(416, b"", headers={"Content-Range": f"bytes */{size}", **headers},
                                  content_type=ctype)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return self._send(206, data[start:end + 1], headers=headers, content_type=ctype)
        self._send(200, data, headers=headers, content_type=ctype)

    def _entry(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict | None:
        files = commit.files
        if path in files:
            item = {"type": "file", "oid": git_blob_sha1(files[path]), "size": len(files[path]), "path": path}
            if expand:
                last = self._last_commit(repo, commit, path)
                item["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
                item["securityFileStatus"] = {"status": "safe"}
            return item
        prefix = path.rstrip("/") + "/"
        if path == "" or any(p.startswith(prefix) for p in files):
            inner = sorted((p, git_blob_sha1(b)) for p, b in files.items() if p.startswith(prefix))
            oid = hashlib.sha1(repr(inner).encode()).hexdigest()
            item = {"type": "directory", "oid": oid, "size": 0, "path": path}
            if expand:
                last = commit
                item["lastCommit"] = {"id": last.oid, "title": last.title, "date": last.date}
            return item
        return None

    @staticmethod
    def _last_commit(repo: Repo, commit: Commit, path: str) -> Commit:
        data = commit.files.get(path)
        last = commit
        for c in repo.history(commit)[1:]:
            if c.files.get(path) != data:
                break
            last = c
        return last

    def _tree(self, repo: Repo, rev: str, path: str, query: dict) -> None:
        hub = self.loophub
        recursive = query.get("recursive", ["false"])[-1].lower() == "true"
        expand = query.get("expand", ["false"])[-1].lower() == "true"
        with hub._lock:
            commit = self._commit_of(repo, rev)
            path = path.strip("/")
            if path and self._entry(repo, commit, path, False) is None:
                raise _HTTPError(404, f"Entry not found: {path}", "EntryNotFound")
            if path in commit.files:
                raise _HTTPError(400, f"{path} is a file, not a directory")
            prefix = path + "/" if path else ""
            children: set[str] = set()
            for p in commit.files:
                if not p.startswith(prefix):
                    continue
                rel = p[len(prefix):].split("/")
                if recursive:
                    for i in range(1, len(rel) + 1):
                        children.add(prefix + "/".join(rel[:i]))
                else:
                    children.add(prefix + rel[0])
            items = [self._entry(repo, commit, c, expand) for c in sorted(children)]
        self._json([i for i in items if i is not None])

    def _paths_info(self, repo: Repo, rev: str, body: bytes) -> None:
        hub = self.loophub
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            data = json.loads(body or b"{}")
            paths = data.get("paths", [])
            paths = [paths] if isinstance(paths, str) else paths
            expand = bool(data.get("expand"))
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths = form.get("paths", [])
            expand = form.get("expand", ["false"])[-1].lower() in ("true", "1")
        with hub._lock:
            commit = self._commit_of(repo, rev)
            items = [self._entry(repo, commit, p.strip("/"), expand) for p in paths]
        self._json([i for i in items if i is not None])

    def _require_write(self, repo: Repo) -> str:
        user = self._user()
        if user is None:
            raise _HTTPError(401, "You must be authenticated to write to a repo")
        if not (user in self.loophub.admins or user in repo.access or repo.repo_id.split("/")[0] == user):
            raise _HTTPError(403, f"You don't have the rights to write to {repo.repo_id}")
        return user

    def _preupload(self, repo: Repo, rev: str, body: bytes) -> None:
        self._require_write(repo)
        data = json.loads(body or b"{}")
        with self.loophub._lock:
            commit = repo.resolve(rev)
            files = commit.files if commit is not None else {}
            out = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                    "oid": git_blob_sha1(files[f["path"]]) if f["path"] in files else None}
                   for f in data.get("files", [])]
        self._json({"files": out, "commitOid": commit.oid if commit else None})

    def _commit(self, repo: Repo, rev: str, query: dict, body: bytes) -> None:
        hub = self.loophub
        user = self._require_write(repo)
        create_pr = query.get("create_pr", ["0"])[-1] in ("1", "true", "True")
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = next((ln["value"] for ln in lines if ln.get("key") == "header"), {})
        pr_url = None
        with hub._lock:
            if rev not in repo.branches:
                raise _HTTPError(404, f"Invalid rev id: {rev} (commits must target a branch)", "RevisionNotFound")
            if create_pr:  # a pull request: a new refs/pr/N branch off `rev` takes the commit
                number = 1 + sum(1 for b in repo.branches if b.startswith("refs/pr/"))
                repo.branches[f"refs/pr/{number}"] = repo.branches[rev]
                rev = f"refs/pr/{number}"
                pr_url = f"{self._base}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}/discussions/{number}"
            head = repo.commits[repo.branches[rev]]
            parent = header.get("parentCommit")
            if parent and parent != head.oid:
                raise _HTTPError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(head.files)
            for line in lines:
                key, value = line.get("key"), line.get("value", {})
                if key == "file":
                    content = value.get("content", "")
                    files[value["path"]] = (base64.b64decode(content) if value.get("encoding") == "base64"
                                            else content.encode())
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise _HTTPError(404, f"File not found: {value['path']}", "EntryNotFound")
                    files.pop(value["path"])
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    for p in [p for p in files if p.startswith(prefix)]:
                        files.pop(p)
                elif key == "copyFile":
                    src = repo.resolve(value.get("srcRevision") or rev)
                    if src is None or value.get("srcPath") not in src.files:
                        raise _HTTPError(404, "copy source not found", "EntryNotFound")
                    files[value["path"]] = src.files[value["srcPath"]]
                elif key == "lfsFile":
                    raise _HTTPError(400, "LoopHub stores files inline only (preupload says 'regular')")
                elif key != "header":
                    raise _HTTPError(400, f"unknown commit line key {key!r}")
            commit = hub._commit(repo, head.oid, files, header.get("summary") or "update",
                                 header.get("description") or "", user, rev)
        url = f"{self._base}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        self._json({"success": True, "commitUrl": url, "commitOid": commit.oid, "pullRequestUrl": pr_url})

    def _create_branch(self, repo: Repo, branch: str, body: bytes) -> None:
        self._require_write(repo)
        data = json.loads(body or b"{}")
        with self.loophub._lock:
            if branch in repo.branches:
                raise _HTTPError(409, f"Branch {branch} already exists")
            start = self._commit_of(repo, data.get("startingPoint") or "main")
            repo.branches[branch] = start.oid
        self._json({})

    def _refs(self, repo: Repo) -> None:
        with self.loophub._lock:
            branches = [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": oid}
                        for n, oid in repo.branches.items() if not n.startswith("refs/")]
            converts = [{"name": n.split("/")[-1], "ref": n, "targetCommit": oid}
                        for n, oid in repo.branches.items() if n.startswith("refs/convert/")]
            tags = [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": oid} for n, oid in repo.tags.items()]
        self._json({"branches": branches, "tags": tags, "converts": converts})

    def _commits(self, repo: Repo, rev: str) -> None:
        with self.loophub._lock:
            commit = self._commit_of(repo, rev)
            out = [{"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                    "authors": [{"user": c.author}]} for c in repo.history(commit)]
        self._json(out)


def _in_range(total: int, spec: str) -> bool:
    for part in spec.split(","):
        if ":" not in part:
            continue
        op, value = part.split(":", 1)
        bound = _parse_count(value)
        if op.strip() == "min" and total < bound:
            return False
        if op.strip() == "max" and total > bound:
            return False
    return True


class StallingServer:
    """A Hub that stalls: accepts every TCP connection on 127.0.0.1 and never sends a byte back.

    Point ``HF_ENDPOINT`` at ``url``; ``connections`` holds the connections accepted so far."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.sock.close()


def main(argv: list[str] | None = None) -> None:
    """Serve a LoopHub from the command line (manual checks, demos): ``python tests/loophub.py``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--fixtures", action="append", default=[], help="fixture directory to load (repeatable)")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    hub = LoopHub(page_size=args.page_size).start()
    for path in args.fixtures:
        print(f"loaded {len(hub.add_fixture_dir(path))} repos from {path}")
    print(f"HF_ENDPOINT={hub.url}  (token: {DEFAULT_TOKEN})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
