"""TransferSpace: one vector per model and per task; score(model, task) = dot product.

The space is fitted on fine-tuning records from many sources whose protocols differ, so values are
only ever compared inside one ``(source, dataset, metric)`` group: each group is standardised on its
own (rank-gaussianised by default, robust to collapsed runs), and nothing compares raw accuracies
across sources.

A model's score for a task is

    score(m, t) = b_m  +  sum_g w_g(t) * r_{m,g}  +  gamma * f(sim(src(m), t))

* ``b_m``: the model's prior, its mean standardised score over the groups it was fine-tuned in,
  shrunk towards what its features predict (ridge on archi2vec + metadata; the shrinkage is chosen
  by nested leave-one-dataset-out, so a model with few records borrows from similar models).
* ``r_{m,g}``: its residual in group g (standardised score minus prior minus the pair term), zero
  where the records have no value. These residual profiles are the task-specific structure.
* ``w(t)``: the task vector over historical groups. For a task in the records it is the indicator
  of its own groups; for a new task it is a softmax over the historical groups of each block
  (connected set of models and groups) by similarity of task features, shrunk by a factor; both
  chosen by nested leave-one-dataset-out on the training datasets only, per block and per protocol
  (records source + metric), so a ranking "for TransferGraph's fine-tuning protocol" leans on that
  protocol's history. Task similarity is a weighted mean of two views of the task features, registry
  metadata and the text proxy (a sentence embedding); the text view's weight (0 = metadata only, 0.5
  or 1) is chosen by the same nested leave-one-dataset-out, so text is used only if it helps.
* ``gamma * f(sim(src(m), t))``: similarity between the dataset a model was pre-trained or
  fine-tuned on and the target (task-feature cosine through a kernel, 1 for the same dataset),
  with one least-squares weight per protocol: models trained on birds transfer to birds. The model
  side is a one-hot of its source dataset, the task side the kernel row, so it stays a dot product.

Models the records never mention get ``b_m`` and ``r_m`` from their features (archi2vec +
metadata) through ridge maps stored as arrays: one map per group predicts the model's standardised
score there, and the offsets are weighted by the predicted probability that the model belongs to
each block (a multinomial logistic map), so a query spanning several blocks averages them. Tasks the
records never mention get ``w(t)`` from their features. An optional bilinear term (model features x
task features, ``interaction=True``) is kept only where nested leave-one-dataset-out says it helps.
So ``model_vectors(models) @ task_vector(task) == score(models, task)`` exactly, and ranking
100,000 models is one matrix-vector product.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ._extras import needs

SPACE_FORMAT_VERSION = 1
GROUP_KEYS = ("source", "dataset", "metric")
_TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 0.5, 2.0)
_SHRINKS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


# --- standardisation -------------------------------------------------------------------------------

def standardize(records: pd.DataFrame, method: str = "rank") -> pd.Series:
    """Standardised value of every record, computed inside its (source, dataset, metric) group only.

    ``rank``: rank-gaussianised (normal quantile of the mid-rank), robust to collapsed runs;
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


# --- feature helpers -------------------------------------------------------------------------------

def _numeric(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame()
    return frame.select_dtypes(include=[np.number, "bool"]).astype(float)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), 0.0)


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

