"""The zoo: the published artifact that `recommend()` ranks.

A zoo holds one row per candidate checkpoint (Hub id, transfer-space vector, archi2vec vector,
parameters, library, license, pipeline tag, input size, pre-training data, and whether the vector
comes from fine-tuning history or is a cold start from the architecture), one row per task
(canonical dataset id, vector, metadata), the fine-tuning records it was built from (so every
ranking can say *why*), and the TransferSpace that encodes new tasks and models.

On disk and on the Hub it is a dataset repo that `datasets.load_dataset(repo_id, "models")` reads
without a script:

    README.md                            dataset card (YAML `configs:`, schema, provenance)
    zoo.json                             manifest: schema version, dims, counts, sha256 of every file
    data/models-00000-of-00001.parquet   one row per model (metadata + vector columns)
    data/tasks-00000-of-00001.parquet    one row per task
    data/history-00000-of-00001.parquet  the fine-tuning records behind the history vectors
    vectors.safetensors                  model_vectors [n, d], archi2vec [n, A], task_vectors [m, d]
    space/                               the TransferSpace (safetensors + JSON)

No pickle anywhere. Loading verifies the size and sha256 of every file listed in `zoo.json` before
parsing anything, then parses and checks every table and array (column types, shapes, dtypes,
finite values, the transfer space and task proxies), so a corrupt, truncated or malformed zoo is
rejected at load with a `ZooFormatError` naming the file, and nothing is half-loaded.
`Zoo.from_hub` reads `zoo.json` first and then fetches only the files it lists, each checked
against the repo's file sizes and the byte bounds before any download.

Building a zoo is `fennec_hub.build`'s job. This module is longer than most (about 1,000 lines)
because it is the whole file format, whose parts share its constants and checks: the Zoo class,
saving, the checks that loading makes of every file (manifest, tables, arrays, space, proxies),
the Hub round trip and the dataset card.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from . import hub

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from huggingface_hub import DatasetCardData

    from .space import TransferSpace

__all__ = ["Zoo", "ZooFormatError", "SCHEMA_VERSION", "DEFAULT_ZOO_DIR"]

SCHEMA_VERSION = 1
FORMAT_NAME = "fennec-hub-zoo"
MANIFEST = "zoo.json"
MODELS_FILE = "data/models-00000-of-00001.parquet"
TASKS_FILE = "data/tasks-00000-of-00001.parquet"
HISTORY_FILE = "data/history-00000-of-00001.parquet"
VECTORS_FILE = "vectors.safetensors"
SPACE_DIR = "space"
SPACE_FILES = ("space.json", "space.safetensors")  # what TransferSpace.save writes
PROXIES_DIR = "proxies"
CARD_FILE = "README.md"
DEFAULT_ZOO_DIR = Path(__file__).resolve().parent / "data" / "zoo"

# Bounds for untrusted zoos downloaded from the Hub.
MAX_MANIFEST_BYTES = 4 << 20
MAX_FILE_BYTES = 2 << 30
#: Default bound of all the files of one zoo fetched by `Zoo.from_hub` (its `max_bytes`).
MAX_ZOO_BYTES = 4 << 30
MAX_FILES = 256
#: Repo files a zoo repo may hold besides the ones zoo.json lists (never read).
_REPO_HOUSEKEEPING = (".gitattributes", MANIFEST)

#: Metadata columns of the models table, in order (the vector columns follow in the parquet file).
MODEL_COLUMNS = (
    "model_id", "library", "license", "pipeline_tag", "params", "input_size", "pretrain",
    "family", "architecture", "imagenet_top1", "vector_source", "n_records",
    # later additions: zoos written before them load with None here
    "source_dataset", "timm_name", "downloads", "likes", "gated", "imagenet_from", "same_as", "twins",
    "excluded",
)
TASK_COLUMNS = ("task_id", "name", "domain", "num_classes", "train_size", "vector_source", "n_records")
HISTORY_COLUMNS = ("model_id", "dataset", "metric", "value", "benchmark", "rank", "n_models")
_INT_COLUMNS = {"params", "input_size", "n_records", "num_classes", "train_size", "rank", "n_models",
                "downloads", "likes"}
_FLOAT_COLUMNS = {"value", "imagenet_top1"}


def settled(scores: np.ndarray, digits: int = 12) -> np.ndarray:
    """``scores`` rounded to ``digits`` significant digits of their largest magnitude, so that models
    scored alike tie: identical vectors in different rows of one matrix product can differ in the
    last bits, by an amount that depends on the BLAS build, and an order taken from those bits would
    differ from machine to machine."""
    s = np.asarray(scores, dtype=float)
    finite = np.abs(s[np.isfinite(s)])
    scale = float(finite.max()) if len(finite) else 0.0
    return np.round(s / scale, digits) * scale if scale > 0 else s


class ZooFormatError(ValueError):
    """A zoo directory or repo is missing files, corrupt, truncated or of an unknown schema."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_relpath(rel: str) -> str:
    """Reject manifest paths that could escape the zoo directory."""
    if not isinstance(rel, str) or not rel or len(rel) > 300:
        raise ZooFormatError(f"invalid file name in {MANIFEST}: {rel!r}")
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or "\\" in rel or rel.startswith("/"):
        raise ZooFormatError(f"unsafe file name in {MANIFEST}: {rel!r}")
    return p.as_posix()


def _list_files(root: Path) -> list[str]:
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != MANIFEST and ".cache" not in p.relative_to(root).parts:
            out.append(p.relative_to(root).as_posix())
    return out


def _to_int_or_none(v: Any) -> int | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f):
        return None
    return int(round(f))


def _str_or_none(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    s = str(v).strip()
    return s or None


def _list_column(mat: np.ndarray):
    """A pyarrow list<float32> column from an [n, d] matrix (readable by `datasets`)."""
    import pyarrow as pa

    mat = np.ascontiguousarray(mat, dtype=np.float32)
    n, d = mat.shape
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32) if n else np.zeros(1, np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(mat.reshape(-1)))


