"""Resumable crawl of Hub vision checkpoints into model rows and transfer records.

`crawl(out)` lists image-classification checkpoints (and vision backbones) on the Hub, reads each
one's `config.json` and model card at the listed commit, encodes the architecture with archi2vec
(never running Hub code), and mines the card's `model-index` for fine-tuning results, attributed
to the base checkpoint the card declares. Output, in `out/`:

* `models.jsonl`: one row per crawled model (status "encoded" or "skipped" with a reason);
* `records.jsonl`: one row per eval result found in a card;
* `state.json`: the checkpoint (committed byte sizes of both files), replaced atomically.

Rows are committed in listing order, so a crawl killed at any moment and restarted writes exactly
the rows of an uninterrupted crawl: on start each file is cut back to its checkpointed size and
models already committed at the same commit sha are skipped (byte-identical output when the
listing itself did not change in between; on the live Hub, where `sort=downloads` moves, the same
rows, each once). A later re-run appends fresh rows for repos whose sha changed and skips the
others; `load_crawl` keeps the newest row per model. Models that hit Hub errors after retries get
status "error" and are crawled again by the next run.

Long on purpose: listing, per-model processing, card mining and the resumable append-only
output are the crawl's parts and share its on-disk format.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
import json
import logging
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ._extras import needs

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CrawlSummary",
    "crawl",
    "load_crawl",
    "parse_card",
    "process_model",
]

MODELS_FILE = "models.jsonl"
RECORDS_FILE = "records.jsonl"
STATE_FILE = "state.json"
STATE_VERSION = 1

#: Pipeline tags listed by default: classifiers and vision backbones.
DEFAULT_PIPELINE_TAGS: tuple[str, ...] = ("image-classification", "image-feature-extraction")
#: Properties requested from `list_models(expand=...)`: everything but the files themselves.
LIST_EXPAND: tuple[str, ...] = (
    "sha",
    "lastModified",
    "pipeline_tag",
    "library_name",
    "tags",
    "downloads",
    "likes",
    "gated",
    "private",
    "cardData",
    "config",
    "safetensors",
    "baseModels",
    "siblings",
)

# Untrusted-input bounds.
MAX_CONFIG_BYTES = 2_000_000
MAX_CARD_BYTES = 1_000_000
MAX_FRONT_MATTER_BYTES = 200_000
MAX_EVAL_RESULTS = 200

#: Metric names (lower-cased) that mean top-1 accuracy; they become `finetune_top1` in percent.
ACCURACY_METRICS = frozenset(
    {"accuracy", "acc", "top-1 accuracy", "top1 accuracy", "top-1", "top1", "top_1_accuracy",
     "top1_accuracy", "top-1-accuracy", "eval_accuracy", "test_accuracy", "val_accuracy"}
)
RECORD_METRIC = "finetune_top1"
RECORD_BENCHMARK = "hub_cards"
#: `source` of every record `load_crawl` returns: one comparable group for all cards (the card
#: each value came from is in the `evidence` column).
RECORD_SOURCE = "hub:model-cards"

# The sentence the transformers Trainer writes into every card it generates.
_TRAINER_BASE_RE = re.compile(
    r"fine-tuned version of \[([A-Za-z0-9][\w.\-]*/[\w.\-]+)\]\(https?://huggingface\.co/[^)\s]*\)"
)
_FRONT_MATTER_RE = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


# --- cards ----------------------------------------------------------------------------------------

def _safe_yaml(text: str) -> Any:
    """yaml.safe_load without aliases (no "billion laughs") and with a size cap."""
    with needs("encode", "crawl"):
        import yaml

    if len(text.encode("utf-8", "replace")) > MAX_FRONT_MATTER_BYTES:
        raise ValueError(f"front matter larger than {MAX_FRONT_MATTER_BYTES} bytes")

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("YAML aliases are not allowed in model cards")
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


@dataclasses.dataclass
class ParsedCard:
    """What the crawler takes from a model card."""

    metadata: dict
    body: str
    error: str | None = None


def parse_card(text: str) -> ParsedCard:
    """Split a README into YAML metadata and body; never raises (errors go to `.error`)."""
    text = text[:MAX_CARD_BYTES]
    m = _FRONT_MATTER_RE.match(text)
    if not m:
        return ParsedCard({}, text)
    body = text[m.end():]
    try:
        data = _safe_yaml(m.group(1))
    except Exception as exc:  # yaml.YAMLError, ValueError, RecursionError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ParsedCard({}, body, f"invalid YAML front matter: {first}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return ParsedCard({}, body, "invalid YAML front matter: not a mapping")
    return ParsedCard(data, body)


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def base_models_of(card: dict, tags: Iterable[str] | None, base_models: Any, body: str = "") -> list[str]:
    """The checkpoints this model was fine-tuned from, most authoritative source first.

    Sources: the card's `base_model` field, the Hub's `base_model:finetune:<id>` (or plain
    `base_model:<id>`) tags, the listing's `baseModels`, and the sentence the transformers Trainer
    writes ("fine-tuned version of [org/name](https://huggingface.co/org/name)").
    """
    found: list[str] = []
    for b in _as_list(card.get("base_model")):
        if isinstance(b, str):
            found.append(b.strip())
    for t in tags or ():
        if not isinstance(t, str) or not t.startswith("base_model:"):
            continue
        parts = t.split(":")
        if len(parts) == 2:
            found.append(parts[1])
        elif len(parts) == 3 and parts[1] == "finetune":
            found.append(parts[2])
    if isinstance(base_models, dict) and base_models.get("relation") in (None, "finetune"):
        for m in _as_list(base_models.get("models")):
            if isinstance(m, dict) and isinstance(m.get("id"), str):
                found.append(m["id"])
    if not found and body:
        m = _TRAINER_BASE_RE.search(body[:20_000])
        if m:
            found.append(m.group(1))
    from . import hub

    out: list[str] = []
    for b in found:
        try:  # ids the Hub would reject (foo/bar--baz, ../x) are dropped
            repo_id = hub.parse_repo_id(b, repo_type="model", argument="base_model")
        except ValueError:
            continue
        if repo_id not in out:
            out.append(repo_id)
    return out


def _to_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        f = float(v)
    elif isinstance(v, str):
        s = v.strip().rstrip("%").strip()
        try:
            f = float(s)
        except ValueError:
            return None
        if v.strip().endswith("%"):
            return f if 0.0 <= f <= 100.0 else None
    else:
        return None
    return f if f == f and abs(f) != float("inf") else None


def _canonical_dataset(names: Iterable[Any]) -> str | None:
    from .datasets import resolve_dataset

    for n in names:
        if not isinstance(n, str) or not n.strip() or len(n) > 200:
            continue
        try:
            return resolve_dataset(n.strip()).id
        except (KeyError, ValueError, NotImplementedError):
            continue
    return None


def mine_records(card: dict, *, repo_id: str, sha: str | None, base_models: list[str]) -> tuple[list[dict], str | None]:
    """Eval results of a card's `model-index` as record dicts; returns (records, error or None).

    A record means "fine-tuning `base_model` on `dataset` gave `value`". Accuracies are converted
    to percent and named `finetune_top1`; other metrics are kept under their own name.
    """
    index = card.get("model-index")
    if index is None:
        return [], None
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        _, results = model_index_to_eval_results(index)
    except Exception as exc:  # the library raises KeyError/TypeError/ValueError on broken indexes
        return [], f"invalid model-index: {type(exc).__name__}: {str(exc)[:120]}"
    source = f"hub:{repo_id}@{sha or 'unknown'}:README.md"
    out: list[dict] = []
    seen: set = set()
    for r in results[:MAX_EVAL_RESULTS]:
        if r.task_type not in (None, "image-classification"):
            continue
        metric_raw = str(r.metric_type or "").strip()
        value = _to_float(r.metric_value)
        if value is None:
            continue
        if metric_raw.lower() in ACCURACY_METRICS:
            metric = RECORD_METRIC
            if 0.0 <= value <= 1.0:
                value = value * 100.0
            elif not 0.0 <= value <= 100.0:
                continue
            value = round(value, 6)
        else:
            metric = metric_raw.lower()
        raw_names = [r.dataset_type, r.dataset_name]
        dataset = _canonical_dataset(raw_names)
        split = r.dataset_split if isinstance(r.dataset_split, str) else None
        key = (dataset or str(r.dataset_type), r.dataset_config, split, metric)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "model": repo_id,
                "base_model": base_models[0] if base_models else None,
                "dataset": dataset,
                "dataset_raw": str(r.dataset_type) if r.dataset_type is not None else None,
                "dataset_name": str(r.dataset_name) if r.dataset_name is not None else None,
                "dataset_config": str(r.dataset_config) if r.dataset_config is not None else None,
                "split": split,
                "metric": metric,
                "metric_raw": metric_raw,
                "value": value,
                "source": source,
                "sha": sha,
            }
        )
    return out, None


# --- one model --------------------------------------------------------------------------------------

class _Transient(Exception):
    """A Hub failure worth retrying later (rate limit, server error, dropped connection)."""


def _iso(d: Any) -> str | None:
    if d is None:
        return None
    if isinstance(d, _dt.datetime):
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.timezone.utc)
        return d.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(d)


def _fetch(repo_id: str, filename: str, sha: str | None, *, endpoint: str | None, token: Any,
           attempts: int = 5) -> bytes | None:
    """A small repo file at `sha` (one GET, retried on 429/5xx/drops); None when it does not exist."""
    from . import hub

    cap = MAX_CARD_BYTES if filename.endswith(".md") else MAX_CONFIG_BYTES
    try:
        return hub.with_retries(
            lambda: hub.read_small_file(repo_id, filename, revision=sha, max_bytes=cap, endpoint=endpoint,
                                        token=token),
            attempts=attempts,
        )
    except hub.EntryNotFound:
        return None
    except (hub.GatedRepo, hub.RepoNotFound, hub.HubOffline):
        raise
    except hub.HubError as exc:  # retries exhausted, or an unexpected answer
        raise _Transient(f"{type(exc).__name__}: {exc}") from exc


_ENCODE_LOCK = threading.Lock()


def _library_of(info_library: str | None, tags: list[str], config: dict | None) -> str | None:
    lib = info_library
    if not lib:
        for cand in ("transformers", "timm"):
            if cand in tags:
                lib = cand
                break
    if not lib and isinstance(config, dict):
        if "architecture" in config and "model_type" not in config:
            lib = "timm"
        elif "model_type" in config:
            lib = "transformers"
    return lib


def _known_transformers_type(model_type: str) -> bool:
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    except Exception:  # transformers missing: let archi2vec decide
        return True
    return model_type in CONFIG_MAPPING_NAMES


def _encode(config: dict, library: str | None, tags: list[str]) -> tuple[dict, str | None]:
    """archi2vec + description of a config dict; returns (fields, skip reason or None)."""
    fields: dict[str, Any] = {
        "model_type": config.get("model_type") if isinstance(config.get("model_type"), str) else None,
        "architecture": config.get("architecture") if isinstance(config.get("architecture"), str) else None,
        "architectures": [a for a in _as_list(config.get("architectures")) if isinstance(a, str)][:8] or None,
    }
    if "auto_map" in config or "custom_code" in tags:
        return fields, "custom code: the config needs trust_remote_code (never run)"
    if library not in ("transformers", "timm"):
        return fields, f"unsupported library: {library or 'unknown'}"
    if library == "transformers":
        mt = fields["model_type"]
        if not mt:
            return fields, "unknown model type: config has no model_type"
        if not _known_transformers_type(mt):
            return fields, f"unknown model type: {mt!r} is not a transformers model type"
    elif not fields["architecture"]:
        return fields, "unknown model type: timm config has no architecture"
    from .architecture import ArchitectureError, describe_architecture

    try:
        with _ENCODE_LOCK:
            info = describe_architecture(config, library=library)
    except ArchitectureError as exc:
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "rejected"
        low = msg.lower()
        if "custom" in low or "remote code" in low or "auto_map" in low:
            return fields, f"custom code: {msg}"
        if "unknown" in low or "unsupported" in low or "not a" in low:
            return fields, f"unknown model type: {msg}"
        return fields, f"architecture error: {msg}"
    except Exception as exc:  # never let one config stop the crawl
        return fields, f"architecture error: {type(exc).__name__}: {str(exc)[:160]}"
    vec = getattr(info, "vector", None)
    fields.update(
        family=getattr(info, "family", None),
        arch_params=int(info.params) if getattr(info, "params", None) is not None else None,
        num_modules=getattr(info, "num_modules", None),
        input_size=getattr(info, "input_size", None),
        archi2vec=[float(v) for v in vec] if vec is not None else None,
    )
    try:
        from .architecture import ARCHI2VEC_VERSION

        fields["archi2vec_version"] = ARCHI2VEC_VERSION
    except ImportError:
        fields["archi2vec_version"] = None
    if vec is None:
        return fields, "architecture error: no vector"
    return fields, None




def _get(info: Any, name: str, default: Any = None) -> Any:
    if isinstance(info, dict):
        return info.get(name, default)
    return getattr(info, name, default)


def process_model(info: Any, *, endpoint: str | None = None, token: Any = None) -> tuple[dict, list[dict]]:
    """Crawl one listed model: fetch its config and card at the listed sha, encode, mine records.

    Returns (row, records). Hub failures that survive retries come back as status "error" (the
    model is retried by the next run); everything about the repo itself is a "skipped" reason.

    (Long on purpose: the steps of one model share its fetch helpers and row, and its skip reasons read in order.)

    """
    from . import hub

    repo_id = _get(info, "id")
    sha = _get(info, "sha")
    tags = [t for t in (_get(info, "tags") or []) if isinstance(t, str)]
    siblings = _get(info, "siblings")
    files = {(_get(s, "rfilename") or "") for s in siblings} if siblings is not None else None
    st = _get(info, "safetensors")
    listed_card = hub.card_data_dict(_get(info, "card_data"))
    row: dict[str, Any] = {
        "id": repo_id,
        "sha": sha,
        "last_modified": _iso(_get(info, "last_modified")),
        "pipeline_tag": _get(info, "pipeline_tag"),
        "library": None,
        "license": None,
        "downloads": _get(info, "downloads"),
        "likes": _get(info, "likes"),
        "gated": _get(info, "gated") or False,
        "params": None,
        "params_source": None,
        "base_models": [],
        "model_type": None,
        "architecture": None,
        "architectures": None,
        "family": None,
        "num_labels": None,
        "archi2vec": None,
        "archi2vec_version": None,
        "card_error": None,
        "n_records": 0,
        "status": "skipped",
        "reason": None,
    }
    if st is not None:
        total = _get(st, "total")
        if isinstance(total, int) and total > 0:
            row["params"], row["params_source"] = total, "safetensors"

    def fetch(name: str) -> bytes | None:
        if files is not None and name not in files:
            return None
        return _fetch(repo_id, name, sha, endpoint=endpoint, token=token)

    records: list[dict] = []
    too_big: dict[str, str] = {}

    def fetch_capped(name: str) -> bytes | None:
        try:
            return fetch(name)
        except ValueError as exc:  # over the size cap: never read further
            too_big[name] = str(exc)
            return None

    try:
        cfg_bytes = fetch_capped("config.json")
        card_bytes = fetch_capped("README.md")
    except hub.GatedRepo:
        row["reason"] = "gated: needs a token with access"
        row["library"] = _library_of(_get(info, "library_name"), tags, None)
        row["license"] = _license(listed_card, tags)
        row["base_models"] = base_models_of(listed_card, tags, _get(info, "base_models"))
        return row, []
    except hub.RepoNotFound:
        row["reason"] = "not found: repo disappeared or is private"
        return row, []
    except _Transient as exc:
        row["status"], row["reason"] = "error", f"hub error: {str(exc)[:200]}"
        return row, []

    card = parse_card(card_bytes.decode("utf-8", "replace")) if card_bytes is not None else ParsedCard(listed_card, "")
    meta = card.metadata or {}
    row["card_error"] = card.error or (f"card not read: {too_big['README.md']}" if "README.md" in too_big else None)
    row["license"] = _license(meta, tags) or _license(listed_card, tags)
    row["base_models"] = base_models_of(meta or listed_card, tags, _get(info, "base_models"), card.body)

    config: Any = None
    reason: str | None = None
    if "config.json" in too_big:
        reason = f"malformed config: {too_big['config.json']}"
    elif cfg_bytes is None:
        reason = "missing config: no config.json in the repo"
    else:
        try:
            config = json.loads(cfg_bytes.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            reason = f"malformed config: {str(exc)[:120]}"
        else:
            if not isinstance(config, dict):
                reason, config = "malformed config: not a JSON object", None
    row["library"] = _library_of(_get(info, "library_name") or meta.get("library_name"), tags, config)
    if isinstance(config, dict):
        labels = config.get("id2label")
        if isinstance(labels, dict):
            row["num_labels"] = len(labels)
        elif isinstance(config.get("num_classes"), int):
            row["num_labels"] = config["num_classes"]
        fields, reason = _encode(config, row["library"], tags)
        row.update({k: v for k, v in fields.items() if k != "arch_params"})
        if reason is None and row["params"] is None and fields.get("arch_params"):
            row["params"], row["params_source"] = fields["arch_params"], "architecture"
    if reason is None:
        row["status"] = "encoded"
    else:
        row["reason"] = reason
    if meta:
        records, err = mine_records(meta, repo_id=repo_id, sha=sha, base_models=row["base_models"])
        if err and not row["card_error"]:
            row["card_error"] = err
    row["n_records"] = len(records)
    return row, records


def _process_safely(info: Any, *, endpoint: str | None, token: Any) -> tuple[dict, list[dict]]:
    from . import hub

    try:
        return process_model(info, endpoint=endpoint, token=token)
    except hub.HubOffline:
        raise  # the whole crawl stops (and resumes later); no row for this model
    except Exception as exc:  # a bug or an unforeseen input must not stop the crawl
        row = {"id": _get(info, "id"), "sha": _get(info, "sha"), "status": "error",
               "reason": f"internal error: {type(exc).__name__}: {str(exc)[:200]}"}
        return row, []


def _license(meta: dict, tags: list[str]) -> str | None:
    lic = meta.get("license") if isinstance(meta, dict) else None
    if isinstance(lic, list):
        lic = lic[0] if lic else None
    if isinstance(lic, str) and lic.strip():
        return lic.strip()[:64]
    for t in tags:
        if t.startswith("license:"):
            return t.split(":", 1)[1][:64]
    return None


# --- output files and checkpoint --------------------------------------------------------------

def _dumps(obj: dict) -> bytes:
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Output:
    """The append-only jsonl files plus the atomic checkpoint."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.state_path = out / STATE_FILE
        state: dict = {}
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"{self.state_path}: unsupported crawl state version {state.get('version')!r}")
        self.state = state
        self.sizes = {
            MODELS_FILE: int(state.get("models_bytes", 0)),
            RECORDS_FILE: int(state.get("records_bytes", 0)),
        }
        self.files = {}
        for name, size in self.sizes.items():
            path = out / name
            fh = open(path, "ab")  # creates the file; never truncates on open
            if fh.seek(0, os.SEEK_END) < size:
                fh.close()
                raise ValueError(f"{path} is shorter than its checkpoint ({size} bytes): output damaged")
            fh.truncate(size)  # drop whatever was written after the last checkpoint
            fh.seek(size)
            self.files[name] = fh
        self.rows = int(state.get("rows", 0))
        self.records = int(state.get("records", 0))
        self.checkpoints = int(state.get("checkpoints", 0))
        self.dirty = False

    def done(self) -> dict[str, str | None]:
        """Model id -> sha of every committed encoded/skipped row (the newest row wins)."""
        done: dict[str, str | None] = {}
        with open(self.out / MODELS_FILE, "rb") as fh:
            for line in fh:
                row = json.loads(line)
                if row.get("status") in ("encoded", "skipped"):
                    done[row["id"]] = row.get("sha")
                else:
                    done.pop(row["id"], None)
        return done

    def append(self, row: dict, records: list[dict]) -> None:
        data = _dumps(row)
        self.files[MODELS_FILE].write(data)
        for r in records:
            self.files[RECORDS_FILE].write(_dumps(r))
        self.rows += 1
        self.records += len(records)
        self.dirty = True

    def checkpoint(self, extra: dict) -> None:
        """Flush + fsync both files, then atomically replace state.json with their sizes."""
        for name, fh in self.files.items():
            fh.flush()
            os.fsync(fh.fileno())
            self.sizes[name] = fh.tell()
        self.checkpoints += 1
        state = {
            "version": STATE_VERSION,
            "models_bytes": self.sizes[MODELS_FILE],
            "records_bytes": self.sizes[RECORDS_FILE],
            "rows": self.rows,
            "records": self.records,
            "checkpoints": self.checkpoints,
            **extra,
        }
        tmp = self.state_path.with_name(STATE_FILE + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(state, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)
        _fsync_dir(self.out)
        self.state = state
        self.dirty = False

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


# --- listing --------------------------------------------------------------------------------------

def _parse_since(since: Any) -> _dt.datetime | None:
    if since is None or since == "":
        return None
    if isinstance(since, _dt.datetime):
        d = since
    elif isinstance(since, _dt.date):
        d = _dt.datetime(since.year, since.month, since.day)
    else:
        s = str(since).strip()
        d = _dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    return d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)


