"""recommend(): dataset name in, ranked Hub checkpoints out.

resolve the dataset -> its task vector (stored in the zoo, or encoded by the zoo's TransferSpace)
-> one matrix-vector product over the zoo -> filters -> top-k -> a short "why" per row.

Nothing here touches the network unless asked to: the default zoo is embedded in the package, and
the Hub is consulted only for a zoo given as a repo id or a dataset id the registry does not know
(both through `fennec_hub.hub`, which honours `HF_HUB_OFFLINE=1` without waiting).

Long on purpose: argument checks with their documented errors, task resolution, the ranking,
its explanations and the table rendering are the steps of one call.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from .records import (
    BENCHMARKS,
    NON_HUB_NAMESPACES,
    PRETRAINING_SOURCES,
    STAND_IN_FROM,
    benchmark_protocol,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .datasets import DatasetEntry
    from .zoo import Zoo

__all__ = ["recommend", "protocols", "parse_params", "format_table", "model_url", "RESULT_COLUMNS",
           "RecommendArgumentError", "RecommendTypeError", "FilterWarning"]

RESULT_COLUMNS = ("rank", "model_id", "score", "params", "library", "license", "why", "url", "timm_name",
                  "same_weights_as", "fine_tuned_on_query", "downloads", "likes", "gated")

HUB_URL = "https://huggingface.co/"
#: Largest `max_params` accepted (10**15 parameters): far beyond any model, and exact as a float.
MAX_PARAMS = 10**15

_HUB_ZOOS: dict[tuple, "Zoo"] = {}
_TASK_CACHE: dict[tuple, "_Task"] = {}
_LOCK = threading.Lock()
_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_PARAMS_HINT = "use a count such as 25000000 or a string such as 50M, 1.5B or 800k"


@dataclass(frozen=True)
class _Task:
    id: str
    name: str
    vector: np.ndarray
    source: str  # how the task vector was obtained
    entry: Any = None
    metric: str | None = None  # the records metric of a named protocol
    records_source: str | None = None  # and its records source


class RecommendArgumentError(ValueError):
    """An argument `recommend()` cannot use; the message names it and says what it accepts.

    `argument` is the parameter's name; `known` lists the values the zoo offers where they form a
    list (the libraries or licenses present in the zoo, the protocols), else it is empty.
    """

    def __init__(self, argument: str, message: str, known: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.argument = argument
        self.known = list(known)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # keep argument and known values through pickling
        return (type(self), (self.argument, str(self), self.known))


class RecommendTypeError(RecommendArgumentError, TypeError):
    """An argument of a type `recommend()` does not take (a TypeError too)."""


class FilterWarning(UserWarning):
    """A filter that cannot do what was probably meant: some of its values match no model of the zoo,
    or no model passes the filters together. The ranking is still returned (possibly empty)."""


def parse_params(value: int | float | str | None, *, beyond_any_model: str = "raise") -> int | None:
    """Parameter count from an int or a string like "50M", "1.5B", "800k" (None passes through).

    Accepts 1 to `MAX_PARAMS` parameters (fractions are rounded down). A larger count raises
    (``beyond_any_model="raise"``) or reads as no limit, None (``"no limit"``, for forms where a
    visitor types a huge number). Raises `RecommendArgumentError` for anything else (0.5, -3,
    "lots") and `RecommendTypeError` for a value that is neither a number nor a string.
    """
    if beyond_any_model not in ("raise", "no limit"):
        raise ValueError(f"beyond_any_model must be 'raise' or 'no limit', got {beyond_any_model!r}")
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise RecommendTypeError("max_params", f"max_params must be a number or a string, got {value!r}; "
                                 + _PARAMS_HINT)
    if isinstance(value, (int, np.integer)):
        n: float | int = int(value)  # exact: a huge int must not go through float
    elif isinstance(value, (float, np.floating)):
        n = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBgGtT]?)\s*(?:params?)?\s*", value)
        if not m:
            raise RecommendArgumentError("max_params", f"max_params: cannot read a parameter count from {value[:60]!r}; "
                                         + _PARAMS_HINT)
        n = float(m.group(1)) * _SUFFIX[m.group(2).upper()]  # a very long number reads as inf
    else:
        raise RecommendTypeError("max_params", f"max_params must be a number or a string, got "
                                 f"{type(value).__name__}; " + _PARAMS_HINT)
    shown = repr(value) if not isinstance(value, str) else repr(value[:60])
    if isinstance(n, float) and math.isnan(n):
        raise RecommendArgumentError("max_params", f"max_params is not a number ({shown}); " + _PARAMS_HINT)
    if n < 1:
        raise RecommendArgumentError("max_params", f"max_params must be at least 1 parameter, got {shown}; "
                                     + _PARAMS_HINT)
    if n > MAX_PARAMS and beyond_any_model == "no limit":
        return None
    if n > MAX_PARAMS:
        raise RecommendArgumentError("max_params", f"max_params {shown} is beyond any model (the most accepted is "
                                     f"{MAX_PARAMS:.0e}); leave max_params out for no size limit")
    return int(n)


#: Least weight a task vector gives a record group for the group's task to be called close to it.
_CLOSE_WEIGHT = 0.05

_FILTER_EXAMPLES = {"licenses": "'apache-2.0' or ['apache-2.0', 'mit']", "library": "'timm' or 'transformers'"}


def _as_set(value: str | Iterable[str] | None, what: str) -> set[str] | None:
    """Lower-cased values of a filter given as "a,b" or as strings (each may hold commas); None passes."""
    if value is None:
        return None
    example = _FILTER_EXAMPLES.get(what, "'a' or ['a', 'b']")
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        raise RecommendTypeError(what, f"{what} must be a string or a list of strings, e.g. {example}; "
                                 f"got {type(value).__name__}")
    else:
        values = list(value)
        bad = next((v for v in values if not isinstance(v, str)), None)
        if bad is not None:
            raise RecommendTypeError(what, f"{what} must be strings, e.g. {example}; got {bad!r} "
                                     f"({type(bad).__name__})")
        items = [x for v in values for x in v.split(",")]
    out = {v.strip().lower() for v in items if v.strip()}
    if not out:
        raise RecommendArgumentError(what, f"the {what} filter is empty; give at least one value, e.g. {example}, "
                                     "or leave it out")
    return out


def model_url(model_id: str) -> str | None:
    """The checkpoint's page on the Hub, or None for benchmark models that are not on the Hub
    (``pytorchcv/``, ``keras/``, ``parc/``, ``vtab/``, ``torchvision/`` ids, or ids without a namespace)."""
    if "/" not in model_id or model_id.startswith(NON_HUB_NAMESPACES):
        return None
    return HUB_URL + model_id


def _timm_name(model_id: str, stored: Any) -> str:
    """What `timm.create_model` takes for a timm row: the zoo's timm name, else the repo name of a
    ``timm/`` checkpoint, else the ``hf-hub:`` form that timm reads from any Hub repo."""
    if isinstance(stored, str) and stored:
        return stored
    if model_id.startswith("timm/"):
        return model_id[len("timm/"):]
    return "hf-hub:" + model_id


def _gated(v: Any) -> bool | None:
    """The Hub's `gated` field (False, "auto", "manual"; stored as text) as True / False / None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    text = str(v).strip().lower()
    if text in ("auto", "manual", "true", "yes", "1"):
        return True
    if text in ("false", "no", "0", "none", ""):
        return False
    return None


