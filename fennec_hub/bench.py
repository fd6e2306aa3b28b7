"""Evaluation harness: how well does each method rank models on ground truth it never saw?

Protocols
* ``lodo`` (leave one dataset out): for every dataset of the selected benchmarks, its records are
  removed from EVERY source (canonical dataset id), the space is fitted on the rest, and the
  benchmark's models that have ground truth for the dataset are ranked (cold-start task).
* ``lomo`` (leave models out): each benchmark's models are split into 5 folds; a fold's models are
  removed from all records, the space is fitted on the rest and scores them from their features
  only (cold-start models), on every dataset of the benchmark; each fold's models are ranked among
  themselves (scores from different fits are not on one scale) and the metrics are averaged over
  the folds of each dataset, the trivial priors' on the same models.

Metrics per (benchmark, dataset): weighted Kendall tau (``scipy.stats.weightedtau``, defaults),
Kendall tau, Pearson r, top-1 relative accuracy (accuracy of the top pick / best accuracy) and
best-of-top-5 relative accuracy; then the mean over datasets per benchmark and over benchmarks.
Scores are first rounded to 12 significant digits (:func:`fennec_hub.zoo.settled`), so that models
scored alike tie on every machine.

Baselines are computed in the same run, on the same splits: the global prior, ImageNet top-1 and
parameter count (where known), random, Fennec's released scores (and LogME / the Keras metrics
where the shared data has them), and a re-implementation of Fennec's pipeline as its code does it.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ._extras import needs
from .datasets import list_datasets
from .features import build_model_features, model_features, task_features
from .records import (BENCHMARKS, collapsed_counts, load_method_scores, load_model_metadata, load_records,
                      same_weights)
from .space import TransferSpace, standardize
from .zoo import Zoo, settled

METRICS = ("wtau", "kendall", "pearson", "top1_rel", "top5_rel")
METRIC_LABELS = {
    "wtau": "weighted τ", "kendall": "Kendall τ", "pearson": "Pearson r",
    "top1_rel": "top-1 rel. acc.", "top5_rel": "best-of-top-5 rel. acc.",
}
DEFAULT_BENCHMARKS = ("transfergraph_hf", "vtab1k_hf", "parc", "keras", "fennec")
OURS = "TransferSpace"
OURS_META = "TransferSpace (metadata only)"
OURS_PER_PROTOCOL = "TransferSpace (text chosen per protocol)"
OURS_ANY = "TransferSpace (no protocol named)"
EVERY_QUERY_AS = "TransferSpace, every query as"
COLD_AT_MEAN = "Cold-start models at the average"
PRIOR = "Global prior"
PRIOR_ALL = "Global prior (all sources)"
FENNEC_REIMPL = "Fennec re-implementation"
TOP1 = "ImageNet top-1"
TOP1_IN_DATA = "ImageNet top-1 within pre-training data"
PARAMS = "Parameter count"
MIN_CANDIDATES = 3
LOMO_FOLDS = 5
LOBO_HF_FOLDS = 5
SEED = 2023


# --- metrics ---------------------------------------------------------------------------------------

def versions_note() -> str:
    """The numerical libraries a bench run used: the Fennec re-implementation's NMF, k-means and
    random forest come from scikit-learn, and their figures move with its version."""
    from importlib.metadata import version

    used = ", ".join(f"{name} {version(name)}" for name in ("numpy", "scipy", "scikit-learn", "pandas"))
    return (f"Computed with {used}. The Fennec re-implementation's NMF, k-means and random forest are "
            "scikit-learn's, so its figures change with scikit-learn's version.")


def ranking_metrics(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Ranking quality of ``scores`` against ground-truth accuracies ``truth`` (same order).

    weighted tau / Kendall tau / Pearson from scipy.stats; ``top1_rel`` = truth of the best-scored
    model / best truth; ``top5_rel`` = best truth among the 5 best-scored / best truth.
    """
    with needs("fit", "fennec-hub bench"):
        from scipy.stats import kendalltau, pearsonr, weightedtau

    s = settled(scores)
    t = np.asarray(truth, dtype=float)
    ok = np.isfinite(s) & np.isfinite(t)
    s, t = s[ok], t[ok]
    out = dict.fromkeys(METRICS, float("nan"))
    if len(s) < 2:
        return out
    constant = np.ptp(s) == 0
    out["wtau"] = 0.0 if constant else float(weightedtau(s, t).statistic)
    out["kendall"] = 0.0 if constant else float(kendalltau(s, t).statistic)
    out["pearson"] = 0.0 if constant or np.ptp(t) == 0 else float(pearsonr(s, t).statistic)
    best = t.max()
    if best > 0:
        order = np.argsort(-s, kind="stable")
        out["top1_rel"] = float(t[order[0]] / best)
        out["top5_rel"] = float(t[order[:5]].max() / best)
    return out


# --- inputs ----------------------------------------------------------------------------------------