def _listing(
    *, pipeline_tags: tuple[str, ...], libraries: tuple[str | None, ...], sort: str | None, limit: int | None,
    since: _dt.datetime | None, endpoint: str | None, token: Any,
) -> Iterator[Any]:
    """Listed models in a deterministic order: per pipeline tag, per library, Hub order; no repeats."""
    from . import hub

    seen: set[str] = set()
    n = 0
    for tag in pipeline_tags:
        for lib in libraries:
            kwargs: dict[str, Any] = {"pipeline_tag": tag, "expand": list(LIST_EXPAND)}
            if lib:
                kwargs["filter"] = lib
            if sort:
                kwargs["sort"] = sort
            if limit is not None:
                kwargs["limit"] = limit
            for info in _retrying_listing(lambda kw=kwargs: hub.list_models(endpoint=endpoint, token=token, **kw)):
                if info.id in seen:
                    continue
                seen.add(info.id)
                if since is not None:
                    lm = _get(info, "last_modified")
                    if lm is not None and _parse_since(lm) < since:
                        continue
                yield info
                n += 1
                if limit is not None and n >= limit:
                    return


def _retrying_listing(make: Any, attempts: int = 6, max_wait: float = 60.0) -> Iterator[Any]:
    """Iterate a listing; when a page fails transiently, list again and skip what was yielded.

    huggingface_hub already retries each page a few times; this covers longer outages. The
    listing order is deterministic, so skipping the first `n` items resumes where it stopped.
    """
    from . import hub

    yielded = 0
    failures = 0
    while True:
        try:
            for i, info in enumerate(make()):
                if i < yielded:
                    continue
                yielded += 1
                yield info
            return
        except hub.HubError as exc:
            failures += 1
            if not getattr(exc, "retryable", False) or failures >= attempts:
                raise
            wait = exc.retry_after if getattr(exc, "retry_after", None) is not None else 2.0 ** failures
            time.sleep(min(max_wait, wait))