@functools.lru_cache(maxsize=1)
def _stored_sources() -> dict[str, str]:
    """Model id -> source dataset, from the model-feature store the transfer space was fitted with."""
    import pandas as pd

    from .features import STORE

    try:
        frame = pd.read_parquet(STORE / "models.parquet", columns=["source_dataset"])
    except Exception:  # no store (or an older one): source datasets come from ids and tags alone
        return {}
    return {str(k): v for k, v in frame["source_dataset"].items() if isinstance(v, str) and v}


def _source_datasets(zoo: "Zoo", idx: np.ndarray, cols: dict[str, np.ndarray]) -> list[str | None]:
    """The dataset each model of `idx` was last trained on: the zoo's column where it has one, else
    what `fennec_hub.features.source_dataset` reads from the id and its tag, and, for a zoo without
    that column (a build fills it from the feature store), from the store too (memoised per zoo, so
    only the rows ever shown are worked out)."""
    cache = zoo.__dict__.setdefault("_recommend_cache", {}).setdefault("source", {})
    stored = cols.get("source_dataset")
    out = []
    for i in idx:
        i = int(i)
        if i not in cache:
            v = stored[i] if stored is not None else None
            if not (isinstance(v, str) and v):
                from .features import source_dataset

                mid = str(cols["model_id"][i])
                pre = cols["pretrain"][i] if "pretrain" in cols else None
                v = source_dataset(mid, {"source_dataset": _stored_sources().get(mid) if stored is None else None,
                                         "pretrain": pre if isinstance(pre, str) else None})
            cache[i] = v
        out.append(cache[i])
    return out