@dataclass
class TransferSpace:
    """Learned transfer space: model vectors and task vectors whose dot product ranks models.

    Vector layout (length ``dim = 1 + G + S``): a model is ``[b_m, r_m (G groups), onehot(source
    dataset) (S sources)]``; a task is ``[1, w (G), gamma * f(sim(source, task)) (S)]``.
    Build it with :meth:`fit`; query with :meth:`score`, :meth:`model_vectors`, :meth:`task_vector`.
    """

    models: list[str]
    groups: list[tuple[str, str, str]]
    datasets: list[str]
    group_dataset: np.ndarray  # [G] index into datasets
    group_block: np.ndarray  # [G] block id (connected component of models and groups)
    group_protocol: np.ndarray  # [G] index into protocols
    protocols: list[tuple[str, str]]  # (source, metric)
    prior: np.ndarray  # [M] b_m
    profile: np.ndarray  # [M, G] residuals r_{m,g}
    sources: list[str]  # source-dataset vocabulary (dataset ids)
    source_emb: np.ndarray  # [S, q] unit task vectors of the sources
    model_source: np.ndarray  # [M] index into sources, -1 when unknown
    task_emb: np.ndarray  # [T, q] unit task vectors of the training datasets
    pair_temperature: float
    protocol_gamma: np.ndarray  # [P] weight of the source-similarity term per protocol
    default_gamma: float  # its weight when no protocol is named
    block_shrink: np.ndarray  # [B]
    block_temperature: np.ndarray  # [B]
    block_anchor: np.ndarray  # [B] 1 = start from the uniform average of the candidate groups
    protocol_shrink: np.ndarray  # [P]
    protocol_temperature: np.ndarray  # [P]
    protocol_anchor: np.ndarray  # [P]
    task_encoder: _TaskEncoder | None
    cold_columns: list[str] = field(default_factory=list)
    cold_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cold_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cold_map: np.ndarray = field(default_factory=lambda: np.zeros((1, 0)))  # [p+1, 1+G]
    inter_map: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [k, p] model-task interaction
    block_map: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [p+1, B] cold model -> block logits
    block_text: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [B] text-view weight of task similarity
    protocol_text: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [P]
    pair_text: float = 0.0  # text-view weight of the source/target similarity
    options: dict[str, Any] = field(default_factory=dict)
    _model_features: pd.DataFrame | None = None
    _task_features: pd.DataFrame | None = None

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        records: pd.DataFrame,
        *,
        model_features: pd.DataFrame | None = None,
        task_features: pd.DataFrame | None = None,
        standardization: str = "rank",
        shrink: float | None = None,
        temperature: float | None = None,
        pair: bool = True,
        pair_temperature: float | None = None,
        pair_ridge: float = 1.0,
        cold_ridge: float | None = None,
        cold_target: str = "direct",
        tune_criterion: str = "pearson",
        interaction: bool = False,
        prior_shrink: bool = True,
        interaction_dim: int = 8,
        task_dim: int = 32,
        text_weight: float | None = None,
        text_choice: str = "global",
    ) -> "TransferSpace":
        """Fit the space on long-format records (model, dataset, metric, value, source).

        ``model_features``: DataFrame indexed by model id, numeric columns (archi2vec, metadata)
        plus an optional ``source_dataset`` column (dataset id the model was trained on); used for
        cold-start models and the source/target similarity term. ``task_features``: DataFrame
        indexed by dataset id (numeric), used for cold-start tasks. Either may be ``None``.
        ``shrink`` / ``temperature`` / ``pair_temperature``: fixed values; ``None`` chooses them by
        nested leave-one-dataset-out on the training datasets (never on a held-out one).
        ``text_weight``: weight in [0, 1] of the text view (``text_*`` task-feature columns) in task
        similarity, against the metadata view; ``None`` chooses 0 (metadata only), 0.5 or 1 by the
        same nested leave-one-dataset-out, so text is used only if it helps: once for the whole space
        (``text_choice="global"``, summed over every held-out group) or per block and protocol
        (``"protocol"``, fewer inner folds per choice, noisier on held-out data).
        """
        need = {"model", "dataset", "metric", "value", "source"}
        missing = need - set(records.columns)
        if missing:
            raise ValueError(f"records lack columns {sorted(missing)}")
        rec = records.dropna(subset=["value"]).copy()
        if rec.empty:
            raise ValueError("no records to fit on")
        rec["z"] = standardize(rec, standardization)

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

        groups = [tuple(g) for g in groups]
        models = [str(m) for m in models]
        datasets = sorted({g[1] for g in groups})
        dindex = {d: i for i, d in enumerate(datasets)}
        group_dataset = np.array([dindex[g[1]] for g in groups], dtype=np.int64)
        group_block = _blocks(obs)
        proto_codes, protocols = pd.factorize(pd.Series([(g[0], g[2]) for g in groups], dtype=object), sort=True)
        protocols = [tuple(p) for p in protocols]

        # Task features: one unit vector per dataset.
        tf = _numeric(task_features)
        encoder = None
        q = 0
        if not tf.empty:
            encoder = _TaskEncoder.fit(tf.dropna(how="all"), max_dim=task_dim)
            q = encoder.basis.shape[1]
        task_emb = _encode_tasks(encoder, tf, datasets, q)

        # Source datasets: every dataset with task features that some model was trained on.
        model_source = np.full(M, -1, dtype=np.int64)
        sources: list[str] = []
        if pair and encoder is not None and model_features is not None and "source_dataset" in model_features:
            src = model_features.reindex(models)["source_dataset"]
            sources = sorted({s for s in src.dropna().astype(str) if s in tf.index})
            sindex = {s: i for i, s in enumerate(sources)}
            model_source = np.array([sindex.get(s, -1) if isinstance(s, str) else -1 for s in src], dtype=np.int64)
        source_emb = _encode_tasks(encoder, tf, sources, q)

        if text_choice not in ("global", "protocol"):
            raise ValueError(f"text_choice must be 'global' or 'protocol', got {text_choice!r}")
        tuned = encoder is not None and shrink is None and temperature is None
        if text_weight is not None:
            if not 0.0 <= float(text_weight) <= 1.0:
                raise ValueError(f"text_weight must be in [0, 1], got {text_weight!r}")
            weights = (float(text_weight),)
        elif encoder is not None and encoder.has_text:
            weights = _TEXT_WEIGHTS if tuned else (0.5,)
        else:
            weights = (0.0,)
        state = _Fit(Z, obs, group_dataset, group_block, proto_codes, task_emb, source_emb, model_source, pair_ridge,
                     encoder, weights)
        state.top_weighted = tune_criterion == "top"
        state.text_choice = text_choice
        n_blocks, n_protos = int(group_block.max()) + 1, len(protocols)
        if not pair or not sources:
            pt = 1.0
        elif pair_temperature is not None or not tuned:
            pt = 0.2 if pair_temperature is None else float(pair_temperature)
        else:
            pt, _ = state.tune_pair()
        F = state.pair_features(pt) if pair and sources else np.zeros((M, G))
        everything = np.ones(G, bool)
        inter_map = np.zeros((0, 0))
        cold_cols, cold_mean, cold_scale, X = _standardized_features(model_features, models)
        kappa = 0.0
        if prior_shrink and tuned and X.shape[1]:
            state.set_smoother(X)
            kappa = state.tune_kappa(F)
        if interaction and encoder is not None and X.shape[1]:
            inter_map = state.fit_interaction(X, F, min(interaction_dim, q))
        prior = state.prior(everything)
        gammas, default_gamma = state.gammas(prior, F, everything)
        profile = state.profile(prior, gammas, F, everything)

        if tuned:
            (bs, bt, ba, bx), (ps, ptemp, pa, px) = state.tune_kernel(F)
        else:
            value = 0.0 if encoder is None else (1.0 if shrink is None else float(shrink))
            tau = 0.1 if temperature is None else float(temperature)
            bs, bt, ba = np.full(n_blocks, value), np.full(n_blocks, tau), np.zeros(n_blocks)
            ps, ptemp, pa = np.full(n_protos, value), np.full(n_protos, tau), np.zeros(n_protos)
            bx, px = np.full(n_blocks, weights[0]), np.full(n_protos, weights[0])

        space = cls(
            models=models, groups=groups, datasets=datasets, group_dataset=group_dataset,
            group_block=group_block, group_protocol=np.asarray(proto_codes, dtype=np.int64), protocols=protocols,
            prior=prior, profile=profile, sources=sources, source_emb=source_emb, model_source=model_source,
            task_emb=task_emb, pair_temperature=float(pt), protocol_gamma=gammas, default_gamma=float(default_gamma),
            block_shrink=bs, block_temperature=bt, block_anchor=ba, protocol_shrink=ps,
            protocol_temperature=ptemp, protocol_anchor=pa,
            task_encoder=encoder, inter_map=inter_map, block_text=bx, protocol_text=px,
            pair_text=float(state.pair_text),
            options=dict(standardization=standardization, shrink=shrink, temperature=temperature, pair=pair,
                         pair_temperature=pair_temperature, pair_ridge=pair_ridge, cold_ridge=cold_ridge,
                         task_dim=task_dim, cold_target=cold_target, tune_criterion=tune_criterion,
                         interaction=interaction, interaction_dim=interaction_dim, prior_shrink=prior_shrink,
                         prior_kappa=kappa, text_weight=text_weight, text_choice=text_choice),
            _model_features=model_features, _task_features=task_features,
        )
        space._fit_cold_start(model_features, obs, cold_ridge)
        if inter_map.size and space.cold_columns != cold_cols:
            raise RuntimeError("feature columns of the interaction and the cold-start maps differ")
        return space

    def _fit_cold_start(self, model_features: pd.DataFrame | None, obs: np.ndarray, ridge: float | None) -> None:
        """Ridge maps from model features to the prior and to the residual of every group.

        Each output column is fitted on the models observed there (RidgeCV, efficient leave-one-out
        choice of the penalty unless ``ridge`` fixes it), so a group's map learns how architecture
        and metadata matter under that group's protocol.
        """
        with needs("fit", "TransferSpace.fit"):
            from sklearn.linear_model import Ridge, RidgeCV

        G = len(self.groups)
        feats = _numeric(model_features)
        if not feats.empty:
            feats = feats.loc[:, _learnable(feats.reindex(self.models))]
        if feats.empty:
            self.cold_columns, self.cold_mean, self.cold_scale = [], np.zeros(0), np.zeros(0)
            self.cold_map = np.zeros((1, 1 + G))
            self.cold_map[0, 0] = float(np.mean(self.prior))
            return
        x = feats.reindex(self.models).to_numpy(float)
        has = ~np.isnan(x).all(axis=1)
        mean = np.nan_to_num(np.nanmean(x[has], axis=0))
        scale = np.nan_to_num(np.nanstd(x[has], axis=0))
        scale = np.where(scale > 1e-9, scale, 1.0)
        xs = np.clip(np.nan_to_num((x - mean) / scale), -_FEATURE_CLIP, _FEATURE_CLIP)
        coef = np.zeros((xs.shape[1] + 1, 1 + G))
        direct = self.options.get("cold_target", "direct") == "direct"
        Y = np.hstack([self.prior[:, None], (self.prior[:, None] if direct else 0.0) + self.profile])
        masks = np.hstack([has[:, None], obs & has[:, None]])
        # Columns observed on the same models share one multi-output fit.
        _, col_group = np.unique(masks.T, axis=0, return_inverse=True)
        for k in np.unique(col_group):
            cols = np.flatnonzero(col_group == k)
            rows = masks[:, cols[0]]
            if rows.sum() < 3:
                coef[0, cols] = Y[rows][:, cols].mean(axis=0) if rows.any() else 0.0
                continue
            reg = Ridge(alpha=ridge) if ridge is not None else RidgeCV(alphas=_COLD_ALPHAS, alpha_per_target=True)
            reg.fit(xs[rows], Y[rows][:, cols])
            coef[0, cols] = reg.intercept_
            coef[1:, cols] = np.atleast_2d(reg.coef_).T
        if direct:  # offsets from the predicted prior keep the [b, r] layout of known models
            coef[:, 1:] -= coef[:, :1]
        # Which block of history does a new model resemble? Its per-group offsets are weighted by
        # that probability, so a query that spans blocks averages (not sums) them.
        model_block = self.group_block[np.argmax(obs, axis=1)]
        n_blocks = len(self.block_shrink)
        self.block_map = np.zeros((xs.shape[1] + 1, n_blocks))
        present = np.unique(model_block[has])
        if len(present) == 1:
            self.block_map[0, present[0]] = 50.0
            self.block_map[0, np.setdiff1d(np.arange(n_blocks), present)] = -50.0
        elif len(present) > 1:
            with needs("fit", "TransferSpace.fit"):
                from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=1.0, max_iter=2000).fit(xs[has], model_block[has])
            self.block_map[:, :] = -50.0
            coefs = clf.coef_ if len(present) > 2 else np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
            icpt = clf.intercept_ if len(present) > 2 else np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
            for i, blk in enumerate(clf.classes_):
                self.block_map[0, blk] = icpt[i]
                self.block_map[1:, blk] = coefs[i]
        self.cold_columns = list(feats.columns)
        self.cold_mean, self.cold_scale, self.cold_map = mean, scale, coef

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
        return 1 + len(self.groups) + len(self.sources) + (self.inter_map.shape[1] if self.inter_map.size else 0)

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
            out[known, 0] = self.prior[rows]
            out[known, 1 : 1 + G] = self.profile[rows]
            src = self.model_source[rows]
            hit = src >= 0
            sub = np.zeros((len(rows), len(self.sources)))
            sub[np.flatnonzero(hit), src[hit]] = 1.0
            out[known, 1 + G : 1 + G + len(self.sources)] = sub
            if self.inter_map.size:
                feats = model_features if model_features is not None and set(self.models[r] for r in rows) <= set(
                    model_features.index) else self._model_features
                out[known, 1 + G + len(self.sources) :] = self._standardize(
                    feats.reindex([self.models[r] for r in rows]))
        if (~known).any():
            cold = [m for m, k in zip(models, known) if not k]
            out[~known] = self._cold_vectors(cold, model_features)
        return out

    def _cold_vectors(self, models: list[str], model_features: pd.DataFrame | None) -> np.ndarray:
        feats = model_features
        if feats is None or not set(models) <= set(feats.index):
            feats = _lookup_model_features(models, self._model_features)
        feats = feats.reindex(models)
        if self.cold_columns:
            xs = self._standardize(feats)
            X1 = np.hstack([np.ones((len(models), 1)), xs])
            pred = X1 @ self.cold_map
            if self.block_map.size:
                logits = X1 @ self.block_map
                member = np.exp(logits - logits.max(axis=1, keepdims=True))
                member /= member.sum(axis=1, keepdims=True)
                pred[:, 1:] *= member[:, self.group_block]
        else:
            pred = np.tile(self.cold_map[0], (len(models), 1))
        onehot = np.zeros((len(models), len(self.sources)))
        if self.sources and "source_dataset" in feats:
            sindex = {s: i for i, s in enumerate(self.sources)}
            for i, s in enumerate(feats["source_dataset"]):
                if isinstance(s, str) and s in sindex:
                    onehot[i, sindex[s]] = 1.0
        parts = [pred, onehot]
        if self.inter_map.size:
            parts.append(self._standardize(feats))
        return np.hstack(parts)

    def _standardize(self, feats: pd.DataFrame | None) -> np.ndarray:
        """Model features in the cold-start maps' standardised form (missing -> 0 = the mean)."""
        if feats is None:
            return np.zeros((0, len(self.cold_columns)))
        x = feats.reindex(columns=self.cold_columns).to_numpy(float)
        return np.clip(np.nan_to_num((x - self.cold_mean) / self.cold_scale), -_FEATURE_CLIP, _FEATURE_CLIP)

    def task_vector(self, task: Any, *, source: str | None = None, metric: str | None = None) -> np.ndarray:
        """[dim] vector of a task: a dataset id / alias, a ``DatasetEntry``, or a feature row / mapping.

        ``source`` / ``metric`` name the protocol the ranking is for (a records ``source`` string and
        metric, e.g. ``finetune_top1``): where a block has historical groups of that protocol, the
        task's weights go to those groups only, so the prior becomes the protocol's own prior.
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
        blocks = range(len(self.block_shrink))
        if in_proto.any():  # a named protocol: only its blocks (cold-start models get no cross-talk)
            blocks = np.unique(self.group_block[in_proto])
        w = np.zeros(G)
        for block in blocks:
            in_block = self.group_block == block
            mine = own & in_block
            if mine.any():
                if (mine & in_proto).any():
                    mine = mine & in_proto
                w[mine] = 1.0 / mine.sum()
                continue
            if emb is None:
                continue
            cand = in_block & in_proto
            if cand.any():
                p0 = self.group_protocol[cand][0]
                lam, tau, anchor = self.protocol_shrink[p0], self.protocol_temperature[p0], self.protocol_anchor[p0]
                alpha = _at(self.protocol_text, p0)
            else:
                cand = in_block
                lam, tau, anchor = self.block_shrink[block], self.block_temperature[block], self.block_anchor[block]
                alpha = _at(self.block_text, block)
            uniform = np.full(int(cand.sum()), anchor / cand.sum())
            sims = _similarity(self.task_encoder, self.task_emb[self.group_dataset[cand]], emb, alpha)
            w[cand] = uniform + lam * (_softmax(sims / tau) - uniform)
        pair = np.zeros(len(self.sources))
        if emb is not None and self.sources:
            gamma = self.default_gamma
            if proto is not None and len(proto) == 1:
                gamma = self.protocol_gamma[proto[0]]
            sims = _similarity(self.task_encoder, self.source_emb, emb, self.pair_text)
            pair = gamma * _pair_kernel(sims, self.pair_temperature)
        inter = np.zeros(self.inter_map.shape[1] if self.inter_map.size else 0)
        if self.inter_map.size and emb is not None:
            inter = emb[: self.inter_map.shape[0]] @ self.inter_map
        return np.concatenate([[1.0], w, pair, inter])

    def text_weights(self) -> dict[str, float]:
        """Weight of the text view in task similarity, per protocol (``"source/metric"``) and for
        the pair term, as chosen at fit time (0 = registry metadata only)."""
        out = {f"{s}/{m}": float(_at(self.protocol_text, i)) for i, (s, m) in enumerate(self.protocols)}
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
            from .datasets import resolve_dataset

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

    def explain(self, model: str, task: str, top: int = 3, **protocol: str) -> dict[str, Any]:
        """Why a model scores what it does on a task: prior, source similarity and nearest tasks.

        Returns ``{"score", "prior", "source_dataset", "source_term", "cold_start", "tasks": [...]}``;
        each task entry is ``{"dataset", "source", "metric", "weight", "standardized_score",
        "contribution"}`` for the historical groups with the largest weights (``standardized_score``:
        the model's standardised result there, None where it has none).
        """
        vec = self.model_vectors([model])[0]
        tv = self.task_vector(task, **protocol)
        G = len(self.groups)
        cold = model not in self.models
        row = None if cold else self.models.index(model)
        tasks = []
        for g in np.argsort(-tv[1 : 1 + G], kind="stable")[: max(top, 0)]:
            if tv[1 + g] <= 0:
                break
            z = None
            if row is not None and vec[1 + g] != 0:
                z = float(self.prior[row] + self.profile[row, g] + self._pair_value(row, g))
            tasks.append(dict(dataset=self.groups[g][1], source=self.groups[g][0], metric=self.groups[g][2],
                              weight=float(tv[1 + g]), standardized_score=z,
                              contribution=float(vec[1 + g] * tv[1 + g])))
        S = len(self.sources)
        src_idx = np.flatnonzero(vec[1 + G : 1 + G + S])
        return dict(score=float(vec @ tv), prior=float(vec[0]),
                    source_dataset=self.sources[src_idx[0]] if len(src_idx) else None,
                    source_term=float(vec[1 + G : 1 + G + S] @ tv[1 + G : 1 + G + S]),
                    architecture_term=float(vec[1 + G + S :] @ tv[1 + G + S :]), cold_start=cold, tasks=tasks)

    def _pair_value(self, row: int, g: int) -> float:
        """The pair term of a known model in a historical group (part of its standardised score)."""
        src = self.model_source[row]
        if src < 0:
            return 0.0
        sim = float(_similarity(self.task_encoder, self.source_emb[src][None, :],
                                self.task_emb[self.group_dataset[g]], self.pair_text)[0])
        return float(self.protocol_gamma[self.group_protocol[g]] * _pair_kernel(sim, self.pair_temperature))

    # -- persistence ----------------------------------------------------------------------------

    _ARRAYS = ("group_dataset", "group_block", "group_protocol", "prior", "profile", "source_emb", "model_source",
               "task_emb", "protocol_gamma", "block_shrink", "block_temperature", "block_anchor",
               "protocol_shrink", "protocol_temperature", "protocol_anchor", "cold_mean", "cold_scale", "cold_map",
               "inter_map", "block_map", "block_text", "protocol_text")

    def save(self, path: str | Path) -> Path:
        """Write the space to a directory: ``space.safetensors`` (arrays) + ``space.json`` (no pickle)."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(getattr(self, k)) for k in self._ARRAYS}
        if self.task_encoder is not None:
            arrays.update(enc_mean=self.task_encoder.mean, enc_scale=self.task_encoder.scale,
                          enc_basis=np.ascontiguousarray(self.task_encoder.basis))
        save_file(arrays, str(path / "space.safetensors"))
        meta = dict(
            format_version=SPACE_FORMAT_VERSION, models=self.models, groups=[list(g) for g in self.groups],
            datasets=self.datasets, protocols=[list(p) for p in self.protocols], sources=self.sources,
            pair_temperature=self.pair_temperature, default_gamma=self.default_gamma, pair_text=self.pair_text,
            cold_columns=self.cold_columns,
            task_columns=self.task_encoder.columns if self.task_encoder is not None else None,
            task_views=list(self.task_encoder.views) if self.task_encoder is not None else None,
            options=self.options,
        )
        (path / "space.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TransferSpace":
        """Read a space written by :meth:`save`."""
        from safetensors.numpy import load_file

        path = Path(path)
        meta = json.loads((path / "space.json").read_text())
        if meta.get("format_version") != SPACE_FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported space format {meta.get('format_version')!r}")
        a = load_file(str(path / "space.safetensors"))
        encoder = None
        if meta["task_columns"] is not None:
            encoder = _TaskEncoder(list(meta["task_columns"]), a["enc_mean"], a["enc_scale"], a["enc_basis"],
                                   tuple(meta.get("task_views") or ()))
        return cls(
            models=list(meta["models"]), groups=[tuple(g) for g in meta["groups"]], datasets=list(meta["datasets"]),
            protocols=[tuple(p) for p in meta["protocols"]], sources=list(meta["sources"]),
            pair_temperature=float(meta["pair_temperature"]), default_gamma=float(meta["default_gamma"]),
            pair_text=float(meta.get("pair_text", 0.0)),
            task_encoder=encoder, cold_columns=list(meta["cold_columns"]), options=dict(meta["options"]),
            **{k: a[k] for k in cls._ARRAYS if k in a},  # spaces saved before a field existed get its default
        )

    def __repr__(self) -> str:
        return (f"TransferSpace({len(self.models)} models, {len(self.datasets)} datasets, "
                f"{len(self.groups)} groups, {len(self.sources)} sources, dim={self.dim})")


# --- fitting internals -----------------------------------------------------------------------------

_PAIR_TEMPERATURES = (0.1, 0.2, 0.5, 1.0)
_MIN_FEATURE_MODELS = 10  # a feature known for fewer history models cannot be learned from: dropped
_FEATURE_CLIP = 4.0  # standardised features are clipped, so odd new models cannot extrapolate wildly
_KAPPAS = (0.0, 0.5, 1.0, 2.0, 4.0)
_COLD_ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def _pair_kernel(sim: np.ndarray, tau: float) -> np.ndarray:
    """Source/target similarity -> pair feature: 1 for identical datasets, decaying with dissimilarity."""
    return np.exp((np.asarray(sim) - 1.0) / tau)


def _at(values: np.ndarray, i: int, default: float = 0.0) -> float:
    """``values[i]``, or ``default`` for spaces saved before the array existed."""
    return float(values[i]) if i < len(values) else default


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

    def __init__(self, Z, obs, group_dataset, group_block, group_protocol, task_emb, source_emb, model_source,
                 pair_ridge, encoder: _TaskEncoder | None = None, text_weights: Sequence[float] = (0.0,)):
        self.Z, self.obs = Z, obs
        self.Z0 = np.where(obs, Z, 0.0)
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
        self.smoother: np.ndarray | None = None

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
        n = self.obs[:, keep].sum(axis=1)
        s = self.Z0[:, keep].sum(axis=1)
        raw = np.where(n > 0, s / np.maximum(n, 1), 0.0)
        if not self.kappa or self.smoother is None:
            return raw
        return (s + self.kappa * (self.smoother @ raw)) / (n + self.kappa)

    def set_smoother(self, X: np.ndarray, alpha: float = 30.0) -> None:
        """Ridge hat matrix from model features: prior ~ features, to shrink noisy priors towards."""
        X1 = np.hstack([np.ones((len(X), 1)), X])
        pen = alpha * np.eye(X1.shape[1])
        pen[0, 0] = 0.0
        self.smoother = X1 @ np.linalg.solve(X1.T @ X1 + pen, X1.T)

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
        """Shrinkage of priors towards their feature prediction, by inner-LODO Pearson."""
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

    def fit_interaction(self, X: np.ndarray, F: np.ndarray, k: int) -> np.ndarray:
        """Model-feature x task-feature interaction A (I_mg = e_g[:k] A x_m), fitted by ridge on the
        within-group residuals; its weight and penalty are chosen by inner leave-one-dataset-out
        (the held-out dataset's contribution is subtracted from the normal equations). The chosen
        term is removed from the standardised scores so that the rest of the fit works on what the
        interaction does not explain. Returns the weighted map [k, p] (zeros when it does not help)."""
        everything = np.ones(self.Z.shape[1], bool)
        b = self.prior(everything)
        gam, _ = self.gammas(b, F, everything)
        E = self.task_emb[self.gd][:, :k]
        p = X.shape[1]
        D = int(self.gd.max()) + 1
        grams = np.zeros((D, k * p, k * p))
        rhs = np.zeros((D, k * p))
        resid = np.where(self.obs, self.Z0 - b[:, None] - gam[self.gp][None, :] * F, 0.0)
        for g in range(self.Z.shape[1]):
            rows = self.obs[:, g]
            if rows.sum() < 3:
                continue
            Xc = X[rows] - X[rows].mean(axis=0)
            rc = resid[rows, g] - resid[rows, g].mean()
            e = E[g]
            grams[self.gd[g]] += np.kron(np.outer(e, e), Xc.T @ Xc)
            rhs[self.gd[g]] += np.kron(e, Xc.T @ rc)
        G_all, h_all = grams.sum(axis=0), rhs.sum(axis=0)
        best, choice = 0.0, (0.0, 100.0)
        base_score = {}
        for ridge in (30.0, 100.0, 300.0, 1000.0):
            total = {eta: 0.0 for eta in (0.0, 0.5, 1.0)}
            for d in range(D):
                held = self.gd == d
                if not held.any():
                    continue
                A = np.linalg.solve(G_all - grams[d] + ridge * np.eye(k * p), h_all - rhs[d]).reshape(k, p)
                keep = ~held
                bd = self.prior(keep)
                gd_, _ = self.gammas(bd, F, keep)
                for g in np.flatnonzero(held):
                    rows = self.obs[:, g]
                    if rows.sum() < 3:
                        continue
                    base = bd[rows] + gd_[self.gp[g]] * F[rows, g]
                    inter = X[rows] @ (E[g] @ A)
                    for eta in total:
                        total[eta] += _pearson_cols((base + eta * inter)[:, None], self.Z[rows, g],
                                                    self.top_weighted)[0]
            for eta, value in total.items():
                gain = value - total[0.0]
                if gain > best + 1e-9:
                    best, choice = gain, (eta, ridge)
        eta, ridge = choice
        if eta == 0.0:
            return np.zeros((0, 0))
        A = eta * np.linalg.solve(G_all + ridge * np.eye(k * p), h_all).reshape(k, p)
        inter = X @ (E @ A).T  # [M, G]
        self.Z = np.where(self.obs, self.Z - inter, np.nan)
        self.Z0 = np.where(self.obs, self.Z0 - inter, 0.0)
        return A

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

    def tune_kernel(self, F: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """Per-block and per-protocol (shrink, temperature, anchor, text weight) maximising
        inner-LODO Pearson.

        The task weights over candidate groups are ``anchor * uniform + shrink * (softmax(sim / T) -
        anchor * uniform)``: anchor 1 starts from the protocol's own prior, 0 from the global prior.
        ``sim`` weighs the text view of the task features by the text weight; ties keep the lower
        weight, so the text proxy is used only where it helps.
        """
        n_blocks, n_protos = int(self.gb.max()) + 1, int(self.gp.max()) + 1
        alphas = self.text_weights
        shape = (len(alphas), 2, len(_TEMPERATURES), len(_SHRINKS))
        bscore, pscore = np.zeros((n_blocks,) + shape), np.zeros((n_protos,) + shape)
        bcount, pcount = np.zeros(n_blocks), np.zeros(n_protos)
        shrinks = np.array(_SHRINKS)
        for d, held, keep in self._folds():
            b = self.prior(keep)
            gam, _ = self.gammas(b, F, keep)
            P = self.profile(b, gam, F, keep)
            sims_by_alpha = [self.task_sims[a][self.gd, d] for a in alphas]
            for g in np.flatnonzero(held):
                rows = self.obs[:, g]
                if rows.sum() < 3:
                    continue
                y = self.Z[rows, g]
                base = b[rows] + gam[self.gp[g]] * F[rows, g]
                in_block = keep & (self.gb == self.gb[g])
                for scores, counts, key, cand in (
                    (bscore, bcount, self.gb[g], in_block),
                    (pscore, pcount, self.gp[g], in_block & (self.gp == self.gp[g])),
                ):
                    if not cand.any():
                        continue
                    Pc = P[np.ix_(rows, cand)]
                    cu = Pc.mean(axis=1)
                    for xi, sims in enumerate(sims_by_alpha):
                        for ti, tau in enumerate(_TEMPERATURES):
                            ck = Pc @ _softmax(sims[cand] / tau)
                            for anchor in (0, 1):
                                pred = ((base + anchor * cu)[:, None]
                                        + (ck - anchor * cu)[:, None] * shrinks[None, :])
                                scores[key, xi, anchor, ti] += _pearson_cols(pred, y, self.top_weighted)
                    counts[key] += 1
        allowed = np.ones(len(alphas), bool)
        usable = pcount >= 2
        if self.text_choice == "global" and usable.any():
            # One text weight for the whole space: the best summed over every held-out group (each
            # belongs to one protocol), each protocol at its own best other settings.
            per_weight = pscore[usable].reshape(int(usable.sum()), len(alphas), -1).max(axis=2).sum(axis=0)
            allowed[:] = False
            allowed[int(np.argmax(per_weight))] = True  # ties keep the lower weight
        out = []
        for scores, counts in ((bscore, bcount), (pscore, pcount)):
            n = len(counts)
            s_best, t_best, a_best = np.zeros(n), np.full(n, 0.1), np.zeros(n)
            x_best = np.full(n, float(alphas[int(np.argmax(allowed))]))
            for k in range(n):
                if counts[k] < 2:
                    continue
                masked = np.where(allowed[:, None, None, None], scores[k], -np.inf)
                xi, ai, ti, si = np.unravel_index(np.argmax(masked), shape)
                s_best[k], t_best[k], a_best[k] = shrinks[si], _TEMPERATURES[ti], float(ai)
                x_best[k] = float(alphas[xi])
            out.append((s_best, t_best, a_best, x_best))
        return out[0], out[1]


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
            from .features import model_features

            extra = model_features(rest)
        except Exception:  # features unavailable: the cold-start map falls back to its intercept
            extra = pd.DataFrame(index=rest)
        have = pd.concat([have, extra]) if len(have) else extra
    return have


def _learnable(feats: pd.DataFrame) -> np.ndarray:
    """Columns known for, and varying across, at least ``_MIN_FEATURE_MODELS`` history models
    (a flag that is 1 for all but two models cannot be learned from; it would only extrapolate)."""
    known = feats.notna().sum(axis=0).to_numpy()
    mode = feats.mode(dropna=True).iloc[0] if len(feats) else pd.Series(np.nan, index=feats.columns)
    off_mode = (feats.ne(mode) & feats.notna()).sum(axis=0).to_numpy()
    return (known >= _MIN_FEATURE_MODELS) & (off_mode >= _MIN_FEATURE_MODELS)


def _standardized_features(model_features: pd.DataFrame | None, models: list[str]
                           ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(columns, mean, scale, standardised matrix of ``models``) of the numeric model features that
    some known model has; missing values become 0 (the mean)."""
    feats = _numeric(model_features)
    if not feats.empty:
        feats = feats.loc[:, _learnable(feats.reindex(models))]
    if feats.empty:
        return [], np.zeros(0), np.zeros(0), np.zeros((len(models), 0))
    x = feats.reindex(models).to_numpy(float)
    has = ~np.isnan(x).all(axis=1)
    mean = np.nan_to_num(np.nanmean(x[has], axis=0))
    scale = np.nan_to_num(np.nanstd(x[has], axis=0))
    scale = np.where(scale > 1e-9, scale, 1.0)
    return list(feats.columns), mean, scale, np.clip(np.nan_to_num((x - mean) / scale), -_FEATURE_CLIP, _FEATURE_CLIP)


def _entry_features(entry: Any) -> pd.Series:
    from .features import task_features

    return task_features([entry], text=None).iloc[0]


def _lookup_task_features(tasks: list[str], cached: pd.DataFrame | None) -> pd.DataFrame:
    if cached is not None and all(t in cached.index for t in tasks):
        return cached.loc[tasks]
    from .features import task_features

    return task_features(tasks, text=None)