# --- the crawl --------------------------------------------------------------------------------------

@dataclasses.dataclass
class CrawlSummary:
    """Counts of one crawl run (this run only, except the `total_*` fields)."""

    out: str
    listed: int = 0
    encoded: int = 0
    skipped: dict = dataclasses.field(default_factory=dict)
    unchanged: int = 0
    errors: int = 0
    records: int = 0
    total_rows: int = 0
    total_records: int = 0
    seconds: float = 0.0

    @property
    def crawled(self) -> int:
        """Models processed (encoded, skipped or failed) in this run."""
        return self.encoded + sum(self.skipped.values()) + self.errors

    def __str__(self) -> str:
        rate = self.crawled / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"crawl -> {self.out}: {self.listed} listed, {self.crawled} crawled in {self.seconds:.1f} s "
            f"({rate:.1f} models/s), {self.unchanged} unchanged (same sha, skipped)",
            f"  encoded: {self.encoded}",
        ]
        for reason, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  skipped ({reason}): {n}")
        if self.errors:
            lines.append(f"  hub errors (retried next run): {self.errors}")
        lines.append(f"  records mined: {self.records}")
        lines.append(f"  output now holds {self.total_rows} model rows and {self.total_records} records")
        return "\n".join(lines)


class _DropModelIndexWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "model-index" not in record.getMessage()


