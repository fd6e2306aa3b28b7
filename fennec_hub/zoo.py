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

from ._extras import needs

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .space import TransferSpace

__all__ = ["Zoo", "ZooFormatError", "SCHEMA_VERSION", "build_default_zoo", "DEFAULT_ZOO_DIR"]

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
VECTOR_SOURCES = ("history", "cold_start")

PREDICTS = ("predicted fine-tuning transfer (higher = expected to fine-tune better on this dataset), "
            "from the transfer space's dot product")


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
    import pandas as pd

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

    Build one with `Zoo.build` (your own checkpoints) or `build_default_zoo`; load one with
    `Zoo.default()` (embedded, offline), `Zoo.load(dir)` or `Zoo.from_hub(repo_id)`; publish it
    with `push_to_hub`. `recommend(dataset, zoo=...)` ranks it.
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
        a2v_pca: Mapping[str, np.ndarray] | None = None,
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
        #: The archi2vec PCA ({"mean", "components"}) behind the space's a2v_* features, if any:
        #: Zoo.build uses it so that new models get the same features the space was fitted on.
        self.a2v_pca = None if a2v_pca is None else {k: np.asarray(v, dtype=np.float64) for k, v in a2v_pca.items()}
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
        if callable(self._history):
            self._history = self._history()
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
            cache["same_as_row"] = np.array([row.get(v, -1) if isinstance(v, str) else -1 for v in same], np.int64)
            alias = np.full(len(m), -1, np.int64)
            alias[cache["same_as_row"][cache["same_as_row"] >= 0]] = np.flatnonzero(cache["same_as_row"] >= 0)
            cache["alias_row"] = alias
            self.__dict__["_columns_cache"] = cache
        return cache

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
        if self.a2v_pca is not None:
            arrays["a2v_pca_mean"] = np.ascontiguousarray(self.a2v_pca["mean"], dtype=np.float64).reshape(1, -1)
            arrays["a2v_pca_components"] = np.ascontiguousarray(self.a2v_pca["components"], dtype=np.float64)
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
        try:
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
        pca = _check_pca(arrays, av.shape[1])
        space = _load_space(root, listed, mv.shape[1])
        proxies = _load_proxies(root, listed, mv.shape[1])
        info = {k: v for k, v in manifest.items() if k not in ("files",)}
        return cls(models, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, info=info,
                   revision=revision, source=source or str(root), a2v_pca=pca, proxies=proxies)

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
        from . import hub

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
        total = 0
        for rel, meta in files.items():
            if max_file_bytes is not None and meta["size"] > max_file_bytes:
                raise hub.DownloadTooLarge(f"refusing to download {rel} of {where}: it is {meta['size']:,} "
                                           f"bytes, over the {max_file_bytes:,}-byte bound (max_file_bytes)")
            total += meta["size"]
        if max_bytes is not None and total > max_bytes:
            raise hub.DownloadTooLarge(f"refusing to download {where}: its {len(files)} files are {total:,} "
                                       f"bytes together, over the {max_bytes:,}-byte bound (max_bytes)")
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
        from . import hub

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
        """
        return _build_custom(cls, models, space, token=token, endpoint=endpoint, name=name,
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


def _check_pca(arrays: Mapping[str, np.ndarray], a2v_dim: int) -> dict[str, np.ndarray] | None:
    """The archi2vec PCA stored beside the vectors (or None), checked: floats, finite, matching shapes."""
    if "a2v_pca_mean" not in arrays and "a2v_pca_components" not in arrays:
        return None
    mean, comp = arrays.get("a2v_pca_mean"), arrays.get("a2v_pca_components")
    if mean is None or comp is None:
        raise ZooFormatError(f"{VECTORS_FILE}: the archi2vec PCA needs both a2v_pca_mean and a2v_pca_components")
    for name, a in (("a2v_pca_mean", mean), ("a2v_pca_components", comp)):
        if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            raise ZooFormatError(f"{VECTORS_FILE}: {name} must hold finite floats")
    mean = mean.reshape(-1)
    if comp.ndim != 2 or comp.shape[1] != mean.shape[0] or (a2v_dim and mean.shape[0] != a2v_dim):
        raise ZooFormatError(f"{VECTORS_FILE}: inconsistent archi2vec PCA arrays (mean {mean.shape}, "
                             f"components {comp.shape}, archi2vec dimension {a2v_dim})")
    return {"mean": mean, "components": comp}


def _json_file(root: Path, rel: str) -> Any:
    try:
        return json.loads((root / rel).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ZooFormatError(f"{rel} is not valid JSON: {exc}") from exc


def _str_list(value: Any, width: int | None = None) -> bool:
    """A list of strings (``width``: a list of lists of that many strings)."""
    if not isinstance(value, list):
        return False
    if width is None:
        return all(isinstance(v, str) for v in value)
    return all(isinstance(v, list) and len(v) == width and all(isinstance(x, str) for x in v) for v in value)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    the manifest, finite float arrays, and predictions of the zoo's dimension."""
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
        coef, icpt = reg.coef, reg.intercept
        if (not isinstance(coef, np.ndarray) or coef.ndim != 2 or coef.shape[0] != dim
                or not isinstance(icpt, np.ndarray) or icpt.shape != (dim,)):
            raise ZooFormatError(f"{rels[1]}: coef {getattr(coef, 'shape', None)} / intercept "
                                 f"{getattr(icpt, 'shape', None)} do not map to the zoo's {dim} dimensions")
        for a_name, a in (("coef", coef), ("intercept", icpt)):
            if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
                raise ZooFormatError(f"{rels[1]}: {a_name} must hold finite floats")
        if not isinstance(reg.meta, dict) or not isinstance(reg.meta.get("encoder", ""), str):
            raise ZooFormatError(f"{rels[0]}: malformed 'meta'")
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
    from huggingface_hub import DatasetCard, DatasetCardData

    c = m.get("counts", {})
    d = m.get("dims", {})
    name = m.get("name") or "fennec_hub zoo"
    lic = m.get("license") or "other"
    records = m.get("records") or []
    extra = ({"license_name": m.get("license_name") or "fennec-hub-zoo-mixed", "license_link": "README.md"}
             if lic == "other" else {})
    data = DatasetCardData(
        license=lic, pretty_name=name, task_categories=["image-classification"],
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
    body = [
        f"# {name}",
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
    card = DatasetCard("---\n" + data.to_yaml() + "\n---\n\n" + "\n".join(body))
    return str(card.content)


def build_default_zoo(out: str | os.PathLike = DEFAULT_ZOO_DIR, **options: Any) -> Zoo:
    """Build the embedded default zoo from the bundled records, timm's catalogue and shipped configs.

    Deterministic: the same records, library versions and options give the same files.
    """
    return _build_default(Path(out), **options)


# --------------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------------

#: Namespaces of benchmark models that are not downloadable Hub checkpoints (kept out of zoos).
NON_HUB_NAMESPACES = ("pytorchcv/", "parc/", "keras/", "vtab/", "torchvision/")
MAX_CONFIG_BYTES = 1 << 20


def _load_config(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json at {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes; not a model config")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return cfg


def _normalise_spec(item: Any) -> dict[str, Any]:
    """One model of `Zoo.build` as a dict with at least `model_id` (and maybe `config`)."""
    if isinstance(item, tuple) and len(item) == 2:
        spec: dict[str, Any] = {"model_id": str(item[0]), "config": item[1]}
    elif isinstance(item, Mapping):
        spec = dict(item)
        if "model_id" not in spec:
            raise ValueError(f"model spec {item!r} needs a 'model_id'")
    elif isinstance(item, (str, os.PathLike)):
        p = Path(item)
        if isinstance(item, os.PathLike) or (p.exists() and (p.suffix == ".json" or p.is_dir())):
            cfg = _load_config(p)
            name = (p.parent if p.suffix == ".json" else p).name or "model"
            spec = {"model_id": f"local/{name}", "config": cfg}
        else:
            spec = {"model_id": str(item).strip()}
    else:
        raise TypeError(f"cannot build a zoo entry from {type(item).__name__}")
    cfg = spec.get("config")
    if isinstance(cfg, (str, os.PathLike)):
        spec["config"] = _load_config(Path(cfg))
    return spec


def _encode(keys: Sequence[Any], progress: bool = False) -> tuple[dict[int, np.ndarray], dict[int, Any]]:
    """archi2vec vectors and ArchitectureInfo of each key (index -> value; failures are absent)."""
    import importlib

    # (fennec_hub.archi2vec the attribute is the function; the module must be imported by name)
    a2v = importlib.import_module("fennec_hub.archi2vec")

    vectors: dict[int, np.ndarray] = {}
    infos: dict[int, Any] = {}
    describe = getattr(a2v, "describe_architecture", None)
    it: Iterable[int] = range(len(keys))
    if progress:
        from huggingface_hub.utils import tqdm

        it = tqdm(list(it), desc="archi2vec", unit="arch")
    for i in it:
        key = keys[i]
        try:
            if describe is not None:
                info = describe(key)
                infos[i] = info
                vec = getattr(info, "vector", None)
                vectors[i] = np.asarray(vec if vec is not None else a2v.archi2vec(key), dtype=np.float32)
            else:
                vectors[i] = np.asarray(a2v.archi2vec(key), dtype=np.float32)
        except Exception:  # unknown/unsupported architecture: the model keeps metadata-only features
            continue
    return vectors, infos


def _fetch_config(model_id: str, token: str | bool | None, endpoint: str | None) -> dict[str, Any] | None:
    """config.json of a Hub model (private ones with `token`) through fennec_hub.hub, or None.

    Its size is checked before the download: over `MAX_CONFIG_BYTES` raises `hub.DownloadTooLarge`."""
    from . import hub

    try:
        path = hub.download(model_id, "config.json", max_bytes=MAX_CONFIG_BYTES, token=token, endpoint=endpoint)
    except hub.EntryNotFound:
        return None
    return _load_config(Path(path))


def history_table(records: "pd.DataFrame", models: Iterable[str] | None = None) -> "pd.DataFrame":
    """Records in the zoo's history format: value, and rank / group size within (benchmark, dataset, metric)."""
    import pandas as pd

    rec = records.dropna(subset=["value"]).copy()
    if "benchmark" not in rec.columns:
        rec["benchmark"] = rec["source"].astype(str).str.split("@").str[0]
    rec["benchmark"] = rec["benchmark"].fillna(rec["source"].astype(str).str.split("@").str[0])
    keys = ["benchmark", "dataset", "metric"]
    # one value per (model, group): the best run
    rec = rec.sort_values("value", ascending=False, kind="stable").drop_duplicates(["model"] + keys)
    grouped = rec.groupby(keys, sort=False)["value"]
    rec["rank"] = grouped.rank(method="min", ascending=False).astype(int)
    rec["n_models"] = grouped.transform("count").astype(int)
    if models is not None:
        rec = rec[rec["model"].isin(set(models))]
    out = pd.DataFrame({
        "model_id": rec["model"].astype(str), "dataset": rec["dataset"].astype(str),
        "metric": rec["metric"].astype(str), "value": rec["value"].astype(float),
        "benchmark": rec["benchmark"].astype(str), "rank": rec["rank"], "n_models": rec["n_models"],
    })
    return out.sort_values(["model_id", "dataset", "metric", "benchmark"], kind="stable").reset_index(drop=True)


def _task_rows(space: "TransferSpace", extra: Iterable[str] = ()) -> tuple["pd.DataFrame", np.ndarray]:
    """Task rows + vectors for every registry dataset and every dataset the space knows."""
    import pandas as pd

    from .datasets import list_datasets, resolve_dataset

    known = set(space.known_tasks)
    ids = sorted({e.id for e in list_datasets()} | known | set(extra))
    rows, vecs = [], []
    for t in ids:
        try:
            e = resolve_dataset(t)
        except (KeyError, ValueError):
            e = None
        try:
            v = np.asarray(space.task_vector(t), dtype=np.float32)
        except Exception:  # a task the space cannot place: leave it out of the zoo
            continue
        if not np.isfinite(v).all():
            continue
        rows.append({"task_id": t, "name": e.name if e else t, "domain": e.domain if e else None,
                     "num_classes": e.num_classes if e else None, "train_size": e.train_size if e else None,
                     "vector_source": "history" if t in known else "metadata"})
        vecs.append(v)
    d = space.dim
    return pd.DataFrame(rows), (np.stack(vecs) if vecs else np.zeros((0, d), np.float32))


def _build_custom(cls, models, space, *, token, endpoint, name, description) -> Zoo:
    import pandas as pd

    from . import __version__

    base: Zoo | None = None
    if space is None:
        base = Zoo.default()
        space = base.space
    elif isinstance(space, Zoo):
        base = space
        space = base.space
    specs = [_normalise_spec(m) for m in models]
    if not specs:
        raise ValueError("Zoo.build needs at least one model")
    ids = [s["model_id"] for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("Zoo.build: duplicate model ids")
    known = set(space.known_models)
    base_rows = {}
    if base is not None:
        base_rows = {m: i for i, m in enumerate(base.models["model_id"])}

    # Architecture: shipped/timm ids encode directly; other Hub ids fetch their config.json.
    keys: list[Any] = []
    for s in specs:
        keys.append(s.get("config") if s.get("config") is not None else s["model_id"])
    vectors, infos = _encode(keys)
    for i, s in enumerate(specs):
        if i in vectors or s.get("config") is not None or "/" not in s["model_id"] or s["model_id"].startswith(NON_HUB_NAMESPACES):
            continue
        if s["model_id"] in base_rows or s["model_id"] in known:
            continue
        cfg = _fetch_config(s["model_id"], token, endpoint)
        if cfg is not None:
            s["config"] = cfg
            v, inf = _encode([cfg])
            if 0 in v:
                vectors[i] = v[0]
            if 0 in inf:
                infos[i] = inf[0]

    rows = []
    for i, s in enumerate(specs):
        info = infos.get(i)
        cfg = s.get("config") or {}
        b = base.models.iloc[base_rows[s["model_id"]]] if s["model_id"] in base_rows else None

        def pick(key, *alts):
            if s.get(key) is not None:
                return s[key]
            for a in alts:
                if a is not None and not (isinstance(a, float) and math.isnan(a)):
                    return a
            return None

        params = pick("params", None if b is None else b["params"], getattr(info, "params", None))
        insize = getattr(info, "input_size", None)
        if isinstance(insize, (tuple, list)):
            insize = insize[-1] if insize else None
        rows.append({
            "model_id": s["model_id"],
            "library": pick("library", getattr(info, "library", None), None if b is None else b["library"],
                            "transformers" if cfg.get("model_type") else None),
            "license": pick("license", None if b is None else b["license"]),
            "pipeline_tag": pick("pipeline_tag", None if b is None else b["pipeline_tag"]),
            "params": params,
            "input_size": pick("input_size", insize, cfg.get("image_size") if isinstance(cfg.get("image_size"), int) else None,
                               None if b is None else b["input_size"]),
            "pretrain": pick("pretrain", None if b is None else b["pretrain"]),
            "family": pick("family", None if b is None else b["family"], getattr(info, "family", None), cfg.get("model_type")),
            "architecture": pick("architecture", (cfg.get("architectures") or [None])[0] if isinstance(cfg.get("architectures"), list) else None,
                                 None if b is None else b["architecture"]),
            "imagenet_top1": pick("imagenet_top1", None if b is None else b["imagenet_top1"]),
            "vector_source": "history" if s["model_id"] in known else "cold_start",
        })
    mdf = pd.DataFrame(rows)

    # Vectors: reuse the base zoo's rows where the model is there; otherwise ask the space, with
    # features built from the architecture vectors and metadata we just gathered.
    d = space.dim
    mv = np.zeros((len(specs), d), np.float32)
    todo = []
    for i, s in enumerate(specs):
        if s["model_id"] in base_rows and base is not None and base.dim == d:
            mv[i] = base.model_vectors[base_rows[s["model_id"]]]
        else:
            todo.append(i)
    if todo:
        feats = None
        try:
            from .features import build_model_features

            meta = pd.DataFrame({
                "params_m": [None if mdf.at[i, "params"] is None else float(mdf.at[i, "params"]) / 1e6 for i in todo],
                "img_size": [mdf.at[i, "input_size"] for i in todo],
                "imagenet_top1": [mdf.at[i, "imagenet_top1"] for i in todo],
                "pretrain": [mdf.at[i, "pretrain"] for i in todo],
            }, index=[ids[i] for i in todo]).astype({"params_m": float})
            feats = build_model_features([ids[i] for i in todo], meta,
                                         {ids[i]: vectors[i] for i in todo if i in vectors})
        except ImportError:
            feats = None
        mv[todo] = np.asarray(space.model_vectors([ids[i] for i in todo], model_features=feats), dtype=np.float32)
    A = max((v.shape[0] for v in vectors.values()), default=0)
    if base is not None and base.archi2vec_vectors.shape[1]:
        A = base.archi2vec_vectors.shape[1] if not vectors else A
    av = np.zeros((len(specs), A), np.float32)
    for i, s in enumerate(specs):
        if i in vectors and vectors[i].shape[0] == A:
            av[i] = vectors[i]
        elif s["model_id"] in base_rows and base is not None and base.archi2vec_vectors.shape[1] == A:
            av[i] = base.archi2vec_vectors[base_rows[s["model_id"]]]

    if base is not None and base.dim == d:
        tasks, tv = base.tasks, base.task_vectors
        history = base.history[base.history["model_id"].isin(set(ids))]
    else:
        tasks, tv = _task_rows(space)
        history = pd.DataFrame(columns=list(HISTORY_COLUMNS))
    mdf["n_records"] = [int((history["model_id"] == m).sum()) for m in ids]
    if feats is not None:
        twins = dict(zip([ids[i] for i in todo], _twin_column(space, [ids[i] for i in todo], feats,
                                                               mdf["vector_source"].iloc[todo])))
        mdf["twins"] = [twins.get(m) for m in ids]
    info = {
        "name": name or "custom fennec_hub zoo",
        "description": description or f"A custom zoo of {len(ids)} checkpoints encoded with fennec_hub.",
        "how_built": "`Zoo.build(models, space=...)`: models the space has fine-tuning history for keep "
                     "their history vectors; the others get cold-start vectors from archi2vec + metadata"
                     + (f"; task vectors and records come from {base.label}" if base is not None else "") + ".",
        "fennec_hub_version": __version__,
        "archi2vec_version": _archi2vec_version(),
        "records": (base.info.get("records") if base is not None else None) or [],
        "license": "other",
    }
    return cls(mdf, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, info=info,
               source="built in memory", a2v_pca=base.a2v_pca if base is not None else None)


def _archi2vec_version() -> str:
    try:
        import importlib

        a2v = importlib.import_module("fennec_hub.archi2vec")
        return str(getattr(a2v, "ARCHI2VEC_VERSION", "unknown"))
    except ImportError:
        return "unknown"


def timm_catalogue() -> "pd.DataFrame":
    """Every timm pretrained checkpoint that timm lists with a Hub id (offline, from its cfgs).

    timm's `test_*` models (tiny networks for its own CI) are left out.
    """
    import pandas as pd
    with needs("encode", "the timm catalogue"):
        import timm
        from timm.models import get_pretrained_cfg

    from .archi2vec import timm_family
    from .records import timm_pretrain

    names = sorted(timm.list_pretrained())
    rows, seen = [], set()
    # Tags whose Hub repo is their own name first, so that aliases sharing a repo are dropped.
    cfgs = [(n, get_pretrained_cfg(n)) for n in names]
    cfgs.sort(key=lambda nc: (0 if nc[1] is not None and nc[1].hf_hub_id == "timm/" + nc[0] else 1, nc[0]))
    for name, cfg in cfgs:
        if cfg is None or not cfg.hf_hub_id or cfg.hf_hub_id in seen:
            continue
        if name.startswith("test_"):  # timm's tiny CI models (test_vit, test_nfnet, ...): not for users
            continue
        seen.add(cfg.hf_hub_id)
        arch, _, tag = name.partition(".")
        ins = cfg.input_size[-1] if cfg.input_size else None
        rows.append({
            "model_id": cfg.hf_hub_id,
            "library": "timm",
            "license": cfg.license,
            "pipeline_tag": "image-classification" if (cfg.num_classes or 0) > 0 else "image-feature-extraction",
            "input_size": ins,
            "pretrain": timm_pretrain(tag),
            "family": timm_family(arch),
            "architecture": cfg.architecture or arch,
            "timm_name": name,
        })
    return pd.DataFrame(rows).sort_values("model_id", kind="stable").reset_index(drop=True)


def hf_catalogue() -> "pd.DataFrame":
    """The canonical transformers vision checkpoints whose config.json ships with the package."""
    import pandas as pd

    from .records import pretrain_label

    root = Path(__file__).resolve().parent / "data" / "hf_configs"
    index_path = root / "index.json"
    if not index_path.exists():
        return pd.DataFrame(columns=["model_id"])
    index = json.loads(index_path.read_text(encoding="utf-8"))
    items = index.get("models", index) if isinstance(index, dict) else index
    if isinstance(items, dict):
        items = [{"model_id": k, **(v if isinstance(v, dict) else {})} for k, v in items.items()]
    rows = []
    for it in items:
        mid = it.get("model_id") or it.get("id") or it.get("repo_id")
        if not mid:
            continue
        insize = it.get("image_size") or it.get("input_size")
        if insize is None and isinstance(it.get("file"), str):
            try:
                cfg = _load_config(root / _safe_relpath(it["file"]))
                insize = cfg.get("image_size") or (cfg.get("vision_config") or {}).get("image_size")
            except (OSError, ValueError, ZooFormatError):
                insize = None
        if isinstance(insize, (list, tuple)):
            insize = insize[-1] if insize else None
        rows.append({
            "model_id": mid, "library": it.get("library") or it.get("library_name") or "transformers",
            "license": it.get("license"), "pipeline_tag": it.get("pipeline_tag"),
            "input_size": insize if isinstance(insize, int) else None,
            "pretrain": pretrain_label(it.get("pretrain") or it.get("pretraining") or it.get("dataset")),
            "family": it.get("model_type") or it.get("family"),
            "architecture": (it.get("architectures") or [None])[0] if isinstance(it.get("architectures"), list) else it.get("architecture"),
        })
    return pd.DataFrame(rows).drop_duplicates("model_id").sort_values("model_id").reset_index(drop=True)


def _build_default(out: Path, *, limit: int | None = None, progress: bool = True, log=print,
                   crawl: str | os.PathLike | None = None, proxies: Sequence[str] = ("metadata", "text")) -> Zoo:
    """See `build_default_zoo`. `limit` keeps only the first N timm checkpoints (quick checks);
    `crawl` adds a `fennec-hub crawl` directory: its encoded models become candidates (with their
    archi2vec vectors, license, params) and its model-card records join the fit; `proxies` are the
    task-proxy regressors to fit (fennec_hub.tasks)."""
    import time

    import pandas as pd

    from . import __version__, features
    from .records import imagenet_quality, load_model_metadata, load_records, same_weights
    from .space import TransferSpace

    t0 = time.time()
    records = load_records()
    meta = load_model_metadata()
    crawl_df = None
    if crawl is not None:
        from .crawl import load_crawl

        crawl_df, crawl_records = load_crawl(crawl)
        if "status" in crawl_df:
            crawl_df = crawl_df[crawl_df["status"] == "encoded"]
        crawl_df = crawl_df.reset_index(drop=True)
        if len(crawl_records):
            records = pd.concat([records, crawl_records[[c for c in records.columns if c in crawl_records]]],
                                ignore_index=True)
        log(f"[build-zoo] crawl {crawl}: {len(crawl_df)} encoded models, {len(crawl_records)} model-card records")
    rec_models = sorted(set(records["model"]))
    hub_rec = [m for m in rec_models if "/" in m and not m.startswith(NON_HUB_NAMESPACES)]

    timm_df = timm_catalogue()
    if limit is not None:
        timm_df = timm_df.iloc[:limit]
    hf_df = hf_catalogue()
    rec_df = pd.DataFrame({"model_id": hub_rec})
    for col, mcol in (("library", "library"), ("license", "license"), ("input_size", "img_size"),
                      ("pretrain", "pretrain"), ("family", "model_type"), ("architecture", "architectures")):
        rec_df[col] = [meta.at[m, mcol] if m in meta.index else None for m in hub_rec]
    parts = [timm_df, hf_df, rec_df]
    crawl_vectors: dict[str, np.ndarray] = {}
    if crawl_df is not None and len(crawl_df):
        cr = pd.DataFrame({"model_id": crawl_df["model_id"]})
        for col in ("library", "license", "pipeline_tag", "family", "architecture", "params", "downloads", "likes",
                    "gated"):
            cr[col] = crawl_df[col] if col in crawl_df else None
        parts.append(cr)
        dim = len(next(iter(vec_list for vec_list in crawl_df.get("archi2vec", []) if isinstance(vec_list, list)), []))
        version = _archi2vec_version()
        for m, v, ver in zip(crawl_df["model_id"], crawl_df.get("archi2vec", [None] * len(crawl_df)),
                             crawl_df.get("archi2vec_version", [version] * len(crawl_df))):
            if isinstance(v, list) and len(v) == dim and str(ver) == version:
                crawl_vectors[m] = np.asarray(v, dtype=np.float32)
    cand = pd.concat(parts, ignore_index=True)
    # first occurrence wins per column where it has a value (timm cfg > shipped config > records)
    cand = cand.groupby("model_id", sort=True, dropna=False).first().reset_index()
    if limit is not None:
        keep = set(timm_df["model_id"]) | set(hf_df["model_id"]) | set(hub_rec)
        if crawl_df is not None:
            keep |= set(crawl_df["model_id"])
        cand = cand[cand["model_id"].isin(keep)].reset_index(drop=True)
    ids = cand["model_id"].tolist()
    log(f"[build-zoo] {len(ids)} candidate checkpoints: {len(timm_df)} timm, {len(hf_df)} shipped transformers "
        f"configs, {len(hub_rec)} Hub models in the records ({time.time() - t0:.1f}s)")

    # archi2vec: one encoding per distinct architecture (timm tags share their architecture's);
    # the record models (benchmark zoos included) are encoded too, for the space's cold-start map.
    enc_key = {}
    for r in cand.itertuples(index=False):
        if r.library == "timm" and isinstance(getattr(r, "timm_name", None), str):
            enc_key[r.model_id] = r.timm_name.partition(".")[0]
        else:
            enc_key[r.model_id] = r.model_id
    for m in rec_models:
        enc_key.setdefault(m, m)
    for m in crawl_vectors:  # the crawl already encoded these (same archi2vec version)
        enc_key.pop(m, None)
    uniq = sorted(set(enc_key.values()))
    vec_u, info_u = _encode(uniq, progress=progress)
    pos = {k: i for i, k in enumerate(uniq)}
    vectors = {m: vec_u[pos[k]] for m, k in enc_key.items() if pos[k] in vec_u}
    vectors.update(crawl_vectors)
    infos = {m: info_u[pos[k]] for m, k in enc_key.items() if pos[k] in info_u}
    # Community checkpoints known only by metadata (TransferGraph's table): encode the closest
    # shipped config of their model type at their size and resolution (archi2vec.config_from_metadata).
    fallback = _metadata_configs([m for m in enc_key if m not in vectors], meta)
    if fallback:
        keys = sorted(fallback)
        v_fb, i_fb = _encode([fallback[k] for k in keys])
        for j, m in enumerate(keys):
            if j in v_fb:
                vectors[m] = v_fb[j]
            if j in i_fb:
                infos[m] = i_fb[j]
    log(f"[build-zoo] archi2vec: {len(vec_u)}/{len(uniq)} architectures encoded, {len(fallback)} more from "
        f"metadata configs ({time.time() - t0:.1f}s)")

    cand_params = dict(zip(cand["model_id"], cand["params"])) if "params" in cand.columns else {}
    params = []
    for m in ids:
        # the published count (timm results / Hub metadata, classifier included) where known,
        # else the backbone built on the meta device
        p = None
        if m in meta.index and pd.notna(meta.at[m, "params_m"]):
            p = float(meta.at[m, "params_m"]) * 1e6
        if p is None and pd.notna(cand_params.get(m)):
            p = float(cand_params[m])
        if p is None:
            p = getattr(infos.get(m), "params", None)
        params.append(p)
    cand["params"] = params
    for m_i, m in enumerate(ids):
        inf = infos.get(m)
        if inf is not None and not isinstance(cand.at[m_i, "family"], str):
            cand.at[m_i, "family"] = getattr(inf, "family", None)
    quality = imagenet_quality(ids)
    cand["imagenet_top1"] = quality["imagenet_top1"].to_numpy(float)
    cand["imagenet_from"] = quality["imagenet_from"].to_numpy(object)

    # Model features (fennec_hub.features) of every record model and candidate, one code path.
    all_ids = list(dict.fromkeys(rec_models + ids))
    feat_meta = meta.reindex(all_ids).drop(columns=["imagenet_top1"]).copy()
    cand_ix = cand.set_index("model_id")
    for col, src in (("img_size", "input_size"), ("pretrain", "pretrain")):
        filled = cand_ix[src].reindex(all_ids)
        feat_meta[col] = feat_meta[col].astype(object).where(feat_meta[col].notna(), filled)
    feat_meta["params_m"] = pd.to_numeric(pd.Series(
        [None if p is None else float(p) / 1e6 for p in params], index=ids).reindex(all_ids)
        .fillna(pd.to_numeric(feat_meta["params_m"], errors="coerce")), errors="coerce")
    feat_meta["img_size"] = pd.to_numeric(feat_meta["img_size"], errors="coerce")
    mf = features.build_model_features(all_ids, feat_meta, vectors)
    cand["source_dataset"] = mf["source_dataset"].reindex(ids).tolist()
    from .datasets import list_datasets

    task_ids = sorted({e.id for e in list_datasets()} | set(records["dataset"]))
    tf = features.task_features(task_ids)
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    log(f"[build-zoo] fitted {space!r} ({time.time() - t0:.1f}s)")

    # Identical weights published twice are one model: a candidate whose twin has records takes the
    # twin's vector (and its records explain it).
    known = set(space.known_models)
    twins = same_weights()
    rev = {t: m for m, t in twins.items() if m in known}
    same = [rev.get(m) if m not in known else None for m in ids]
    cand["same_as"] = same
    mv = np.asarray(space.model_vectors([s or m for m, s in zip(ids, same)], model_features=mf), dtype=np.float32)
    cand["vector_source"] = ["history" if (s or m) in known else "cold_start" for m, s in zip(ids, same)]
    history = history_table(records)  # every recorded model: twins' records explain cold starts
    counts = history["model_id"].value_counts()
    cand["n_records"] = [int(counts.get(m, 0)) for m in ids]
    A = max((v.shape[0] for v in vectors.values()), default=0)
    av = np.zeros((len(ids), A), np.float32)
    for i, m in enumerate(ids):
        if m in vectors and vectors[m].shape[0] == A:
            av[i] = vectors[m]
    cand["twins"] = _twin_column(space, ids, mf, cand["vector_source"])
    cand["excluded"] = [_exclusion(m, p, n) for m, p, n in zip(ids, cand["params"], cand["n_records"])]
    tasks, tv = _task_rows(space, task_ids)
    # Proxy regressors (fennec_hub.tasks: dataset metadata and MiniLM text -> task vector), fitted
    # on the historical tasks; they also place the registry datasets that have no history.
    proxy_names, proxies = proxies, {}
    try:
        from .tasks import fit_task_proxies, task_vector_from_proxies

        proxies = dict(fit_task_proxies(space, proxies=tuple(proxy_names))) if proxy_names else {}
    except Exception as exc:  # proxies are an optional extra: without them the space places new tasks
        log(f"[build-zoo] no task proxies: {type(exc).__name__}: {exc}")
    if proxies:
        from types import SimpleNamespace

        from .datasets import resolve_dataset

        holder = SimpleNamespace(space=space, proxies=proxies)
        for i, (t, src) in enumerate(zip(tasks["task_id"], tasks["vector_source"])):
            if src == "history":
                continue
            try:
                v = np.asarray(task_vector_from_proxies(resolve_dataset(t), holder, progress=False), np.float32)
            except Exception as exc:  # keep the space's metadata vector
                log(f"[build-zoo] proxies could not place {t}: {exc}")
                continue
            if v.shape == tv[i].shape and np.isfinite(v).all():
                tv[i] = v  # still "metadata": the proxies read the dataset's metadata and description
        log(f"[build-zoo] task proxies: {sorted(proxies)} ({time.time() - t0:.1f}s)")
    tcounts = records.groupby("dataset").size()
    tasks["n_records"] = [int(tcounts.get(t, 0)) for t in tasks["task_id"]]

    bench = sorted(records["benchmark"].dropna().unique()) if "benchmark" in records else []
    sources = sorted({str(s).split(":")[0] for s in records["source"].dropna().unique()})
    info = {
        "name": "fennec_hub default zoo",
        "description": ("The zoo embedded in fennec_hub: every timm pretrained checkpoint with a Hub id, the "
                        "canonical transformers vision checkpoints, and every Hub model in the bundled "
                        "fine-tuning records, placed in one transfer space."),
        "how_built": ("`fennec-hub build-zoo` (= `python scripts/build_default_zoo.py`): "
                      "`load_records()` (bundled public ground truth) -> model features (archi2vec + metadata) "
                      "-> `TransferSpace.fit(records, model_features, task_features)` -> model vectors for every "
                      "candidate (history where the records have it, cold start from architecture and metadata "
                      "otherwise) and task vectors for every registry dataset. timm's catalogue comes from "
                      f"`timm.list_pretrained()` (timm {_version('timm')}); transformers configs from "
                      "`fennec_hub/data/hf_configs/`."),
        "records": [f"{b}" for b in bench] + [f"source: {s}" for s in sources],
        "fennec_hub_version": __version__,
        "archi2vec_version": _archi2vec_version(),
        "timm_version": _version("timm"),
        "space": repr(space),
        "fit_records": int(len(records)),
        "fit_models": int(len(space.known_models)),
        "license": "other",
    }
    zoo = Zoo(cand, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, info=info,
              source="built")
    zoo.proxies = proxies
    zoo.save(out)
    log(f"[build-zoo] wrote {out} ({time.time() - t0:.1f}s): {len(ids)} models "
        f"({int((cand['vector_source'] == 'history').sum())} history), {len(tasks)} tasks, "
        f"{_dir_size(out) / 1e6:.1f} MB")
    return Zoo.load(out, source=str(out))


_TOY_NAME = re.compile(r"(?:^|[-_./])(?:tests?|testing|dummy|debug|tiny-random|random-init)(?:$|[-_.])",
                       re.IGNORECASE)
_TOY_ORGS = ("hf-internal-testing/",)
MIN_CANDIDATE_PARAMS = 1_000_000


def _exclusion(model_id: str, params: Any, n_records: int) -> str | None:
    """Why a checkpoint is not a candidate (None if it is): test or toy repositories, and networks too
    small to fine-tune usefully that have no records to show otherwise."""
    if model_id.startswith(_TOY_ORGS):
        return f"test repository ({model_id.split('/')[0]})"
    if _TOY_NAME.search(model_id.split("/", 1)[-1]):
        return "test or toy repository (by its name)"
    try:
        small = float(params) < MIN_CANDIDATE_PARAMS  # False for NaN: unknown size is no reason
    except (TypeError, ValueError):
        small = False
    if small and not n_records:
        return f"under {MIN_CANDIDATE_PARAMS / 1e6:.0f}M parameters and no fine-tuning records"
    return None


def _twin_column(space: "TransferSpace", ids: list[str], features: "pd.DataFrame", sources: Iterable[str],
                 top: int = 3) -> list[str | None]:
    """For each cold-start candidate, its strongest recorded architecture twins as ``"id=weight;..."``
    (what its task-specific residuals come from); None for recorded models and models without one."""
    from .space import _TWIN_REPORT

    sources = list(sources)
    cold = [m for m, src in zip(ids, sources) if src == "cold_start"]
    out: dict[str, str] = {}
    if cold:
        W = space.twin_weights(cold, features)
        for m, w in zip(cold, W):
            best = [j for j in np.argsort(-w, kind="stable")[:top] if w[j] >= _TWIN_REPORT]
            if best:
                out[m] = ";".join(f"{space.models[j]}={w[j]:.2f}" for j in best)
    return [out.get(m) for m in ids]


def _metadata_configs(models: Iterable[str], meta: "pd.DataFrame") -> dict[str, dict]:
    """Configs for models known only by metadata (model_type, parameter count, input size)."""
    import importlib

    import pandas as pd

    try:
        from_meta = importlib.import_module("fennec_hub.archi2vec").config_from_metadata
    except (ImportError, AttributeError):
        return {}
    out = {}
    for m in models:
        if m not in meta.index:
            continue
        row = meta.loc[m]
        mt = row.get("model_type")
        if not isinstance(mt, str) or not mt:
            continue
        n = pd.to_numeric(row.get("number_of_parameters"), errors="coerce")
        size = pd.to_numeric(row.get("input_shape"), errors="coerce")
        try:
            out[m] = from_meta(mt, None if pd.isna(n) else float(n), None if pd.isna(size) else int(size))
        except Exception:  # unknown or removed model type: no architecture vector
            continue
    return out


def _version(pkg: str) -> str:
    try:
        from importlib.metadata import version

        return version(pkg)
    except Exception:
        return "unknown"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