@dataclass
class BenchInputs:
    """Everything one run needs; :func:`load_inputs` builds it from the bundled data."""

    records: pd.DataFrame
    benchmarks: dict[str, Any]  # name -> object with .select(records) and .metric
    method_scores: pd.DataFrame | None = None
    metadata: pd.DataFrame | None = None
    model_features: pd.DataFrame | None = None
    task_features: pd.DataFrame | None = None  # metadata + text columns
    task_features_meta: pd.DataFrame | None = None  # metadata columns only

    def truth(self, benchmark: str) -> pd.DataFrame:
        """Ground truth of a benchmark: model x dataset table of accuracies."""
        sel = self.benchmarks[benchmark].select(self.records)
        return sel.groupby(["model", "dataset"])["value"].mean().unstack("dataset")

    def protocol(self, benchmark: str) -> dict[str, str | None]:
        """The (source, metric) of a benchmark's records, passed to the space as the query protocol."""
        sel = self.benchmarks[benchmark].select(self.records)
        sources = sel["source"].unique()
        metrics = sel["metric"].unique()
        return dict(source=sources[0] if len(sources) == 1 else None,
                    metric=metrics[0] if len(metrics) == 1 else None)


def load_inputs(text: bool = True, *, collapsed: bool = False) -> BenchInputs:
    """Records, benchmarks, released method scores, metadata and features from the bundled data.

    ``collapsed``: keep the runs `fennec_hub.records.collapsed_runs` flags in the ground truth (the
    published figures of other methods were computed on it); by default they are left out."""
    records = load_records(include_collapsed=collapsed)
    meta = load_model_metadata()
    meta = meta[~meta.index.duplicated(keep="first")]

    dataset_ids = sorted({e.id for e in list_datasets()} | set(records["dataset"]))
    tf_meta = task_features(dataset_ids, text=False)
    tf = task_features(dataset_ids, text=None) if text else tf_meta
    return BenchInputs(
        records=records, benchmarks=dict(BENCHMARKS), method_scores=load_method_scores(), metadata=meta,
        model_features=model_features(sorted(records["model"].unique())), task_features=tf,
        task_features_meta=tf_meta,
    )


# --- baselines -------------------------------------------------------------------------------------

def global_prior(train: pd.DataFrame) -> pd.Series:
    """A model's mean standardised score over the training groups (each group standardised alone).

    Given one benchmark's training records this is the README's baseline: a model's mean result on
    the benchmark's other datasets (standardised per dataset so that no dataset dominates).
    """
    if train.empty:
        return pd.Series(dtype=float)
    z = standardize(train)
    return z.groupby(train["model"]).mean()


def _numeric_meta(meta: pd.DataFrame | None, models: Sequence[str], column: str) -> np.ndarray:
    if meta is None or column not in meta:
        return np.full(len(models), np.nan)
    return pd.to_numeric(meta[column].reindex(list(models)), errors="coerce").to_numpy(float)


def fennec_reimplementation(
    history: pd.DataFrame,
    candidates: Sequence[str],
    target: str,
    task_features: pd.DataFrame,
    model_features: pd.DataFrame | None,
    metadata: pd.DataFrame | None,
    *,
    n_clusters: int = 10,
    weight: float = 0.5,
) -> np.ndarray:
    """Fennec's pipeline as its public code does it, with offline task features as the proxy.

    ``history``: model x training-dataset accuracies of the benchmark (target already removed).
    Min-max scale per dataset, fill missing with the row mean, NMF rank 5 (random_state 2023,
    max_iter 1000): U = model vectors, V = task vectors. A random forest (25 trees) maps task
    features to V (its CLIP image proxy is not available offline); a linear meta-regressor maps
    [parameter count, archi2vec cluster one-hot, train size, number of classes] to the history.
    Score = (1 - w) u.v_hat + w h(meta), w = 0.5.
    """
    with needs("fit", "fennec-hub bench"):
        from sklearn.cluster import KMeans
        from sklearn.decomposition import NMF
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LinearRegression

    H = history.reindex(list(candidates)).astype(float)
    lo, hi = H.min(), H.max()
    H = (H - lo) / (hi - lo).where(hi > lo, 1.0)
    H = H.apply(lambda row: row.fillna(row.mean()), axis=1).fillna(H.mean()).fillna(0.0)
    nmf = NMF(n_components=min(5, min(H.shape)), max_iter=1000, random_state=SEED)
    with warnings.catch_warnings():  # Fennec's setting; NMF sometimes stops at max_iter, as in theirs
        warnings.simplefilter("ignore", ConvergenceWarning)
        U = nmf.fit_transform(H.to_numpy())
    V = nmf.components_.T
    tf = task_features.reindex(list(H.columns) + [target]).astype(float)
    tf = tf.fillna(tf.mean()).fillna(0.0)
    rf = RandomForestRegressor(n_estimators=25, random_state=SEED).fit(tf.iloc[:-1].to_numpy(), V)
    v_hat = rf.predict(tf.iloc[-1:].to_numpy())[0]
    mf_score = U @ v_hat

    models = list(H.index)
    params = _numeric_meta(metadata, models, "params_m")
    if model_features is not None and "log_params" in model_features:
        lp = model_features["log_params"].reindex(models).to_numpy(float)
        params = np.where(np.isnan(params), np.exp(lp), params)
    params = np.nan_to_num(params, nan=float(np.nanmean(params)) if np.isfinite(params).any() else 0.0)
    a2v_cols = [c for c in (model_features.columns if model_features is not None else []) if c.startswith("a2v_")
                and c != "a2v_missing"]
    if a2v_cols:
        A = model_features[a2v_cols].reindex(models).to_numpy(float)
        A = np.nan_to_num(A)
        k = max(1, min(n_clusters, len(np.unique(A, axis=0))))
        labels = KMeans(n_clusters=k, random_state=0, n_init=10).fit_predict(A)
        onehot = np.eye(k)[labels]
    else:
        onehot = np.zeros((len(models), 1))
    raw_task = task_features.reindex(list(H.columns) + [target])
    size = np.exp(raw_task.get("log_train_size", pd.Series(np.nan, index=raw_task.index)).astype(float))
    classes = np.exp(raw_task.get("log_num_classes", pd.Series(np.nan, index=raw_task.index)).astype(float))
    size, classes = size.fillna(size.mean()).fillna(0.0), classes.fillna(classes.mean()).fillna(0.0)
    X, y = [], []
    for j, d in enumerate(H.columns):
        X.append(np.hstack([params[:, None], onehot, np.full((len(models), 1), size[d]),
                            np.full((len(models), 1), classes[d])]))
        y.append(H[d].to_numpy())
    reg = LinearRegression().fit(np.vstack(X), np.concatenate(y))
    Xt = np.hstack([params[:, None], onehot, np.full((len(models), 1), size[target]),
                    np.full((len(models), 1), classes[target])])
    return (1 - weight) * mf_score + weight * reg.predict(Xt)


