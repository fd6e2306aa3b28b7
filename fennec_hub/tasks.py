"""Task encoders: place a dataset that no record mentions into the transfer space.

Three proxies, cheapest first, each mapped into the transfer space by a ridge regressor fitted on
the historical tasks (whose task vectors the space learned from records):

* ``metadata`` — number of classes, training size and domain (registry or Hub card);
* ``text`` — one sentence (name, domain, description, class names) embedded by all-MiniLM-L6-v2;
* ``image`` — the Fennec proxy: the mean L2-normalised CLIP image embedding of N class-balanced
  images streamed from one parquet shard of the dataset (no labels are needed for the embedding,
  and no candidate model runs).

``task_vector_from_proxies`` mixes the available predictions, weighted by each regressor's
nested leave-one-task-out quality. Reading a Hub dataset's schema lives in
:mod:`fennec_hub.datasets`, the text embedding in :mod:`fennec_hub.features`.

Heavy libraries (torch, transformers, pyarrow, PIL) are imported inside the functions that need
them; every Hub access goes through :mod:`fennec_hub.hub`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import hub
from ._extras import needs
from .datasets import DOMAIN_KEYWORDS, MAX_SHARD_BYTES, HubImageSchema, hub_image_schema
from .datasets import resolve_dataset
from .features import TEXT_MODEL_ID, task_features, text_embedding, text_features

DEFAULT_IMAGE_ENCODER = "openai/clip-vit-base-patch32"
#: The only Hub repos image-encoder weights are downloaded from (a zoo cannot add to it; other
#: encoders load from a local directory the user provides).
IMAGE_ENCODERS = frozenset({
    "openai/clip-vit-base-patch32", "openai/clip-vit-base-patch16", "openai/clip-vit-large-patch14",
})
_ENCODER_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")
_MAX_ENCODER_BYTES = 2 * 1024**3  # clip-vit-large-patch14's model.safetensors is 1.7 GB
DEFAULT_IMAGES = 100
PROXY_NAMES = ("metadata", "text", "image")

_MAX_IMAGES = 10_000
_MAX_IMAGE_PIXELS = 64_000_000
_ENCODER_LIMITS = {
    "hidden_size": 4096,
    "intermediate_size": 16384,
    "num_hidden_layers": 64,
    "num_attention_heads": 128,
    "image_size": 1024,
    "projection_dim": 4096,
}



def metadata_embedding(entry: Any) -> np.ndarray:
    """Numeric metadata proxy: [log10 classes, log10 train size, missing flags, one-hot domain]."""
    domains = sorted({d for d, _ in DOMAIN_KEYWORDS} | {"natural", "geolocation", "driving"})
    nc, ts = getattr(entry, "num_classes", None), getattr(entry, "train_size", None)
    vec = [math.log10(nc) if nc else 0.0, math.log10(ts) if ts else 0.0, float(not nc), float(not ts)]
    dom = getattr(entry, "domain", None)
    vec += [float(dom == d) for d in domains]
    return np.asarray(vec, np.float32)


# --------------------------------------------------------------------------------------------
# Image proxy (Fennec)


def _split_files(schema: HubImageSchema, split: str) -> tuple[str, ...]:
    if split in schema.parquet_files:
        return schema.parquet_files[split]
    aliases = {"validation": ("valid", "val"), "valid": ("validation", "val"), "train": ()}
    for alt in aliases.get(split, ()):
        if alt in schema.parquet_files:
            return schema.parquet_files[alt]
    avail = ", ".join(sorted(schema.parquet_files)) or "none"
    raise ValueError(f"{schema.repo_id!r} has no parquet shards for split {split!r} (splits with shards: {avail}).")


def balanced_indices(labels: np.ndarray | None, n: int, *, seed: int = 0, num_rows: int | None = None) -> np.ndarray:
    """Indices of ``n`` rows, class-balanced round-robin (counts differ by at most 1 between
    classes that have enough rows); uniform without labels."""
    rng = np.random.default_rng(seed)
    if labels is None:
        total = int(num_rows or 0)
        return np.sort(rng.choice(total, size=min(n, total), replace=False))
    labels = np.asarray(labels)
    valid = np.flatnonzero(labels >= 0) if labels.dtype.kind in "iu" else np.arange(len(labels))
    classes = np.unique(labels[valid])
    order = rng.permutation(len(classes))
    rows, rounds, pos = [], [], []
    for p, c in zip(order, classes):
        idx = rng.permutation(valid[labels[valid] == c])
        rows.append(idx)
        rounds.append(np.arange(len(idx)))
        pos.append(np.full(len(idx), p))
    if not rows:
        return np.zeros(0, np.int64)
    rows_a, rounds_a, pos_a = (np.concatenate(x) for x in (rows, rounds, pos))
    pick = np.lexsort((pos_a, rounds_a))[:n]
    return np.sort(rows_a[pick])


def sample_images(repo_id: str, n: int = DEFAULT_IMAGES, *, split: str = "train", seed: int = 0,
                  max_shards: int = 1, max_bytes: int = MAX_SHARD_BYTES, token: str | bool | None = None,
                  endpoint: str | None = None, progress: bool = True) -> tuple[list[Any], np.ndarray | None]:
    """``n`` class-balanced images (PIL, RGB) and their labels from a Hub image dataset.

    Reads at most ``max_shards`` parquet shards of the split (chosen by ``seed``), never the whole
    dataset: only the label column is read first, then only the row groups holding the chosen rows
    (image column only), and only the chosen images are decoded. Rows with a null label are skipped.
    Labels are ``None`` when the dataset has no ClassLabel column. Every shard's size is known
    before it is fetched: shards over ``max_bytes`` together raise ``hub.DownloadTooLarge`` (a
    ``ValueError``) without downloading them.
    """
    if not 1 <= n <= _MAX_IMAGES:
        raise ValueError(f"n must be between 1 and {_MAX_IMAGES}, got {n}.")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from huggingface_hub.utils import tqdm

    schema = hub_image_schema(repo_id, token=token, endpoint=endpoint)
    files = list(_split_files(schema, split))
    order = np.random.default_rng(seed).permutation(len(files))[: max(1, max_shards)]
    tables, labels = [], []
    budget = int(max_bytes)
    for i in order:
        path = hub.download(repo_id, files[i], repo_type="dataset", revision=schema.revision,
                            max_bytes=budget, token=token, endpoint=endpoint)
        budget -= os.path.getsize(path)
        pf = pq.ParquetFile(path)
        tables.append(pf)
        if schema.label_column:
            col = pf.read(columns=[schema.label_column]).column(0).fill_null(-1)  # unlabelled rows: -1
            labels.append(col.to_numpy())
    if schema.label_column:
        all_labels = np.concatenate(labels).astype(np.int64)
        idx = balanced_indices(all_labels, n, seed=seed)
    else:
        all_labels = None
        idx = balanced_indices(None, n, seed=seed, num_rows=sum(t.metadata.num_rows for t in tables))
    offsets = np.cumsum([0] + [t.metadata.num_rows for t in tables])
    images: list[Any] = []
    bar = tqdm(total=len(idx), desc=f"Sampling {repo_id}", unit="img", disable=not progress)
    for k, pf in enumerate(tables):
        local = idx[(idx >= offsets[k]) & (idx < offsets[k + 1])] - offsets[k]
        if len(local) == 0:
            continue
        # Only the row groups holding chosen rows are read (and only the image column).
        bounds = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
        for g in np.unique(np.searchsorted(bounds, local, side="right") - 1):
            in_g = local[(local >= bounds[g]) & (local < bounds[g + 1])] - bounds[g]
            col = pf.read_row_group(int(g), columns=[schema.image_column]).column(0).take(pa.array(in_g))
            for cell in col.to_pylist():
                images.append(_decode_image(cell, repo_id))
                bar.update(1)
    bar.close()
    return images, (all_labels[idx] if all_labels is not None else None)


def _decode_image(cell: Any, repo_id: str) -> Any:
    with needs("images", "the image proxy"):
        from PIL import Image

    data = cell.get("bytes") if isinstance(cell, Mapping) else cell
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"{repo_id!r}: an image cell holds no embedded bytes (path-only images are not supported).")
    Image.MAX_IMAGE_PIXELS = _MAX_IMAGE_PIXELS
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


_ENCODERS: dict[str, tuple[Any, Any]] = {}


def load_image_encoder(encoder: Any = DEFAULT_IMAGE_ENCODER, *, token: str | bool | None = None,
                       endpoint: str | None = None) -> tuple[Any, Any]:
    """(vision model in eval mode, image processor) for a CLIP-like encoder.

    ``encoder``: a Hub model id from :data:`IMAGE_ENCODERS` (config + safetensors weights through
    the HF cache, sizes checked before the download), a local model directory, a
    ``CLIPConfig``/``CLIPVisionConfig`` (random init: same compute as real weights; used by tests
    and benchmarks), or an already built ``(model, processor)`` pair. Another Hub id raises
    ``ValueError``.
    """
    with needs("images", "the image proxy"):
        import torch
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection, PretrainedConfig

    if isinstance(encoder, tuple):
        return encoder
    if isinstance(encoder, PretrainedConfig):
        cfg = getattr(encoder, "vision_config", encoder)
        if not isinstance(cfg, CLIPVisionConfig):
            raise ValueError(f"image encoder config must be a CLIP config, got {type(encoder).__name__}.")
        _check_encoder_config(cfg.to_dict())
        torch.manual_seed(0)
        model = CLIPVisionModelWithProjection(cfg).eval()
        return model, _clip_processor(cfg.image_size)
    key = str(encoder)
    if key in _ENCODERS:
        return _ENCODERS[key]
    path = Path(key)
    if not path.is_dir():
        if key not in IMAGE_ENCODERS:
            raise ValueError(f"image encoder {key!r} is neither a local model directory nor one of the Hub "
                             f"encoders fennec_hub downloads ({', '.join(sorted(IMAGE_ENCODERS))}).")
        local, _ = hub.snapshot(key, repo_type="model", token=token, endpoint=endpoint,
                                allow_patterns=list(_ENCODER_FILES), max_file_bytes=_MAX_ENCODER_BYTES,
                                max_bytes=_MAX_ENCODER_BYTES + 8 * 1024**2)
        path = Path(local)
    cfg_file = path / "config.json"
    if not cfg_file.is_file() or cfg_file.stat().st_size > 1_000_000:
        raise ValueError(f"image encoder {key!r}: missing or oversized config.json.")
    cfg = json.loads(cfg_file.read_text())
    if cfg.get("model_type") not in ("clip", "clip_vision_model"):
        raise ValueError(f"image encoder {key!r}: model_type {cfg.get('model_type')!r} is not CLIP.")
    _check_encoder_config(cfg.get("vision_config", cfg))
    if not (path / "model.safetensors").is_file():
        raise ValueError(f"image encoder {key!r}: no model.safetensors (pickled weights are never loaded).")
    model = CLIPVisionModelWithProjection.from_pretrained(str(path), use_safetensors=True).eval()
    if (path / "preprocessor_config.json").is_file():
        proc = CLIPImageProcessor.from_pretrained(str(path))
    else:
        proc = _clip_processor(model.config.image_size)
    _ENCODERS[key] = (model, proc)
    return _ENCODERS[key]


def _check_encoder_config(cfg: Mapping) -> None:
    for k, limit in _ENCODER_LIMITS.items():
        v = cfg.get(k)
        if v is not None and (not isinstance(v, int) or not 0 < v <= limit):
            raise ValueError(f"image encoder config: {k}={v!r} is outside 1..{limit}.")


def _clip_processor(size: int) -> Any:
    with needs("images", "the image proxy"):
        from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def embed_images(images: Sequence[Any], encoder: Any = DEFAULT_IMAGE_ENCODER, *, batch_size: int = 32,
                 progress: bool = True, token: str | bool | None = None,
                 endpoint: str | None = None) -> np.ndarray:
    """L2-normalised projected CLIP image embeddings ``[len(images), e]`` (PIL images or arrays)."""
    with needs("images", "the image proxy"):
        import torch
    from huggingface_hub.utils import tqdm

    model, proc = load_image_encoder(encoder, token=token, endpoint=endpoint)
    out = []
    with torch.inference_mode():
        for s in tqdm(range(0, len(images), batch_size), desc="Embedding images", unit="batch",
                      disable=not progress):
            pixels = proc(images=list(images[s: s + batch_size]), return_tensors="pt")["pixel_values"]
            emb = model(pixel_values=pixels).image_embeds
            out.append(torch.nn.functional.normalize(emb, dim=-1).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def image_proxy_embedding(repo_id: str, n: int = DEFAULT_IMAGES, encoder: Any = DEFAULT_IMAGE_ENCODER, *,
                          split: str = "train", seed: int = 0, batch_size: int = 32, max_shards: int = 1,
                          token: str | bool | None = None, endpoint: str | None = None,
                          progress: bool = True) -> np.ndarray:
    """The Fennec image proxy of a dataset: mean of L2-normalised CLIP embeddings of ``n``
    class-balanced images (labels are used for balancing only, never for the embedding)."""
    images, _ = sample_images(repo_id, n, split=split, seed=seed, max_shards=max_shards, token=token,
                              endpoint=endpoint, progress=progress)
    emb = embed_images(images, encoder, batch_size=batch_size, progress=progress, token=token, endpoint=endpoint)
    return emb.mean(axis=0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Regressors from proxy embeddings to task vectors


@dataclass
class ProxyRegressor:
    """Ridge map from a proxy embedding ``[e]`` to a task vector ``[d]`` (``coef @ x + intercept``).

    ``quality`` is the nested leave-one-task-out quality (mean weighted Kendall tau of the model
    ranking induced by the predicted vs the true task vector when model vectors were given at fit
    time, else minus the squared error), ``baseline_quality`` the same for the mean historical task
    vector.
    """

    name: str
    coef: np.ndarray
    intercept: np.ndarray
    alpha: float
    quality: float | None = None
    baseline_quality: float | None = None
    meta: dict = field(default_factory=dict)

    # The largest alpha shrinks to the mean historical task vector: the global prior.
    ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e6)

    @classmethod
    def fit(cls, embeddings: np.ndarray, task_vectors: np.ndarray, *, name: str = "proxy",
            model_vectors: np.ndarray | None = None, alphas: Sequence[float] | None = None,
            standardize: bool = False, meta: Mapping | None = None) -> ProxyRegressor:
        """Fit on historical tasks: ``embeddings [T, e]`` -> ``task_vectors [T, d]``.

        Ridge (scikit-learn ``RidgeCV``) with alpha chosen by efficient leave-one-out on the
        agreement of the model scores the predicted task vectors induce (Pearson over
        ``model_vectors`` when given, else squared error), then nested leave-one-task-out quality
        (weighted Kendall tau).
        ``standardize`` z-scores the embedding columns first (for metadata features of mixed
        scales); the scaling is folded into ``coef``/``intercept``.
        """
        with needs("fit", "fitting a task proxy"):
            from sklearn.linear_model import RidgeCV

        X = np.asarray(embeddings, np.float64)
        Y = np.asarray(task_vectors, np.float64)
        if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or len(X) < 2:
            raise ValueError(f"need [T, e] embeddings and [T, d] task vectors with T >= 2; got {X.shape}, {Y.shape}.")
        alphas = list(alphas or cls.ALPHAS)
        mean = X.mean(0) if standardize else np.zeros(X.shape[1])
        scale = X.std(0) if standardize else np.ones(X.shape[1])
        scale = np.where(scale > 1e-12, scale, 1.0)
        Xs = (X - mean) / scale
        scoring = _ranking_scorer(model_vectors) if len(X) >= 3 else None
        reg = RidgeCV(alphas=alphas, scoring=scoring).fit(Xs, Y)
        coef = np.asarray(reg.coef_, np.float64).reshape(Y.shape[1], X.shape[1]) / scale
        intercept = np.asarray(reg.intercept_, np.float64).reshape(Y.shape[1]) - coef @ mean
        q, qb = (None, None)
        if len(X) >= 4:
            q, qb = _loo_quality(Xs, Y, alphas, model_vectors)
        return cls(name=name, coef=coef.astype(np.float32), intercept=intercept.astype(np.float32),
                   alpha=float(reg.alpha_), quality=q, baseline_quality=qb,
                   meta=dict(meta or {}, num_tasks=len(X), standardized=bool(standardize)))

    def predict(self, embedding: np.ndarray) -> np.ndarray:
        """Task vector(s) ``[d]`` (or ``[n, d]``) for proxy embedding(s) ``[e]`` (or ``[n, e]``)."""
        x = np.asarray(embedding, np.float32)
        if x.shape[-1] != self.coef.shape[1]:
            raise ValueError(f"{self.name} regressor expects {self.coef.shape[1]}-d embeddings, got {x.shape[-1]}.")
        return x @ self.coef.T + self.intercept

    @property
    def gain(self) -> float:
        """How much better than the mean task vector it was in nested CV (0 when unknown or worse)."""
        if self.quality is None or self.baseline_quality is None:
            return 0.0
        return max(0.0, self.quality - self.baseline_quality)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``<path>.safetensors`` (coef, intercept) and ``<path>.json`` (everything else)."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"coef": np.ascontiguousarray(self.coef), "intercept": np.ascontiguousarray(self.intercept)},
                  str(path.with_suffix(".safetensors")))
        info = {"name": self.name, "alpha": self.alpha, "quality": self.quality,
                "baseline_quality": self.baseline_quality, "meta": self.meta}
        path.with_suffix(".json").write_text(json.dumps(info, indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ProxyRegressor:
        """Read a regressor written by :meth:`save`; malformed arrays or ``meta`` raise ``ValueError``."""
        from safetensors.numpy import load_file

        path = Path(path)
        arrays = load_file(str(path.with_suffix(".safetensors")))
        info = json.loads(path.with_suffix(".json").read_text())
        coef, icpt = arrays.get("coef"), arrays.get("intercept")
        if coef is None or coef.ndim != 2 or icpt is None or icpt.shape != (coef.shape[0],):
            raise ValueError(f"{path.with_suffix('.safetensors')}: coef {getattr(coef, 'shape', None)} / intercept "
                             f"{getattr(icpt, 'shape', None)} are not a [d, p] matrix and its [d] offsets")
        for a_name, a in (("coef", coef), ("intercept", icpt)):
            if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
                raise ValueError(f"{path.with_suffix('.safetensors')}: {a_name} must hold finite floats")
        meta = info.get("meta") or {}
        if not isinstance(meta, dict) or not isinstance(meta.get("encoder", ""), str):
            raise ValueError(f"{path.with_suffix('.json')}: malformed 'meta'")
        return cls(name=str(info["name"]), coef=coef, intercept=icpt, alpha=float(info["alpha"]),
                   quality=info.get("quality"), baseline_quality=info.get("baseline_quality"), meta=dict(meta))


def _agreement(model_vectors: np.ndarray | None):
    """agree(true, pred) for task vectors: weighted tau of the model rankings they induce, or
    (without model vectors) minus the squared error."""
    with needs("fit", "fitting a task proxy"):
        from scipy.stats import weightedtau

    def agree(true: np.ndarray, pred: np.ndarray) -> float:
        if model_vectors is not None:
            t = weightedtau(model_vectors @ true, model_vectors @ pred)[0]
            return float(t) if np.isfinite(t) else 0.0
        return -float(np.sum((true - pred) ** 2))

    return agree


def _ranking_scorer(model_vectors: np.ndarray | None):
    """A scikit-learn scorer over [T, d] leave-one-out predictions, used to choose alpha: mean
    Pearson correlation of the model scores induced by true and predicted task vectors (vectorised;
    weighted tau is kept for the reported quality), or minus the squared error without model vectors."""
    with needs("fit", "fitting a task proxy"):
        from sklearn.metrics import make_scorer

    def score(y: np.ndarray, p: np.ndarray) -> float:
        y, p = np.atleast_2d(y), np.atleast_2d(p)
        if model_vectors is None:
            return -float(np.mean(np.sum((y - p) ** 2, axis=1)))
        a = y @ model_vectors.T
        b = p @ model_vectors.T
        a = a - a.mean(1, keepdims=True)
        b = b - b.mean(1, keepdims=True)
        den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        return float(np.mean(np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1), 0.0)))

    return make_scorer(score)


def _loo_quality(X: np.ndarray, Y: np.ndarray, alphas: Sequence[float],
                 model_vectors: np.ndarray | None) -> tuple[float, float]:
    """Nested leave-one-task-out (alpha chosen inside each fold on the other tasks only):
    (mean agreement of the held-out predictions, same for the mean-task-vector baseline)."""
    with needs("fit", "fitting a task proxy"):
        from sklearn.linear_model import RidgeCV

    agree = _agreement(model_vectors)
    scoring = _ranking_scorer(model_vectors)
    qs, qb = [], []
    for t in range(len(X)):
        keep = np.arange(len(X)) != t
        pred = RidgeCV(alphas=alphas, scoring=scoring).fit(X[keep], Y[keep]).predict(X[t: t + 1])[0]
        qs.append(agree(Y[t], pred))
        qb.append(agree(Y[t], Y[keep].mean(axis=0)))
    return float(np.mean(qs)), float(np.mean(qb))


def fit_task_proxies(space: Any, *, proxies: Sequence[str] = ("text",), tasks: Sequence[str] | None = None,
                     image_embeddings: Mapping[str, np.ndarray] | None = None, text_model: Any = None,
                     image_meta: Mapping | None = None) -> dict[str, ProxyRegressor]:
    """Fit proxy regressors on a space's historical tasks, for a zoo to store.

    Targets are ``space.task_vector(t)`` of the known tasks ``t`` (default ``space.known_tasks``);
    quality is measured on the ranking of ``space.known_models`` (nested leave-one-task-out).
    ``image_embeddings`` (task id -> mean CLIP embedding, see ``scripts/build_image_proxy.py``)
    adds the ``image`` regressor. Proxies whose embeddings cannot be computed for a task skip it.
    By default only ``text`` is fitted: the metadata prediction then comes from the space's own
    cold-start map (tuned by SPACE), and the text regressor's nested-CV gain decides its weight.
    """
    ids = list(tasks if tasks is not None else space.known_tasks)
    models = list(getattr(space, "known_models", []) or [])
    mv = np.asarray(space.model_vectors(models), np.float64) if models else None
    out: dict[str, ProxyRegressor] = {}
    if "text" in proxies:  # warm the cache with one batched encode
        resolvable = []
        for t in ids:
            try:
                resolvable.append(resolve_dataset(t))
            except (KeyError, ValueError):
                pass
        text_features(resolvable, model=text_model)
    for name in proxies:
        rows, keep = [], []
        for t in ids:
            try:
                if name == "metadata":
                    rows.append(metadata_embedding(resolve_dataset(t)))
                elif name == "text":
                    rows.append(text_embedding(resolve_dataset(t), model=text_model))
                elif name == "image":
                    if not image_embeddings or t not in image_embeddings:
                        continue
                    rows.append(np.asarray(image_embeddings[t], np.float32))
                else:
                    raise ValueError(f"unknown proxy {name!r}; choose from {PROXY_NAMES}.")
            except (KeyError, NotImplementedError):
                continue
            keep.append(t)
        if len(keep) < 3:
            continue
        Y = np.stack([np.asarray(space.task_vector(t), np.float64) for t in keep])
        meta = {"tasks": keep}
        if name == "text":
            meta["encoder"] = TEXT_MODEL_ID if text_model is None else str(text_model)
        if name == "image":
            meta.update(dict(image_meta or {}))
        out[name] = ProxyRegressor.fit(np.stack(rows), Y, name=name, model_vectors=mv, meta=meta,
                                       standardize=(name == "metadata"))
    return out


def save_proxies(proxies: Mapping[str, ProxyRegressor], directory: str | os.PathLike) -> None:
    """Save regressors as ``<dir>/<name>.safetensors`` + ``.json`` and an ``index.json``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, reg in proxies.items():
        reg.save(d / name)
    (d / "index.json").write_text(json.dumps({"proxies": sorted(proxies)}, indent=1))


