"""recommend(): dataset name in, ranked Hub checkpoints out.

resolve the dataset -> its task vector (stored in the zoo, or encoded by the zoo's TransferSpace)
-> one matrix-vector product over the zoo -> filters -> top-k -> a short "why" per row.

Nothing here touches the network unless asked to: the default zoo is embedded in the package, and
the Hub is consulted only for a zoo given as a repo id or a dataset id the registry does not know
(both through `fennec_hub.hub`, which honours `HF_HUB_OFFLINE=1` without waiting).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .datasets import DatasetEntry
    from .zoo import Zoo

__all__ = ["recommend", "protocols", "parse_params", "format_table", "RESULT_COLUMNS"]

RESULT_COLUMNS = ("rank", "model_id", "score", "params", "library", "license", "why")
EXTRA_COLUMNS = ("raw_score", "vector_source", "pipeline_tag", "input_size", "pretrain", "family")

_HUB_ZOOS: dict[tuple, "Zoo"] = {}
_TASK_CACHE: dict[tuple, "_Task"] = {}
_LOCK = threading.Lock()
_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


@dataclass(frozen=True)
class _Task:
    id: str
    name: str
    vector: np.ndarray
    source: str  # how the task vector was obtained
    entry: Any = None


def parse_params(value: int | float | str | None) -> int | None:
    """Parameter count from an int or a string like "50M", "1.5B", "800k" (None passes through)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"max_params must be a number or a string like '50M', got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(value)) or value <= 0:
            raise ValueError(f"max_params must be positive, got {value!r}")
        return int(value)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBgGtT]?)\s*(?:params?)?\s*", str(value))
    if not m:
        raise ValueError(f"cannot read a parameter count from {value!r}; use e.g. 50M, 1.5B, 800k or 25000000")
    n = float(m.group(1)) * _SUFFIX[m.group(2).upper()]
    if n <= 0:
        raise ValueError(f"max_params must be positive, got {value!r}")
    return int(n)


def _as_set(value: str | Iterable[str] | None, what: str) -> set[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out = {str(v).strip().lower() for v in items if str(v).strip()}
    if not out:
        raise ValueError(f"{what} filter is empty")
    return out


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
    raise TypeError(f"zoo must be None, a Zoo or a Hub dataset repo id, got {type(zoo).__name__}")


def _hub_dataset_id(name: str) -> str | None:
    """The Hub dataset id ``name`` spells (``owner/name``, ``hf://datasets/...``, a Hub URL), or None."""
    from . import hub

    try:
        return hub.parse_repo_id(name, repo_type="dataset", argument="dataset")
    except ValueError:
        return None


def _resolve_entry(dataset: "str | DatasetEntry", token: str | bool | None) -> "DatasetEntry":
    """Registry first; a Hub dataset id the registry does not know goes to fennec_hub.tasks."""
    from .datasets import UnknownDatasetError, register_dataset, resolve_dataset

    try:
        return resolve_dataset(dataset)
    except UnknownDatasetError as exc:
        hub_id = _hub_dataset_id(dataset) if isinstance(dataset, str) else None
        if hub_id is None:
            raise
        try:
            from . import tasks
        except ImportError:
            raise exc from None
        resolver = getattr(tasks, "resolve_hub_dataset", None)
        if resolver is None:
            raise
        try:
            try:
                entry = resolver(hub_id, token=token)
            except TypeError:
                entry = resolver(hub_id)
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
        if images is not None:
            raise ValueError("protocol= and images= cannot be combined: the image proxy places tasks without "
                             "a protocol; drop one of them")
        entry = _resolve_entry(dataset, token)
        vec, how = _protocol_task_vector(zoo, entry, protocol)
        task = _Task(entry.id, entry.name, vec, how, entry)
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
    vec = np.asarray(vec, dtype=np.float32)
    if vec.shape != (zoo.dim,) or not np.isfinite(vec).all():
        raise ValueError(f"the zoo's transfer space gave an invalid task vector for {entry.id!r}")
    return vec, how


def protocols() -> dict[str, str]:
    """Fine-tuning protocols a ranking can follow (``recommend(protocol=...)``): name -> description.

    Each is one benchmark of `fennec_hub.records.BENCHMARKS`: its records' source and metric.
    """
    from .records import BENCHMARKS

    return {name: b.description for name, b in BENCHMARKS.items()}


def _protocol_task_vector(zoo: "Zoo", entry: "DatasetEntry", protocol: str) -> tuple[np.ndarray, str]:
    """Task vector under one fine-tuning protocol, from the zoo's transfer space: a recorded task
    uses that protocol's own records where it has them; a new task is placed among the protocol's
    recorded tasks by task similarity (metadata, and text where the space found it helps)."""
    from .records import BENCHMARKS, benchmark_protocol

    if protocol not in BENCHMARKS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(BENCHMARKS)}")
    source, metric = benchmark_protocol(protocol)
    space = zoo.space
    if source not in {s for s, _ in space.protocols}:
        raise ValueError(f"this zoo's transfer space has no records of protocol {protocol!r}")
    if entry.id in space.known_tasks:
        task, how = entry.id, "history"
    else:
        from .tasks import task_feature_row

        task, how = task_feature_row(entry), "metadata"
    vec = np.asarray(space.task_vector(task, source=source, metric=metric), dtype=np.float32)
    if vec.shape != (zoo.dim,) or not np.isfinite(vec).all():
        raise ValueError(f"the zoo's transfer space gave an invalid task vector for {entry.id!r}")
    return vec, how