# --- protocols -------------------------------------------------------------------------------------

@dataclass
class BenchResult:
    """Per-(protocol, benchmark, dataset, method) metric rows plus timings."""

    rows: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def add(self, protocol: str, benchmark: str, dataset: str, method: str, scores, truth, **extra) -> None:
        m = ranking_metrics(scores, truth)
        ok = np.isfinite(np.asarray(scores, float)) & np.isfinite(np.asarray(truth, float))
        self.rows.append(dict(protocol=protocol, benchmark=benchmark, dataset=dataset, method=method,
                              n=int(ok.sum()), **m, **extra))


def lodo_training_records(records: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The training records of the fold that holds ``dataset`` out: removed from every source."""
    return records[records["dataset"] != dataset]


def _fit_space(train: pd.DataFrame, inputs: BenchInputs, task_features: pd.DataFrame | None, **options):
    return TransferSpace.fit(train, model_features=inputs.model_features, task_features=task_features, **options)


def run_lodo(inputs: BenchInputs, benchmarks: Sequence[str] = DEFAULT_BENCHMARKS, *,
             result: BenchResult | None = None, space_options: dict | None = None,
             progress: bool = True, fennec_reimpl: bool = True) -> BenchResult:
    """Leave-one-dataset-out over every dataset of the selected benchmarks."""
    from huggingface_hub.utils import tqdm

    result = result or BenchResult()
    space_options = space_options or {}
    truths = {b: inputs.truth(b) for b in benchmarks}
    held = sorted({d for t in truths.values() for d in t.columns})
    released = _released(inputs)
    rng = np.random.default_rng(SEED)
    fit_times = []
    with_text = inputs.task_features is not None and any(c.startswith("text_") for c in inputs.task_features)
    for dataset in tqdm(held, desc="leave-one-dataset-out", disable=not progress):
        train = lodo_training_records(inputs.records, dataset)
        assert dataset not in set(train["dataset"])
        t0 = time.perf_counter()
        space = _fit_space(train, inputs, inputs.task_features, **space_options)
        fit_times.append(time.perf_counter() - t0)
        # The text proxy forced off, and its weight chosen per protocol instead of once for the space.
        variants = ({OURS_META: dict(text_weight=0.0), OURS_PER_PROTOCOL: dict(text_choice="protocol")}
                    if with_text and not {"text_weight", "text_choice"} & set(space_options) else {})
        fixed = {name: _fit_space(train, inputs, inputs.task_features, **space_options, **extra)
                 for name, extra in variants.items()}
        prior_all = global_prior(train)
        for b in benchmarks:
            truth_tab = truths[b]
            if dataset not in truth_tab:
                continue
            truth = truth_tab[dataset].dropna()
            if len(truth) < MIN_CANDIDATES:
                continue
            cands = list(truth.index)
            y = truth.to_numpy()
            add = lambda method, s: result.add("lodo", b, dataset, method, s, y)  # noqa: E731
            proto = inputs.protocol(b)
            add(OURS, space.score(cands, dataset, **proto))
            add(OURS_ANY, space.score(cands, dataset))
            for other in benchmarks:  # a single protocol as the default for every query
                add(f"{EVERY_QUERY_AS} {other}", space.score(cands, dataset, **inputs.protocol(other)))
            for name, other in fixed.items():
                add(name, other.score(cands, dataset, **proto))
            own = inputs.benchmarks[b].select(train)
            add(PRIOR, global_prior(own).reindex(cands).to_numpy(float))
            add(PRIOR_ALL, prior_all.reindex(cands).to_numpy(float))
            _add_meta_baselines(add, inputs, cands, rng)
            history = truth_tab.drop(columns=[dataset])
            if fennec_reimpl and history.shape[1] >= 2:
                tf = inputs.task_features if inputs.task_features is not None else pd.DataFrame()
                add(FENNEC_REIMPL, fennec_reimplementation(
                    history, cands, dataset, tf, inputs.model_features, inputs.metadata,
                    n_clusters=4 if b == "parc" else 10))
            for row in released_metrics(released, b, dataset, truth):
                result.rows.append(dict(protocol="lodo", **row))
    if fit_times:
        result.timings["lodo_fit_mean_s"] = float(np.mean(fit_times))
        result.timings["lodo_fit_max_s"] = float(np.max(fit_times))
    return result


_RELEASED_NAMES = {
    "fennec_mf_cold_score": "Fennec (released scores)", "logme_score": "LogME (released)",
    "gbc": "GBC (released)", "leep": "LEEP (released)", "nleep": "N-LEEP (released)",
    "logme": "LogME (released)", "hscore": "H-score (released)",
}


def released_metrics(released: dict[tuple[str, str], pd.DataFrame], benchmark: str, dataset: str,
                     truth: pd.Series) -> list[dict]:
    """Metrics of every released method on one (benchmark, dataset): per run, then mean over runs.

    ``truth``: ground-truth accuracies indexed by model id. A model a method did not score is left
    out of that method's ranking (``n`` says how many were ranked).
    """
    rows = []
    cands = list(truth.index)
    y = truth.to_numpy(float)
    for (rb, method), frame in released.items():
        if rb != benchmark:
            continue
        runs = frame[frame["dataset"] == dataset]
        if runs.empty:
            continue
        per_run = []
        for _, r in runs.groupby("run"):
            s = r.groupby("model")["value"].mean().reindex(cands).to_numpy(float)
            per_run.append(ranking_metrics(s, y))
        row = {k: float(np.nanmean([p[k] for p in per_run])) for k in METRICS}
        rows.append(dict(benchmark=benchmark, dataset=dataset, method=method,
                         n=int(runs["model"].isin(cands).groupby(runs["model"]).any().sum()),
                         runs=len(per_run), **row))
    return rows


def released_table(inputs: BenchInputs, benchmark: str) -> pd.DataFrame:
    """Released methods' metrics on every dataset of a benchmark (no fitting involved)."""
    released = _released(inputs)
    truth_tab = inputs.truth(benchmark)
    rows = []
    for d in truth_tab.columns:
        truth = truth_tab[d].dropna()
        rows += released_metrics(released, benchmark, d, truth)
    return pd.DataFrame(rows)


def _released(inputs: BenchInputs) -> dict[tuple[str, str], pd.DataFrame]:
    ms = inputs.method_scores
    if ms is None or ms.empty:
        return {}
    ms = ms.copy()
    if "run" not in ms:
        ms["run"] = 0
    bench_col = ms["benchmark"] if "benchmark" in ms else pd.Series("", index=ms.index)
    out = {}
    for (b, metric), frame in ms.groupby([bench_col, ms["metric"]]):
        out[(b, _RELEASED_NAMES.get(metric, f"{metric} (released)"))] = frame
    return out


def _meta_priors(feats: pd.DataFrame | None, models: Sequence[str]) -> dict[str, np.ndarray]:
    """The trivial priors' values for `models` from their features (NaN where unknown): ImageNet
    top-1, parameter count, and ImageNet top-1 within pre-training data (more pre-training images
    first, then top-1)."""
    top1 = _numeric_meta(feats, models, "imagenet_top1")
    images = _numeric_meta(feats, models, "log_pretrain_images")
    return {TOP1: top1, TOP1_IN_DATA: np.where(np.isfinite(images), 1000.0 * np.round(images, 1) + top1, np.nan),
            PARAMS: np.exp(_numeric_meta(feats, models, "log_params"))}


def _add_meta_baselines(add: Callable, inputs: BenchInputs, cands: list[str], rng: np.random.Generator,
                        ours: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The trivial priors (:func:`_meta_priors`) and one random permutation, from the catalogue
    features of `cands`. A prior known for only some candidates ranks those; with ``ours`` (our
    scores of `cands`), ours is also reported on exactly those models (``"<ours> | <prior> models"``),
    wherever the prior is reported. Returns the priors' values."""
    priors = _meta_priors(inputs.model_features, cands)
    for name, values in priors.items():
        known = np.isfinite(values)
        if known.sum() < MIN_CANDIDATES:
            continue
        add(name, values)
        if ours is not None:  # on every dataset, so that both means run over the same datasets
            add(f"{OURS} | {name} models", np.where(known, ours, np.nan))
    add("Random", rng.permutation(len(cands)).astype(float))
    return priors


def _hf_family(model: str, metadata: pd.DataFrame | None) -> str:
    """Architecture family of a Hub checkpoint: its ``model_type``, else a family named in its id;
    transformers model types that are one network are one family (:data:`_SAME_NETWORK`)."""
    mt = metadata["model_type"].get(model) if metadata is not None and "model_type" in metadata else None
    if not (isinstance(mt, str) and mt):
        low = model.lower()
        mt = next((f for f in _NAMED_FAMILIES if f in low), "other")
    return _SAME_NETWORK.get(mt, mt)


_NAMED_FAMILIES = ("convnext", "swin", "deit", "beit", "data2vec", "segformer", "mit-", "levit", "mobilevit",
                   "perceiver", "resnet", "regnet", "efficientnet", "poolformer", "van-", "cvt", "dinov2", "vit")
# Model types of transformers that name a training recipe of another type's network: DeiT is a ViT
# (plus a distillation token), data2vec-vision a BEiT. Held out apart, each would lend the other its
# architecture twins across the fold.
_SAME_NETWORK = {"deit": "vit", "data2vec-vision": "beit", "data2vec": "beit"}


def lobo_folds(inputs: BenchInputs, hf_folds: int = LOBO_HF_FOLDS) -> list[tuple[str, list[str], list[str]]]:
    """Leave-one-bank-out folds: ``(name, held-out models, benchmarks scored)``.

    Every model of one record bank is held out at once (PARC, Keras, Fennec/pytorchcv); the Hugging
    Face checkpoints of TransferGraph (both of its protocols) are split into ``hf_folds`` folds by
    architecture family, whole families at a time, so a family is never on both sides.
    """
    folds = []
    for bank in ("parc", "keras", "fennec"):
        if bank in inputs.benchmarks:
            folds.append((bank, sorted(inputs.truth(bank).index), [bank]))
    hf = [b for b in ("transfergraph_hf", "vtab1k_hf") if b in inputs.benchmarks]
    if hf:
        models = sorted(set().union(*(inputs.truth(b).index for b in hf)))
        fam = pd.Series({m: _hf_family(m, inputs.metadata) for m in models})
        sizes = fam.value_counts()
        load = [0] * hf_folds
        members: list[list[str]] = [[] for _ in range(hf_folds)]
        for family in sorted(sizes.index, key=lambda f: (-sizes[f], f)):  # largest first, to the lightest fold
            k = int(np.argmin(load))
            load[k] += int(sizes[family])
            members[k] += sorted(fam.index[fam == family])
        for k, held in enumerate(members):
            if held:
                families = sorted(set(fam[held]))
                folds.append((f"hf{k + 1} ({', '.join(families)})", sorted(held), hf))
    return folds


def zoo_features(zoo: Any = None) -> pd.DataFrame:
    """Catalogue features of every checkpoint of a zoo (default: the embedded one), from its own
    tables, as the zoo build computes them (no timm needed)."""
    zoo = Zoo.default() if zoo is None else zoo
    m = zoo.models
    meta = pd.DataFrame({
        "params_m": pd.to_numeric(m["params"], errors="coerce").to_numpy(float) / 1e6,
        "img_size": pd.to_numeric(m["input_size"], errors="coerce").to_numpy(float),
        "imagenet_top1": pd.to_numeric(m["imagenet_top1"], errors="coerce").to_numpy(float),
        "pretrain": m["pretrain"].to_numpy(object),
        "source_dataset": (m["source_dataset"] if "source_dataset" in m else pd.Series(None, index=m.index)
                           ).to_numpy(object),
    }, index=m["model_id"])
    vectors = {mid: v for mid, v in zip(m["model_id"], zoo.archi2vec_vectors) if np.any(v)}
    feats = build_model_features(list(m["model_id"]), meta, vectors)
    if "imagenet_from" in m:
        feats["imagenet_from"] = m["imagenet_from"].to_numpy(object)
    return feats


def zoo_placement_row(zoo_scores: np.ndarray, held_scores: np.ndarray, truth: np.ndarray) -> dict[str, float] | None:
    """Where held-out models land when a zoo is sorted by one score, higher first: each one's rank
    among the zoo's checkpoints that have that score (1 + how many score higher). Returns ``n`` (held-out
    models with the score), ``zoo_size``, ``median_rank``, ``best_rank`` (the rank of the one whose
    ``truth`` is highest, NaN if it has no score) and ``top_rank`` (the best-placed one's); None
    when fewer than :data:`MIN_CANDIDATES` held-out models have the score."""
    zoo_scores = np.asarray(zoo_scores, float)
    both = settled(np.concatenate([zoo_scores, np.asarray(held_scores, float)]))  # on one scale
    zoo_scores, held_scores = both[: len(zoo_scores)], both[len(zoo_scores):]
    zoo_scores = zoo_scores[np.isfinite(zoo_scores)]
    known = np.isfinite(held_scores)
    if known.sum() < MIN_CANDIDATES or not len(zoo_scores):
        return None
    ranks = np.full(len(held_scores), np.nan)
    ranks[known] = 1 + (zoo_scores[None, :] > held_scores[known, None]).sum(axis=1)
    return dict(n=int(known.sum()), zoo_size=len(zoo_scores), median_rank=float(np.nanmedian(ranks)),
                best_rank=float(ranks[int(np.argmax(truth))]), top_rank=float(np.nanmin(ranks)))


def run_lobo(inputs: BenchInputs, benchmarks: Sequence[str] = DEFAULT_BENCHMARKS, *,
             result: BenchResult | None = None, zoo: Any = None, space_options: dict | None = None,
             progress: bool = True) -> BenchResult:
    """Leave-one-bank-out cold start: the situation of most checkpoints in a zoo.

    For each fold of :func:`lobo_folds`, the space is fitted without the held-out models and scores
    them from their catalogue features (quality metadata, archi2vec twins), on every dataset of their
    benchmark, under its protocol. Rows: ``lobo`` (ranked among the held-out models, against ImageNet
    top-1, parameter count and top-1 within pre-training data on the same models), ``lobo_mixed``
    (held-out models cold, the benchmark's other models from their records, as a zoo mixes them;
    only where the benchmark has other models) and ``lobo_zoo`` (where the held-out models land
    among the checkpoints a ranking of the zoo lists: median rank, rank of the truly best one; and
    where a sort of the same zoo by each trivial prior puts them, among the checkpoints that have it).
    """
    from huggingface_hub.utils import tqdm

    result = result or BenchResult()
    space_options = space_options or {}
    rng = np.random.default_rng(SEED)
    folds = [(n, h, [b for b in bs if b in benchmarks]) for n, h, bs in lobo_folds(inputs)]
    folds = [f for f in folds if f[2]]
    if not folds:
        return result
    zf = None
    if zoo is not False:  # the checkpoints a ranking lists: no test repositories, a copy listed once
        zoo = Zoo.default() if zoo is None else zoo
        cols = zoo.columns()
        zf = zoo_features(zoo)
        zf = zf[zf.index.isin(cols["model_id"][zoo.listed(cols["candidate"])])]
    twins = same_weights()
    for name, held, benches in tqdm(folds, desc="leave-one-bank-out", disable=not progress):
        held_set = set(held)
        train = inputs.records[~inputs.records["model"].isin(held_set)]
        space = _fit_space(train, inputs, inputs.task_features, **space_options)
        zoo_ids = []
        if zf is not None:  # the zoo's copies of held-out checkpoints are the held-out models themselves
            drop = held_set | {twins[m] for m in held if m in twins}
            zoo_ids = [m for m in zf.index if m not in drop]
            zoo_mv = space.model_vectors(zoo_ids, zf)
            zoo_priors = _meta_priors(zf, zoo_ids)
        for b in benches:
            proto = inputs.protocol(b)
            truth_tab = inputs.truth(b)
            # Model vectors do not depend on the dataset: once per benchmark, as a C-ordered array
            # (a DataFrame's column-major values would change the products' last bits).
            mv = space.model_vectors(list(truth_tab.index), inputs.model_features)
            for d in truth_tab.columns:
                truth = truth_tab[d].dropna()
                tv = space.task_vector(d, **proto)
                cold = truth.index.isin(held_set)
                full = mv[truth_tab.index.get_indexer(truth.index)] @ tv
                if cold.sum() >= MIN_CANDIDATES:
                    cands = list(truth.index[cold])
                    y = truth.to_numpy()[cold]
                    add = lambda method, sc: result.add("lobo", b, d, method, sc, y, fold=name)  # noqa: E731
                    scores = full[cold]
                    add(OURS, scores)
                    held_priors = _add_meta_baselines(add, inputs, cands, rng, ours=scores)
                    if len(zoo_ids):
                        zs = zoo_mv @ tv
                        placements = [(OURS, zs, scores)]
                        for p, values in held_priors.items():  # each prior, and ours on the models it ranks
                            placements += [(p, zoo_priors[p], values),
                                           (f"{OURS} | {p} models", zs, np.where(np.isfinite(values), scores, np.nan))]
                        for method, zs, sc in placements:
                            row = zoo_placement_row(zs, sc, y)
                            if row:
                                result.rows.append(dict(protocol="lobo_zoo", benchmark=b, dataset=d, method=method,
                                                        fold=name, **row))
                if cold.any() and not cold.all() and len(truth) >= MIN_CANDIDATES:
                    for method, sc in ((OURS, full), (COLD_AT_MEAN, np.where(cold, 0.0, full))):
                        result.add("lobo_mixed", b, d, method, sc, truth.to_numpy(), fold=name)
    return result


def run_lomo(inputs: BenchInputs, benchmarks: Sequence[str] = DEFAULT_BENCHMARKS, *,
             result: BenchResult | None = None, folds: int = LOMO_FOLDS, space_options: dict | None = None,
             progress: bool = True) -> BenchResult:
    """Leave-models-out: per benchmark, k folds of its models scored from features only, each fold
    ranked on its own (its scores come from one fit) with the trivial priors on the same models.

    Also the ``mixed`` protocol, what a zoo does: on every dataset, the fold's held-out models
    (cold-start vectors) are ranked together with the benchmark's other models (history vectors,
    fitted on their own records of that dataset too), against a variant that puts every cold-start
    model at the average, and queried without a protocol as ``recommend()`` does by default;
    metrics are averaged over the folds of each dataset.
    """
    from huggingface_hub.utils import tqdm
    with needs("fit", "fennec-hub bench"):
        from sklearn.model_selection import KFold

    result = result or BenchResult()
    space_options = space_options or {}
    rng = np.random.default_rng(SEED)
    jobs = []
    for b in benchmarks:
        truth_tab = inputs.truth(b)
        models = np.array(sorted(truth_tab.index))
        k = min(folds, len(models))
        for i, (_, test) in enumerate(KFold(k, shuffle=True, random_state=SEED).split(models)):
            jobs.append((b, truth_tab, models[test]))
    per_fold: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    mixed: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    n_candidates: dict[tuple[str, str], int] = {}
    for b, truth_tab, held_models in tqdm(jobs, desc="leave-models-out", disable=not progress):
        train = inputs.records[~inputs.records["model"].isin(set(held_models))]
        space = _fit_space(train, inputs, inputs.task_features, **space_options)
        held = list(held_models)
        mv = space.model_vectors(held, inputs.model_features)
        proto = inputs.protocol(b)
        for d in truth_tab.columns:
            tv = space.task_vector(d, **proto)
            own = pd.Series(mv @ tv, index=held)
            truth = truth_tab[d].reindex(held).dropna()
            if len(truth) >= MIN_CANDIDATES:
                y = truth.to_numpy()

                def add(method: str, s, b=b, d=d, y=y) -> None:
                    ok = np.isfinite(np.asarray(s, float))
                    per_fold.setdefault((b, d, method), []).append(dict(ranking_metrics(s, y), n=float(ok.sum())))

                ours = own.reindex(truth.index).to_numpy(float)
                add(OURS, ours)
                _add_meta_baselines(add, inputs, list(truth.index), rng, ours=ours)
            truth = truth_tab[d].dropna()
            cold = truth.index.isin(held)
            if len(truth) < MIN_CANDIDATES or not cold.any() or cold.all():
                continue
            everyone = space.model_vectors(list(truth.index), inputs.model_features)
            scores = everyone @ tv
            n_candidates[b, d] = len(truth)
            for method, s in ((OURS, scores), (COLD_AT_MEAN, np.where(cold, 0.0, scores)),
                              (OURS_ANY, everyone @ space.task_vector(d))):
                mixed.setdefault((b, d, method), []).append(ranking_metrics(s, truth.to_numpy()))
    for (b, d, method), runs in mixed.items():
        mean = {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0]}
        result.rows.append(dict(protocol="mixed", benchmark=b, dataset=d, method=method,
                                n=n_candidates[b, d], **mean))
    for (b, d, method), runs in per_fold.items():
        mean = {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0] if k != "n"}
        result.rows.append(dict(protocol="lomo", benchmark=b, dataset=d, method=method,
                                n=int(sum(r["n"] for r in runs)), **mean))
    return result