def _reason_kind(reason: str | None) -> str:
    return (reason or "unknown").split(":", 1)[0]


def crawl(
    out: str | os.PathLike,
    *,
    limit: int | None = None,
    libraries: Iterable[str] | str | None = None,
    pipeline_tags: Iterable[str] | str | None = None,
    sort: str | None = "downloads",
    since: Any = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    workers: int = 8,
    checkpoint_every: int = 25,
    checkpoint_seconds: float = 2.0,
    progress: bool = True,
) -> CrawlSummary:
    """Crawl Hub vision checkpoints into `out/` (resumable; see the module docstring).

    `libraries` ("timm,transformers" or a list) and `pipeline_tags` select the listings;
    `limit` caps the number of listed models; `since` (ISO date) keeps repos modified since then.
    At most `workers` models are fetched at once; rows are written in listing order and
    checkpointed every `checkpoint_every` rows or `checkpoint_seconds`. Each repo's config.json and
    README.md are read at its listed commit with one GET each (no weights, no code, no HF cache).

    (Long on purpose: scheduling, in-order commits and checkpoints share the window, the output and the counters.)

    """
    t0 = time.perf_counter()
    if isinstance(libraries, str):
        libraries = [s.strip() for s in libraries.split(",") if s.strip()]
    if isinstance(pipeline_tags, str):
        pipeline_tags = [s.strip() for s in pipeline_tags.split(",") if s.strip()]
    libs: tuple[str | None, ...] = tuple(libraries) if libraries else (None,)
    tags = tuple(pipeline_tags) if pipeline_tags else DEFAULT_PIPELINE_TAGS
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0")
    since_dt = _parse_since(since)
    workers = max(1, int(workers))
    params = {
        "pipeline_tags": list(tags),
        "libraries": [l for l in libs if l],
        "sort": sort,
        "limit": limit,
        "since": _iso(since_dt),
    }

    from huggingface_hub.utils import tqdm

    output = _Output(Path(out))
    try:
        done = output.done()
    except (ValueError, KeyError) as exc:
        output.close()
        raise ValueError(f"{Path(out) / MODELS_FILE}: unreadable committed row ({exc}): output damaged") from exc
    summary = CrawlSummary(out=str(out))
    # huggingface_hub warns for every listed card with a broken model-index; the rows say it.
    card_logger = logging.getLogger("huggingface_hub.repocard_data")
    quiet = _DropModelIndexWarnings()
    card_logger.addFilter(quiet)
    position = 0

    bar = tqdm(total=limit, unit="model", desc="crawl", disable=not progress, dynamic_ncols=True)

    def postfix() -> None:
        counts = collections.OrderedDict(encoded=summary.encoded)
        skipped = sum(summary.skipped.values())
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items(), key=lambda kv: -kv[1]))
        counts["skipped"] = f"{skipped} ({reasons})" if skipped else 0
        counts["unchanged"] = summary.unchanged
        if summary.errors:
            counts["errors"] = summary.errors
        counts["records"] = summary.records
        bar.set_postfix(counts, refresh=False)

    last_ckpt = time.monotonic()
    since_ckpt = 0

    def checkpoint() -> None:
        output.checkpoint({"listing": {"position": position, **params}})

    def commit(fut: Future) -> None:
        nonlocal last_ckpt, since_ckpt
        row, records = fut.result()
        output.append(row, records)
        if row["status"] == "encoded":
            summary.encoded += 1
        elif row["status"] == "skipped":
            kind = _reason_kind(row["reason"])
            summary.skipped[kind] = summary.skipped.get(kind, 0) + 1
        else:
            summary.errors += 1
        summary.records += len(records)
        bar.update(1)
        postfix()
        since_ckpt += 1
        if since_ckpt >= checkpoint_every or time.monotonic() - last_ckpt >= checkpoint_seconds:
            checkpoint()
            since_ckpt, last_ckpt = 0, time.monotonic()

    window: collections.deque[Future] = collections.deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fennec-crawl")
    try:
        for info in _listing(pipeline_tags=tags, libraries=libs, sort=sort, limit=limit, since=since_dt,
                             endpoint=endpoint, token=token):
            position += 1
            summary.listed += 1
            repo_id, sha = info.id, _get(info, "sha")
            if repo_id in done and (sha is None or done[repo_id] == sha):
                summary.unchanged += 1
                bar.update(1)
                postfix()
                continue
            window.append(pool.submit(_process_safely, info, endpoint=endpoint, token=token))
            while len(window) > 2 * workers:
                _drain_one(window, commit)
        while window:
            _drain_one(window, commit)
    finally:
        # Commit what is already finished in order, then checkpoint, even when the listing failed.
        try:
            while window and window[0].done() and window[0].exception() is None:
                _drain_one(window, commit)
        finally:
            for f in window:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if output.dirty or not output.state_path.exists():
                checkpoint()
            output.close()
            bar.close()
            card_logger.removeFilter(quiet)
    summary.total_rows = output.rows
    summary.total_records = output.records
    summary.seconds = time.perf_counter() - t0
    return summary