def _task_vector_from_images(zoo: "Zoo", entry: "DatasetEntry", images: Any) -> np.ndarray:
    """The image proxy (fennec_hub.tasks): place the task from `images` images of its Hub dataset."""
    if "image" not in zoo.proxies:
        raise ValueError("this zoo has no image-proxy regressor, so images= cannot be used with it; "
                         "omit images= to place the task from its metadata")
    from .tasks import task_vector_from_proxies

    n = images if isinstance(images, int) and not isinstance(images, bool) else None
    if n is None or n < 1:
        raise ValueError(f"images must be a positive number of images to sample, got {images!r}")
    vec = np.asarray(task_vector_from_proxies(entry, zoo, images=n, progress=False), dtype=np.float32)
    if vec.shape != (zoo.dim,) or not np.isfinite(vec).all():
        raise ValueError(f"the image proxy gave an invalid task vector for {entry.id!r}")
    return vec


# --------------------------------------------------------------------------------------------
# explanations
# --------------------------------------------------------------------------------------------

def _metric_phrase(metric: str, value: float, dataset_name: str) -> str:
    v = f"{value:.1f}%"
    if metric.startswith("linear_probe"):
        return f"{v} linear-probe on {dataset_name}"
    if metric in ("top1", "top5"):
        return f"{metric.replace('top', 'top-')} {v} on {dataset_name}"
    return f"{v} fine-tuned on {dataset_name}"


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
        hist = self.zoo.history_of(model_id)
        if hist:
            same = [r for r in hist if r[0] == self.task.id]
            if same:
                ds, metric, value, rank, n = same[0]
                s = _metric_phrase(metric, value, self._name(ds))
                if rank and n:
                    s += f" in its records (#{rank} of {n})"
                return s[0].upper() + s[1:] + "."
            near = [r for r in hist if r[0] in self.nearest]
            if near:
                parts = []
                for ds, metric, value, rank, n in near[:2]:
                    parts.append(f"#{rank}/{n} on {self._name(ds)}" if rank and n else
                                 _metric_phrase(metric, value, self._name(ds)))
                return f"Ranked {' and '.join(parts)} in its records, tasks close to this one."
            ds, metric, value, rank, n = hist[0]
            extra = f" (#{rank} of {n})" if rank and n else ""
            return f"Best record: {_metric_phrase(metric, value, self._name(ds))}{extra}; none on tasks close to this one."
        bits = [f"{row.family} architecture" if _ok(row.family) else "its architecture"]
        if _ok(row.imagenet_top1):
            bits.append(f"ImageNet top-1 {float(row.imagenet_top1):.1f}%")
        if _ok(row.pretrain):
            bits.append(f"{row.pretrain} pre-training")
        elif _ok(row.params):
            bits.append(f"{_fmt_params(row.params)} params")
        return f"Cold start (no fine-tuning records): {', '.join(bits)}."


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