def measure_speed(inputs: BenchInputs, n_models: int = 100_000, repeats: int = 10
                  ) -> tuple[dict[str, float], TransferSpace]:
    """Fit time on all records, and time to rank ``n_models`` stored vectors (real dimension) for a
    new task: building its task vector + one float32 matrix-vector product + top-10 selection.
    Returns the timings and the space fitted on all records."""
    t0 = time.perf_counter()
    space = _fit_space(inputs.records, inputs, inputs.task_features)
    fit_s = time.perf_counter() - t0
    zoo = np.random.default_rng(SEED).normal(size=(n_models, space.dim)).astype(np.float32)
    task = "beans" if "beans" not in space.known_tasks else space.known_tasks[0]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        scores = zoo @ space.task_vector(task).astype(np.float32)
        np.argpartition(-scores, 10)[:10]
        times.append(time.perf_counter() - t0)
    return {"fit_all_records_s": fit_s, f"score_{n_models}_models_median_ms": 1e3 * float(np.median(times)),
            "vector_dim": float(space.dim)}, space


def text_choice_note(space: TransferSpace, inputs: BenchInputs, benchmarks: Sequence[str]) -> str:
    """Where ``space`` (fitted on all records) uses the text proxy: the text-view weight per protocol."""
    if space.task_encoder is None or not space.task_encoder.has_text:
        return ""
    weights = space.text_weights()
    parts = []
    for b in benchmarks:
        proto = inputs.protocol(b)
        key = f"{proto['source']}/{proto['metric']}"
        if key in weights:
            parts.append(f"{b} {weights[key]:g}")
    return ("Weight of the text view in task similarity, chosen by nested leave-one-dataset-out on all records "
            "(the space behind the zoo; 0 = metadata only): " + ", ".join(parts)
            + f"; source similarity {weights['source similarity']:g}.")


