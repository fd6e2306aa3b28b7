"""Model and task features for the transfer space's cold start.

* :func:`model_features`: one row per model id: archi2vec (PCA-reduced), log parameter count, input
  size, ImageNet top-1 (where known), pre-training tag, the domain of the dataset it was trained on,
  missing-value flags, and ``source_dataset`` (canonical dataset id or None) for the source/target
  similarity term. Rows come from a precomputed store (``fennec_hub/data/model_features/``) so that
  scoring never needs torch; ids outside the store are built from metadata (+ archi2vec when torch is
  importable, else imputed and flagged).
* :func:`task_features`: one row per dataset: log number of classes, log train size, domain one-hot
  (registry metadata) and, optionally, a 384-d MiniLM text embedding of its name, description and
  class names (precomputed for the registry, computed on the fly for other datasets).

Rebuild the store with ``python -m fennec_hub.features --rebuild``.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ._extras import needs

STORE = Path(__file__).parent / "data" / "model_features"
A2V_DIM = 16
TEXT_DIM = 384
PRETRAIN_TAGS = ("in1k", "in21k", "in22k", "laion", "openai", "jft", "ig", "sw", "semi", "ssl", "clip", "mim")
_SOURCE_HINTS = (  # model-id suffix -> dataset alias, for benchmark zoos whose ids carry the source
    ("cifar100", "cifar100"), ("cifar10", "cifar10"), ("svhn", "svhn"), ("cub", "cub200"),
    ("nabird", "nabird"), ("oxford_pets", "oxford_pets"), ("stanford_dogs", "stanford_dogs"),
    ("caltech101", "caltech101"), ("voc2007", "voc2007"), ("imagenet", "imagenet"),
)


# --- tasks -----------------------------------------------------------------------------------------

def _entry(x: Any):
    from .datasets import DatasetEntry, resolve_dataset

    if isinstance(x, DatasetEntry):
        return x
    try:
        return resolve_dataset(str(x))
    except (KeyError, ValueError):
        return None


def _domains() -> list[str]:
    from .datasets import list_datasets

    return sorted({e.domain for e in list_datasets() if e.domain})


def _log(x) -> float:
    try:
        return math.log(float(x)) if x is not None and float(x) > 0 else np.nan
    except (TypeError, ValueError):
        return np.nan


def _embed_entries(entries: list) -> np.ndarray:
    """MiniLM embeddings of registry entries, through TASKS' text encoder (same sentence as theirs)."""
    from .tasks import text_embedding

    return np.stack([np.asarray(text_embedding(e), dtype=np.float32) for e in entries])


def _stored_text() -> pd.DataFrame | None:
    path = STORE / "task_text.parquet"
    if not path.exists():
        return None
    return _read_stored_text(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read_stored_text(path: str, mtime_ns: int) -> pd.DataFrame:
    return pd.read_parquet(path)


def task_features(datasets: Iterable[Any], *, text: bool | None = None) -> pd.DataFrame:
    """Feature rows (indexed by canonical dataset id) for dataset ids, aliases or DatasetEntry objects.

    ``text``: False = registry metadata only; True = also the MiniLM text embedding (computed when
    not precomputed, needs sentence-transformers); None = add the precomputed embeddings only
    (NaN for datasets outside the store; never imports torch).
    Unresolvable names give an all-NaN row indexed by the name as given.
    """
    doms = _domains()
    rows, index, entries = [], [], []
    for x in datasets:
        e = _entry(x)
        entries.append(e)
        index.append(e.id if e is not None else str(x))
        row = {"log_num_classes": np.nan, "log_train_size": np.nan}
        row.update({f"domain_{d}": np.nan for d in doms})
        if e is not None:
            row["log_num_classes"] = _log(e.num_classes)
            row["log_train_size"] = _log(e.train_size)
            row.update({f"domain_{d}": float(e.domain == d) for d in doms})
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(index, name="dataset"))
    if text is False:
        return out
    stored = _stored_text()
    if text is None and stored is None:
        return out
    cols = [f"text_{i}" for i in range(TEXT_DIM)]
    emb = pd.DataFrame(np.nan, index=out.index, columns=cols)
    todo = []
    for i, (idx, e) in enumerate(zip(index, entries)):
        if e is None:
            continue
        if stored is not None and idx in stored.index:
            emb.iloc[i] = stored.loc[idx, cols].to_numpy(float)
        elif text:
            todo.append(i)
    if todo:
        vecs = _embed_entries([entries[i] for i in todo])
        for i, v in zip(todo, vecs):
            emb.iloc[i] = v
    return pd.concat([out, emb], axis=1)


# --- models ----------------------------------------------------------------------------------------