def _hub_columns(zoo: "Zoo", cols: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """downloads, likes and gated of every model as (values, missing-mask) arrays (cached on the zoo)."""
    cache = zoo.__dict__.setdefault("_recommend_cache", {})
    if "hub" not in cache:
        n = len(cols["model_id"])
        out = {}
        for name in ("downloads", "likes"):
            raw = cols.get(name)
            vals = np.zeros(n, dtype=np.int64)
            mask = np.ones(n, dtype=bool)
            for i, v in enumerate(raw if raw is not None else ()):
                try:
                    vals[i], mask[i] = int(v), False
                except (TypeError, ValueError, OverflowError):  # None, pd.NA, nan: unknown
                    pass
            out[name] = (vals, mask)
        gated = [_gated(v) for v in cols["gated"]] if "gated" in cols else [None] * n
        out["gated"] = (np.array([bool(g) for g in gated], dtype=bool), np.array([g is None for g in gated], dtype=bool))
        cache["hub"] = out
    return cache["hub"]


def _known_values(zoo: "Zoo", cols: dict[str, np.ndarray], key: str) -> list[str]:
    """Distinct non-empty lower-cased values of a column of the zoo (cached on the zoo), most common first."""
    cache = zoo.__dict__.setdefault("_recommend_cache", {})
    if key not in cache:
        vals, counts = np.unique(cols[key].astype(str), return_counts=True)
        order = np.lexsort((vals, -counts))
        cache[key] = [str(vals[j]) for j in order if vals[j] not in ("", "none", "nan")]
    return cache[key]


def _check_filter(wanted: set[str] | None, known: list[str], what: str, noun: str, nouns: str) -> None:
    """Refuse a filter none of whose values is in the zoo; warn about the values that are not."""
    if not wanted:
        return
    unknown = sorted(wanted - set(known))
    if not unknown:
        return
    listed = ", ".join(known) if known else "(none recorded)"
    shown = ", ".join(repr(u) if len(u) <= 60 else repr(u[:57] + "...") for u in unknown[:5])
    if len(unknown) == len(wanted):
        raise RecommendArgumentError(what, f"no model in this zoo has {noun} {shown}; {nouns} in this zoo (most "
                                     f"common first): {listed}", known=known)
    warnings.warn(f"{noun} {shown} matches no model in this zoo, so only {', '.join(sorted(wanted - set(unknown)))} "
                  f"filters; {nouns} in this zoo: {listed}", FilterWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------
# zoo and task resolution
# --------------------------------------------------------------------------------------------

def _get_zoo(zoo: "Zoo | str | None", token: str | bool | None, revision: str | None = None) -> "Zoo":
    from .zoo import Zoo

    if revision is not None and not isinstance(zoo, str):
        raise ValueError("revision= selects a commit of a zoo given as a Hub repo id (zoo='owner/name')")
    if zoo is None:
        return Zoo.default()
    if isinstance(zoo, Zoo):
        return zoo
    if isinstance(zoo, str):
        from . import hub

        repo_id = hub.parse_repo_id(zoo, repo_type="dataset", argument="zoo")
        key = (repo_id, revision, token if isinstance(token, str) else None)
        with _LOCK:
            cached = _HUB_ZOOS.get(key)
        if cached is None:
            cached = Zoo.from_hub(repo_id, revision=revision, token=token)
            with _LOCK:
                _HUB_ZOOS[key] = cached
        return cached
    raise RecommendTypeError("zoo", f"zoo must be None, a Zoo or a Hub dataset repo id, got {type(zoo).__name__}")


def _hub_dataset_id(name: str) -> str | None:
    """The Hub dataset id ``name`` spells (``owner/name``, ``hf://datasets/...``, a Hub URL), or None."""
    from . import hub

    try:
        return hub.parse_repo_id(name, repo_type="dataset", argument="dataset")
    except ValueError:
        return None


def _resolve_entry(dataset: "str | DatasetEntry", token: str | bool | None) -> "DatasetEntry":
    """Registry first; a Hub dataset id the registry does not know is read from the Hub."""
    from .datasets import UnknownDatasetError, register_dataset, resolve_dataset, resolve_hub_dataset

    try:
        return resolve_dataset(dataset)
    except UnknownDatasetError as exc:
        hub_id = _hub_dataset_id(dataset) if isinstance(dataset, str) else None
        if hub_id is None:
            raise
        try:
            entry = resolve_hub_dataset(hub_id, token=token)
        except OSError as hub_exc:  # fennec_hub.hub errors (not found, gated, offline) are OSErrors
            raise UnknownDatasetError(
                dataset, exc.suggestions,
                f"{exc.message} It is not in the registry, and looking it up on the Hub failed: {hub_exc}",
            ) from hub_exc
        try:
            register_dataset(entry)
        except ValueError:
            pass  # already registered (or a name clash): the entry still carries what we need
        return entry


def _task_for(zoo: "Zoo", dataset: "str | DatasetEntry", images: Any, token: str | bool | None,
              protocol: str | None = None) -> _Task:
    key = (id(zoo), zoo.fingerprint, dataset if isinstance(dataset, str) else getattr(dataset, "id", None),
           images is None, protocol)
    if images is None:
        with _LOCK:
            hit = _TASK_CACHE.get(key)
        if hit is not None:
            return hit
    # A custom zoo may carry tasks the registry does not know: accept its own ids first.
    if protocol is not None:
        entry = _resolve_entry(dataset, token)
        vec, how = _protocol_task_vector(zoo, entry, protocol)
        task = _Task(entry.id, entry.name, vec, how, entry, BENCHMARKS[protocol].metric,
                     benchmark_protocol(protocol)[0])
    elif isinstance(dataset, str) and images is None and zoo.task_index(dataset) is not None:
        i = zoo.task_index(dataset)
        row = zoo.tasks.iloc[i]
        task = _Task(dataset, str(row["name"] or dataset), zoo.task_vectors[i], str(row["vector_source"] or "stored"))
    else:
        entry = _resolve_entry(dataset, token)
        i = zoo.task_index(entry.id)
        if images is not None:
            vec = _task_vector_from_images(zoo, entry, images)
            task = _Task(entry.id, entry.name, vec, "images", entry)
        elif i is not None:
            src = str(zoo.tasks.iloc[i]["vector_source"] or "stored")
            task = _Task(entry.id, entry.name, zoo.task_vectors[i], src, entry)
        else:
            vec, how = _new_task_vector(zoo, entry, token)
            task = _Task(entry.id, entry.name, vec, how, entry)
    if images is None:
        with _LOCK:
            if len(_TASK_CACHE) > 512:
                _TASK_CACHE.clear()
            _TASK_CACHE[key] = task
    return task


def _new_task_vector(zoo: "Zoo", entry: "DatasetEntry", token: str | bool | None) -> tuple[np.ndarray, str]:
    """Task vector of a dataset the zoo has no stored vector for: the zoo's proxies, else its space."""
    vec, how = None, "metadata"
    if zoo.proxies:
        from .tasks import task_vector_from_proxies

        vec = task_vector_from_proxies(entry, zoo, token=token, progress=False)
    if vec is None:
        vec = zoo.space.task_vector(entry.id)
    return _checked_vector(zoo, vec, entry, "the zoo's transfer space"), how


def _checked_vector(zoo: "Zoo", vec: Any, entry: "DatasetEntry", what: str) -> np.ndarray:
    """``vec`` as float32 if it is a finite vector of the zoo's length; else a ValueError naming ``what``."""
    vec = np.asarray(vec, dtype=np.float32)
    if vec.shape != (zoo.dim,) or not np.isfinite(vec).all():
        raise ValueError(f"{what} gave an invalid task vector for {entry.id!r}")
    return vec


def protocols() -> dict[str, str]:
    """Fine-tuning protocols a ranking can follow (``recommend(protocol=...)``): name -> description.

    Each is one benchmark of `fennec_hub.records.BENCHMARKS`: its records' source and metric.
    """
    return {name: b.description for name, b in BENCHMARKS.items()}


def _protocol_task_vector(zoo: "Zoo", entry: "DatasetEntry", protocol: str) -> tuple[np.ndarray, str]:
    """Task vector under one fine-tuning protocol, from the zoo's transfer space: a recorded task
    uses that protocol's own records where it has them; a new task is placed among the protocol's
    recorded tasks by task similarity (metadata, and text where the space found it helps)."""
    source, metric = benchmark_protocol(protocol)
    space = zoo.space
    if source not in {s for s, _ in space.protocols}:
        raise ValueError(f"this zoo's transfer space has no records of protocol {protocol!r}")
    if entry.id in space.known_tasks:
        task, how = entry.id, "history"
    else:
        from .tasks import task_feature_row

        task, how = task_feature_row(entry), "metadata"
    return _checked_vector(zoo, space.task_vector(task, source=source, metric=metric), entry,
                           "the zoo's transfer space"), how


def _task_vector_from_images(zoo: "Zoo", entry: "DatasetEntry", images: Any) -> np.ndarray:
    """The image proxy (fennec_hub.tasks): place the task from `images` images of its Hub dataset.

    `recommend` has checked that `images` is a positive integer and that the zoo has an image proxy.
    """
    from .tasks import task_vector_from_proxies

    return _checked_vector(zoo, task_vector_from_proxies(entry, zoo, images=int(images), progress=False), entry,
                           "the image proxy")


# --------------------------------------------------------------------------------------------
# explanations
# --------------------------------------------------------------------------------------------

def _protocol_phrase(metric: str, dataset_name: str) -> str:
    """How a record was obtained, named so that figures of different protocols are not compared:
    ``"fine-tuned on Pets"``, ``"fine-tuned on 1,000 examples of Pets"`` (VTAB-1k),
    ``"with a linear probe on Pets"``."""
    if metric.startswith("linear_probe"):
        return f"with a linear probe on {dataset_name}"
    if "vtab1k" in metric:
        return f"fine-tuned on 1,000 examples of {dataset_name}"
    return f"fine-tuned on {dataset_name}"


def _fine_tuning_first(records: Iterable[tuple], metric: str | None = None) -> list[tuple]:
    """``(dataset, metric, value, rank, n)`` records in the order they are worth quoting (otherwise in
    their order): those of the named protocol's ``metric``, then full-data fine-tuning, 1,000-example
    fine-tuning and linear probes, as the ranking without a protocol follows full-data fine-tuning."""
    def key(r: tuple) -> tuple[bool, int]:
        kind = 2 if r[1].startswith("linear_probe") else int("vtab1k" in r[1])
        return (metric is not None and r[1] != metric, kind)

    return sorted(records, key=key)


def _metric_phrase(metric: str, value: float, dataset_name: str) -> str:
    v = f"{value:.1f}%"
    if metric in ("top1", "top5"):
        return f"{metric.replace('top', 'top-')} {v} on {dataset_name}"
    return f"{v} {_protocol_phrase(metric, dataset_name)}"


class _Explainer:
    """Builds one short sentence per ranked model; per-zoo work is cached on the zoo."""

    def __init__(self, zoo: "Zoo", task: _Task) -> None:
        self.zoo = zoo
        self.task = task
        cache = zoo.__dict__.setdefault("_explain_cache", {})
        if "names" not in cache:
            cache["names"] = dict(zip(zoo.tasks["task_id"], zoo.tasks["name"]))
        self.names = cache["names"]
        self.nearest = self._nearest_tasks()

    def _name(self, task_id: str) -> str:
        return str(self.names.get(task_id) or task_id)

    def _nearest_tasks(self, k: int = 3) -> list[str]:
        """Recorded tasks on which the zoo's history models rank most like they do on this task."""
        zoo = self.zoo
        cache = zoo.__dict__.setdefault("_explain_cache", {})
        if "hist" not in cache:
            hist_rows = np.flatnonzero((zoo.models["vector_source"] == "history").to_numpy())
            t_rows = np.flatnonzero((zoo.tasks["vector_source"] == "history").to_numpy())
            if not len(hist_rows):
                cache["hist"] = (np.zeros((0, zoo.dim), np.float32), None, [])
                return []
            if len(hist_rows) > 2000:
                hist_rows = hist_rows[np.linspace(0, len(hist_rows) - 1, 2000).astype(int)]
            mv = zoo.model_vectors[hist_rows]
            s = mv @ zoo.task_vectors[t_rows].T if len(t_rows) else np.zeros((len(hist_rows), 0), np.float32)
            s = s - s.mean(axis=0)
            s /= np.linalg.norm(s, axis=0) + 1e-12
            cache["hist"] = (mv, s, [zoo.tasks["task_id"].iloc[i] for i in t_rows])
        mv, s, ids = cache["hist"]
        if not ids or not len(mv):
            return []
        q = mv @ self.task.vector
        q = q - q.mean()
        q /= np.linalg.norm(q) + 1e-12
        corr = q @ s
        order = np.argsort(-corr, kind="stable")
        return [ids[j] for j in order if ids[j] != self.task.id][:k]

    def sentence(self, row: Any) -> str:
        model_id = row.model_id
        same = row.same_as if _ok(row.same_as) else None
        hist = self.zoo.history_of(same or model_id)
        prefix = f"Same weights as {same}: " if same else ""
        if hist:
            own = _fine_tuning_first((r for r in hist if r[0] == self.task.id), self.task.metric)
            if own:
                ds, metric, value, rank, n = own[0]
                s = _metric_phrase(metric, value, self._name(ds))
                if rank and n:
                    s += f" in its records (#{rank} of {n})"
                return prefix + s[0].upper() + s[1:] + "."
            near = self._close_records(hist, model_id)
            if near:
                parts = []
                for ds, metric, value, rank, n in near[:2]:
                    parts.append(f"#{rank}/{n} {_protocol_phrase(metric, self._name(ds))}" if rank and n else
                                 _metric_phrase(metric, value, self._name(ds)))
                return f"{prefix}Ranked {' and '.join(parts)} in its records, tasks close to this one."
            return prefix + self._standing(hist)
        # Twins lend only to a ranking under their own protocol; records made under another do not
        # carry over (TransferSpace.foreign_twins), so without a named protocol none is quoted.
        twin = self._twin_record(row.twins) if self.task.records_source is not None else None
        return "Cold start (no fine-tuning records of its own): " + (f"{twin}; " if twin else "") + \
            self._metadata_phrase(row) + "."

    def _standing(self, hist: list[tuple]) -> str:
        """A recorded model with no record near the query: its score is its standing over all its
        records (its evidence against its prior), so say that, with its median and best standing,
        rather than quote one record on an unrelated task as if it were the reason."""
        ds, metric, value, rank, n = hist[0]
        best = _metric_phrase(metric, value, self._name(ds)) + (f", #{rank} of {n}" if rank and n else "")
        shares = [r / m for *_, r, m in hist if r and m]
        if not shares:
            return f"No records on tasks close to this one; best: {best}."
        top = max(1, int(np.ceil(100 * float(np.median(shares)))))
        records = f"{len(hist)} records" if len(hist) > 1 else "record"
        return (f"No records on tasks close to this one; placed by its standing across its {records} "
                f"(median: top {top}%; best: {best}).")

    def _close_records(self, hist: list[tuple], model_id: str | None = None) -> list[tuple]:
        """Records of `hist` on the tasks closest to this one, closest first: those in record groups
        that the task vector weighs at least `_CLOSE_WEIGHT` (the groups a score takes from; with
        `model_id`, only the groups that model has its own records in), or, in a zoo without a
        transfer space to read the weights from, those on the tasks where the zoo's history models
        rank most alike."""
        weights = self._group_weights()
        if weights is None:
            return [r for r in hist if r[0] in self.nearest]
        if model_id is not None:
            own = self.zoo.model_vectors[self.zoo.model_index(model_id)][1 : 1 + len(weights)] != 0
        else:
            own = np.ones(len(weights), dtype=bool)
        close: dict[tuple[str, str], float] = {}
        for key, w, has in zip(self._group_keys, weights, own):
            if has and w >= _CLOSE_WEIGHT:
                close[key] = max(w, close.get(key, 0.0))
        near = [r for r in hist if (r[0], r[1]) in close]
        return sorted(near, key=lambda r: -close[(r[0], r[1])])

    def _group_weights(self) -> np.ndarray | None:
        """The task vector's weight on each historical record group of the zoo's transfer space (its
        coordinates 1..G), None when the zoo has no space laid out like its vectors."""
        if "_group_keys" not in self.__dict__:
            space = self.zoo.space if self.zoo.has_space else None
            fits = space is not None and len(self.task.vector) == space.dim
            self._group_keys = [(g[1], g[2]) for g in space.groups] if fits else None
        keys = self._group_keys
        if keys is None:
            return None
        weights = np.asarray(self.task.vector[1 : 1 + len(keys)], dtype=float)
        if self.task.records_source is None and self.task.metric is None:
            # A query without a protocol takes records at `protocol_transfer`; how close a group is
            # to the task is the weight before that.
            weights = weights / max(self.zoo.space.protocol_transfer, 1e-12)
        return weights

    def _metadata_phrase(self, row: Any) -> str:
        """``"vit architecture; ImageNet top-1 81.8% (...); in21k pre-training; 86.6M params"``, the
        part of a cold start's sentence that does not depend on the task (cached per zoo row)."""
        phrases = self.zoo.__dict__.setdefault("_explain_cache", {}).setdefault("metadata", {})
        key = row.model_id
        if key not in phrases:
            bits = [f"{row.family} architecture" if _ok(row.family) else "architecture of unknown family"]
            if _ok(row.imagenet_top1):
                borrowed = row.imagenet_from if _ok(row.imagenet_from) and row.imagenet_from != "own" else None
                bits.append(f"ImageNet top-1 {float(row.imagenet_top1):.1f}%" + (f" ({borrowed})" if borrowed else ""))
            elif _ok(row.imagenet_from) and str(row.imagenet_from).startswith(STAND_IN_FROM):
                bits.append(f"no ImageNet result ({row.imagenet_from})")
            else:
                bits.append("no ImageNet result (a cautious stand-in for its size)")
            if _ok(row.pretrain):
                bits.append(f"{row.pretrain} pre-training")
            source = getattr(row, "source_dataset", None)
            if _ok(source) and source not in PRETRAINING_SOURCES:
                bits.append(f"fine-tuned on {self._name(str(source))}")
            if _ok(row.params):
                bits.append(f"{_fmt_params(row.params)} params")
            phrases[key] = "; ".join(bits)
        return phrases[key]

    def _twin_record(self, twins: Any) -> str | None:
        """``"the same architecture (keras/densenet201) ranks #3 of 19 on Pets"``: the strongest twin's
        record on this task, else on the closest recorded task."""
        if not _ok(twins):
            return None
        done = self.__dict__.setdefault("_twin_phrases", {})  # many checkpoints share their twins
        if twins not in done:
            done[twins] = self._twin_phrase(str(twins))
        return done[twins]

    def _lending_twins(self) -> set[str]:
        """The recorded models that lend to their twins under the named protocol: those of the record
        banks (blocks of the zoo's transfer space) that hold its records."""
        if "_lenders" not in self.__dict__:
            space = self.zoo.space
            hit = [i for i, g in enumerate(space.groups) if g[0] == self.task.records_source]
            blocks = set(space.group_block[hit].tolist())
            self._lenders = {m for m, b in zip(space.models, space._model_blocks()) if b in blocks}
        return self._lenders

    def _twin_phrase(self, twins: str) -> str | None:
        for item in twins.split(";"):
            twin = item.rpartition("=")[0]
            if twin not in self._lending_twins():
                continue
            hist = [r for r in self.zoo.history_of(twin) if r[3] and r[4]]
            for records in ([r for r in hist if r[0] == self.task.id], self._close_records(hist)):
                hit = _fine_tuning_first(records, self.task.metric)
                if hit:
                    ds, metric, _, rank, n = hit[0]
                    return (f"the same architecture trained elsewhere ({twin}) ranks #{rank} of {n} "
                            f"{_protocol_phrase(metric, self._name(ds))}")
        return None


def _loadable_timm_name(cols: dict[str, np.ndarray], i: int, stored: np.ndarray | None) -> str | None:
    """The name `timm.create_model` takes for row ``i``: its own for a timm row, else that of the
    identical timm checkpoint published beside it (None if there is none)."""
    for j in (i, cols["alias_row"][i]):
        if j >= 0 and cols["library_lc"][j] == "timm":
            return _timm_name(str(cols["model_id"][j]), stored[j] if stored is not None else None)
    return None


class _Row:
    """Attribute access to one model's cached columns (cheaper than a pandas row)."""

    __slots__ = ("_c", "_i")

    def __init__(self, cols: dict[str, np.ndarray], i: int) -> None:
        self._c, self._i = cols, i

    def __getattr__(self, name: str) -> Any:
        v = self._c[name][self._i]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _ok(v: Any) -> bool:
    if v is None:
        return False
    try:
        return not (isinstance(v, float) and math.isnan(v)) and str(v) not in ("", "<NA>", "nan", "None")
    except (TypeError, ValueError):
        return False


def _fmt_params(n: Any) -> str:
    if not _ok(n):
        return "?"
    n = float(n)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            v = n / div
            return f"{v:.0f}{suf}" if v >= 100 else f"{v:.1f}{suf}"
    return str(int(n))


# --------------------------------------------------------------------------------------------
# recommend
# --------------------------------------------------------------------------------------------

def _cap_per_family(idx: np.ndarray, raw: np.ndarray, cols: dict[str, np.ndarray], cap: int) -> np.ndarray:
    """The models of `idx` that are among the `cap` best of their family (ties broken by model id)."""
    order = idx[np.lexsort((cols["model_id"][idx], -raw[idx]))]
    seen: dict[str, int] = {}
    keep = []
    for i in order:
        fam = cols["family"][i]
        key = str(fam) if _ok(fam) else f"model:{cols['model_id'][i]}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= cap:
            keep.append(i)
    return np.asarray(keep, dtype=idx.dtype)


def _positive_int(value: Any, what: str, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        cls = RecommendArgumentError if isinstance(value, (float, np.floating)) else RecommendTypeError
        raise cls(what, f"{what} must be a positive integer{' or None' if allow_none else ''}, got {value!r}"[:200])
    if value < 1:
        raise RecommendArgumentError(what, f"{what} must be a positive integer{' or None' if allow_none else ''}, "
                                     f"got {value!r}")


def _check_arguments(dataset: Any, top_k: Any, max_per_family: Any, protocol: Any, images: Any,
                     token: Any) -> None:
    """Everything recommend() can check before it opens a zoo."""
    from .datasets import DatasetEntry

    if not isinstance(dataset, (str, DatasetEntry)):
        raise RecommendTypeError("dataset", "dataset must be a dataset name or Hub dataset id (a str) or a "
                                 f"DatasetEntry, got {type(dataset).__name__}")
    _positive_int(top_k, "top_k")
    _positive_int(max_per_family, "max_per_family")
    if protocol is not None:
        if not isinstance(protocol, str):
            raise RecommendTypeError("protocol", f"protocol must be a str or None, got {type(protocol).__name__}; "
                                     f"choose one of {', '.join(BENCHMARKS)}", known=list(BENCHMARKS))
        if protocol not in BENCHMARKS:
            raise RecommendArgumentError("protocol", f"unknown protocol {protocol[:60]!r}; choose one of "
                                         f"{', '.join(BENCHMARKS)}", known=list(BENCHMARKS))
    if images is not None:
        _positive_int(images, "images")
        if protocol is not None:
            raise RecommendArgumentError("images", "protocol= and images= cannot be combined: the image proxy places "
                                         "tasks without a protocol; drop one of them")
    if token is not None and not isinstance(token, (str, bool)):
        raise RecommendTypeError("token", f"token must be a str, a bool or None, got {type(token).__name__}")


def recommend(
    dataset: "str | DatasetEntry",
    top_k: int | None = 10,
    *,
    zoo: "Zoo | str | None" = None,
    max_params: int | float | str | None = None,
    licenses: str | Sequence[str] | None = None,
    library: str | Sequence[str] | None = None,
    images: int | None = None,
    token: str | bool | None = None,
    max_per_family: int | None = None,
    protocol: str | None = None,
    revision: str | None = None,
    explain: int | None = None,
) -> "pd.DataFrame":
    """Rank the zoo's checkpoints for fine-tuning on `dataset`, best first.

    `dataset`: an alias ("cifar100"), a Hub dataset id ("uoft-cs/cifar100") or a registered name;
    an unknown name raises `UnknownDatasetError` listing the closest names. `zoo`: None (the
    embedded default, no network), a `Zoo`, or a Hub dataset repo id (`revision`: its branch, tag or
    commit; see `Zoo.from_hub`). Filters: `max_params` (int or
    "50M"), `licenses` (one or several license ids, e.g. "apache-2.0"), `library` ("timm" or
    "transformers"); models whose size or license is unknown do not pass a size or license filter.
    A license or library that no model of the zoo has is refused (the error lists the zoo's own);
    when only some of the values are unknown, a `FilterWarning` names them, as it does when no model
    passes the filters together. `max_per_family`: keep at most this many models of one architecture
    family (e.g. 1 or 2), so that many pre-training tags of one network do not fill the list.
    `protocol`: rank as under one fine-tuning protocol of the records (see `protocols()`, e.g.
    "vtab1k_hf": 1,000 training examples, "transfergraph_hf": full fine-tuning); None (default)
    follows the dataset's full-data fine-tuning records where it has any (a dataset id names the
    whole dataset), and places a dataset without records under every fine-tuning protocol; either
    way the records count only as far as a standing measured under one protocol carries to another
    (`TransferSpace.protocol_transfer`), while a named protocol takes them in full. `images`: place the dataset from this many of its images (needs a zoo
    with an image proxy and the Hub). `explain`: write the `why` of the best this-many rows only
    (the others' is empty), for callers that show a few rows of a long ranking; None explains all.

    Returns a DataFrame, one row per model, best first; models whose dot products agree to 6
    significant digits (float32 noise, which varies with the BLAS build) are ordered by model id.
    Its columns:

    - rank, model_id (the Hub repo id, or a namespaced benchmark id such as ``pytorchcv/resnet18``),
      score (0-100, rescaled within this query over the whole zoo: 100 = best model in the zoo),
      params, library, license, why (one sentence);
    - url: the model's Hub page (missing for ids that are not Hub repos);
    - timm_name: for timm rows, what ``timm.create_model(timm_name, pretrained=True)`` takes (a timm
      name, or ``hf-hub:<repo id>``); missing for other libraries. For transformers rows the repo id is
      the name: ``AutoModelForImageClassification.from_pretrained(model_id)``;
    - same_weights_as: the same weights published under another id (a checkpoint published twice is
      one model, listed once, unless the filters keep only the other upload);
    - fine_tuned_on_query: True when the checkpoint was itself trained on the queried dataset (its
      ``source_dataset``), e.g. an EuroSAT fine-tune when ranking for EuroSAT;
    - downloads, likes, gated: from the Hub where the zoo's crawl recorded them, else missing;
    - raw_score (the dot product), vector_source, pipeline_tag, input_size, pretrain, family,
      source_dataset.

    `df.attrs` records the resolved dataset, the zoo and its revision, the filters, and how many
    models were ranked. Bad arguments raise `RecommendArgumentError` (a ValueError; its subclass
    `RecommendTypeError` is also a TypeError); Hub failures raise `fennec_hub.hub.HubError`.

    (Long on purpose: half of it is this docstring; the body checks, ranks, filters and assembles the table in order.)

    """
    import pandas as pd

    _check_arguments(dataset, top_k, max_per_family, protocol, images, token)
    _positive_int(explain, "explain")
    limit = parse_params(max_params)
    lic = _as_set(licenses, "licenses")
    lib = _as_set(library, "library")

    z = _get_zoo(zoo, token, revision)
    cols = z.columns()
    _check_filter(lib, _known_values(z, cols, "library_lc"), "library", "library", "libraries")
    _check_filter(lic, _known_values(z, cols, "license_lc"), "licenses", "license", "licenses")
    if images is not None and "image" not in z.proxies:
        raise RecommendArgumentError("images", "this zoo has no image-proxy regressor, so images= cannot be used "
                                     "with it; omit images= to place the task from its metadata")
    task = _task_for(z, dataset, images, token, protocol)
    raw = z.scores(task.vector)
    from .zoo import settled

    order_key = settled(raw, digits=6)  # float32 products: models scored alike tie, then go by id

    candidate = cols["candidate"]  # test and toy repositories are in the zoo's table, not in rankings
    mask = candidate.copy()
    if limit is not None:
        mask &= np.nan_to_num(cols["params_f"], nan=np.inf) <= limit
    if lic is not None:
        mask &= np.isin(cols["license_lc"], list(lic))
    if lib is not None:
        mask &= np.isin(cols["library_lc"], list(lib))
    mask = z.listed(mask)  # a checkpoint published twice, once

    idx = np.flatnonzero(mask) if not mask.all() else np.arange(len(raw))
    if max_per_family is not None:
        idx = _cap_per_family(idx, order_key, cols, int(max_per_family))
    k = len(idx) if top_k is None else min(int(top_k), len(idx))
    if k and k < len(idx):
        # keep a margin over k so that ties at the cut are broken by model id, not by position
        kk = min(len(idx), k + 16)
        idx = idx[np.argpartition(-order_key[idx], kk - 1)[:kk]]
    ids = cols["model_id"][idx]
    idx = idx[np.lexsort((ids, -order_key[idx]))][:k]
    filters = {"max_params": limit, "licenses": sorted(lic) if lic else None,
               "library": sorted(lib) if lib else None, "max_per_family": max_per_family}
    if len(raw) and not len(idx):
        warnings.warn(f"no model of the zoo's {len(raw):,} passes the filters ({_describe_filters(filters)}); "
                      "loosen one of them", FilterWarning, stacklevel=2)

    lo, hi = (float(raw[candidate].min()), float(raw[candidate].max())) if candidate.any() else (0.0, 0.0)
    span = hi - lo
    score = (np.round(100.0 * (raw[idx].astype(np.float64) - lo) / span, 1) if span > 0
             else np.full(len(idx), 100.0))

    explainer = _Explainer(z, task) if len(idx) else None
    shown = idx if explain is None else idx[: int(explain)]
    why = [explainer.sentence(_Row(cols, i)) for i in shown] if explainer else []
    why += [""] * (len(idx) - len(why))
    ids = cols["model_id"][idx]

    stored_timm = cols.get("timm_name")
    sources = _source_datasets(z, idx, cols)
    hub = _hub_columns(z, cols)

    out = pd.DataFrame({
        "rank": np.arange(1, len(idx) + 1),
        "model_id": ids,
        "score": score,
        "params": pd.array(cols["params_f"][idx], dtype="Int64") if len(idx) else pd.array([], dtype="Int64"),
        "library": cols["library"][idx],
        "license": cols["license"][idx],
        "why": why,
        "url": pd.array([model_url(str(m)) for m in ids], dtype=object),
        "timm_name": pd.array([_loadable_timm_name(cols, i, stored_timm) for i in idx], dtype=object),
        "same_weights_as": pd.array([cols["model_id"][a] if a >= 0 else None
                                     for a in cols["alias_row"][idx]], dtype=object),
        "fine_tuned_on_query": np.array([s is not None and s == task.id for s in sources], dtype=bool),
        "downloads": pd.arrays.IntegerArray(*(a[idx] for a in hub["downloads"])),
        "likes": pd.arrays.IntegerArray(*(a[idx] for a in hub["likes"])),
        "gated": pd.arrays.BooleanArray(*(a[idx] for a in hub["gated"])),
        "raw_score": raw[idx].astype(float),
        "vector_source": cols["vector_source"][idx],
        "pipeline_tag": cols["pipeline_tag"][idx],
        "input_size": pd.array(cols["input_size_f"][idx], dtype="Int64") if len(idx) else pd.array([], dtype="Int64"),
        "pretrain": cols["pretrain"][idx],
        "family": cols["family"][idx],
        "source_dataset": pd.array(sources, dtype=object),
    })
    out.attrs.update(
        dataset=task.id,
        dataset_query=str(dataset) if isinstance(dataset, str) else task.id,
        dataset_name=task.name,
        task_vector_source=task.source,
        nearest_tasks=explainer.nearest if explainer else [],
        nearest_task_names=[explainer._name(t) for t in explainer.nearest] if explainer else [],
        zoo=z.source,
        zoo_revision=z.revision or z.fingerprint,
        n_models=int(candidate.sum()),
        n_ranked=int(mask.sum()),
        protocol=protocol,
        filters=filters,
        predicts="score: predicted fine-tuning transfer, 0-100 within this query (100 = best in the zoo); "
                 "raw_score is the transfer-space dot product",
    )
    return out


def _describe_filters(filters: dict[str, Any], protocol: str | None = None) -> str:
    """The filters (and protocol) in words, e.g. "params <= 50M; license in apache-2.0"."""
    shown = []
    if filters.get("max_params"):
        shown.append(f"params <= {_fmt_params(filters['max_params'])}")
    if filters.get("licenses"):
        shown.append("license in " + ",".join(filters["licenses"]))
    if filters.get("library"):
        shown.append("library in " + ",".join(filters["library"]))
    if filters.get("max_per_family"):
        n = filters["max_per_family"]
        shown.append(f"at most {n} model{'s' if n != 1 else ''} per architecture family")
    if protocol:
        shown.append(f"fine-tuning protocol: {protocol} (ranked as its records rank models)")
    return "; ".join(shown) if shown else "none"


_SOURCE_TEXT = {
    "history": "from its fine-tuning history",
    "metadata": "from its metadata and description (no fine-tuning history)",
    "images": "from image features",
    "stored": "stored in the zoo",
}


def _count(v: Any) -> str:
    return f"{v:,}" if isinstance(v, (int, np.integer)) else "?"


def format_table(df: "pd.DataFrame", width: int | None = None) -> str:
    """A terminal-friendly rendering of a recommend() result: header lines, aligned columns, and how
    to load the first model.

    Model ids are never cut: when the terminal is too narrow, the "why" sentence is shortened first,
    then moved onto its own line under each row.
    """
    import shutil

    width = width or max(80, min(shutil.get_terminal_size((160, 24)).columns, 220))
    a = df.attrs
    src = _SOURCE_TEXT.get(a.get("task_vector_source", ""), a.get("task_vector_source", ""))
    lines = [
        f"{a.get('dataset_query', '?')} -> {a.get('dataset_name', '?')} ({a.get('dataset', '?')}); task vector {src}",
        f"zoo: {a.get('zoo', '?')} @ {str(a.get('zoo_revision', '?'))[:12]}; ranked {_count(a.get('n_ranked'))} of "
        f"{_count(a.get('n_models'))} models",
        "score = predicted fine-tuning transfer, rescaled 0-100 within this query (100 = best in the zoo)",
        "filters: " + _describe_filters(a.get("filters") or {}, a.get("protocol")),
    ]
    if a.get("nearest_tasks"):
        names = a.get("nearest_task_names") or a["nearest_tasks"]
        lines.append("closest recorded tasks (models rank alike there): " + ", ".join(names))
    lines.append("")
    if not len(df):
        lines.append("No model passes the filters.")
        return "\n".join(lines)
    cells = [(str(r.rank), str(r.model_id), f"{r.score:5.1f}", _fmt_params(r.params), str(r.library or "?"),
              str(r.license) if _ok(r.license) else "?", str(r.why)) for r in df.itertuples(index=False)]
    head = ("#", "model", "score", "params", "library", "license", "why")
    widths = [max(len(head[i]), *(len(c[i]) for c in cells)) for i in range(6)]
    if width - (sum(widths) + 2 * 6) < 50:  # a long license name gives way before the why does
        widths[5] = min(widths[5], 14)
    right = {0, 2, 3}

    def fmt(row: Sequence[str]) -> str:
        out = []
        for i in range(6):
            v = row[i] if i == 1 or len(row[i]) <= widths[i] else row[i][: widths[i] - 1] + "…"
            out.append(v.rjust(widths[i]) if i in right else v.ljust(widths[i]))
        prefix = "  ".join(out) + "  "
        room = max(width - len(prefix), 20)
        w = row[6] if len(row[6]) <= room else row[6][: room - 1] + "…"
        return prefix + w

    prefix_len = sum(widths) + 2 * 6
    if width - prefix_len >= 50:
        lines.append(fmt(head))
        lines.extend(fmt(c) for c in cells)
    else:  # narrow terminal: the why goes on its own line under each row
        for row in [head, *cells]:
            lines.append(fmt(tuple(row[:6]) + ("",)).rstrip())
            if row is not head:
                w = row[6] if len(row[6]) <= width - 6 else row[6][: width - 7] + "…"
                lines.append("      " + w)
    lines.extend(_footer(df))
    return "\n".join(lines)


def _footer(df: "pd.DataFrame") -> list[str]:
    """Lines under the table: how to load the first model, and which rows are already fine-tuned
    on the queried dataset."""
    notes = []
    first = df.iloc[0]
    timm_name = first.get("timm_name") if "timm_name" in df.columns else None
    if isinstance(timm_name, str) and timm_name:
        notes.append(f'load #1: timm.create_model("{timm_name}", pretrained=True)')
    elif str(first.get("library") or "").lower() == "transformers" and model_url(str(first["model_id"])):
        notes.append(f'load #1: transformers.AutoModelForImageClassification.from_pretrained("{first["model_id"]}")')
    if "fine_tuned_on_query" in df.columns:
        done = [f"#{r}" for r, f in zip(df["rank"], df["fine_tuned_on_query"]) if f is True or f is np.True_]
        if done:
            name = df.attrs.get("dataset_name") or df.attrs.get("dataset") or "this dataset"
            notes.append(f"already fine-tuned on {name}: {', '.join(done)} (use as is, or fine-tune further)")
    return [""] + notes if notes else []