def twin_agreement_note(space: TransferSpace, inputs: BenchInputs, benchmarks: Sequence[str]) -> str:
    """How far ``space``'s (fitted on all records) architecture twins agree on what they lend: within
    each benchmark's record bank, and across banks, which decides what twins lend to a query that
    does not name their protocol."""
    agreement = space.twin_agreement
    parts = []
    for b in benchmarks:
        hit = [g for g, key in enumerate(space.groups) if key[0] == inputs.protocol(b)["source"]]
        if hit:
            parts.append(f"{b} {agreement[space.group_block[hit[0]]]:.2f}")
    corr, se = space.foreign_twin_correlation()
    return ("Architecture twins' agreement on what they lend (twin-weighted correlation less one standard error; "
            "the space behind the zoo), within a record bank: " + ", ".join(parts) + f"; across banks, on one "
            f"dataset: {corr:.3f} (standard error {se:.3f}), so {space.foreign_twins:.2f}: twins lend only to a "
            "query under their own bank's protocol.")


def cross_bank_placement(space: TransferSpace, inputs: BenchInputs,
                         banks: tuple[str, str] = ("parc", "parc_crowd")) -> tuple[float, float, int]:
    """How well ``space`` (fitted on all records) puts the models of two record banks on one scale:
    mean weighted τ, over the targets both banks recorded under one protocol, of every model of both
    scored from its own records (as the zoo scores recorded models) and ranked together, against the
    same with each bank's results rank-standardised on their own and merged; and the number of
    targets. No model is in both banks and the space never compares groups of different banks, so
    the merged order is not something it was fitted on. PARC's two banks share protocol and targets."""
    from scipy.stats import weightedtau

    rec = inputs.records[inputs.records["benchmark"].isin(banks)]
    ours, naive = [], []
    for d, rows in rec.groupby("dataset"):
        if rows["benchmark"].nunique() < 2 or rows["metric"].nunique() > 1:
            continue
        truth = rows.groupby("model")["value"].mean()
        # Each bank is its own records source, so standardising by (source, dataset, metric) is per bank.
        z = rows.assign(z=standardize(rows)).groupby("model")["z"].mean().reindex(truth.index).to_numpy()
        scores = space.model_vectors(list(truth.index), inputs.model_features) @ space.task_vector(str(d))
        ours.append(float(weightedtau(truth.to_numpy(), settled(scores)).statistic))
        naive.append(float(weightedtau(truth.to_numpy(), settled(z)).statistic))
    if not ours:
        return float("nan"), float("nan"), 0
    return float(np.mean(ours)), float(np.mean(naive)), len(ours)