def load_proxies(directory: str | os.PathLike) -> dict[str, ProxyRegressor]:
    """Load what :func:`save_proxies` wrote (empty dict when the directory has none)."""
    d = Path(directory)
    index = d / "index.json"
    if not index.is_file():
        return {}
    names = json.loads(index.read_text()).get("proxies", [])
    return {n: ProxyRegressor.load(d / n) for n in names if re.fullmatch(r"[\w\-]+", n)}


# --------------------------------------------------------------------------------------------
# Mixing proxies


def supported_proxies(space_or_zoo: Any) -> tuple[str, ...]:
    """Proxies a zoo (or space) can use for an unknown task, cheapest first."""
    regs = getattr(space_or_zoo, "proxies", None) or {}
    have = ["metadata"] if ("metadata" in regs or hasattr(_space_of(space_or_zoo), "task_vector")) else []
    return tuple(have + [p for p in PROXY_NAMES[1:] if p in regs])


def _space_of(obj: Any) -> Any:
    return getattr(obj, "space", None) or obj


def task_vector_from_proxies(entry: Any, space_or_zoo: Any, *, images: int | None = None,
                             use: Sequence[str] | None = None, text_model: Any = None,
                             image_encoder: Any = None, split: str = "train", seed: int = 0,
                             token: str | bool | None = None, endpoint: str | None = None,
                             progress: bool = True, details: bool = False) -> Any:
    """Task vector ``[d]`` for a dataset without history, mixed from the available proxies.

    Proxies come from ``space_or_zoo.proxies`` (name -> :class:`ProxyRegressor`); ``metadata`` is
    the space's own cold-start vector (``space.task_vector`` of the entry's feature row) when there
    is a space, else the ``metadata`` regressor. ``images=None`` uses the cheap proxies (metadata,
    and text when the zoo has a text regressor); ``images=N`` adds the image proxy on N images
    (requires an ``image`` regressor and Hub access). Predictions are averaged with weights equal
    to each regressor's nested-CV gain over the mean task vector (equal weights when no gain is
    known). With ``details=True`` returns ``(vector, {"proxies": [...], "weights": [...]})``.
    """
    regs: Mapping[str, ProxyRegressor] = getattr(space_or_zoo, "proxies", None) or {}
    space = _space_of(space_or_zoo)
    wanted = list(use) if use is not None else ["metadata", "text"] + (["image"] if images else [])
    if images and "image" not in regs:
        raise ValueError("this zoo has no image-proxy regressor; build one with scripts/build_image_proxy.py "
                         f"(supported proxies: {', '.join(supported_proxies(space_or_zoo)) or 'none'}).")
    preds: list[np.ndarray] = []
    names: list[str] = []
    gains: list[float] = []
    for name in wanted:
        if name == "metadata":
            # The space's own cold-start map (tuned by nested leave-one-dataset-out on the registry
            # metadata and text) is preferred: in the default zoo the metadata ridge did not beat
            # the mean task vector in nested CV (benchmarks/RESULTS_tasks.md). Fallback: the ridge.
            if hasattr(space, "task_vector"):
                vec, gain = _space_task_vector(space, entry), None
            elif "metadata" in regs:
                vec = regs["metadata"].predict(metadata_embedding(entry))
                gain = regs["metadata"].gain
            else:
                continue
        elif name == "text":
            if "text" not in regs:
                continue
            enc = text_model
            if enc is None and regs["text"].meta.get("encoder", TEXT_MODEL_ID) != TEXT_MODEL_ID:
                enc = regs["text"].meta["encoder"]  # the encoder the regressor was fitted with
            try:
                emb = text_embedding(entry, model=enc)
            except (ImportError, OSError) as exc:  # no sentence-transformers, or its weights unreachable
                if use is not None:
                    raise ValueError(f"the text proxy cannot run here ({exc}); install it with "
                                     "pip install 'fennec_hub[text]'") from exc
                _warn_no_text(exc)
                continue
            vec = regs["text"].predict(emb)
            gain = regs["text"].gain
        elif name == "image":
            if "image" not in regs:
                continue
            hub_id = getattr(entry, "hub_id", None) or getattr(entry, "id", entry)
            enc = image_encoder
            if enc is None:  # the encoder the zoo's regressor was fitted with: only an allowed Hub id
                enc = regs["image"].meta.get("encoder", DEFAULT_IMAGE_ENCODER)
                if enc not in IMAGE_ENCODERS:
                    allowed = ", ".join(sorted(IMAGE_ENCODERS))
                    raise ValueError(f"this zoo's image proxy names the encoder {str(enc)[:100]!r}, which is not "
                                     f"one of the Hub encoders fennec_hub downloads ({allowed}); "
                                     "pass image_encoder= (e.g. a local directory) to use another")
            emb = image_proxy_embedding(hub_id, n=int(images or DEFAULT_IMAGES), encoder=enc, split=split,
                                        seed=seed, token=token, endpoint=endpoint, progress=progress)
            vec = regs["image"].predict(emb)
            gain = regs["image"].gain
        else:
            raise ValueError(f"unknown proxy {name!r}; choose from {PROXY_NAMES}.")
        preds.append(np.asarray(vec, np.float32))
        names.append(name)
        gains.append(gain)
    if not preds:
        raise ValueError("no proxy available for this task: the zoo has no regressors and its space "
                         "cannot place tasks from metadata.")
    w = mixing_weights(names, gains)
    vec = np.tensordot(w, np.stack(preds), axes=1).astype(np.float32)
    return (vec, {"proxies": names, "weights": [float(x) for x in w]}) if details else vec