def recommend(
    dataset: "str | DatasetEntry",
    top_k: int | None = 10,
    *,
    zoo: "Zoo | str | None" = None,
    max_params: int | float | str | None = None,
    licenses: str | Sequence[str] | None = None,
    library: str | Sequence[str] | None = None,
    images: Any = None,
    token: str | bool | None = None,
    max_per_family: int | None = None,
    protocol: str | None = None,
    revision: str | None = None,
) -> "pd.DataFrame":
    """Rank the zoo's checkpoints for fine-tuning on `dataset`, best first.

    `dataset`: an alias ("cifar100"), a Hub dataset id ("uoft-cs/cifar100") or a registered name;
    an unknown name raises `UnknownDatasetError` listing the closest names. `zoo`: None (the
    embedded default, no network), a `Zoo`, or a Hub dataset repo id (`revision`: its branch, tag or
    commit; see `Zoo.from_hub`). Filters: `max_params` (int or
    "50M"), `licenses` (one or several license ids, e.g. "apache-2.0"), `library` ("timm" or
    "transformers"); models whose size or license is unknown do not pass a size or license filter.
    `max_per_family`: keep at most this many models of one architecture family (e.g. 1 or 2), so
    that many pre-training tags of one network do not fill the list. `protocol`: rank as under one
    fine-tuning protocol of the records (see `protocols()`, e.g. "vtab1k_hf": 1,000 training examples,
    "transfergraph_hf": full fine-tuning); None (default) uses every protocol's records.

    Returns a DataFrame with columns rank, model_id, score (0-100, rescaled within this query over
    the whole zoo: 100 = best model in the zoo), params, library, license, why, plus raw_score
    (the dot product), vector_source, pipeline_tag, input_size, pretrain, family. `df.attrs`
    records the resolved dataset, the zoo and its revision, and how many models were ranked.
    """
    import pandas as pd

    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if max_per_family is not None and (not isinstance(max_per_family, (int, np.integer))
                                       or isinstance(max_per_family, bool) or max_per_family < 1):
        raise ValueError(f"max_per_family must be a positive integer or None, got {max_per_family!r}")
    limit = parse_params(max_params)
    lic = _as_set(licenses, "licenses")
    lib = _as_set(library, "library")

    z = _get_zoo(zoo, token, revision)
    task = _task_for(z, dataset, images, token, protocol)
    raw = z.scores(task.vector)
    cols = z.columns()

    mask = np.ones(len(raw), dtype=bool)
    if limit is not None:
        mask &= np.nan_to_num(cols["params_f"], nan=np.inf) <= limit
    if lic is not None:
        mask &= np.isin(cols["license_lc"], list(lic))
    if lib is not None:
        mask &= np.isin(cols["library_lc"], list(lib))

    idx = np.flatnonzero(mask) if not mask.all() else np.arange(len(raw))
    if max_per_family is not None:
        idx = _cap_per_family(idx, raw, cols, int(max_per_family))
    k = len(idx) if top_k is None else min(int(top_k), len(idx))
    if k and k < len(idx):
        # keep a margin over k so that ties at the cut are broken by model id, not by position
        kk = min(len(idx), k + 16)
        idx = idx[np.argpartition(-raw[idx], kk - 1)[:kk]]
    ids = cols["model_id"][idx]
    idx = idx[np.lexsort((ids, -raw[idx]))][:k]

    lo, hi = (float(raw.min()), float(raw.max())) if len(raw) else (0.0, 0.0)
    span = hi - lo
    score = (np.round(100.0 * (raw[idx].astype(np.float64) - lo) / span, 1) if span > 0
             else np.full(len(idx), 100.0))

    explainer = _Explainer(z, task) if len(idx) else None
    why = [explainer.sentence(_Row(cols, i)) for i in idx] if explainer else []
    out = pd.DataFrame({
        "rank": np.arange(1, len(idx) + 1),
        "model_id": cols["model_id"][idx],
        "score": score,
        "params": pd.array(cols["params_f"][idx], dtype="Int64") if len(idx) else pd.array([], dtype="Int64"),
        "library": cols["library"][idx],
        "license": cols["license"][idx],
        "why": why,
        "raw_score": raw[idx].astype(float),
        "vector_source": cols["vector_source"][idx],
        "pipeline_tag": cols["pipeline_tag"][idx],
        "input_size": pd.array(cols["input_size_f"][idx], dtype="Int64") if len(idx) else pd.array([], dtype="Int64"),
        "pretrain": cols["pretrain"][idx],
        "family": cols["family"][idx],
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
        n_models=len(raw),
        n_ranked=int(mask.sum()),
        protocol=protocol,
        filters={"max_params": limit, "licenses": sorted(lic) if lic else None,
                 "library": sorted(lib) if lib else None, "max_per_family": max_per_family},
        predicts="score: predicted fine-tuning transfer, 0-100 within this query (100 = best in the zoo); "
                 "raw_score is the transfer-space dot product",
    )
    return out


_SOURCE_TEXT = {
    "history": "from its fine-tuning history",
    "metadata": "from its metadata and description (no fine-tuning history)",
    "images": "from image features",
    "stored": "stored in the zoo",
}


def format_table(df: "pd.DataFrame", width: int | None = None) -> str:
    """A terminal-friendly rendering of a recommend() result: header lines + aligned columns."""
    import shutil

    width = width or max(80, min(shutil.get_terminal_size((160, 24)).columns, 220))
    a = df.attrs
    src = _SOURCE_TEXT.get(a.get("task_vector_source", ""), a.get("task_vector_source", ""))
    lines = [
        f"{a.get('dataset_query', '?')} -> {a.get('dataset_name', '?')} ({a.get('dataset', '?')}); task vector {src}",
        f"zoo: {a.get('zoo', '?')} @ {str(a.get('zoo_revision', '?'))[:12]}; ranked {a.get('n_ranked', '?'):,} of "
        f"{a.get('n_models', '?'):,} models",
        "score = predicted fine-tuning transfer, rescaled 0-100 within this query (100 = best in the zoo)",
    ]
    if a.get("protocol"):
        lines.append(f"fine-tuning protocol: {a['protocol']} (ranked as its records rank models)")
    filt = {k: v for k, v in (a.get("filters") or {}).items() if v}
    if filt:
        shown = []
        if filt.get("max_params"):
            shown.append(f"params <= {_fmt_params(filt['max_params'])}")
        if filt.get("licenses"):
            shown.append("license in " + ",".join(filt["licenses"]))
        if filt.get("library"):
            shown.append("library in " + ",".join(filt["library"]))
        lines.append("filters: " + "; ".join(shown))
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
    widths[1] = min(widths[1], 48)
    widths[5] = min(widths[5], 14)
    right = {0, 2, 3}

    def fmt(row: Sequence[str]) -> str:
        out = []
        for i in range(6):
            v = row[i] if len(row[i]) <= widths[i] else row[i][: widths[i] - 1] + "…"
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
    return "\n".join(lines)