def _resolve_id(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    e = _entry(name)
    return e.id if e is not None else None


def source_dataset(model_id: str, meta: pd.Series | None = None) -> str | None:
    """Canonical id of the dataset a model was (last) trained on, from metadata or its id."""
    if meta is not None:
        for key in ("source_dataset", "hub_declared_dataset", "pretrain_dataset"):
            if key in meta and isinstance(meta[key], str):
                rid = _resolve_id(meta[key])
                if rid:
                    return rid
        tag = meta.get("pretrain") if hasattr(meta, "get") else None
        if isinstance(tag, str) and tag.startswith("in1k"):
            return _resolve_id("imagenet")
    name = model_id.split("/", 1)[-1].lower()
    if model_id.startswith(("keras/", "torchvision/")) or name.endswith("_in1k") or ".tv_in1k" in name:
        return _resolve_id("imagenet")
    for hint, alias in _SOURCE_HINTS:
        if name.endswith(hint) or name.endswith("-" + hint) or name.endswith("_" + hint):
            return _resolve_id(alias)
    if model_id.startswith("pytorchcv/"):
        return _resolve_id("imagenet")
    return None


def _pca_store() -> dict[str, np.ndarray] | None:
    path = STORE / "archi2vec_pca.safetensors"
    if not path.exists():
        return None
    from safetensors.numpy import load_file

    return load_file(str(path))


def _archi2vec_many(models: Sequence[str], progress: bool = False,
                    metadata: pd.DataFrame | None = None) -> dict[str, Any]:
    """ARCH's architecture description (vector, params, input size) of every model it can resolve.

    A Hub checkpoint known only by metadata (model_type, parameter count, input size) is encoded
    from the closest shipped config of its type. Needs torch; models whose architecture cannot be
    built are left out (imputed + flagged later).
    """
    out: dict[str, Any] = {}
    try:
        from .archi2vec import config_from_metadata, describe_architecture
    except ImportError:
        return out
    from huggingface_hub.utils import tqdm

    if metadata is not None:
        metadata = metadata[~metadata.index.duplicated(keep="first")]
    for m in tqdm(list(models), desc="archi2vec", disable=not progress):
        try:
            out[m] = describe_architecture(m)
            continue
        except Exception:  # ArchitectureError, missing torch, unknown id: try the metadata below
            pass
        row = metadata.loc[m] if metadata is not None and m in metadata.index else None
        mt = row.get("model_type") if row is not None else None
        if not isinstance(mt, str) or not mt:
            continue
        n = pd.to_numeric(row.get("number_of_parameters"), errors="coerce")
        size = pd.to_numeric(row.get("input_shape"), errors="coerce")
        try:
            cfg = config_from_metadata(mt, None if pd.isna(n) else float(n),
                                       None if pd.isna(size) else int(size))
            out[m] = describe_architecture(cfg)
        except Exception:  # unknown or removed model type: imputed + flagged
            continue
    return out


def _vector_of(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "vector", x), dtype=np.float64)


def _pretrain_tag(model_id: str, meta: pd.Series | None) -> str | None:
    tag = meta.get("pretrain") if meta is not None and hasattr(meta, "get") else None
    if isinstance(tag, str) and tag:
        return tag.lower()
    m = re.search(r"\.([a-z0-9_]+)$", model_id)
    return m.group(1) if m and model_id.startswith("timm/") else None