def cross_bank_note(space: TransferSpace, inputs: BenchInputs) -> str:
    """:func:`cross_bank_placement` as a report line ('' without both PARC banks)."""
    import copy

    ours, naive, n = cross_bank_placement(space, inputs)
    if not n:
        return ""
    full = copy.copy(space)
    full.options = dict(space.options, protocol_transfer=1.0)
    in_full, _, _ = cross_bank_placement(full, inputs)
    return (f"Recorded models of two banks on one scale (PARC's controlled and crowd-sourced banks: one protocol, "
            f"the same {n} targets, no model in both; each model scored from its own records, as the zoo does "
            f"without a named protocol, and ranked together): mean weighted τ {ours:.3f}, against {naive:.3f} with "
            f"each bank's results rank-standardised on their own and merged ({in_full:.3f} with the records taken "
            "in full, as a query naming a protocol takes them). A bank's level comes from its models' quality "
            "priors, stand-ins for the crowd bank's self-supervised checkpoints.")


PROTOCOLS = ("lodo", "lomo", "lobo", "all")


def run(benchmarks: Sequence[str] = DEFAULT_BENCHMARKS, protocol: str = "all", *,
        inputs: BenchInputs | None = None, progress: bool = True, fennec_reimpl: bool = True,
        speed: bool = True, zoo: Any = None) -> BenchResult:
    """Run the selected protocols (one of :data:`PROTOCOLS`) on the selected benchmarks; ``zoo``
    (default: the embedded one; False: none) is where leave-one-bank-out places held-out models."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    inputs = inputs or load_inputs()
    result = BenchResult()
    t0 = time.perf_counter()
    if protocol in ("lodo", "all"):
        run_lodo(inputs, benchmarks, result=result, progress=progress, fennec_reimpl=fennec_reimpl)
    if protocol in ("lomo", "all"):
        run_lomo(inputs, benchmarks, result=result, progress=progress)
    if protocol in ("lobo", "all"):
        run_lobo(inputs, benchmarks, result=result, zoo=zoo, progress=progress)
    if speed:
        timings, space = measure_speed(inputs)
        result.timings.update(timings)
        note = text_choice_note(space, inputs, benchmarks)
        if note:
            result.notes.append(note)
        result.notes.append(twin_agreement_note(space, inputs, benchmarks))
        note = cross_bank_note(space, inputs)
        if note:
            result.notes.append(note)
    result.notes.append(versions_note())
    counts = collapsed_counts()
    result.notes.append("Collapsed runs left out of every fit and of the ground truth (`records.collapsed_runs`: "
                        "near chance, or cut off far below their group): " + ", ".join(
                            f"{b} {n}" for b, n in counts.items()) + f"; besides, {counts.attrs['voided']} PARC "
                        "rows that PARC's own evaluation voids, and the runs of checkpoints already trained on the "
                        "target dataset, as their cards declare (`records.trained_on_target`): " + ", ".join(
                            f"{b} {n}" for b, n in counts.attrs["trained_on_target"].items()) + ".")
    result.timings["bench_total_s"] = time.perf_counter() - t0
    return result
