"""TransferSpace: one vector per model and per task; score(model, task) = dot product.

The space is fitted on fine-tuning records from many sources whose protocols differ, so values are
only ever compared inside one ``(source, dataset, metric)`` group: each group is standardised on its
own (rank-gaussianised by default, robust to outliers), and nothing compares raw accuracies across
sources. Each group's standardised results are then put on the quality prior's scale (spread
``sqrt(var(prior in the group) + s^2)``, :func:`_group_spreads`), so the best of a group of similar
models does not look as far ahead as the best of a group that runs from AlexNet to ResNet-152.
Runs that collapsed (near chance, or cut off far below the group: see
:func:`fennec_hub.records.collapsed_runs`) are left out of the records it is fitted on.

A model's score for a task is

    score(m, t) = f_m + omega_b(t) * delta_m  +  sum_g w_g(t) * r_{m,g}  +  gamma * k(sim(src(m), t))

* ``f_m``: the **quality prior** from :data:`PRIOR_COLUMNS`: the model's ImageNet top-1 (its own,
  an identical checkpoint's, its fine-tuned sibling's, or else what checkpoints of its size and
  pre-training data reach) and a penalty for pre-training data smaller than ImageNet-1k, with
  non-negative weights learned from how the recorded models rank *within* each group (so sources
  with different populations do not mix), plus one step down for a checkpoint last trained on a
  downstream dataset (:func:`_downstream_level`). Every model has one, recorded or not, on one
  scale: this is what lets a checkpoint without records be ranked among checkpoints with records.
* ``delta_m``: the model's **own evidence** beyond its prior: its mean residual over the groups it
  was fine-tuned in, shrunk towards 0 by ``n / (n + kappa)`` (``kappa`` by nested leave-one-dataset-
  out); 0 for a model without records. It is a standing against the population of the model's
  block (connected set of models and groups, one record bank): ``omega_b(t)`` is 1 where block b
  recorded the task or no block did, and ``cross_block_evidence`` where only other blocks did (how
  far twins' evidence agrees across blocks, clipped to [0, 1]: 0 on the bundled records, where the
  twin-weighted correlation is -0.16 across blocks and 0.68 within one),
  so a checkpoint that tops a bank of weak networks is not lifted above the whole zoo for a task
  that bank never saw. The model side holds ``delta_m`` in its block's coordinate.
* ``r_{m,g}``: the task-specific residual in group g: the model's own, or, for a model without
  records, its **architecture twins'** (recorded models whose archi2vec vector is nearly the same
  network, of the same size and trained on data of the same scale), weighted by similarity and by
  how far twins agree in the twin's block (``twin_agreement``, less its standard error: 0.02 in
  pytorchcv's zoo, 0.30-0.45 in the others on the bundled records), and shrunk; a second recorded
  upload of one checkpoint lends nothing (``copies``); a model unlike any recorded one has none and
  is ranked by its prior. Twins lend in full only to a query under their own protocol: a query
  under any other (none named, or one no block recorded: the protocol of a user's own fine-tuning)
  gets what twins recorded by different banks agree on (``foreign_twins``: 0 on the bundled
  records), so a model without records is ranked there by its prior. These residuals have their
  own coordinates, apart from recorded models' own.
* ``w(t)``: the task vector over historical groups. For a task in the records it is the indicator
  of its own groups; for a new task it is a softmax over the historical groups of each block
  (connected set of models and groups) by similarity of task features, shrunk by a factor; both
  chosen by nested leave-one-dataset-out on the training datasets only, per block and per protocol
  (records source + metric). Task similarity is a weighted mean of two views of the task features,
  registry metadata and the text proxy (a sentence embedding); the text view's weight (0, 0.5 or 1)
  is chosen by the same nested leave-one-dataset-out, so text is used only if it helps. A new
  task's similarities are clipped to the highest between two of the protocol's recorded datasets,
  the range the kernel was tuned on (:meth:`TransferSpace._similarity_cap`).
* ``gamma * k(sim(src(m), t))``: similarity between the dataset a model was fine-tuned on and the
  target, with one least-squares weight per protocol: models trained on birds transfer to birds.
  The model side is a one-hot of its source dataset; generic pre-training data (ImageNet-1k/21k,
  :data:`fennec_hub.records.PRETRAINING_SOURCES`) is no source here, the prior describes it.

A query that names no protocol (a dataset id names the whole dataset, not how it will be
fine-tuned) takes every term that records make, ``omega * delta``, ``w . r`` and the source term,
times ``protocol_transfer``: how far a model's standing measured under one protocol carries to
another, measured on the records (:func:`_protocol_transfer`: 0.58 on the bundled records, where a
bank's results under one protocol predict the same models' under another at slopes of 0.30-0.74).
A bank's leader is then lifted above its prior by what carries over, not by its whole lead in one
bank's protocol; a query under a named protocol takes the records in full.

So ``model_vectors(models) @ task_vector(task) == score(models, task)`` exactly, and ranking
100,000 models is one matrix-vector product.

Long on purpose: the TransferSpace, its task encoder and the nested leave-one-dataset-out
tuning that chooses its settings are one model; the file format is checked field by field on load.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._extras import needs
from .datasets import resolve_dataset
from .features import model_features, task_features
from .records import PRETRAINING_SOURCES, is_downstream_source, recorded_copies

SPACE_FORMAT_VERSION = 2
GROUP_KEYS = ("source", "dataset", "metric")
_TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 0.5, 2.0)
_SHRINKS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)

# The quality prior's inputs and the reference scale that standardises them: a model's ImageNet
# top-1, or what checkpoints of its size and pre-training data reach (mean, spread of timm's
# results; fennec_hub.features.build_model_features), and its pre-training data, which enters as
# the shortfall below ImageNet-1k in decades of images (0 for ImageNet-scale or unknown data).
PRIOR_COLUMNS = ("quality_top1", "log_pretrain_images")
PRIOR_REFERENCE = {"quality_top1": (80.9, 5.7), "log_pretrain_images": (0.0, 1.0)}
_IMAGENET_LOG_IMAGES = 6.107  # log10 of ImageNet-1k's 1.28M training images
A2V_PREFIX = "a2v_"  # model-feature columns holding the archi2vec vector (twin search)


# --- standardisation -------------------------------------------------------------------------------

def standardize(records: pd.DataFrame, method: str = "rank") -> pd.Series:
    """Standardised value of every record, computed inside its (source, dataset, metric) group only.

    ``rank``: rank-gaussianised (normal quantile of the mid-rank), robust to outliers;
    ``zscore``: (value - mean) / std within the group, clipped to [-3, 3]. A group with a single
    record, or constant values, standardises to 0. Raw accuracies are never compared across groups.
    """
    with needs("fit", "TransferSpace.fit"):
        from scipy.special import ndtri

    keys = [records[k] for k in GROUP_KEYS]
    grouped = records["value"].astype(float).groupby(keys, sort=False, dropna=False)
    if method == "rank":
        rank = grouped.rank(method="average")
        n = grouped.transform("count")
        z = pd.Series(ndtri((rank - 0.5) / n), index=records.index)
        z[n <= 1] = 0.0
    elif method == "zscore":
        mean = grouped.transform("mean")
        std = grouped.transform("std")
        z = ((records["value"] - mean) / std.where(std > 0)).clip(-3, 3).fillna(0.0)
    else:
        raise ValueError(f"unknown standardisation {method!r}; use 'rank' or 'zscore'")
    return z.astype(float)


# --- model features --------------------------------------------------------------------------------

def _numeric(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame()
    return frame.select_dtypes(include=[np.number, "bool"]).astype(float)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), 0.0)


def prior_matrix(features: pd.DataFrame | None, models: Sequence[str]) -> np.ndarray:
    """[len(models), len(PRIOR_COLUMNS)] standardised prior inputs; NaN where a model lacks one."""
    out = np.full((len(models), len(PRIOR_COLUMNS)), np.nan)
    if features is None:
        return out
    rows = features.reindex(list(models))
    for j, col in enumerate(PRIOR_COLUMNS):
        if col in rows:
            mean, scale = PRIOR_REFERENCE[col]
            out[:, j] = (pd.to_numeric(rows[col], errors="coerce").to_numpy(float) - mean) / scale
    # Less pre-training data than ImageNet-1k can only lower the prior (weights are non-negative).
    j = PRIOR_COLUMNS.index("log_pretrain_images")
    out[:, j] = np.minimum(np.nan_to_num(out[:, j], nan=_IMAGENET_LOG_IMAGES) - _IMAGENET_LOG_IMAGES, 0.0)
    return np.clip(out, -_PRIOR_CLIP, _PRIOR_CLIP)


def _a2v_columns(features: pd.DataFrame | None) -> list[str]:
    if features is None:
        return []
    cols = [c for c in features.columns if str(c).startswith(A2V_PREFIX) and str(c)[len(A2V_PREFIX):].isdigit()]
    return sorted(cols, key=lambda c: int(str(c)[len(A2V_PREFIX):]))


def _architecture_vectors(features: pd.DataFrame | None, models: Sequence[str], width: int) -> np.ndarray:
    """[len(models), width] unit archi2vec vectors (zeros where unknown)."""
    cols = _a2v_columns(features)
    if not cols or not width:
        return np.zeros((len(models), width))
    x = features.reindex(list(models))[cols[:width]].to_numpy(float)
    if x.shape[1] < width:
        x = np.hstack([x, np.full((len(x), width - x.shape[1]), np.nan)])
    x = np.where(np.isnan(x).any(axis=1, keepdims=True), 0.0, x)
    return _unit_rows(x)


def downstream_models(features: pd.DataFrame | None, models: Sequence[str]) -> np.ndarray:
    """[len(models)] bool: the model was last trained on a known dataset that is not a pre-training
    one: fine-tuned on it (a PARC ResNet-50 on NABirds, a community ViT on EuroSAT) or trained on it
    alone (pytorchcv's CIFAR-10 ResNet-20), or, as the features' ``downstream`` column says, on data
    the registry does not hold (a detectron2 backbone trained on COCO)."""
    if features is None or "source_dataset" not in features:
        return np.zeros(len(models), dtype=bool)
    rows = features.reindex(list(models))
    src = rows["source_dataset"].to_numpy(object)
    down = np.array([is_downstream_source(x) for x in src], dtype=bool)
    if "downstream" in rows:
        down |= rows["downstream"].astype("boolean").fillna(False).to_numpy(bool)
    return down


def _column(features: pd.DataFrame | None, models: Sequence[str], column: str) -> np.ndarray:
    if features is None or column not in features:
        return np.full(len(models), np.nan)
    return pd.to_numeric(features.reindex(list(models))[column], errors="coerce").to_numpy(float)


def twin_weights(a: np.ndarray, log_params: np.ndarray, log_images: np.ndarray, b: np.ndarray,
                 b_log_params: np.ndarray, b_log_images: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] how much each recorded model (``b``) is the same network, trained the same
    way, as each model of ``a``.

    A kernel on archi2vec cosine similarity (1 = the same encoding), on the parameter-count ratio
    and on the pre-training data (log10 images): near 1 for the same architecture written by
    another library or trained elsewhere on data of the same scale, small for a sibling of another
    size or a network trained on other data (``_TWIN_UNKNOWN_DATA`` when either side's data is
    unknown), 0 below ``_TWIN_MIN_COSINE`` (another architecture family).
    """
    cos = np.clip(a @ b.T, -1.0, 1.0)
    w = np.where(cos >= _TWIN_MIN_COSINE, np.exp((cos - 1.0) / _TWIN_COSINE_SCALE), 0.0)
    dp = np.abs(log_params[:, None] - b_log_params[None, :])
    w *= np.where(np.isfinite(dp), np.exp(-dp / _TWIN_PARAMS_SCALE), 1.0)
    di = np.abs(log_images[:, None] - b_log_images[None, :])
    w *= np.where(np.isfinite(di), np.exp(-di / _TWIN_IMAGES_SCALE), _TWIN_UNKNOWN_DATA)
    w[(np.linalg.norm(a, axis=1) == 0)] = 0.0
    return w


# --- task features ---------------------------------------------------------------------------------

TEXT_PREFIX = "text_"  # task-feature columns of the sentence-encoder (text proxy) view
_TEXT_WEIGHTS = (0.0, 0.5, 1.0)  # weight of the text view in task similarity (0 = metadata only)


@dataclass
class _TaskEncoder:
    """Maps task-feature rows to vectors whose view-wise dot products are task similarities.

    Task features come in views: registry metadata (classes, size, domain) and, when present, the
    text proxy (``text_*`` columns, a sentence embedding). Each view gets its own principal axes
    and its own unit-length segment of the output, so a similarity is a weighted mean of per-view
    cosines (:meth:`similarity`) and the weight of the text view can be chosen where it helps
    instead of letting its 384 columns drown the metadata.
    """

    columns: list[str]
    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray  # [p, q] block-diagonal: each view's principal axes in its own columns
    views: tuple[int, ...] = ()  # output width of each view, in order (metadata first)

    def __post_init__(self) -> None:
        if not self.views:
            self.views = (self.basis.shape[1],)
        self.views = tuple(int(v) for v in self.views)

    @classmethod
    def fit(cls, feats: pd.DataFrame, max_dim: int = 32) -> "_TaskEncoder":
        x = feats.to_numpy(float)
        mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        mean = np.nan_to_num(mean)
        xc = np.nan_to_num(x - mean)
        scale = xc.std(axis=0)
        scale = np.where(scale > 1e-9, scale, 1.0)
        xs = xc / scale
        is_text = np.array([str(c).startswith(TEXT_PREFIX) for c in feats.columns])
        blocks, views = [], []
        for cols in (np.flatnonzero(~is_text), np.flatnonzero(is_text)):
            rows = ~np.isnan(x[:, cols]).all(axis=1) if len(cols) else np.zeros(len(x), bool)
            q = min(max_dim, int(rows.sum()), len(cols))
            if q < 1:
                continue
            _, _, vt = np.linalg.svd(xs[np.ix_(rows, cols)], full_matrices=False)
            block = np.zeros((xs.shape[1], q))
            block[cols] = vt[:q].T
            blocks.append(block)
            views.append(q)
        if not blocks:
            blocks, views = [np.zeros((xs.shape[1], 1))], [1]
        return cls(list(feats.columns), mean, scale, np.hstack(blocks), tuple(views))

    @property
    def has_text(self) -> bool:
        """Whether the encoder has a second (text) view whose weight can be tuned."""
        return len(self.views) > 1

    def encode(self, feats: pd.DataFrame) -> np.ndarray:
        x = feats.reindex(columns=self.columns).to_numpy(float)
        xs = np.nan_to_num((x - self.mean) / self.scale)
        y = xs @ self.basis
        start = 0
        for width in self.views:
            y[:, start : start + width] = _unit_rows(y[:, start : start + width])
            start += width
        return y

    def similarity(self, a: np.ndarray, b: np.ndarray, text_weight: float = 0.0) -> np.ndarray:
        """``a [n, q]`` x ``b [q]`` -> [n] weighted mean of per-view cosines (views the query ``b``
        lacks, such as the text of a dataset without a stored embedding, drop out of the mean)."""
        if len(self.views) == 1:
            return a @ b
        ends = np.cumsum(self.views)
        segs = [slice(e - w, e) for e, w in zip(ends, self.views)]
        present = np.array([np.any(b[seg]) for seg in segs], dtype=float)
        weights = np.array([1.0 - text_weight] + [text_weight] * (len(segs) - 1)) * present
        if weights.sum() <= 0:  # the only weighted view is missing: use what the query has
            weights = present
        if weights.sum() <= 0:
            return np.zeros(len(a))
        weights = weights / weights.sum()
        return sum(w * (a[:, seg] @ b[seg]) for w, seg in zip(weights, segs) if w > 0)


# --- the space -------------------------------------------------------------------------------------

class _FitMethod:
    """``TransferSpace.fit(records, **settings_and_inputs)`` builds and fits in one call (the class
    form, kept from the first API); ``TransferSpace(**settings).fit(records, ...)`` fits a configured
    instance, the scikit-learn way. Both return the fitted space."""

    def __get__(self, obj: "TransferSpace | None", cls: type) -> Callable[..., "TransferSpace"]:
        if obj is not None:
            return obj._fit

        def fit(records: pd.DataFrame, *, model_features: pd.DataFrame | None = None,
                task_features: pd.DataFrame | None = None, **settings: Any) -> "TransferSpace":
            return cls(**settings)._fit(records, model_features=model_features, task_features=task_features)

        fit.__doc__ = cls._fit.__doc__
        return fit


class TransferSpace:
    """Learned transfer space: model vectors and task vectors whose dot product ranks models.

    Vector layout (length ``dim = 1 + G + S + B + G``): a model is ``[f_m, r_m (G groups),
    onehot(source dataset) (S sources), delta_m in its block's coordinate (B blocks), twins' r (G)]``,
    where a recorded model has its own residuals and no twins' and a model without records the
    reverse; a task is ``[1, w (G), gamma * k(sim(source, task)) (S), omega (B), w * twin share (G)]``.

    Settings (validated here; ``None`` means "chosen by nested leave-one-dataset-out at fit time"):
    ``standardization`` ("rank" or "zscore"), ``shrink`` / ``temperature`` (new-task weights),
    ``pair`` (source-similarity term on/off), ``pair_temperature``, ``pair_ridge``,
    ``tune_criterion`` ("pearson", or "top" to weigh the best models more), ``prior_shrink``
    (shrink a model's own evidence towards its quality prior, by a tuned ``kappa``),
    ``prior_ridge`` (penalty of the quality-prior weights), ``task_dim`` (task-feature axes per view),
    ``text_weight`` (weight of the text view in task similarity, in [0, 1]) and ``text_choice``
    ("global": one text weight for the space; "protocol": one per block and protocol).
    """

    fit = _FitMethod()

    def __init__(self, *, standardization: str = "rank", shrink: float | None = None,
                 temperature: float | None = None, pair: bool = True, pair_temperature: float | None = None,
                 pair_ridge: float = 1.0, tune_criterion: str = "pearson", prior_shrink: bool = True,
                 prior_ridge: float = 0.1, task_dim: int = 32, text_weight: float | None = None,
                 text_choice: str = "global") -> None:
        if standardization not in ("rank", "zscore"):
            raise ValueError(f"unknown standardisation {standardization!r}; use 'rank' or 'zscore'")
        if tune_criterion not in ("pearson", "top"):
            raise ValueError(f"tune_criterion must be 'pearson' or 'top', got {tune_criterion!r}")
        if text_choice not in ("global", "protocol"):
            raise ValueError(f"text_choice must be 'global' or 'protocol', got {text_choice!r}")
        if text_weight is not None and not 0.0 <= float(text_weight) <= 1.0:
            raise ValueError(f"text_weight must be in [0, 1], got {text_weight!r}")
        for name, value in (("shrink", shrink), ("temperature", temperature), ("pair_temperature", pair_temperature)):
            if value is not None and not (np.isfinite(value) and value >= 0 and (name == "shrink" or value > 0)):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if not (np.isfinite(pair_ridge) and pair_ridge >= 0 and np.isfinite(prior_ridge) and prior_ridge >= 0):
            raise ValueError("pair_ridge and prior_ridge must be finite and non-negative")
        if int(task_dim) < 1:
            raise ValueError(f"task_dim must be a positive integer, got {task_dim!r}")
        self.settings: dict[str, Any] = dict(
            standardization=standardization, shrink=shrink, temperature=temperature, pair=bool(pair),
            pair_temperature=pair_temperature, pair_ridge=float(pair_ridge), tune_criterion=tune_criterion,
            prior_shrink=bool(prior_shrink), prior_ridge=float(prior_ridge), task_dim=int(task_dim),
            text_weight=None if text_weight is None else float(text_weight), text_choice=text_choice)
        self.options: dict[str, Any] = dict(self.settings)  # settings + what fitting chose (saved)
        self.models: list[str] = []
        self.groups: list[tuple[str, str, str]] = []
        self.datasets: list[str] = []
        # Cached inputs of the last fit (not learned state): features of models and tasks that
        # queries about unknown ids fall back to.
        self._model_features: pd.DataFrame | None = None
        self._task_features: pd.DataFrame | None = None
        self._twin_profile_cache: np.ndarray | None = None
        self._sim_caps: dict[int, float] = {}
        self.evidence: np.ndarray | None = None  # recorded models' own evidence (part of `prior`)

    # -- construction ---------------------------------------------------------------------------

    def _fit(self, records: pd.DataFrame, *, model_features: pd.DataFrame | None = None,
             task_features: pd.DataFrame | None = None) -> "TransferSpace":
        """Fit the space on long-format records (model, dataset, metric, value, source).

        ``model_features``: DataFrame indexed by model id: the :data:`PRIOR_COLUMNS` (quality
        prior), ``a2v_*`` archi2vec columns (twin search for models without records), ``log_params``
        and an optional ``source_dataset`` (dataset id the model was trained on, for the source-
        similarity term). ``task_features``: DataFrame indexed by dataset id (numeric; ``text_*``
        columns form the text view), used to place new tasks. Either may be ``None``.
        Runs that collapsed should not be passed in: `fennec_hub.records.load_records` leaves them out
        (:func:`fennec_hub.records.collapsed_runs` flags them in any table).

        (Long on purpose: its steps share the group matrices, and each is a few lines.)

        """
        s = self.settings
        need = {"model", "dataset", "metric", "value", "source"}
        missing = need - set(records.columns)
        if missing:
            raise ValueError(f"records lack columns {sorted(missing)}")
        rec = records.dropna(subset=["value"]).copy()
        if rec.empty:
            raise ValueError("no records to fit on")
        rec["z"] = standardize(rec, s["standardization"])

        gkey = pd.Series(list(zip(rec["source"], rec["dataset"], rec["metric"])), dtype=object)
        group_codes, groups = pd.factorize(gkey, sort=True)
        model_codes, models = pd.factorize(rec["model"], sort=True)
        M, G = len(models), len(groups)
        zsum = np.zeros((M, G))
        cnt = np.zeros((M, G))
        np.add.at(zsum, (model_codes, group_codes), rec["z"].to_numpy())
        np.add.at(cnt, (model_codes, group_codes), 1.0)
        obs = cnt > 0
        Z = np.where(obs, zsum / np.maximum(cnt, 1), np.nan)

        self.groups = [tuple(g) for g in groups]
        self.models = [str(m) for m in models]
        self.datasets = sorted({g[1] for g in self.groups})
        dindex = {d: i for i, d in enumerate(self.datasets)}
        self.group_dataset = np.array([dindex[g[1]] for g in self.groups], dtype=np.int64)
        self.group_block = _blocks(obs)
        proto_codes, protocols = pd.factorize(pd.Series([(g[0], g[2]) for g in self.groups], dtype=object),
                                              sort=True)
        self.protocols = [tuple(p) for p in protocols]
        self.group_protocol = np.asarray(proto_codes, dtype=np.int64)

        # Quality prior: f = P @ beta, learned from within-group differences of complete rows.
        P = prior_matrix(model_features, self.models)
        fit_rows = P.copy()
        if model_features is not None and "imagenet_top1" in model_features:
            # The weights are learned from published ImageNet figures only, not from the stand-ins.
            fit_rows[~np.isfinite(_column(model_features, self.models, "imagenet_top1"))] = np.nan
        group_sources = [g[0] for g in self.groups]
        self.prior_weights = _fit_prior_weights(Z, obs, fit_rows, group_sources, s["prior_ridge"])
        # Every group's results on one scale: a group of similar models has a narrower spread of
        # results than one that runs from AlexNet to ResNet-152, though both standardise to 1.
        spread, unseen = _group_spreads(Z, obs, fit_rows @ self.prior_weights)
        Z = Z * spread[None, :]
        self.prior_weights = _fit_prior_weights(Z, obs, fit_rows, group_sources, s["prior_ridge"])
        f = np.nan_to_num(P) @ self.prior_weights
        # A downstream fine-tune shares its parent's metadata; left at the parent's prior, a bank of
        # them (PARC's) would set its groups' level too high and lift the parent against its peers.
        down = downstream_models(model_features, self.models)
        level = _downstream_level(Z, obs, f, down, group_sources)
        f = f + level * down
        # Standardised scores on the prior's scale: within-group differences kept, group offsets
        # replaced by the prior's (a group of strong models sits higher than a group of weak ones).
        n_g = np.maximum(obs.sum(axis=0), 1)
        offset = (np.where(obs, f[:, None], 0.0).sum(axis=0) - np.where(obs, Z, 0.0).sum(axis=0)) / n_g
        Zs = np.where(obs, Z + offset[None, :], np.nan)
        transfer = _protocol_transfer(Zs - f[:, None], self.group_dataset, self.group_block, self.group_protocol)

        # Task features: one unit vector per dataset.
        tf = _numeric(task_features)
        encoder = None
        q = 0
        if not tf.empty:
            encoder = _TaskEncoder.fit(tf.dropna(how="all"), max_dim=s["task_dim"])
            q = encoder.basis.shape[1]
        self.task_encoder = encoder
        self.task_emb = _encode_tasks(encoder, tf, self.datasets, q)

        # Source datasets: every dataset with task features that some model was fine-tuned on. Generic
        # pre-training data (ImageNet-1k/21k) is the prior's input, not a source a target resembles.
        model_source = np.full(M, -1, dtype=np.int64)
        sources: list[str] = []
        if s["pair"] and encoder is not None and model_features is not None and "source_dataset" in model_features:
            src = model_features.reindex(self.models)["source_dataset"]
            sources = sorted({x for x in src.dropna().astype(str) if x in tf.index and x not in PRETRAINING_SOURCES})
            sindex = {x: i for i, x in enumerate(sources)}
            model_source = np.array([sindex.get(x, -1) if isinstance(x, str) else -1 for x in src], dtype=np.int64)
        self.sources, self.model_source = sources, model_source
        self.source_emb = _encode_tasks(encoder, tf, sources, q)

        tuned = encoder is not None and s["shrink"] is None and s["temperature"] is None
        if s["text_weight"] is not None:
            weights = (s["text_weight"],)
        elif encoder is not None and encoder.has_text:
            weights = _TEXT_WEIGHTS if tuned else (0.5,)
        else:
            weights = (0.0,)
        state = _Fit(Zs, obs, f, self.group_dataset, self.group_block, self.group_protocol, self.task_emb,
                     self.source_emb, model_source, s["pair_ridge"], encoder, weights)
        state.top_weighted = s["tune_criterion"] == "top"
        state.text_choice = s["text_choice"]
        n_protos = len(self.protocols)
        if not s["pair"] or not sources:
            pt = 1.0
        elif s["pair_temperature"] is not None or not tuned:
            pt = 0.2 if s["pair_temperature"] is None else s["pair_temperature"]
        else:
            pt, _ = state.tune_pair()
        F = state.pair_features(pt) if s["pair"] and sources else np.zeros((M, G))
        kappa = state.tune_kappa(F) if s["prior_shrink"] and tuned else (_DEFAULT_KAPPA if s["prior_shrink"] else 0.0)
        state.kappa = kappa
        everything = np.ones(G, bool)
        self.prior = state.prior(everything)
        self.evidence = self.prior - f
        self.protocol_gamma, self.default_gamma = state.gammas(self.prior, F, everything)
        self.default_gamma = float(self.default_gamma)
        self.profile = state.profile(self.prior, self.protocol_gamma, F, everything)
        self.group_size = obs.sum(axis=0).astype(np.int64)
        self.pair_temperature, self.pair_text = float(pt), float(state.pair_text)

        if tuned:
            ps, ptemp, pa, px = state.tune_kernel(F)
        else:
            value = 0.0 if encoder is None else (1.0 if s["shrink"] is None else float(s["shrink"]))
            tau = 0.1 if s["temperature"] is None else float(s["temperature"])
            ps, ptemp, pa = np.full(n_protos, value), np.full(n_protos, tau), np.zeros(n_protos)
            px = np.full(n_protos, weights[0])
        self.protocol_shrink, self.protocol_temperature, self.protocol_anchor, self.protocol_text = ps, ptemp, pa, px

        # Twin search: the recorded models' architecture vectors and sizes.
        width = len(_a2v_columns(model_features))
        self.model_a2v = _architecture_vectors(model_features, self.models, width)
        self.model_log_params = _column(model_features, self.models, "log_params")
        self.model_log_images = _column(model_features, self.models, "log_pretrain_images")
        self.options = dict(self.settings, prior_kappa=float(kappa), unseen_spread=unseen, downstream_level=level,
                            protocol_transfer=transfer,
                            prior_weights=dict(zip(PRIOR_COLUMNS, map(float, self.prior_weights))))
        self._model_features, self._task_features = model_features, task_features
        self._twin_profile_cache = None
        self._sim_caps = {}
        W = self.twin_weights(self.models, model_features)
        self.options["cross_block_evidence"] = _cross_block_transport(W, self.evidence, self._model_blocks())
        self.options["copies"] = sorted(recorded_copies(self.models))
        lends = self._lends()
        lending = W * lends[:, None] * lends[None, :]
        self.options["twin_agreement"] = _twin_agreement(lending, self._twin_profile(), self.profile != 0,
                                                         self.group_block).tolist()
        corr, se = self.foreign_twin_correlation(lending)
        self.options["foreign_twins"] = float(np.clip(corr - se, 0.0, 1.0))
        return self

    # -- queries --------------------------------------------------------------------------------

    @property
    def known_models(self) -> list[str]:
        """Models the records mention (their vectors come from history)."""
        return list(self.models)

    @property
    def known_tasks(self) -> list[str]:
        """Dataset ids the records mention."""
        return list(self.datasets)

    @property
    def dim(self) -> int:
        """Length of every model and task vector."""
        return 1 + len(self.groups) + len(self.sources) + self._n_blocks + self._n_twin_coords

    @property
    def _n_twin_coords(self) -> int:
        """Coordinates of what twins lend a model without records, one per group, kept apart from
        recorded models' own residuals so a task vector can weigh them by protocol (none for spaces
        saved without ``foreign_twins``, whose twins lend through the groups' coordinates)."""
        return len(self.groups) if "foreign_twins" in self.options else 0

    @property
    def _n_blocks(self) -> int:
        """Coordinates of own evidence, one per block (none for spaces saved without ``evidence``)."""
        return _block_count(self.group_block) if self.evidence is not None else 0

    @property
    def cross_block_evidence(self) -> float:
        """How much of a recorded model's own evidence counts for a task recorded only in other blocks
        (a model's standing in one record bank's population, compared against another's)."""
        value = self.options.get("cross_block_evidence", 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"options['cross_block_evidence'] must be a number in [0, 1], got {value!r}")
        return float(value)

    @property
    def protocol_transfer(self) -> float:
        """How far a model's standing measured under one protocol carries to another, in [0, 1]: the
        weight a query without a named protocol gives every term that records make (1 for spaces
        saved without it). See :func:`_protocol_transfer`."""
        value = self.options.get("protocol_transfer", 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"options['protocol_transfer'] must be a number in [0, 1], got {value!r}")
        return float(value)

    @property
    def twin_agreement(self) -> np.ndarray:
        """Per block, how far architecture twins' residuals agree inside its groups, in [0, 1]: the
        weight one twin recorded there counts with when it lends to a model without records (1 for
        spaces saved without it)."""
        n = _block_count(self.group_block)
        value = self.options.get("twin_agreement")
        if value is None:
            return np.ones(n)
        ok = isinstance(value, list) and len(value) == n and all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in value)
        if not ok:
            raise ValueError(f"options['twin_agreement'] must be {n} numbers in [0, 1], got {value!r}")
        return np.asarray(value, dtype=float)

    @property
    def _twin_coords(self) -> slice:
        """Where a model without records holds its twins' residuals in its vector."""
        G = len(self.groups)
        return slice(self.dim - G, self.dim) if self._n_twin_coords else slice(1, 1 + G)

    @property
    def foreign_twins(self) -> float:
        """How far architecture twins' residuals agree across blocks (record banks, each with its own
        protocol), in [0, 1]: what a twin's evidence is worth in a query that does not name its
        protocol, relative to one that does (1 for spaces saved without it)."""
        value = self.options.get("foreign_twins", 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"options['foreign_twins'] must be a number in [0, 1], got {value!r}")
        return float(value)

    def foreign_twin_correlation(self, lending: np.ndarray | None = None) -> tuple[float, float]:
        """``(correlation, standard error)`` of what architecture twins recorded by different blocks
        lend for one dataset, on the records the space was fitted on: what ``foreign_twins`` is
        measured from (it is the correlation less its standard error, clipped to [0, 1]).
        ``lending``: the recorded models' twin weights, if already computed."""
        if lending is None:
            lends = self._lends()
            lending = self.twin_weights(self.models, self._model_features) * lends[:, None] * lends[None, :]
        return _foreign_twin_correlation(lending, self._twin_profile(), self.profile != 0, self.group_block,
                                         self.group_dataset)

    def _lends(self) -> np.ndarray:
        """[len(known_models)] whether a recorded model lends to its twins: not where it is a second
        recorded upload of one checkpoint (``options["copies"]``), whose records the first upload's
        already are."""
        value = self.options.get("copies", [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"options['copies'] must be a list of model ids, got {value!r}")
        return ~np.isin(np.asarray(self.models, dtype=object), value)

    @property
    def kappa(self) -> float:
        """Pseudo-count of the shrinkage of a model's evidence (own or twins') towards its prior."""
        return float(self.options.get("prior_kappa", _DEFAULT_KAPPA))

    @property
    def downstream_level(self) -> float:
        """How far below its prior a checkpoint last trained on a downstream dataset sits (<= 0)."""
        value = self.options.get("downstream_level", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value > 0:
            raise ValueError(f"options['downstream_level'] must be a finite number <= 0, got {value!r}")
        return float(value)

    def quality_prior(self, models: Sequence[str], model_features: pd.DataFrame | None = None) -> np.ndarray:
        """``f_m``: the quality prior of each model from its metadata alone (records not used)."""
        models = list(models)
        feats = self._features_for(models, model_features)
        return (np.nan_to_num(prior_matrix(feats, models)) @ self.prior_weights
                + self.downstream_level * downstream_models(feats, models))

    def model_vectors(self, models: Sequence[str], model_features: pd.DataFrame | None = None) -> np.ndarray:
        """[n, dim] float64 vectors; unknown models get cold-start vectors from their features.

        ``model_features`` (indexed by model id) supplies features for unknown models; otherwise
        they come from the features given at fit time or :func:`fennec_hub.features.model_features`.
        """
        models = list(models)
        index = {m: i for i, m in enumerate(self.models)}
        out = np.zeros((len(models), self.dim))
        known = np.array([m in index for m in models], dtype=bool)
        G = len(self.groups)
        if known.any():
            rows = np.array([index[m] for m, k in zip(models, known) if k])
            S = len(self.sources)
            out[known, 0] = self.prior[rows]
            out[known, 1 : 1 + G] = self.profile[rows]
            out[known, 1 + G : 1 + G + S] = self._source_onehot(self.model_source[rows])
            if self._n_blocks:  # own evidence in its block's coordinate, which the task vector weighs
                evidence = self.evidence[rows]
                out[known, 0] -= evidence
                out[np.flatnonzero(known), 1 + G + S + self._model_blocks()[rows]] = evidence
        if (~known).any():
            cold = [m for m, k in zip(models, known) if not k]
            out[~known] = self._cold_vectors(cold, model_features)
        return out

    def _features_for(self, models: list[str], model_features: pd.DataFrame | None) -> pd.DataFrame:
        if model_features is not None and set(models) <= set(model_features.index):
            return model_features.reindex(models)
        return _lookup_model_features(models, self._model_features).reindex(models)

    def _source_onehot(self, src: np.ndarray) -> np.ndarray:
        onehot = np.zeros((len(src), len(self.sources)))
        hit = src >= 0
        onehot[np.flatnonzero(hit), src[hit]] = 1.0
        return onehot

    def twin_weights(self, models: Sequence[str], model_features: pd.DataFrame | None = None) -> np.ndarray:
        """[len(models), len(known_models)] architecture-twin weights (see :func:`twin_weights`);
        a recorded model is never its own twin."""
        models = list(models)
        feats = self._features_for(models, model_features)
        a = _architecture_vectors(feats, models, self.model_a2v.shape[1])
        w = twin_weights(a, _column(feats, models, "log_params"), _column(feats, models, "log_pretrain_images"),
                         self.model_a2v, self.model_log_params, self.model_log_images)
        index = {m: i for i, m in enumerate(self.models)}
        for i, m in enumerate(models):
            if m in index:
                w[i, index[m]] = 0.0
        if self.sources and "source_dataset" in feats:
            # A network fine-tuned on a downstream dataset lends only to models of that dataset.
            theirs = np.array(self.sources + [""], dtype=object)[self.model_source]
            downstream = self.model_source >= 0  # sources are downstream datasets (see fit)
            ours = feats["source_dataset"].to_numpy(object)
            known = np.array([isinstance(x, str) and bool(x) for x in ours])
            other = known[:, None] & (ours[:, None] != theirs[None, :])
            w[other & downstream[None, :]] = 0.0
        return w

    def _source_index(self, feats: pd.DataFrame) -> np.ndarray:
        if not self.sources or "source_dataset" not in feats:
            return np.full(len(feats), -1, dtype=np.int64)
        sindex = {s: i for i, s in enumerate(self.sources)}
        return np.array([sindex.get(s, -1) if isinstance(s, str) else -1 for s in feats["source_dataset"]],
                        dtype=np.int64)

    def _twin_profile(self) -> np.ndarray:
        """What a recorded model lends its architecture twins: its residuals less, in each group, the
        part that the group's make-up explains: an intercept, a slope on the recorded models' prior
        level and a step for the checkpoints fine-tuned on a downstream dataset, fitted within the
        group. How steeply a group follows the prior, or how far below their parents its downstream
        fine-tunes fall there, says something about the group, not about a twin's network, and would
        otherwise move every twin of a strong model (or of a parent of fine-tunes) against
        checkpoints that have no twin."""
        if self._twin_profile_cache is not None:
            return self._twin_profile_cache
        P = self.profile.copy()
        down = (self.model_source >= 0).astype(float)  # a source is a downstream dataset (see fit)
        for g in range(P.shape[1]):
            obs = P[:, g] != 0
            if obs.sum() < 3:
                continue
            X = np.c_[self.prior[obs] - self.prior[obs].mean(), down[obs] - down[obs].mean()]
            X = X[:, (X ** 2).sum(axis=0) > 0]
            y = P[obs, g] - P[obs, g].mean()
            P[obs, g] = y - X @ np.linalg.lstsq(X, y, rcond=None)[0] if X.shape[1] else y
        self._twin_profile_cache = P
        return P

    def top_twins(self, models: Sequence[str], model_features: pd.DataFrame | None = None,
                  top: int = 3) -> list[list[tuple[str, float]]]:
        """Each model's strongest recorded architecture twins, ``(model id, weight)`` strongest first:
        at most ``top``, none weaker than the weight worth naming in an explanation. The weight is
        what the twin lends with (:meth:`_lending_weights`)."""
        W = self._lending_weights(models, model_features)
        return [[(self.models[j], float(w[j])) for j in np.argsort(-w, kind="stable")[:top] if w[j] >= _TWIN_REPORT]
                for w in W]

    def _lending_weights(self, models: Sequence[str], model_features: pd.DataFrame | None = None) -> np.ndarray:
        """[len(models), len(known_models)] how much of an observation each recorded twin counts as
        when it lends to each model: its architecture-twin weight times its block's `twin_agreement`
        (a second upload of a recorded checkpoint lends nothing: the first one does)."""
        lend = self.twin_agreement[self._model_blocks()] * self._lends()
        return self.twin_weights(models, model_features) * lend[None, :]

    def _cold_vectors(self, models: list[str], model_features: pd.DataFrame | None) -> np.ndarray:
        feats = self._features_for(models, model_features)
        f = self.quality_prior(models, feats)
        W = self._lending_weights(models, feats)
        # The twins' task-specific residuals, per group, shrunk by one pseudo-observation. Their
        # overall level is not borrowed (a twin's standing is measured against its own source's
        # population, which the prior describes less well than the model's own metadata), nor the
        # part of a residual that only says how steeply the group follows the prior.
        r = (W @ self._twin_profile()) / (W @ (self.profile != 0).astype(float) + 1.0)
        own = np.zeros_like(r) if self._n_twin_coords else r
        return np.hstack([f[:, None], own, self._source_onehot(self._source_index(feats)),
                          np.zeros((len(models), self._n_blocks)), r[:, : self._n_twin_coords]])

    def _model_blocks(self) -> np.ndarray:
        """The block (connected set of models and groups) of every recorded model."""
        return self.group_block[np.argmax(self.profile != 0, axis=1)]

    def task_vector(self, task: Any, *, source: str | None = None, metric: str | None = None) -> np.ndarray:
        """[dim] vector of a task: a dataset id / alias, a ``DatasetEntry``, or a feature row / mapping.

        ``source`` / ``metric`` name the protocol the ranking is for (a records ``source`` string and
        metric, e.g. ``finetune_top1``): where a block has historical groups of that protocol, the
        task's weights go to those groups only. Without one, a task the records know uses its own
        groups of full-data fine-tuning where a block has any (:meth:`_default_groups`); a new task is placed under every fine-tuning protocol of each block, as if each
        were named, and the protocols are averaged with equal weight (one protocol's many groups
        cannot outvote another's). Without a protocol, every term that records make is weighed by
        :attr:`protocol_transfer` (how far a standing measured under one protocol carries to another).
        """
        G = len(self.groups)
        if not isinstance(task, (str, Mapping, pd.Series)) and hasattr(task, "id"):  # a DatasetEntry
            task = task.id if task.id in self.datasets else _entry_features(task)
        name = self._canonical(task) if isinstance(task, str) else None
        emb = self._task_embedding(name if name is not None else task)
        own = np.zeros(G, bool)
        if name is not None and name in self.datasets:
            own = self.group_dataset == self.datasets.index(name)
        proto = self._protocol_index(source, metric)
        in_proto = np.isin(self.group_protocol, proto) if proto is not None else np.zeros(G, bool)
        blocks = np.unique(self.group_block)
        if in_proto.any():  # a named protocol: only its blocks (cold-start models get no cross-talk)
            blocks = np.unique(self.group_block[in_proto])
        w = np.zeros(G)
        preferred = self._default_groups() if proto is None else ()
        for block in blocks:
            in_block = self.group_block == block
            mine = own & in_block
            if (mine & in_proto).any():
                mine = mine & in_proto
            elif proto is None:
                mine = next((mine & keep for keep in preferred if (mine & keep).any()), mine)
            # A task's own groups rank models; groups of fewer than _MIN_GROUP_MODELS models only in
            # proportion, the rest of the weight placing the task by similarity as a new one.
            trust = min(1.0, self.group_size[mine].max() / _MIN_GROUP_MODELS) if mine.any() else 0.0
            if trust:
                w[mine] = trust / mine.sum()
            if trust == 1.0 or emb is None:
                continue
            if (in_block & in_proto).any():
                chosen = [int(self.group_protocol[in_block & in_proto][0])]
            else:  # no protocol named: every fine-tuning protocol of the block, with equal weight
                chosen = self._default_protocols(in_block)
            for p in chosen:
                cand = in_block & (self.group_protocol == p) & ~mine
                if not cand.any():
                    continue
                lam, tau, anchor = self.protocol_shrink[p], self.protocol_temperature[p], self.protocol_anchor[p]
                uniform = np.full(int(cand.sum()), anchor / cand.sum())
                sims = _similarity(self.task_encoder, self.task_emb[self.group_dataset[cand]], emb,
                                   float(self.protocol_text[p]))
                sims = np.minimum(sims, self._similarity_cap(p))
                w[cand] += (1.0 - trust) * (uniform + lam * (_softmax(sims / tau) - uniform)) / len(chosen)
        pair = np.zeros(len(self.sources))
        if emb is not None and self.sources:
            gamma = self.default_gamma
            if proto is not None and len(proto) == 1:
                gamma = self.protocol_gamma[proto[0]]
            sims = _similarity(self.task_encoder, self.source_emb, emb, self.pair_text)
            pair = gamma * _pair_kernel(sims, self.pair_temperature)
        # Own evidence counts in full in the blocks that recorded this task, and for a task none did;
        # for a task recorded only elsewhere, a block's models weigh it by `cross_block_evidence`.
        own_blocks = np.zeros(self._n_blocks, bool)
        own_blocks[np.unique(self.group_block[own])] = True
        omega = np.where(own_blocks | (not own.any()), 1.0, self.cross_block_evidence)
        twins = np.zeros(0)
        if self._n_twin_coords:
            # Twins lend in full to a query under their own protocol; under any other (none named, or
            # one no block recorded) they lend what twins in different blocks agree on.
            twins = w if in_proto.any() else w * self._foreign_share()[self.group_block]
        if proto is None:  # the protocol is unknown: records count by what carries across protocols
            lam = self.protocol_transfer
            w, pair, omega, twins = w * lam, pair * lam, omega * lam, twins * lam
        return np.concatenate([[1.0], w, pair, omega, twins])

    def _similarity_cap(self, protocol: int) -> float:
        """The highest similarity between two of a protocol's datasets: the range its kernel was tuned
        on (each held-out dataset against the others). A new task's similarities are clipped to it,
        so one group whose description nearly repeats the task's (smallNORB's elevation task for its
        azimuth task: the same images, another label) does not take the weight of all the others."""
        if protocol not in self._sim_caps:
            ds = np.unique(self.group_dataset[self.group_protocol == protocol])
            cap = np.inf
            if len(ds) >= 2 and self.task_emb.shape[1]:
                sims = _similarities(self.task_encoder, self.task_emb[ds], self.task_emb[ds],
                                     float(self.protocol_text[protocol]))
                np.fill_diagonal(sims, -np.inf)
                cap = float(sims.max())
            self._sim_caps[protocol] = cap
        return self._sim_caps[protocol]

    def _foreign_share(self) -> np.ndarray:
        """Per block, the share of a twin's lending weight (its block's `twin_agreement`) that a query
        under another protocol keeps: ``foreign_twins / twin_agreement``, at most 1."""
        agree = self.twin_agreement
        return np.clip(np.divide(self.foreign_twins, agree, out=np.zeros_like(agree), where=agree > 0), 0.0, 1.0)

    def _default_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Which of a known task's own groups a query without a named protocol follows, in order of
        preference: those that fine-tune on the full training split, then any fine-tuning; where a
        block has neither, all of them. A dataset id names the whole dataset, and rankings after
        1,000-example fine-tuning or a linear probe agree poorly with full fine-tuning (Kendall's
        tau 0.0-0.6 over TransferGraph's shared models and targets)."""
        metric = [self.protocols[p][1] for p in self.group_protocol]
        tuned = np.array(["finetune" in m for m in metric], dtype=bool)
        return tuned & np.array(["vtab1k" not in m for m in metric], dtype=bool), tuned

    def _default_protocols(self, in_block: np.ndarray) -> list[int]:
        """The protocols a query without a named protocol follows in a block: its fine-tuning ones
        (a linear probe predicts another use), or all of them where it has no fine-tuning records."""
        present = sorted({int(p) for p in self.group_protocol[in_block]})
        tuned = [p for p in present if "finetune" in self.protocols[p][1]]
        return tuned or present

    def text_weights(self) -> dict[str, float]:
        """Weight of the text view in task similarity, per protocol (``"source/metric"``) and for
        the pair term, as chosen at fit time (0 = registry metadata only)."""
        out = {f"{s}/{m}": float(self.protocol_text[i]) for i, (s, m) in enumerate(self.protocols)}
        out["source similarity"] = float(self.pair_text)
        return out

    def _protocol_index(self, source: str | None, metric: str | None) -> np.ndarray | None:
        if source is None and metric is None:
            return None
        hit = [i for i, (s, m) in enumerate(self.protocols)
               if (source is None or s == source) and (metric is None or m == metric)]
        return np.array(hit, dtype=np.int64)

    def _canonical(self, task: str) -> str:
        if task in self.datasets:
            return task
        try:
            return resolve_dataset(task).id
        except (KeyError, ValueError, NotImplementedError):
            return task

    def _task_embedding(self, task) -> np.ndarray | None:
        if self.task_encoder is None:
            return None
        if isinstance(task, str):
            if task in self.datasets and np.any(self.task_emb[self.datasets.index(task)]):
                return self.task_emb[self.datasets.index(task)]
            try:
                feats = _lookup_task_features([task], self._task_features)
            except (KeyError, ValueError, ImportError):
                return None
        elif isinstance(task, pd.Series):
            feats = task.to_frame().T
        else:
            feats = pd.DataFrame([dict(task)])
        feats = _numeric(feats)
        if feats.empty or feats.isna().all(axis=None):
            return None
        return self.task_encoder.encode(feats)[0]

    def score(self, models: Sequence[str], task: str | Mapping[str, float] | pd.Series, *,
              source: str | None = None, metric: str | None = None) -> np.ndarray:
        """Predicted transfer score of each model on the task (higher = better); one matvec."""
        return self.model_vectors(models) @ self.task_vector(task, source=source, metric=metric)

    def explain(self, model: str, task: str, top: int = 3, *, model_features: pd.DataFrame | None = None,
                **protocol: str) -> dict[str, Any]:
        """Why a model scores what it does on a task: prior, own or twins' evidence, nearest tasks.

        Returns ``{"score", "prior", "quality_prior", "evidence", "evidence_weight", "cold_start",
        "twins", "source_dataset", "source_term", "tasks"}``. ``quality_prior`` is ``f_m`` (metadata
        only), ``evidence`` what records add to it (own for recorded models, the twins' for others),
        ``evidence_weight`` how much of a recorded model's own evidence this task counts (1, or
        ``cross_block_evidence`` for a task recorded only in other blocks; times
        ``protocol_transfer`` without a named protocol);
        ``twins`` lists the recorded architecture twins of a cold-start model (``{"model",
        "weight"}``, strongest first); each task entry is ``{"dataset", "source", "metric",
        "weight", "standardized_score", "contribution"}`` for the historical groups with the largest
        weights (``standardized_score``: the model's standardised result there, None without one).
        """
        vec = self.model_vectors([model], model_features)[0]
        tv = self.task_vector(task, **protocol)
        G = len(self.groups)
        cold = model not in self.models
        row = None if cold else self.models.index(model)
        f = float(self.quality_prior([model], model_features)[0])
        twins = []
        if cold:
            twins = [dict(model=m, weight=w) for m, w in self.top_twins([model], model_features)[0]]
        S, B, T = len(self.sources), self._n_blocks, self._n_twin_coords
        twin = 1 + G + S + B  # where twins' lending starts (spaces without it lend through the groups)
        lent = vec[1 : 1 + G] * tv[1 : 1 + G] + (vec[twin:] * tv[twin:] if T else 0.0)
        tasks = []
        for g in np.argsort(-tv[1 : 1 + G], kind="stable")[: max(top, 0)]:
            if tv[1 + g] <= 0:
                break
            z = None
            if row is not None and vec[1 + g] != 0:
                z = float(self.prior[row] + self.profile[row, g] + self._pair_value(row, g))
            tasks.append(dict(dataset=self.groups[g][1], source=self.groups[g][0], metric=self.groups[g][2],
                              weight=float(tv[1 + g]), standardized_score=z, contribution=float(lent[g])))
        src_idx = np.flatnonzero(vec[1 + G : 1 + G + S])
        own = vec[1 + G + S : twin]
        level = float(vec[0] + own.sum())  # the prior coordinate plus its own evidence, if any
        return dict(score=float(vec @ tv), prior=level, quality_prior=f, evidence=level - f,
                    evidence_weight=float(tv[1 + G + S : twin][own != 0].sum()) if not cold else 0.0,
                    source_dataset=self.sources[src_idx[0]] if len(src_idx) else None,
                    source_term=float(vec[1 + G : 1 + G + S] @ tv[1 + G : 1 + G + S]), cold_start=cold,
                    twins=twins, tasks=tasks)

    def _pair_value(self, row: int, g: int) -> float:
        """The pair term of a known model in a historical group (part of its standardised score)."""
        src = self.model_source[row]
        if src < 0:
            return 0.0
        sim = float(_similarity(self.task_encoder, self.source_emb[src][None, :],
                                self.task_emb[self.group_dataset[g]], self.pair_text)[0])
        return float(self.protocol_gamma[self.group_protocol[g]] * _pair_kernel(sim, self.pair_temperature))

    # -- persistence ----------------------------------------------------------------------------

    # name -> (dtype kind, shape in terms of M models, G groups, D datasets, P protocols,
    # S sources, Q task dims, A archi2vec width, K prior columns)
    _ARRAYS = {
        "group_dataset": ("i", ("G",)), "group_block": ("i", ("G",)), "group_protocol": ("i", ("G",)),
        "group_size": ("i", ("G",)),
        "prior": ("f", ("M",)), "profile": ("f", ("M", "G")), "model_source": ("i", ("M",)), "source_emb": ("f", ("S", "Q")),
        "task_emb": ("f", ("D", "Q")), "protocol_gamma": ("f", ("P",)),
        "protocol_shrink": ("f", ("P",)), "protocol_temperature": ("f", ("P",)), "protocol_anchor": ("f", ("P",)),
        "protocol_text": ("f", ("P",)), "prior_weights": ("f", ("K",)), "model_a2v": ("f", ("M", "A")),
        "model_log_params": ("f", ("M",)), "model_log_images": ("f", ("M",)),
    }

    def save(self, path: str | Path) -> Path:
        """Write the space to a directory: ``space.safetensors`` (arrays) + ``space.json`` (no pickle)."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(getattr(self, k)) for k in self._ARRAYS}
        if self.evidence is not None:
            arrays["evidence"] = np.ascontiguousarray(self.evidence)
        if self.task_encoder is not None:
            arrays.update(enc_mean=self.task_encoder.mean, enc_scale=self.task_encoder.scale,
                          enc_basis=np.ascontiguousarray(self.task_encoder.basis))
        save_file(arrays, str(path / "space.safetensors"))
        meta = dict(
            format_version=SPACE_FORMAT_VERSION, models=self.models, groups=[list(g) for g in self.groups],
            datasets=self.datasets, protocols=[list(p) for p in self.protocols], sources=self.sources,
            prior_columns=list(PRIOR_COLUMNS), pair_temperature=self.pair_temperature,
            default_gamma=self.default_gamma, pair_text=self.pair_text,
            task_columns=self.task_encoder.columns if self.task_encoder is not None else None,
            task_views=list(self.task_encoder.views) if self.task_encoder is not None else None,
            settings=self.settings, options=self.options,
        )
        (path / "space.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TransferSpace":
        """Read a space written by :meth:`save`, checking every field's type and every array's shape
        (a malformed space raises ``ValueError`` naming the field, at load time).

        (Long on purpose: every field and array of the file format is checked here, at load time.)
        """
        from safetensors.numpy import load_file

        path = Path(path)
        try:
            meta = json.loads((path / "space.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path / 'space.json'}: unreadable ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format_version") != SPACE_FORMAT_VERSION:
            version = meta.get("format_version") if isinstance(meta, dict) else None
            raise ValueError(f"{path / 'space.json'}: unsupported space format {version!r} (this fennec_hub reads "
                             f"format {SPACE_FORMAT_VERSION}; rebuild the zoo with it)")

        def strings(key: str, depth: int = 1) -> list:
            value = meta.get(key)
            ok = isinstance(value, list) and all(
                isinstance(v, str) if depth == 1 else
                isinstance(v, list) and len(v) == depth and all(isinstance(x, str) for x in v) for v in value)
            if not ok:
                raise ValueError(f"{path / 'space.json'}: {key!r} must be a list of "
                                 f"{'strings' if depth == 1 else f'{depth}-string lists'}")
            return [v if depth == 1 else tuple(v) for v in value]

        def number(key: str) -> float:
            value = meta.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"{path / 'space.json'}: {key!r} must be a finite number")
            return float(value)

        if meta.get("prior_columns") != list(PRIOR_COLUMNS):
            raise ValueError(f"{path / 'space.json'}: prior columns {meta.get('prior_columns')!r} differ from "
                             f"{list(PRIOR_COLUMNS)}")
        settings = meta.get("settings")
        options = meta.get("options")
        if not isinstance(settings, dict) or not isinstance(options, dict):
            raise ValueError(f"{path / 'space.json'}: 'settings' and 'options' must be objects")
        try:
            space = cls(**settings)
        except TypeError as exc:
            raise ValueError(f"{path / 'space.json'}: bad settings ({exc})") from exc
        space.models, space.datasets, space.sources = strings("models"), strings("datasets"), strings("sources")
        space.groups, space.protocols = strings("groups", 3), strings("protocols", 2)
        space.pair_temperature, space.default_gamma = number("pair_temperature"), number("default_gamma")
        space.pair_text = number("pair_text")
        space.options = options
        try:
            a = load_file(str(path / "space.safetensors"))
        except Exception as exc:  # safetensors raises its own error types for corrupt files
            raise ValueError(f"{path / 'space.safetensors'}: unreadable ({exc})") from exc
        columns, views = meta.get("task_columns"), meta.get("task_views")
        Q = int(a["enc_basis"].shape[1]) if "enc_basis" in a and getattr(a["enc_basis"], "ndim", 0) == 2 else 0
        sizes = dict(M=len(space.models), G=len(space.groups), D=len(space.datasets), P=len(space.protocols),
                     S=len(space.sources), Q=Q, K=len(PRIOR_COLUMNS),
                     A=int(a["model_a2v"].shape[1]) if getattr(a.get("model_a2v"), "ndim", 0) == 2 else -1)
        for name, (kind, shape) in cls._ARRAYS.items():
            arr = a.get(name)
            want = tuple(sizes[s] for s in shape)
            unknown_ok = name in ("model_log_params", "model_log_images")  # NaN = not known
            bad_values = arr is not None and kind == "f" and (
                np.isinf(arr).any() if unknown_ok else not np.isfinite(arr).all())
            if arr is None or arr.dtype.kind != kind or arr.shape != want or bad_values:
                raise ValueError(f"{path / 'space.safetensors'}: array {name!r} must be finite {kind} of shape "
                                 f"{want}, got {None if arr is None else (arr.dtype, arr.shape)}")
            setattr(space, name, arr.astype(np.float64) if kind == "f" else arr.astype(np.int64))
        evidence = a.get("evidence")  # absent from spaces saved before it was kept apart: then none
        if evidence is not None and (evidence.dtype.kind != "f" or evidence.shape != (sizes["M"],)
                                     or not np.isfinite(evidence).all()):
            raise ValueError(f"{path / 'space.safetensors'}: array 'evidence' must be finite f of shape "
                             f"({sizes['M']},), got {(evidence.dtype, evidence.shape)}")
        space.evidence = None if evidence is None else evidence.astype(np.float64)
        space.cross_block_evidence  # noqa: B018 - validates the option
        space.protocol_transfer  # noqa: B018 - validates the option
        space.twin_agreement  # noqa: B018 - validates the option
        space.foreign_twins  # noqa: B018 - validates the option
        space._lends()  # validates the option
        for name, top in (("group_dataset", sizes["D"]), ("group_protocol", sizes["P"]), ("model_source", sizes["S"])):
            arr = getattr(space, name)
            if arr.size and (arr.min() < (-1 if name == "model_source" else 0) or arr.max() >= top):
                raise ValueError(f"{path / 'space.safetensors'}: {name!r} indexes out of range")
        space.task_encoder = None
        if columns is not None:
            if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)
                    and isinstance(views, list) and all(isinstance(v, int) for v in views)):
                raise ValueError(f"{path / 'space.json'}: 'task_columns'/'task_views' malformed")
            enc = {k: a.get(k) for k in ("enc_mean", "enc_scale", "enc_basis")}
            p = len(columns)
            if (any(v is None or v.dtype.kind != "f" or not np.isfinite(v).all() for v in enc.values())
                    or enc["enc_mean"].shape != (p,) or enc["enc_scale"].shape != (p,)
                    or enc["enc_basis"].shape != (p, Q) or sum(views) != Q):
                raise ValueError(f"{path / 'space.safetensors'}: task encoder arrays do not match its columns")
            space.task_encoder = _TaskEncoder(columns, enc["enc_mean"], enc["enc_scale"], enc["enc_basis"],
                                              tuple(views))
        elif Q:
            raise ValueError(f"{path / 'space.json'}: task encoder arrays without 'task_columns'")
        return space

    def __repr__(self) -> str:
        return (f"TransferSpace({len(self.models)} models, {len(self.datasets)} datasets, "
                f"{len(self.groups)} groups, {len(self.sources)} sources, dim={self.dim})")


# --- fitting internals -----------------------------------------------------------------------------

_PAIR_TEMPERATURES = (0.1, 0.2, 0.5, 1.0)
_PRIOR_CLIP = 4.0  # standardised prior inputs are clipped, so odd metadata cannot extrapolate wildly
_KAPPAS = (0.0, 0.5, 1.0, 2.0, 4.0)
_MIN_GROUP_MODELS = 3  # a task's own group with fewer recorded models cannot rank a zoo: placed by similarity
_DEFAULT_KAPPA = 1.0  # evidence shrinkage when it is not tuned
_TWIN_MIN_COSINE = 0.9  # below this archi2vec cosine, another architecture: no evidence carries over
_TWIN_COSINE_SCALE = 0.05  # twin weight exp((cos - 1) / scale): 0.99 -> 0.82, 0.97 -> 0.55, 0.9 -> 0.14
_TWIN_PARAMS_SCALE = 0.2  # and exp(-|log params ratio| / scale): same size 1, 20% larger 0.40
_TWIN_IMAGES_SCALE = 0.5  # and exp(-|log10 images ratio| / scale): ImageNet-1k vs -21k 0.12
_TWIN_UNKNOWN_DATA = 0.0  # no evidence carries over when either model's pre-training data is unknown
_TWIN_REPORT = 0.05  # twins weaker than this are not named in explanations


def _fit_prior_weights(Z: np.ndarray, obs: np.ndarray, P: np.ndarray, sources: Sequence[str],
                       ridge: float) -> np.ndarray:
    """Non-negative weights of the prior inputs ``P`` [M, K] that best explain how models rank
    within each group (group-centred least squares on the models that have every input).

    Every source counts the same in total, however many groups and models it has; ``ridge``
    (relative to that total) shrinks the weights towards 0. Better ImageNet accuracy, more
    parameters or more pre-training data can only raise a prior, never lower it.
    """
    with needs("fit", "TransferSpace.fit"):
        from scipy.optimize import nnls

    K = P.shape[1]
    complete = ~np.isnan(P).any(axis=1)
    rows, ys, ws = [], [], []
    per_source = pd.Series(list(sources)).value_counts()
    for g in range(Z.shape[1]):
        m = obs[:, g] & complete
        if m.sum() < 3:
            continue
        x = P[m] - P[m].mean(axis=0)
        y = Z[m, g] - Z[m, g].mean()
        rows.append(x)
        ys.append(y)
        ws.append(np.full(int(m.sum()), 1.0 / (m.sum() * per_source[sources[g]])))
    if not rows:
        return np.zeros(K)
    w = np.sqrt(np.concatenate(ws))
    X, y = np.vstack(rows) * w[:, None], np.concatenate(ys) * w
    lam = np.sqrt(ridge * (w ** 2).sum())
    beta, _ = nnls(np.vstack([X, lam * np.eye(K)]), np.concatenate([y, np.zeros(K)]))
    return beta


def _group_spreads(Z: np.ndarray, obs: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, float]:
    """Spread of each group's results on the prior's scale, ``sqrt(var_g(f) + s^2)``, and ``s``.

    A group's standardised results have unit spread whatever its models, so the best of a group of
    similar networks looks as far ahead as the best of a group running from AlexNet to ResNet-152.
    On a common scale, a group's spread is that of its models' priors plus ``s``, the spread the
    prior does not see, the same in every group. ``s`` is where the unseen share of each group's
    spread, ``1 - r_g^2`` (``r_g``: correlation of prior and results in the group), matches what it
    implies: ``s^2 = sum_g var_g(f) (1 - r_g^2) / sum_g r_g^2``. Only models with a prior (``f`` not
    NaN) count; groups with fewer than 3 count for ``s`` not at all, and a group without prior spread
    gets spread ``s``.
    """
    G = Z.shape[1]
    var_f, r2 = np.zeros(G), np.zeros(G)
    obs = obs & np.isfinite(f)[:, None]
    for g in range(G):
        m = obs[:, g]
        if m.sum() < 2:
            continue
        var_f[g] = f[m].var()
        y = Z[m, g]
        if m.sum() >= 3 and var_f[g] > 1e-12 and y.var() > 1e-12:
            r2[g] = np.corrcoef(f[m], y)[0, 1] ** 2
    use = obs.sum(axis=0) >= 3
    if r2[use].sum() <= 1e-9:
        return np.ones(G), 1.0  # the prior explains nothing: results stay as standardised
    s2 = float((var_f[use] * (1.0 - r2[use])).sum() / r2[use].sum())
    return np.sqrt(var_f + s2), float(np.sqrt(s2))


def _protocol_transfer(R: np.ndarray, group_dataset: np.ndarray, group_block: np.ndarray,
                       group_protocol: np.ndarray, min_models: int = 30) -> float:
    """How far a model's residual beyond its prior (``R`` [M, G], NaN where unrecorded) under one
    protocol predicts its residual on the same dataset under another protocol of the same block:
    the least-squares slope over every such pair of groups (both directions, each group centred on
    the models both recorded, at least 3), per block, averaged over the blocks that have such pairs
    for at least ``min_models`` models in all (every record bank counts the same, once it says
    something), clipped to [0, 1]; 1 where no block did (nothing measured, nothing shrunk). On the
    bundled records: Keras' fine-tuning vs linear probe 0.70, VTAB's full vs 1,000-example
    fine-tuning of ResNet-50s 0.74, TransferGraph's full vs 1,000-example fine-tuning 0.30."""
    obs = np.isfinite(R)
    slopes = []
    for block in np.unique(group_block):
        num = den = 0.0
        n = 0
        cols = np.flatnonzero(group_block == block)
        for d in np.unique(group_dataset[cols]):
            of_d = cols[group_dataset[cols] == d]
            for a, b in itertools.permutations(of_d, 2):
                m = obs[:, a] & obs[:, b]
                if group_protocol[a] == group_protocol[b] or m.sum() < 3:
                    continue
                x, y = R[m, a] - R[m, a].mean(), R[m, b] - R[m, b].mean()
                num, den, n = num + float(x @ y), den + float(x @ x), n + int(m.sum())
        if den > 0 and n >= 2 * min_models:  # each pair of groups is counted in both directions
            slopes.append(num / den)
    return float(np.clip(np.mean(slopes), 0.0, 1.0)) if slopes else 1.0


def _downstream_level(Z: np.ndarray, obs: np.ndarray, f: np.ndarray, down: np.ndarray,
                      sources: Sequence[str]) -> float:
    """How far below the prior ``f`` models last trained on a downstream dataset (``down``) rank,
    within groups: the prior weights' group-centred least squares (:func:`_fit_prior_weights`, every
    source counting the same) on the residuals ``Z - f``, with the indicator as the one input and no
    ridge. Never above 0, as training on a downstream dataset does not make a checkpoint a better
    start for other tasks (the weight of ``-down`` is non-negative).
    """
    return -float(_fit_prior_weights(Z - f[:, None], obs, -down[:, None].astype(float), sources, 0.0)[0])


def _cross_block_transport(W: np.ndarray, evidence: np.ndarray, blocks: np.ndarray) -> float:
    """How far a recorded model's own evidence (its standing against its prior in its record bank)
    predicts its architecture twins' in other blocks: their twin-weighted correlation, clipped to
    [0, 1]; 0 without such twins. On the bundled records it is -0.16 (twins in one block: 0.68): a
    standing measured in one population does not compare against another's."""
    Wc = np.where(blocks[:, None] != blocks[None, :], np.maximum(W, W.T), 0.0)
    e = evidence - (Wc.sum(axis=1) @ evidence) / Wc.sum() if Wc.sum() > 0 else evidence
    num = e @ Wc @ e
    den = float((Wc.sum(axis=1) * e ** 2).sum())
    return float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0


def _twin_agreement(W: np.ndarray, lent: np.ndarray, obs: np.ndarray, group_block: np.ndarray) -> np.ndarray:
    """Per block, how far recorded architecture twins agree on what they lend (``lent``, centred in
    each group): the twin-weighted correlation of the residuals of pairs of models recorded in one
    group, less one standard error (``1 / sqrt(effective number of pairs)``, so an agreement its
    pairs cannot tell from 0 lends nothing), clipped to [0, 1]; 0 for a block without such pairs.
    On the bundled records it runs from 0.02 (pytorchcv's zoo, whose ResNet variants disagree) to
    0.45 (PARC's ResNet-50s)."""
    W = np.maximum(W, W.T)
    np.fill_diagonal(W, 0.0)
    n = _block_count(group_block)
    num, den, s1, s2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for g in range(lent.shape[1]):
        m = np.flatnonzero(obs[:, g])
        r, w = lent[m, g], W[np.ix_(m, m)]
        num[group_block[g]] += r @ w @ r
        den[group_block[g]] += (w.sum(axis=1) * r * r).sum()
        s1[group_block[g]] += w.sum()
        s2[group_block[g]] += (w ** 2).sum()
    est = np.divide(num, den, out=np.zeros(n), where=den > 0)
    return np.clip(est - np.sqrt(np.divide(2 * s2, s1 ** 2, out=np.ones(n), where=s1 > 0)), 0.0, 1.0)


def _foreign_twin_correlation(W: np.ndarray, lent: np.ndarray, obs: np.ndarray, group_block: np.ndarray,
                              group_dataset: np.ndarray) -> tuple[float, float]:
    """How far recorded architecture twins in different blocks agree on what they lend for one dataset
    (each recorded under its own block's protocol): the twin-weighted correlation of their residuals
    (``lent``, centred in each group) and its standard error, ``1 / sqrt(effective number of
    pairs)``; ``(0, 1)`` without such pairs. On the bundled records: 0.01 and 0.08 (147 pairs)."""
    W = np.maximum(W, W.T)
    np.fill_diagonal(W, 0.0)
    num = den = s1 = s2 = 0.0
    for d in np.unique(group_dataset):
        gs = np.flatnonzero(group_dataset == d)
        for a in gs:
            for b in gs:
                if group_block[a] == group_block[b]:
                    continue
                i, j = np.flatnonzero(obs[:, a]), np.flatnonzero(obs[:, b])
                w = W[np.ix_(i, j)]
                num += lent[i, a] @ w @ lent[j, b]
                den += (w.sum(axis=1) * lent[i, a] ** 2).sum()
                s1 += w.sum()
                s2 += (w ** 2).sum()
    if den <= 0:
        return 0.0, 1.0
    return float(num / den), float(np.sqrt(2 * s2) / s1)


def _foreign_twin_agreement(W: np.ndarray, lent: np.ndarray, obs: np.ndarray, group_block: np.ndarray,
                            group_dataset: np.ndarray) -> float:
    """What a twin's evidence is worth for a query under a protocol it was not recorded with: the
    agreement of twins recorded by different blocks (:func:`_foreign_twin_correlation`) less one
    standard error, clipped to [0, 1] (0 on the bundled records)."""
    corr, se = _foreign_twin_correlation(W, lent, obs, group_block, group_dataset)
    return float(np.clip(corr - se, 0.0, 1.0))


def _pair_kernel(sim: np.ndarray, tau: float) -> np.ndarray:
    """Source/target similarity -> pair feature: 1 for identical datasets, decaying with dissimilarity."""
    return np.exp((np.asarray(sim) - 1.0) / tau)


def _softmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    e = np.exp(x - x.max())
    return e / e.sum()


def _encode_tasks(encoder: _TaskEncoder | None, tf: pd.DataFrame, ids: Sequence[str], q: int) -> np.ndarray:
    if encoder is None or not len(ids):
        return np.zeros((len(ids), q))
    rows = tf.reindex(list(ids))
    emb = encoder.encode(rows)
    emb[~rows.notna().any(axis=1).to_numpy()] = 0.0
    return emb


def _similarity(encoder: _TaskEncoder | None, a: np.ndarray, b: np.ndarray, text_weight: float) -> np.ndarray:
    """[len(a)] similarities of the task vectors ``a`` to one task vector ``b`` (plain dot products
    when there is no encoder)."""
    if encoder is None or not a.shape[1]:
        return a @ b
    return encoder.similarity(a, b, text_weight)


def _similarities(encoder: _TaskEncoder | None, a: np.ndarray, b: np.ndarray, text_weight: float) -> np.ndarray:
    """[len(a), len(b)] task similarities (rows of ``a`` against each row of ``b``)."""
    out = np.zeros((len(a), len(b)))
    for j, row in enumerate(b):
        out[:, j] = _similarity(encoder, a, row, text_weight)
    return out


def _block_count(group_block: np.ndarray) -> int:
    """How many blocks the groups' block labels (0, 1, ...) name."""
    return int(group_block.max()) + 1 if len(group_block) else 0


def _blocks(obs: np.ndarray) -> np.ndarray:
    """Block id of every group: connected components of the model-group bipartite graph."""
    with needs("fit", "TransferSpace.fit"):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

    M, G = obs.shape
    r, c = np.nonzero(obs)
    adj = coo_matrix((np.ones(len(r)), (r, M + c)), shape=(M + G, M + G))
    _, labels = connected_components(adj, directed=False)
    _, block = np.unique(labels[M:], return_inverse=True)
    return block.astype(np.int64)


class _Fit:
    """Dense matrices of one fit; also runs the nested leave-one-dataset-out tuning."""

    def __init__(self, Z, obs, f, group_dataset, group_block, group_protocol, task_emb, source_emb, model_source,
                 pair_ridge, encoder: _TaskEncoder | None = None, text_weights: Sequence[float] = (0.0,)):
        self.Z, self.obs, self.f = Z, obs, f
        self.Z0 = np.where(obs, Z, 0.0)
        self.E0 = np.where(obs, Z - f[:, None], 0.0)  # evidence beyond the quality prior
        self.gd, self.gb, self.gp = group_dataset, group_block, np.asarray(group_protocol)
        self.task_emb = task_emb
        self.text_weights = tuple(text_weights)
        self.task_sims = {a: _similarities(encoder, task_emb, task_emb, a) for a in self.text_weights}
        self.source_sims = {a: _similarities(encoder, source_emb, task_emb, a) for a in self.text_weights}
        self.model_source = model_source
        self.has_src = model_source >= 0
        self.set_pair_text(self.text_weights[0])
        self.pair_ridge = pair_ridge
        self.top_weighted = False
        self.text_choice = "global"
        self.kappa = 0.0

    def set_pair_text(self, text_weight: float) -> None:
        """Source/target similarities of the pair term under one weight of the text view."""
        has = self.has_src
        sim = np.zeros((len(self.model_source), len(self.gd)))
        if has.any() and self.task_emb.shape[1]:
            sim[has] = self.source_sims[text_weight][self.model_source[has]][:, self.gd]
        self.sim, self.pair_text = sim, text_weight

    def pair_features(self, tau: float) -> np.ndarray:
        return np.where(self.has_src[:, None], _pair_kernel(self.sim, tau), 0.0)

    def prior(self, keep: np.ndarray) -> np.ndarray:
        """f + the model's evidence in the kept groups, shrunk by ``n / (n + kappa)``."""
        n = self.obs[:, keep].sum(axis=1)
        return self.f + self.E0[:, keep].sum(axis=1) / np.maximum(n + self.kappa, 1e-12)

    def _inner_pair_score(self, F: np.ndarray) -> float:
        """Inner-LODO Pearson of prior + pair term, summed over the held-out groups (>= 3 models)."""
        total = 0.0
        for d, held, keep in self._folds():
            b = self.prior(keep)
            gam, _ = self.gammas(b, F, keep)
            for g in np.flatnonzero(held):
                rows = self.obs[:, g]
                if rows.sum() < 3:
                    continue
                pred = b[rows] + gam[self.gp[g]] * F[rows, g]
                total += _pearson_cols(pred[:, None], self.Z[rows, g], self.top_weighted)[0]
        return total

    def tune_kappa(self, F: np.ndarray) -> float:
        """Shrinkage of a model's evidence towards its quality prior, by inner-LODO Pearson."""
        best, best_k = -np.inf, 0.0
        for kappa in _KAPPAS:
            self.kappa = kappa
            total = self._inner_pair_score(F)
            if total > best + 1e-9:
                best, best_k = total, kappa
        self.kappa = best_k
        return best_k

    def gammas(self, b: np.ndarray, F: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, float]:
        """Least-squares weight of the pair feature per protocol (and pooled), within-group centred."""
        obs = self.obs & keep[None, :]
        r = np.where(obs, self.Z0 - b[:, None], 0.0)
        n = np.maximum(obs.sum(axis=0), 1)
        f = np.where(obs, F - np.where(obs, F, 0.0).sum(axis=0) / n, 0.0)
        num = (r * f).sum(axis=0)
        den = (f * f).sum(axis=0)
        P = int(self.gp.max()) + 1
        pnum = np.bincount(self.gp, weights=num, minlength=P)
        pden = np.bincount(self.gp, weights=den, minlength=P)
        gam = pnum / (pden + self.pair_ridge)
        return gam, float(num.sum() / (den.sum() + self.pair_ridge))

    def profile(self, b: np.ndarray, gammas: np.ndarray, F: np.ndarray, keep: np.ndarray) -> np.ndarray:
        P = np.where(self.obs, self.Z0 - b[:, None] - gammas[self.gp][None, :] * F, 0.0)
        P[:, ~keep] = 0.0
        return P

    def _folds(self):
        for d in np.unique(self.gd):
            held = self.gd == d
            yield d, held, ~held

    def tune_pair(self) -> tuple[float, float]:
        """Pair-kernel (temperature, text weight) maximising inner-LODO Pearson of prior + pair
        term; the text view's weight is raised from 0 only where it helps. Leaves that weight set."""
        best, choice = -np.inf, (_PAIR_TEMPERATURES[-1], self.text_weights[0])
        for alpha in self.text_weights:
            self.set_pair_text(alpha)
            for tau in _PAIR_TEMPERATURES:
                total = self._inner_pair_score(self.pair_features(tau))
                if total > best + 1e-9:
                    best, choice = total, (tau, alpha)
        self.set_pair_text(choice[1])
        return choice

    def tune_kernel(self, F: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per-protocol (shrink, temperature, anchor, text weight) maximising inner-LODO Pearson.

        A new task's weights over a protocol's groups (of one block) are ``anchor * uniform + shrink *
        (softmax(sim / T) - anchor * uniform)``: anchor 1 starts from the protocol's own prior, 0
        from the global prior. ``sim`` weighs the text view of the task features by the text weight;
        ties keep the lower weight, so the text proxy is used only where it helps.
        """
        n_protos = int(self.gp.max()) + 1
        alphas = self.text_weights
        shape = (len(alphas), 2, len(_TEMPERATURES), len(_SHRINKS))
        scores, counts = np.zeros((n_protos,) + shape), np.zeros(n_protos)
        shrinks = np.array(_SHRINKS)
        for d, held, keep in self._folds():
            b = self.prior(keep)
            gam, _ = self.gammas(b, F, keep)
            P = self.profile(b, gam, F, keep)
            sims_by_alpha = [self.task_sims[a][self.gd, d] for a in alphas]
            for g in np.flatnonzero(held):
                rows = self.obs[:, g]
                cand = keep & (self.gb == self.gb[g]) & (self.gp == self.gp[g])
                if rows.sum() < 3 or not cand.any():
                    continue
                y = self.Z[rows, g]
                base = b[rows] + gam[self.gp[g]] * F[rows, g]
                Pc = P[np.ix_(rows, cand)]
                cu = Pc.mean(axis=1)
                for xi, sims in enumerate(sims_by_alpha):
                    for ti, tau in enumerate(_TEMPERATURES):
                        ck = Pc @ _softmax(sims[cand] / tau)
                        for anchor in (0, 1):
                            pred = (base + anchor * cu)[:, None] + (ck - anchor * cu)[:, None] * shrinks[None, :]
                            scores[self.gp[g], xi, anchor, ti] += _pearson_cols(pred, y, self.top_weighted)
                counts[self.gp[g]] += 1
        allowed = np.ones(len(alphas), bool)
        usable = counts >= 2
        if self.text_choice == "global" and usable.any():
            # One text weight for the whole space: the best summed over every held-out group (each
            # belongs to one protocol), each protocol at its own best other settings.
            per_weight = scores[usable].reshape(int(usable.sum()), len(alphas), -1).max(axis=2).sum(axis=0)
            allowed[:] = False
            allowed[int(np.argmax(per_weight))] = True  # ties keep the lower weight
        s_best, t_best, a_best = np.zeros(n_protos), np.full(n_protos, 0.1), np.zeros(n_protos)
        x_best = np.full(n_protos, float(alphas[int(np.argmax(allowed))]))
        for k in np.flatnonzero(usable):
            masked = np.where(allowed[:, None, None, None], scores[k], -np.inf)
            xi, ai, ti, si = np.unravel_index(np.argmax(masked), shape)
            s_best[k], t_best[k], a_best[k], x_best[k] = shrinks[si], _TEMPERATURES[ti], float(ai), float(alphas[xi])
        return s_best, t_best, a_best, x_best


def _pearson_cols(pred: np.ndarray, y: np.ndarray, top_weighted: bool = False) -> np.ndarray:
    """Pearson r of every column of ``pred`` with ``y``; optionally weighted towards the best ``y``
    (hyperbolic weights 1 / (1 + rank), as in the weighted Kendall tau the harness reports)."""
    if top_weighted:
        rank = np.empty(len(y))
        rank[np.argsort(-y, kind="stable")] = np.arange(len(y))
        v = 1.0 / (1.0 + rank)
    else:
        v = np.ones(len(y))
    v = v / v.sum()
    pc = pred - v @ pred
    yc = y - v @ y
    den = np.sqrt((v @ pc**2) * (v @ yc**2))
    return np.where(den > 0, (v @ (pc * yc[:, None])) / np.where(den > 0, den, 1.0), 0.0)


def _lookup_model_features(models: list[str], cached: pd.DataFrame | None) -> pd.DataFrame:
    have = cached.loc[[m for m in models if m in cached.index]] if cached is not None else pd.DataFrame()
    rest = [m for m in models if cached is None or m not in cached.index]
    if rest:
        try:
            extra = model_features(rest)
        except Exception:  # features unavailable: the cold start falls back to the average prior
            extra = pd.DataFrame(index=rest)
        have = pd.concat([have, extra]) if len(have) else extra
    return have


def _entry_features(entry: Any) -> pd.Series:
    return task_features([entry], text=None).iloc[0]


def _lookup_task_features(tasks: list[str], cached: pd.DataFrame | None) -> pd.DataFrame:
    if cached is not None and all(t in cached.index for t in tasks):
        return cached.loc[tasks]
    return task_features(tasks, text=None)