def _table_from_frame(df: "pd.DataFrame", columns: Sequence[str], vectors: Mapping[str, np.ndarray]):
    """A pyarrow table with a fixed column order and explicit types (stable across builds)."""
    import pyarrow as pa

    arrays, names = [], []
    for c in columns:
        values = df[c].tolist() if c in df.columns else [None] * len(df)
        if c in _INT_COLUMNS:
            arrays.append(pa.array([_to_int_or_none(v) for v in values], type=pa.int64()))
        elif c in _FLOAT_COLUMNS:
            arrays.append(pa.array([None if v is None or (isinstance(v, float) and math.isnan(v))
                                    else float(v) for v in values], type=pa.float64()))
        else:
            arrays.append(pa.array([_str_or_none(v) for v in values], type=pa.string()))
        names.append(c)
    for name, mat in vectors.items():
        arrays.append(_list_column(mat))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


#: Columns a table cannot do without (the others may be absent and read as empty).
_REQUIRED = {MODELS_FILE: ("model_id",), TASKS_FILE: ("task_id",),
             HISTORY_FILE: ("model_id", "dataset", "metric", "value")}
_VECTOR_COLUMNS = ("vector", "archi2vec")


def _column_kind_ok(name: str, typ: Any) -> tuple[bool, str]:
    """Whether a parquet column type fits the zoo schema, and what was expected."""
    import pyarrow as pa

    t = pa.types
    if t.is_null(typ):
        return True, ""
    if name in _INT_COLUMNS:
        return t.is_integer(typ), "integers"
    if name in _FLOAT_COLUMNS:
        return t.is_floating(typ) or t.is_integer(typ), "numbers"
    if name in _VECTOR_COLUMNS:
        ok = (t.is_list(typ) or t.is_large_list(typ) or t.is_fixed_size_list(typ)) and t.is_floating(typ.value_type)
        return ok, "lists of floats"
    return t.is_string(typ) or t.is_large_string(typ), "strings"


def _read_table(root: Path, rel: str, columns: Sequence[str]) -> "pd.DataFrame":
    """One zoo table, its schema checked (column types, required columns) before it is used."""
    import pyarrow.parquet as pq

    path = root / rel
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ZooFormatError(f"cannot read {rel}: {exc}") from exc
    for name in _REQUIRED.get(rel, ()):
        if name not in schema.names:
            raise ZooFormatError(f"{rel} has no {name!r} column")
    for name in [*columns, *_VECTOR_COLUMNS]:
        if name in schema.names:
            ok, expected = _column_kind_ok(name, schema.field(name).type)
            if not ok:
                raise ZooFormatError(f"{rel}: column {name!r} holds {schema.field(name).type}, expected {expected}")
    try:
        table = pq.read_table(path, columns=[c for c in columns if c in schema.names])
    except Exception as exc:
        raise ZooFormatError(f"cannot read {rel}: {exc}") from exc
    df = table.to_pandas()
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[list(columns)]


def _check_history(df: "pd.DataFrame") -> "pd.DataFrame":
    """The history table with every record complete: ids present, a finite value."""
    for c in ("model_id", "dataset", "metric"):
        if df[c].isna().any():
            raise ZooFormatError(f"{HISTORY_FILE}: a record has no {c}")
    values = df["value"].to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(values).all():
        raise ZooFormatError(f"{HISTORY_FILE}: a record's value is missing, NaN or infinite")
    return df