def _drain_one(window: collections.deque, commit) -> None:
    commit(window.popleft())


# --- reading a crawl back -------------------------------------------------------------------------

def _read_committed(path: Path, size: int) -> list[dict]:
    rows = []
    with open(path, "rb") as fh:
        data = fh.read(size)
    for line in data.splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def load_crawl(path: str | os.PathLike, *, aggregate: str | None = "max") -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """(models, records) of a crawl directory, for `Zoo` building.

    models: one row per model id (its newest committed row), column `model_id` plus the
    models.jsonl fields (`archi2vec` holds a list of floats or None; `architecture` is the timm
    architecture or the config's first `architectures` class; filter `status == "encoded"`).
    records: the long format of `load_records` (model, dataset, metric, value, source,
    benchmark="hub_cards", evidence), where `model` is the *base* checkpoint a card says was
    fine-tuned, `dataset` a canonical dataset id, `metric` "finetune_top1" (percent), `source`
    "hub:model-cards" for every row (all cards form one comparable group) and `evidence` the card
    the value came from ("hub:<repo>@<sha>:README.md"). Only accuracy results with a known base
    model and dataset, from each model's newest sha, are kept. aggregate="max" keeps the best
    value per (model, dataset, metric); aggregate=None keeps every card's row (plus `finetuned`).
    """
    import pandas as pd

    d = Path(path)
    state_path = d / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    mpath, rpath = d / MODELS_FILE, d / RECORDS_FILE
    if not mpath.exists():
        raise FileNotFoundError(f"{d} holds no {MODELS_FILE}: not a crawl directory")
    msize = int(state.get("models_bytes", mpath.stat().st_size))
    rsize = int(state.get("records_bytes", rpath.stat().st_size if rpath.exists() else 0))
    rows = _read_committed(mpath, msize)
    latest: dict[str, dict] = {}
    for row in rows:
        latest.pop(row["id"], None)
        latest[row["id"]] = row
    models = pd.DataFrame(list(latest.values()))
    if len(models):
        models.insert(0, "model_id", models.pop("id"))
        if "architectures" in models:  # one architecture name per row: timm's, else the config's class
            first = models["architectures"].map(lambda a: a[0] if isinstance(a, list) and a else None)
            models["architecture"] = models["architecture"].where(models["architecture"].notna(), first)
    else:
        models = pd.DataFrame(columns=["model_id", "sha", "status", "reason", "archi2vec"])
    shas = {k: v.get("sha") for k, v in latest.items()}
    recs = _read_committed(rpath, rsize) if rpath.exists() else []
    keep = [
        r for r in recs
        if shas.get(r.get("model")) == r.get("sha")
        and r.get("metric") == RECORD_METRIC
        and r.get("base_model") and r.get("dataset")
    ]
    cols = ["model", "dataset", "metric", "value", "source", "benchmark", "evidence"]
    if not keep:
        return models, pd.DataFrame(columns=cols + ([] if aggregate else ["finetuned"]))
    rec = pd.DataFrame(
        {
            "model": [r["base_model"] for r in keep],
            "dataset": [r["dataset"] for r in keep],
            "metric": [r["metric"] for r in keep],
            "value": [float(r["value"]) for r in keep],
            "source": RECORD_SOURCE,
            "benchmark": RECORD_BENCHMARK,
            "evidence": [r["source"] for r in keep],
            "finetuned": [r["model"] for r in keep],
        }
    )
    if aggregate is None:
        return models, rec
    if aggregate != "max":
        raise ValueError(f"aggregate must be 'max' or None, not {aggregate!r}")
    rec = rec.sort_values(["model", "dataset", "metric", "value", "evidence"],
                          ascending=[True, True, True, False, True], kind="mergesort")
    rec = rec.drop_duplicates(["model", "dataset", "metric"], keep="first").reset_index(drop=True)
    return models, rec[cols]