def build_model_features(
    models: Sequence[str],
    metadata: pd.DataFrame | None = None,
    vectors: dict[str, Any] | None = None,
    pca: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Feature rows from metadata (indexed by model id) and archi2vec results (projected by ``pca``).

    ``vectors``: model id -> archi2vec vector or ARCH's ``ArchitectureInfo`` (whose parameter count
    and input size fill gaps in the metadata).
    """
    models = list(models)
    if metadata is not None:
        metadata = metadata[~metadata.index.duplicated(keep="first")]
    meta = metadata.reindex(models) if metadata is not None else pd.DataFrame(index=models)
    vectors = vectors or {}
    registry_domain = {}
    doms = _domains()
    rows = []
    for m in models:
        row_meta = meta.loc[m] if m in meta.index else None
        params = row_meta.get("params_m") if row_meta is not None and "params_m" in meta else np.nan
        img = row_meta.get("img_size") if row_meta is not None and "img_size" in meta else np.nan
        top1 = row_meta.get("imagenet_top1") if row_meta is not None and "imagenet_top1" in meta else np.nan
        params, img, top1 = (float(v) if v is not None and not pd.isna(v) else np.nan for v in (params, img, top1))
        info = vectors.get(m)
        if not params > 0 and getattr(info, "params", None):
            params = float(info.params) / 1e6
        if not img > 0 and getattr(info, "input_size", None):
            img = float(info.input_size)
        src = source_dataset(m, row_meta)
        if src and src not in registry_domain:
            e = _entry(src)
            registry_domain[src] = (e.domain, _log(e.num_classes), _log(e.train_size)) if e is not None else (
                None, np.nan, np.nan)
        src_domain, src_classes, src_size = registry_domain.get(src, (None, np.nan, np.nan))
        tag = _pretrain_tag(m, row_meta) or ""
        row: dict[str, Any] = {
            "log_params": math.log(params) if params > 0 else np.nan,
            "params_missing": float(not params > 0),
            "log_img_size": math.log(img) if img > 0 else np.nan,
            "img_missing": float(not img > 0),
            "imagenet_top1": top1,
            "top1_missing": float(np.isnan(top1)),
        }
        row.update({f"pretrain_{t}": float(t in tag) for t in PRETRAIN_TAGS})
        row.update({f"src_domain_{d}": float(src_domain == d) for d in doms})
        row["src_log_num_classes"] = src_classes
        row["src_log_train_size"] = src_size
        row["src_missing"] = float(src is None)
        row["source_dataset"] = src
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(models, name="model"))
    a2v = np.full((len(models), A2V_DIM), np.nan)
    if pca is not None:
        for i, m in enumerate(models):
            if m in vectors:
                a2v[i] = (_vector_of(vectors[m]) - pca["mean"]) @ pca["components"].T
    for j in range(A2V_DIM):
        out[f"a2v_{j}"] = a2v[:, j]
    out["a2v_missing"] = np.isnan(a2v).all(axis=1).astype(float)
    return out


def model_features(models: Sequence[str], *, compute: bool = True) -> pd.DataFrame:
    """Feature rows for model ids: precomputed where stored, else built from metadata (+archi2vec).

    ``compute``: build rows for ids outside the store (archi2vec needs torch; without it they get
    imputed architecture features and ``a2v_missing = 1``).
    """
    models = list(models)
    path = STORE / "models.parquet"
    stored = pd.read_parquet(path) if path.exists() else None
    have = [m for m in models if stored is not None and m in stored.index]
    rest = [m for m in models if m not in set(have)]
    parts = [stored.loc[have]] if have else []
    if rest:
        meta = None
        try:
            from .records import load_model_metadata

            meta = load_model_metadata()
        except Exception:  # metadata unavailable: features from the ids alone
            meta = None
        vectors = _archi2vec_many(rest, metadata=meta) if compute else {}
        parts.append(build_model_features(rest, meta, vectors, _pca_store()))
    out = pd.concat(parts) if parts else build_model_features([])
    return out.reindex(models)


def rebuild(out_dir: Path = STORE, extra_models: Sequence[str] = ()) -> pd.DataFrame:
    """Recompute the store: every model of the records (+ ``extra_models``) and registry task texts."""
    from .datasets import list_datasets
    from .records import load_model_metadata, load_records

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = load_records()
    meta = load_model_metadata()
    models = sorted(set(records["model"]) | set(extra_models))
    vectors = _archi2vec_many(models, progress=True, metadata=meta)
    pca = None
    if len(vectors) >= A2V_DIM + 1:
        from safetensors.numpy import save_file
        with needs("fit", "the archi2vec PCA"):
            from sklearn.decomposition import PCA

        mat = np.stack([_vector_of(v) for v in vectors.values()])
        p = PCA(n_components=A2V_DIM, random_state=0).fit(mat)
        pca = {"mean": p.mean_.astype(np.float64), "components": p.components_.astype(np.float64)}
        save_file(pca, str(out_dir / "archi2vec_pca.safetensors"))
    feats = build_model_features(models, meta, vectors, pca)
    feats.to_parquet(out_dir / "models.parquet")
    entries = list_datasets()
    emb = _embed_entries(entries)
    text = pd.DataFrame(emb, index=pd.Index([e.id for e in entries], name="dataset"),
                        columns=[f"text_{i}" for i in range(emb.shape[1])])
    text.to_parquet(out_dir / "task_text.parquet")
    return feats


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fennec_hub.features --rebuild``: recompute the precomputed feature store."""
    p = argparse.ArgumentParser(prog="python -m fennec_hub.features", description=main.__doc__)
    p.add_argument("--rebuild", action="store_true", help="recompute fennec_hub/data/model_features/")
    p.add_argument("--out", type=Path, default=STORE)
    args = p.parse_args(argv)
    if not args.rebuild:
        p.print_help()
        return 2
    feats = rebuild(args.out)
    print(f"{len(feats)} models, {int((feats['a2v_missing'] == 0).sum())} with archi2vec -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