def _int_column(col: "pd.Series") -> "pd.Series":
    """Nullable Int64 (vectorised when the column is already numeric: loading stays fast)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return pd.to_numeric(col, errors="coerce").round().astype("Int64")
    return pd.Series(pd.array([_to_int_or_none(v) for v in col], dtype="Int64"), index=col.index)


def _str_column(col: "pd.Series") -> "pd.Series":
    """Object column of stripped strings with None for missing/empty values."""
    import pandas as pd

    if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
        s = col.str.strip()
        return s.where(s.notna() & (s != ""), None).astype(object).where(lambda x: x.notna(), None)
    return pd.Series([_str_or_none(v) for v in col], index=col.index, dtype=object)


def _coerce_models(df: "pd.DataFrame") -> "pd.DataFrame":
    import pandas as pd

    df = df.copy()
    for c in MODEL_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[list(MODEL_COLUMNS) + [c for c in df.columns if c not in MODEL_COLUMNS]]
    for c in ("params", "input_size", "n_records", "downloads", "likes"):
        df[c] = _int_column(df[c])
    df["n_records"] = df["n_records"].fillna(0)
    df["imagenet_top1"] = pd.to_numeric(df["imagenet_top1"], errors="coerce").astype(float)
    for c in MODEL_COLUMNS:
        if c not in _INT_COLUMNS and c not in _FLOAT_COLUMNS:
            df[c] = _str_column(df[c])
    df["vector_source"] = df["vector_source"].fillna("cold_start")
    df["library"] = df["library"].fillna("unknown")
    return df.reset_index(drop=True)


def _coerce_tasks(df: "pd.DataFrame") -> "pd.DataFrame":
    df = df.copy()
    for c in TASK_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[list(TASK_COLUMNS)]
    for c in ("num_classes", "train_size", "n_records"):
        df[c] = _int_column(df[c])
    df["n_records"] = df["n_records"].fillna(0)
    for c in ("task_id", "name", "domain", "vector_source"):
        df[c] = _str_column(df[c])
    df["name"] = [n or t for n, t in zip(df["name"], df["task_id"])]
    return df.reset_index(drop=True)


def _check_matrix(name: str, mat: Any, rows: int, cols: int | None = None, *, stored: bool = False) -> np.ndarray:
    """``mat`` as a finite float32 [rows, cols] array. ``stored``: read from a file, so it must
    already hold floats (no silent conversion of a wrong dtype)."""
    if not isinstance(mat, np.ndarray) or mat.ndim != 2:
        raise ZooFormatError(f"{VECTORS_FILE}: {name} must be a 2-d array")
    if stored and not np.issubdtype(mat.dtype, np.floating):
        raise ZooFormatError(f"{VECTORS_FILE}: {name} holds {mat.dtype}, expected floats")
    if mat.shape[0] != rows or (cols is not None and mat.shape[1] != cols):
        raise ZooFormatError(f"{VECTORS_FILE}: {name} has shape {mat.shape}, expected ({rows}, {cols if cols is not None else 'd'})")
    mat = np.ascontiguousarray(mat, dtype=np.float32)
    if not np.isfinite(mat).all():
        raise ZooFormatError(f"{VECTORS_FILE}: {name} contains NaN or infinite values")
    return mat


# --------------------------------------------------------------------------------------------
# the Zoo
# --------------------------------------------------------------------------------------------

class Zoo:
    """A ranked-in-one-matvec collection of model vectors, task vectors and their metadata.

    Build one with `Zoo.build` (your own checkpoints) or `fennec_hub.build.build_default_zoo`;
    load one with `Zoo.default()` (embedded, offline), `Zoo.load(dir)` or `Zoo.from_hub(repo_id)`;
    publish it with `push_to_hub`. `recommend(dataset, zoo=...)` ranks it.
    """

    def __init__(
        self,
        models: "pd.DataFrame",
        model_vectors: np.ndarray,
        tasks: "pd.DataFrame",
        task_vectors: np.ndarray,
        *,
        archi2vec_vectors: np.ndarray | None = None,
        history: "pd.DataFrame | None" = None,
        space: "TransferSpace | None" = None,
        info: Mapping[str, Any] | None = None,
        revision: str | None = None,
        source: str = "memory",
        proxies: Mapping[str, Any] | None = None,
    ) -> None:
        import pandas as pd

        self.models = _coerce_models(models)
        self.tasks = _coerce_tasks(tasks)
        n, m = len(self.models), len(self.tasks)
        if self.models["model_id"].isna().any():
            raise ZooFormatError("every model row needs a model_id")
        if self.models["model_id"].duplicated().any():
            dup = self.models.loc[self.models["model_id"].duplicated(), "model_id"].iloc[0]
            raise ZooFormatError(f"duplicate model_id in zoo: {dup!r}")
        if self.tasks["task_id"].duplicated().any():
            raise ZooFormatError("duplicate task_id in zoo")
        self.model_vectors = _check_matrix("model_vectors", np.asarray(model_vectors), n)
        d = self.model_vectors.shape[1]
        self.task_vectors = _check_matrix("task_vectors", np.asarray(task_vectors, dtype=np.float32).reshape(m, -1) if m else np.zeros((0, d), np.float32), m, d)
        if archi2vec_vectors is None:
            archi2vec_vectors = np.zeros((n, 0), np.float32)
        self.archi2vec_vectors = _check_matrix("archi2vec", np.asarray(archi2vec_vectors), n)
        if history is None:
            history = pd.DataFrame(columns=list(HISTORY_COLUMNS))
        self._history = history
        self._space = space
        self._proxies: dict[str, Any] = dict(proxies or {})
        self.info: dict[str, Any] = dict(info or {})
        #: Hub commit sha this zoo was read at (None for local/embedded zoos).
        self.revision: str | None = revision
        #: Where the zoo came from ("embedded", a directory, or hf://datasets/<repo>@<sha>).
        self.source = source
        self._model_index: dict[str, int] | None = None
        self._task_index: dict[str, int] | None = None
        self._history_by_model: dict[str, list[tuple]] | None = None
        self._fingerprint: str | None = self.info.get("fingerprint")

    # ---- basic accessors ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.models)

    def __repr__(self) -> str:
        rev = f", revision={self.revision[:12]}" if self.revision else ""
        return (f"Zoo({len(self.models)} models, {len(self.tasks)} tasks, d={self.dim}, "
                f"source={self.source!r}{rev})")

    @property
    def dim(self) -> int:
        """Dimension of the transfer space."""
        return int(self.model_vectors.shape[1])

    @property
    def model_ids(self) -> list[str]:
        return self.models["model_id"].tolist()

    @property
    def fingerprint(self) -> str:
        """A short content hash (of the manifest's file checksums): identifies the zoo's contents."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(self.model_vectors.tobytes())
            h.update(self.task_vectors.tobytes())
            h.update("\n".join(self.model_ids).encode())
            self._fingerprint = h.hexdigest()[:12]
        return self._fingerprint

    @property
    def label(self) -> str:
        """Human-readable identity: source and revision, for headers and results."""
        if self.revision:
            return f"{self.source} (revision {self.revision[:12]})"
        return f"{self.source} (fingerprint {self.fingerprint})"

    @property
    def history(self) -> "pd.DataFrame":
        """The fine-tuning records the zoo's history vectors were fitted on (long format)."""
        return self._history

    @property
    def space(self) -> "TransferSpace":
        """The TransferSpace used to encode new tasks and models."""
        if self._space is None:
            raise ZooFormatError(f"zoo {self.source!r} carries no transfer space; new tasks cannot be encoded")
        return self._space

    @property
    def proxies(self) -> dict[str, Any]:
        """Task-proxy regressors (name -> fennec_hub.tasks.ProxyRegressor) shipped with the zoo, if any."""
        return self._proxies

    @proxies.setter
    def proxies(self, value: Mapping[str, Any] | None) -> None:
        self._proxies = dict(value or {})

    @property
    def has_space(self) -> bool:
        return self._space is not None

    def model_index(self, model_id: str) -> int:
        """Row of `model_id` in `models` / `model_vectors` (KeyError if absent)."""
        if self._model_index is None:
            self._model_index = {m: i for i, m in enumerate(self.models["model_id"])}
        return self._model_index[model_id]

    def task_index(self, task_id: str) -> int | None:
        """Row of a task in `tasks` / `task_vectors`, or None if the zoo has no vector for it."""
        if self._task_index is None:
            self._task_index = {t: i for i, t in enumerate(self.tasks["task_id"])}
        return self._task_index.get(task_id)

    def task_vector(self, task_id: str) -> np.ndarray | None:
        i = self.task_index(task_id)
        return None if i is None else self.task_vectors[i]

    def history_of(self, model_id: str) -> list[tuple]:
        """Records of one model: (dataset, metric, value, rank, n_models), best rank first."""
        if self._history_by_model is None:
            idx: dict[str, list[tuple]] = {}
            h = self.history
            if len(h):
                cols = [h[c].tolist() for c in ("model_id", "dataset", "metric", "value", "rank", "n_models")]
                for m, ds, metric, value, rank, n in zip(*cols):
                    idx.setdefault(m, []).append((ds, metric, value, _to_int_or_none(rank), _to_int_or_none(n)))
            for v in idx.values():
                v.sort(key=lambda r: ((r[3] or 10**9) / max(r[4] or 1, 1), r[0]))
            self._history_by_model = idx
        return self._history_by_model.get(model_id, [])

    def columns(self) -> dict[str, np.ndarray]:
        """The models table as plain numpy arrays (cached): what recommend() slices per query."""
        cache = self.__dict__.get("_columns_cache")
        if cache is None:
            m = self.models
            cache = {c: m[c].to_numpy(dtype=object) for c in m.columns}
            cache["params_f"] = m["params"].to_numpy(dtype="float64", na_value=np.nan)
            cache["input_size_f"] = m["input_size"].to_numpy(dtype="float64", na_value=np.nan)
            cache["license_lc"] = np.array([str(v).lower() if v is not None else "" for v in cache["license"]], dtype=object)
            cache["library_lc"] = np.array([str(v).lower() if v is not None else "" for v in cache["library"]], dtype=object)
            excluded = cache.get("excluded", np.full(len(m), None, dtype=object))
            cache["candidate"] = np.array([not (isinstance(v, str) and v) for v in excluded], dtype=bool)
            # Identical weights published twice: the row of the twin with records, and back.
            row = {mid: i for i, mid in enumerate(cache["model_id"])}
            same = cache.get("same_as", np.full(len(m), None, dtype=object))
            is_timm = np.array([str(v).startswith("timm/") for v in cache["model_id"]], dtype=bool)
            copies = [i for i, v in enumerate(same) if isinstance(v, str)]
            # Copies of a recorded model the zoo does not list (a benchmark's Keras network): the
            # first timm copy stands for them.
            for i in sorted(copies, key=lambda i: not is_timm[i]):
                row.setdefault(same[i], i)
            cache["same_as_row"] = np.array([row.get(v, -1) if isinstance(v, str) else -1 for v in same], np.int64)
            cache["same_as_row"][cache["same_as_row"] == np.arange(len(m))] = -1
            alias = np.full(len(m), -1, np.int64)
            for i in sorted(np.flatnonzero(cache["same_as_row"] >= 0), key=lambda i: is_timm[i]):
                alias[cache["same_as_row"][i]] = i  # a timm copy, which timm can load, over another upload
            cache["alias_row"] = alias
            self.__dict__["_columns_cache"] = cache
        return cache

    def listed(self, keep: np.ndarray) -> np.ndarray:
        """Which rows a ranking lists among those ``keep`` marks (candidates that pass its filters):
        a checkpoint published twice with the same weights is listed once, as the copy with records
        (its twin's id and timm name go along), unless ``keep`` drops that copy."""
        twin = self.columns()["same_as_row"]
        listed_twice = twin >= 0
        listed_twice[listed_twice] = keep[twin[listed_twice]]
        return keep & ~listed_twice

    def scores(self, task_vector: np.ndarray) -> np.ndarray:
        """Raw transfer scores of every model for one task vector: one matrix-vector product."""
        return self.model_vectors @ np.asarray(task_vector, dtype=np.float32)

    # ---- save / load ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike, *, repo_id: str | None = None) -> Path:
        """Write the zoo as a dataset-repo directory (parquet + safetensors + card + manifest).

        The directory is written next to `path` and moved into place, so a reader never sees a
        half-written zoo. An existing directory is replaced only if it is empty or holds a zoo.
        `repo_id`: the Hub dataset repo the zoo is written for; its card then shows how to load it.
        """
        target = Path(path)
        if target.exists() and any(target.iterdir()) and not (target / MANIFEST).exists():
            raise FileExistsError(f"{target} exists and is not a zoo directory; refusing to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".zoo-", dir=target.parent))
        try:
            self._write(tmp, repo_id=repo_id)
            umask = os.umask(0)
            os.umask(umask)
            for p in [tmp, *tmp.rglob("*")]:  # mkdtemp and safetensors create owner-only files
                p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def _write(self, root: Path, *, repo_id: str | None = None) -> None:
        import pyarrow.parquet as pq
        from safetensors.numpy import save_file

        (root / "data").mkdir(parents=True, exist_ok=True)
        vec_cols = {"vector": self.model_vectors}
        if self.archi2vec_vectors.shape[1]:
            vec_cols["archi2vec"] = self.archi2vec_vectors
        pq.write_table(_table_from_frame(self.models, MODEL_COLUMNS, vec_cols), root / MODELS_FILE,
                       compression="zstd")
        pq.write_table(_table_from_frame(self.tasks, TASK_COLUMNS, {"vector": self.task_vectors}),
                       root / TASKS_FILE, compression="zstd")
        pq.write_table(_table_from_frame(self.history, HISTORY_COLUMNS, {}), root / HISTORY_FILE,
                       compression="zstd")
        arrays = {"model_vectors": self.model_vectors, "archi2vec": self.archi2vec_vectors,
                  "task_vectors": self.task_vectors}
        save_file(arrays, str(root / VECTORS_FILE), metadata={"format": FORMAT_NAME})
        if self._space is not None:
            self._space.save(root / SPACE_DIR)
        if self._proxies:
            from .tasks import save_proxies

            save_proxies(self._proxies, root / PROXIES_DIR)
        info = {k: v for k, v in self.info.items()
                if k not in ("files", "counts", "dims", "schema_version", "format", "fingerprint")}
        manifest: dict[str, Any] = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "dims": {"vector": self.dim, "archi2vec": int(self.archi2vec_vectors.shape[1])},
            "counts": self._counts(),
            **info,
        }
        (root / CARD_FILE).write_text(_dataset_card(manifest, repo_id), encoding="utf-8")
        files = {}
        for rel in _list_files(root):
            p = root / rel
            files[rel] = {"sha256": _sha256(p), "size": p.stat().st_size}
        manifest["files"] = files
        manifest["fingerprint"] = hashlib.sha256(
            json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
        (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def _counts(self) -> dict[str, int]:
        src = self.models["vector_source"].value_counts()
        h = self.history
        return {
            "models": len(self.models),
            "history_models": int(src.get("history", 0)),
            "cold_start_models": int(src.get("cold_start", 0)),
            "tasks": len(self.tasks),
            "history_tasks": int((self.tasks["vector_source"] == "history").sum()),
            "records": int(len(h)),
        }

    @classmethod
    def load(cls, path: str | os.PathLike, *, revision: str | None = None, source: str | None = None) -> "Zoo":
        """Read a zoo directory: every listed file's size and sha256 first, then every table and
        array parsed and checked (types, shapes, finite values), the transfer space and task
        proxies included. Any problem raises `ZooFormatError` naming the file; nothing is
        half-loaded, and nothing fails later for a reason loading could have seen. Files the
        manifest does not list are never read."""
        from safetensors.numpy import load_file

        root = Path(path)
        manifest = _read_manifest(root)
        _verify_files(root, manifest)
        listed = manifest["files"]
        models = _read_table(root, MODELS_FILE, MODEL_COLUMNS)
        tasks = _read_table(root, TASKS_FILE, TASK_COLUMNS)
        if tasks["task_id"].isna().any():
            raise ZooFormatError(f"{TASKS_FILE}: a task has no task_id")
        try:  # (older zoos also hold an archi2vec PCA, a2v_pca_*: nothing reads it, it is ignored)
            arrays = load_file(str(root / VECTORS_FILE))
        except Exception as exc:
            raise ZooFormatError(f"cannot read {VECTORS_FILE}: {exc}") from exc
        for key in ("model_vectors", "task_vectors"):
            if key not in arrays:
                raise ZooFormatError(f"{VECTORS_FILE} lacks the {key!r} array")
        dims = manifest["dims"]
        mv = _check_matrix("model_vectors", arrays["model_vectors"], len(models), dims.get("vector"), stored=True)
        tv = _check_matrix("task_vectors", arrays["task_vectors"], len(tasks), mv.shape[1], stored=True)
        av = arrays.get("archi2vec", np.zeros((len(models), 0), np.float32))
        av = _check_matrix("archi2vec", av, len(models), dims.get("archi2vec"), stored=True)
        if HISTORY_FILE in listed:
            history = _check_history(_read_table(root, HISTORY_FILE, HISTORY_COLUMNS))
        else:
            history = None
        counts = manifest.get("counts", {})
        for key, n in (("models", len(models)), ("tasks", len(tasks)),
                       ("records", None if history is None else len(history))):
            if n is not None and key in counts and counts[key] != n:
                raise ZooFormatError(f"{MANIFEST} counts {counts[key]} {key}, the zoo holds {n}")
        space = _load_space(root, listed, mv.shape[1])
        proxies = _load_proxies(root, listed, mv.shape[1])
        info = {k: v for k, v in manifest.items() if k not in ("files",)}
        return cls(models, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, info=info,
                   revision=revision, source=source or str(root), proxies=proxies)

    @classmethod
    def default(cls) -> "Zoo":
        """The zoo embedded in the package: no network, loaded once per process."""
        global _DEFAULT_ZOO
        if _DEFAULT_ZOO is None:
            if not (DEFAULT_ZOO_DIR / MANIFEST).exists():
                raise ZooFormatError(
                    f"the embedded default zoo is missing from {DEFAULT_ZOO_DIR}; build it with "
                    "`fennec-hub build-zoo` (or `python scripts/build_default_zoo.py`)")
            _DEFAULT_ZOO = cls.load(DEFAULT_ZOO_DIR, source="embedded default zoo")
        return _DEFAULT_ZOO

    # ---- the Hub ------------------------------------------------------------------------------

    @classmethod
    def from_hub(cls, repo_id: str, revision: str | None = None, token: str | bool | None = None, *,
                 endpoint: str | None = None, max_bytes: int | None = MAX_ZOO_BYTES,
                 max_file_bytes: int | None = MAX_FILE_BYTES) -> "Zoo":
        """Load a zoo dataset repo through the Hub cache, pinned to one commit.

        `repo_id`: ``owner/name``, ``hf://datasets/owner/name`` or the repo's URL; `revision`: a
        branch, tag, commit or ``refs/pr/N``. Only `zoo.json` is fetched first; then exactly the
        files it lists, each checked against the repo's file sizes, `max_file_bytes` and (all
        together) `max_bytes` before anything else is downloaded. A file on the repo that
        `zoo.json` does not list is never downloaded nor read (a warning names it). Every file's
        sha256 is verified and every table parsed before the zoo is returned (see `load`).
        With `HF_HUB_OFFLINE=1`, or when the Hub cannot be reached, the cached copy is used. The
        commit read is `zoo.revision`. Errors: `hub.RepoNotFound`, `hub.GatedRepo`,
        `hub.RevisionNotFound`, `hub.HubOffline` (unreachable or offline and not cached;
        `hub.HubTimeout` when the Hub does not answer), `hub.DownloadTooLarge` (over a bound),
        `hub.InvalidRepoId`, `ZooFormatError` (not a zoo, or corrupt or malformed).
        """
        repo_id = hub.parse_repo_id(repo_id, repo_type="dataset", argument="repo_id")
        where = f"dataset repo {repo_id!r} (revision {revision or 'main'})"
        try:
            manifest_path = Path(hub.download(repo_id, MANIFEST, repo_type="dataset", revision=revision,
                                              max_bytes=MAX_MANIFEST_BYTES, endpoint=endpoint, token=token))
        except hub.EntryNotFound as exc:
            raise ZooFormatError(f"{where} is not a fennec_hub zoo: it has no {MANIFEST}") from exc
        except hub.DownloadTooLarge as exc:
            raise ZooFormatError(f"{where}: its {MANIFEST} is over the {MAX_MANIFEST_BYTES}-byte limit of a "
                                 "zoo manifest") from exc
        root = manifest_path.parent  # the cache's snapshot folder of the commit zoo.json was read at
        commit = root.name if re.fullmatch(r"[0-9a-f]{40}", root.name) else revision
        manifest = _read_manifest(root)
        files: dict[str, dict] = manifest["files"]
        sizes: Mapping[str, int | None] | None = None
        if not hub.is_offline():
            try:
                sizes = hub.repo_files(repo_id, repo_type="dataset", revision=commit, endpoint=endpoint,
                                       token=token).sizes
            except hub.HubOffline:  # unreachable (zoo.json came from the cache): the cache decides
                sizes = None
        if sizes is not None:
            unlisted = sorted(set(sizes) - set(files) - set(_REPO_HOUSEKEEPING))
            if unlisted:
                shown = ", ".join(unlisted[:5]) + (f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else "")
                warnings.warn(f"{where}: ignoring {len(unlisted)} file(s) that {MANIFEST} does not list "
                              f"(never downloaded): {shown}", stacklevel=2)
            for rel, meta in files.items():
                if rel not in sizes:
                    raise ZooFormatError(f"{where}: {MANIFEST} lists {rel}, which the repo does not hold")
                if sizes[rel] is not None and sizes[rel] != meta["size"]:
                    raise ZooFormatError(f"{where}: {rel} is {sizes[rel]} bytes on the Hub, {MANIFEST} says "
                                         f"{meta['size']}")
        hub.check_sizes(repo_id, {rel: meta["size"] for rel, meta in files.items()}, max_file_bytes=max_file_bytes,
                        max_bytes=max_bytes, where=where)
        for rel, meta in files.items():
            hub.download(repo_id, rel, repo_type="dataset", revision=commit, size=meta["size"],
                         max_bytes=max_file_bytes, endpoint=endpoint, token=token)
        zoo = cls.load(root, revision=commit, source=f"hf://datasets/{repo_id}")
        zoo.info["repo_id"] = repo_id
        return zoo

    def push_to_hub(self, repo_id: str, *, token: str | bool | None = None, private: bool | None = None,
                    revision: str | None = None, create_pr: bool = False, commit_message: str | None = None,
                    commit_description: str | None = None, endpoint: str | None = None) -> Any:
        """Publish the zoo as a dataset repo in one commit, replacing what the repo held.

        The repo (created if needed) ends up holding exactly this zoo's files: files of an
        earlier zoo that this one lacks are deleted in the same commit (``upload_folder`` with
        ``delete_patterns``). `revision`: a branch to push to (created if needed); `create_pr`:
        open a pull request against ``main`` instead of committing to it. The card names
        `repo_id`. Returns huggingface_hub's ``CommitInfo`` (a ``str``: the commit URL; with
        `create_pr`, ``.pr_url`` / ``.pr_revision``).
        """
        repo_id = hub.parse_repo_id(repo_id, repo_type="dataset", argument="repo_id")
        with tempfile.TemporaryDirectory(prefix="fennec-zoo-push-") as tmp:
            root = self.save(Path(tmp) / "zoo", repo_id=repo_id)
            c = self._counts()
            msg = commit_message or (f"fennec_hub zoo: {c['models']} models, {c['tasks']} tasks "
                                     f"(schema {SCHEMA_VERSION})")
            return hub.push_folder(repo_id, root, repo_type="dataset", private=private, revision=revision,
                                   create_pr=create_pr, commit_message=msg, commit_description=commit_description,
                                   delete_patterns="*", token=token, endpoint=endpoint)

    # ---- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        models: Iterable[str | Mapping[str, Any] | tuple],
        space: "TransferSpace | Zoo | None" = None,
        *,
        token: str | bool | None = None,
        endpoint: str | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> "Zoo":
        """Encode your own checkpoints (Hub ids, private repos, local configs) into a custom zoo.

        `models` items: a Hub model id or timm name (`"timm/resnet50.a1_in1k"`, `"my-org/my-vit"`);
        a path to a `config.json` (or a folder holding one); a `(model_id, config)` pair; or a dict
        with `model_id` and optional `config` (dict or path), `library`, `license`, `pipeline_tag`,
        `params`, `input_size`, `pretrain`. Models the space has history for keep their history
        vectors; the others get cold-start vectors from their architecture (archi2vec) and
        metadata. A Hub id whose config is not shipped is fetched (`config.json`, with `token`
        for private repos) through `fennec_hub.hub`. `space` defaults to the default zoo's space;
        passing a Zoo reuses its space, task vectors and records.

        Building is `fennec_hub.build`'s job (`build_custom_zoo`); it imports this module, so it is
        imported here, when called, and this module stays free of the build's imports.
        """
        from .build import build_custom_zoo

        return build_custom_zoo(models, space, token=token, endpoint=endpoint, name=name,
                                description=description)


_DEFAULT_ZOO: Zoo | None = None


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not root.is_dir():
        raise ZooFormatError(f"{root} is not a zoo directory")
    if not path.is_file():
        raise ZooFormatError(f"{root} is not a fennec_hub zoo: {MANIFEST} is missing")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ZooFormatError(f"{MANIFEST} is {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooFormatError(f"{MANIFEST} is corrupt or truncated: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ZooFormatError(f"{MANIFEST} does not describe a {FORMAT_NAME} (format={manifest.get('format') if isinstance(manifest, dict) else None!r})")
    sv = manifest.get("schema_version")
    if not isinstance(sv, int) or sv > SCHEMA_VERSION or sv < 1:
        raise ZooFormatError(f"zoo schema version {sv!r} is not supported by this fennec_hub "
                             f"(supports 1..{SCHEMA_VERSION}); upgrade fennec_hub")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files or len(files) > MAX_FILES:
        raise ZooFormatError(f"{MANIFEST} has no valid file list")
    checked: dict[str, dict] = {}
    for rel, meta in files.items():
        rel = _safe_relpath(rel)
        if (not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str)
                or not re.fullmatch(r"[0-9a-f]{64}", meta["sha256"]) or type(meta.get("size")) is not int
                or meta["size"] < 0):
            raise ZooFormatError(f"{MANIFEST}: bad entry for {rel}")
        checked[rel] = meta
    manifest["files"] = checked
    for rel in (MODELS_FILE, TASKS_FILE, VECTORS_FILE):
        if rel not in checked:
            raise ZooFormatError(f"{MANIFEST} does not list {rel}")
    for key in ("dims", "counts"):
        value = manifest.setdefault(key, {})
        if not isinstance(value, dict) or not all(type(v) is int and v >= 0 for v in value.values()):
            raise ZooFormatError(f"{MANIFEST}: {key!r} must map names to non-negative integers")
    return manifest


def _verify_files(root: Path, manifest: Mapping[str, Any]) -> None:
    for rel, meta in manifest["files"].items():
        p = root / rel
        if not p.is_file():
            raise ZooFormatError(f"zoo file {rel} is missing")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ZooFormatError(f"zoo file {rel} is {size} bytes, over the limit")
        if size != meta["size"]:
            raise ZooFormatError(f"zoo file {rel} is truncated or corrupt: {size} bytes, expected {meta['size']}")
        if _sha256(p) != meta["sha256"]:
            raise ZooFormatError(f"zoo file {rel} is corrupt: its sha256 does not match {MANIFEST}")


def _json_file(root: Path, rel: str) -> Any:
    try:
        return json.loads((root / rel).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ZooFormatError(f"{rel} is not valid JSON: {exc}") from exc


def _str_list(value: Any) -> bool:
    """A list of strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _load_space(root: Path, listed: Mapping[str, Any], dim: int) -> "TransferSpace | None":
    """The zoo's TransferSpace (None when it has none). `TransferSpace.load` checks every field and
    array of it; a space that fails, or whose vectors do not have the zoo's dimension, is a
    `ZooFormatError` naming the file."""
    names = [f"{SPACE_DIR}/{n}" for n in SPACE_FILES]
    present = [n for n in names if n in listed]
    if not present:
        return None
    if len(present) != len(names):
        raise ZooFormatError(f"{MANIFEST} lists {present[0]} but not {(set(names) - set(present)).pop()}")
    from .space import TransferSpace

    try:
        space = TransferSpace.load(root / SPACE_DIR)
    except (OSError, ValueError) as exc:
        raise ZooFormatError(f"cannot load the transfer space in {SPACE_DIR}/: {exc}") from exc
    if space.dim != dim:
        raise ZooFormatError(f"{names[0]}: the space has dimension {space.dim}, the zoo's vectors {dim}")
    return space


def _load_proxies(root: Path, listed: Mapping[str, Any], dim: int) -> dict[str, Any]:
    """The zoo's task-proxy regressors (name -> ProxyRegressor), each checked: its files listed in
    the manifest, well formed (`ProxyRegressor.load`), and predicting vectors of the zoo's dimension."""
    index_rel = f"{PROXIES_DIR}/index.json"
    if index_rel not in listed:
        if any(rel.startswith(PROXIES_DIR + "/") for rel in listed):
            raise ZooFormatError(f"{MANIFEST} lists task-proxy files but not {index_rel}")
        return {}
    index = _json_file(root, index_rel)
    names = index.get("proxies") if isinstance(index, dict) else None
    if not _str_list(names) or not all(re.fullmatch(r"[\w\-]+", n) for n in names):
        raise ZooFormatError(f"{index_rel}: 'proxies' must be a list of names")
    from .tasks import ProxyRegressor

    out = {}
    for name in names:
        rels = [f"{PROXIES_DIR}/{name}.json", f"{PROXIES_DIR}/{name}.safetensors"]
        missing = [r for r in rels if r not in listed]
        if missing:
            raise ZooFormatError(f"{index_rel} names the {name!r} proxy but {MANIFEST} does not list {missing[0]}")
        try:
            reg = ProxyRegressor.load(root / PROXIES_DIR / name)
        except Exception as exc:  # safetensors, JSON and field errors alike
            raise ZooFormatError(f"cannot load the {name!r} task proxy ({rels[0]}): "
                                 f"{type(exc).__name__}: {exc}") from exc
        if reg.coef.shape[0] != dim:
            raise ZooFormatError(f"{rels[1]}: coef {reg.coef.shape} / intercept {reg.intercept.shape} do not map "
                                 f"to the zoo's {dim} dimensions")
        out[name] = reg
    return out


def _size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket of a table of ``n`` rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((label for bound, label in bounds if n < bound), "n>1T")


def _dataset_card(m: Mapping[str, Any], repo_id: str | None = None) -> str:
    """README.md of a zoo dataset repo, built with huggingface_hub's ``DatasetCard``: metadata
    (license, task and size categories, ``configs:`` pointing at the parquet tables) + a readable
    body. With ``repo_id`` the loading examples name the repo; without, the local directory."""
    from huggingface_hub import DatasetCard

    card = DatasetCard("---\n" + _card_data(m).to_yaml() + "\n---\n\n" + "\n".join(_card_body(m, repo_id)))
    return str(card.content)


def _card_data(m: Mapping[str, Any]) -> "DatasetCardData":
    """The card's metadata (huggingface_hub ``DatasetCardData``): license, categories, tags and the
    ``configs:`` that let ``datasets.load_dataset`` read the parquet tables."""
    from huggingface_hub import DatasetCardData

    c = m.get("counts", {})
    lic = m.get("license") or "other"
    extra = ({"license_name": m.get("license_name") or "fennec-hub-zoo-mixed", "license_link": "README.md"}
             if lic == "other" else {})
    return DatasetCardData(
        license=lic, pretty_name=m.get("name") or "fennec_hub zoo", task_categories=["image-classification"],
        size_categories=[_size_category(int(c.get("models") or 0))],
        tags=["fennec-hub", "model-recommendation", "transfer-learning", "image-classification"],
        configs=[
            {"config_name": "models", "default": True,
             "data_files": [{"split": "train", "path": "data/models-*.parquet"}]},
            {"config_name": "tasks", "data_files": [{"split": "train", "path": "data/tasks-*.parquet"}]},
            {"config_name": "history", "data_files": [{"split": "train", "path": "data/history-*.parquet"}]},
        ],
        **extra,
    )


def _card_usage(repo_id: str | None) -> tuple[str, list[str]]:
    """How to rank the zoo (a sentence) and the loading example (markdown lines): naming the repo
    when there is one, else the local directory."""
    if repo_id:
        use = (f"Rank it with `fennec_hub.recommend(\"cifar100\", zoo=\"{repo_id}\")` or "
               f"`fennec-hub recommend cifar100 --zoo {repo_id}`.")
        loading = [
            "```python",
            "from fennec_hub import Zoo, recommend",
            f"zoo = Zoo.from_hub(\"{repo_id}\")          # pinned: zoo.revision is the commit read",
            "recommend(\"cifar100\", zoo=zoo)",
            "",
            "import datasets",
            f"models = datasets.load_dataset(\"{repo_id}\", \"models\", split=\"train\")",
            "```",
        ]
    else:
        use = ("Rank it with `fennec_hub.recommend(\"cifar100\", zoo=Zoo.load(path))` (`path`: this directory), "
               "or publish it with `zoo.push_to_hub(repo_id)`, which writes this card again naming the repo.")
        loading = [
            "```python",
            "from fennec_hub import Zoo, recommend",
            "zoo = Zoo.load(path)                     # path: this directory",
            "recommend(\"cifar100\", zoo=zoo)",
            "```",
        ]
    return use, loading


def _card_body(m: Mapping[str, Any], repo_id: str | None) -> list[str]:
    """The card's markdown lines: what the zoo holds, its files, how it was built, from which
    records, licenses and loading."""
    c = m.get("counts", {})
    d = m.get("dims", {})
    records = m.get("records") or []
    use, loading = _card_usage(repo_id)
    body = [
        f"# {m.get('name') or 'fennec_hub zoo'}",
        "",
        (m.get("description") or "Model and task vectors for fennec_hub, a recommender of pre-trained "
         "vision checkpoints to fine-tune."),
        "",
        use + " The score of model *m* for task *t* is the dot product of their vectors, so ranking the zoo "
        "is one matrix-vector product.",
        "",
        "## Contents",
        "",
        f"- schema version: {m.get('schema_version')} (format `{FORMAT_NAME}`)",
        f"- models: {c.get('models', '?')} ({c.get('history_models', '?')} with fine-tuning history, "
        f"{c.get('cold_start_models', '?')} cold start from architecture)",
        f"- tasks: {c.get('tasks', '?')} ({c.get('history_tasks', '?')} with history)",
        f"- fine-tuning records about these models: {c.get('records', '?')}"
        + (f" (the space was fitted on {m['fit_records']} records of {m['fit_models']} models, benchmark-only "
           "models that are not Hub checkpoints included)" if m.get("fit_records") else ""),
        f"- transfer-space dimension: {d.get('vector', '?')}; archi2vec dimension: {d.get('archi2vec', '?')}",
        f"- archi2vec version: {m.get('archi2vec_version', 'unknown')}",
        f"- built with fennec_hub {m.get('fennec_hub_version', 'unknown')}",
        "",
        "| file | content |",
        "|---|---|",
        "| `data/models-*.parquet` | one row per model: `model_id` (Hub id), library, license, pipeline tag, "
        "params, input size, pre-training data, family, `vector_source` (history / cold_start), "
        "`source_dataset` (the dataset it was last trained on), `timm_name`, downloads / likes / gated (where "
        "crawled), `vector`, `archi2vec` |",
        "| `data/tasks-*.parquet` | one row per task: canonical dataset id, name, domain, classes, size, `vector` |",
        "| `data/history-*.parquet` | the fine-tuning records behind the history vectors |",
        "| `vectors.safetensors` | `model_vectors` [n, d] (parquet row order), `archi2vec` [n, A], `task_vectors` [m, d] |",
        "| `space/` | the TransferSpace that encodes new tasks and models (safetensors + JSON) |",
        "| `zoo.json` | manifest: schema version, dims, counts and the sha256 of every file |",
        "",
        "## How it was built",
        "",
        m.get("how_built") or "See `zoo.json`.",
        "",
    ]
    if records:
        body += ["## Records used", ""] + [f"- {r}" for r in records] + [""]
    body += [
        "## License",
        "",
        "Each model row carries its checkpoint's own license (`license` column, empty where unknown); use a "
        "checkpoint under its license, not this repo's. The fine-tuning records are public research results "
        "(see the sources above; some of those repositories carry no licence file: cite the papers). The "
        "vectors themselves were computed by fennec_hub.",
        "",
        "## Loading",
        "",
        *loading,
        "",
        "Vectors are plain float32 arrays; nothing in this repo is pickled or executed.",
        "",
    ]
    return body