def _space_task_vector(space: Any, entry: Any) -> np.ndarray:
    """The space's own cold-start task vector: from the entry's feature row when the space's
    feature module can build one (works for Hub datasets the registry does not know), else by id."""
    if isinstance(entry, str) or not hasattr(entry, "id"):
        return np.asarray(space.task_vector(entry), np.float32)
    try:
        return np.asarray(space.task_vector(task_feature_row(entry)), np.float32)
    except (ImportError, AttributeError, TypeError, KeyError, ValueError):
        return np.asarray(space.task_vector(entry.id), np.float32)


def task_feature_row(entry: Any) -> Any:
    """The task-feature row (pandas Series) a space places a dataset with: registry metadata plus
    the MiniLM text view, computed when the text encoder can run here, else metadata only."""
    try:
        return task_features([entry], text=True).iloc[0]
    except (ImportError, OSError) as exc:
        _warn_no_text(exc)
        return task_features([entry], text=None).iloc[0]


def _warn_no_text(exc: BaseException) -> None:
    import logging

    logging.getLogger(__name__).warning(
        "text proxy unavailable (%s); placing the dataset from its metadata only. "
        "Install it with: pip install 'fennec_hub[text]'", exc)


def mixing_weights(names: Sequence[str], gains: Sequence[float | None]) -> np.ndarray:
    """Weights of proxy predictions: each regressor's nested-CV gain over the mean task vector.

    A prediction of unknown quality (the space's own metadata map) weighs as much as the best known
    gain, or 1 when none is positive. When every gain is zero the metadata prediction alone is used
    (equal weights if there is none): a proxy that did not help in cross-validation is dropped.
    """
    known = [g for g in gains if g is not None]
    best = max(known) if known and max(known) > 0 else 1.0
    w = np.asarray([best if g is None else g for g in gains], np.float64)
    if w.sum() <= 0:
        w = np.asarray([n == "metadata" for n in names], np.float64)
        if w.sum() == 0:
            w = np.ones(len(names))
    return w / w.sum()

