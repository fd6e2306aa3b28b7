"""Public transfer records (model, dataset, metric, value, source) with normalised names.

The bundled CSV files under ``fennec_hub/data/records/`` are copies of public ground truth (see the
README there for provenance and caveats). This module loads them in one long table whose
``model`` column holds normalised model ids (Hub repo ids where the checkpoint is on the Hub,
a namespaced id otherwise) and whose ``dataset`` column holds the dataset registry's canonical
ids, so that every other part of fennec_hub can join records, scores and metadata by id.

Long on purpose: every record file's name normalisation, hygiene (voided and collapsed runs),
the model metadata and the ImageNet quality with its provenance are read here, where the files are.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from .architecture import mapped_architecture
from .datasets import UnknownDatasetError, find_dataset, resolve_dataset

if TYPE_CHECKING:  # pandas costs ~1 s to import: only the functions that build tables import it
    import pandas as pd

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "RECORD_COLUMNS",
    "RECORDS_DIR",
    "benchmark_records",
    "load_method_scores",
    "load_model_metadata",
    "load_records",
    "normalize_dataset",
    "normalize_model_id",
]

RECORDS_DIR = Path(__file__).parent / "data" / "records"
RECORD_COLUMNS = ("model", "dataset", "metric", "value", "source", "benchmark")
_REQUIRED = ("model", "dataset", "metric", "value", "source")

# Ground-truth record files bundled with the package and the benchmark tag of their rows.
GROUND_TRUTH_FILES: dict[str, str] = {
    "transfergraph_hf_finetune.csv": "transfergraph_hf",
    "transfergraph_vtab1k_finetune.csv": "vtab1k_hf",
    "parc_oracles.csv": "parc",  # crowd-sourced bank rows get "parc_crowd"
    "stable_transfer_keras_accuracy.csv": "keras",
    "fennec_benchmark_finetune.csv": "fennec",
    "vtab_leaderboard_resnet50.csv": "vtab_resnet50",
}
METHOD_SCORE_FILES: dict[str, str] = {
    "fennec_benchmark_fennec_scores.csv": "fennec",
    "parc_method_scores.csv": "parc",
    "stable_transfer_keras_metric_scores.csv": "keras",
}
TIMM_RESULTS_FILE = "timm_imagenet_results.csv"
TIMM_METADATA_FILE = "timm_model_metadata.csv"
TRANSFERGRAPH_METADATA_FILE = "transfergraph_hf_model_metadata.csv"

# PARC's own evaluation (metrics.py:add_oracle) voids the oracle of these checkpoints; their
# values look broken (README section 1), so they are flagged and left out by default.
PARC_VOIDED_SOURCES = ("swav_imagenet", "deepclusterv2_imagenet", "npid_imagenet", "moco_imagenet", "simclr_imagenet")
PARC_CONTROLLED_TAG = "(controlled bank)"

# PARC checkpoints that are standard torchvision ImageNet weights (= timm ".tv_in1k").
_PARC_KNOWN = {
    "resnet50|imagenet": "timm/resnet50.tv_in1k",
    "resnet18|imagenet": "timm/resnet18.tv_in1k",
    "alexnet|imagenet": "torchvision/alexnet",
    "googlenet|imagenet": "torchvision/googlenet",
}


@dataclass(frozen=True)
class Benchmark:
    """An evaluation benchmark: the records of one file and one metric, minus flagged rows."""

    name: str
    file: str
    metric: str
    description: str
    controlled_only: bool = False  # PARC: only the controlled bank of 32 models

    def select(self, records: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``records`` (as returned by `load_records`) that form this benchmark."""
        mask = (records["benchmark"] == self.name) & (records["metric"] == self.metric)
        return records.loc[mask].reset_index(drop=True)


BENCHMARKS: dict[str, Benchmark] = {
    "transfergraph_hf": Benchmark(
        "transfergraph_hf", "transfergraph_hf_finetune.csv", "finetune_top1",
        "TransferGraph (Li et al., ICDE'24): 180 Hugging Face image classifiers fully fine-tuned on 13 targets "
        "(30 epochs, lr 0.01); test accuracy in percent.",
    ),
    "vtab1k_hf": Benchmark(
        "vtab1k_hf", "transfergraph_vtab1k_finetune.csv", "finetune_vtab1k_top1",
        "TransferGraph's VTAB-1k-style runs: 292 Hugging Face checkpoints x 19 VTAB tasks, 800 train / 200 val "
        "examples, 25 epochs, lr 0.01 (max over repeated runs).",
    ),
    "parc": Benchmark(
        "parc", "parc_oracles.csv", "finetune_top1",
        "PARC (Bolya et al., NeurIPS'21) controlled bank: alexnet/googlenet/resnet18/resnet50 x 8 source datasets "
        "fine-tuned on 7 targets; the SSL checkpoints PARC itself voids are excluded.",
        controlled_only=True,
    ),
    "keras": Benchmark(
        "keras", "stable_transfer_keras_accuracy.csv", "finetune_top1",
        "Google 'How stable are transferability metrics evaluations?' (ECCV'22): 19 Keras ImageNet "
        "architectures fully fine-tuned on 9 targets.",
    ),
    "fennec": Benchmark(
        "fennec", "fennec_benchmark_finetune.csv", "finetune_top1",
        "Fennec (Bai et al. 2024) benchmark: 105 pytorchcv models fine-tuned on 7 targets "
        "(sport, yoga, flower, intel, weather, germ, nature).",
    ),
}


# --------------------------------------------------------------------------------------------
# Name normalisation

#: Namespaces of benchmark models that are not downloadable Hub checkpoints (kept out of zoos).
NON_HUB_NAMESPACES = ("pytorchcv/", "parc/", "keras/", "vtab/", "torchvision/")

#: Pre-training datasets: a checkpoint whose ``source_dataset`` is another known dataset was last
#: trained on a downstream one (PARC's ResNet-50 fine-tuned on NABirds, a community ViT on EuroSAT).
PRETRAINING_SOURCES = ("ILSVRC/imagenet-1k", "public/imagenet-21k")


def is_downstream_source(source: object) -> bool:
    """A ``source_dataset`` that is a known dataset other than a pre-training one."""
    return isinstance(source, str) and bool(source) and source not in PRETRAINING_SOURCES


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def normalize_model_id(name: str, source_file: str | PathLike[str] | None = None) -> str:
    """Map a model name as written in a record file to the project's model id.

    The scheme depends on the file: TransferGraph names are Hub ids
    already; timm ``<name>@<img>`` -> ``timm/<name>``; PARC ``arch|source`` -> ``timm/<arch>.tv_in1k``
    or ``torchvision/<arch>`` for the torchvision ImageNet weights, else ``parc/<arch>-<source>``;
    Keras -> ``keras/<name>``; Fennec -> ``pytorchcv/<name>``; VTAB leaderboard ->
    ``vtab/<slug of method>``. Names from other files are only stripped of whitespace.
    """
    name = str(name).strip()
    if not name:
        raise ValueError("empty model name")
    stem = Path(source_file).name if source_file is not None else ""
    if stem.startswith("timm_"):
        return "timm/" + name.split("@", 1)[0]
    if stem.startswith("parc_"):
        if "|" not in name:
            raise ValueError(f"PARC model name {name!r} is not of the form 'arch|source'")
        if name in _PARC_KNOWN:
            return _PARC_KNOWN[name]
        arch, source = name.split("|", 1)
        return f"parc/{arch}-{source}"
    if stem.startswith("stable_transfer_keras"):
        return name if name.startswith("keras/") else f"keras/{name}"
    if stem.startswith("fennec_benchmark"):
        return name if name.startswith("pytorchcv/") else f"pytorchcv/{name}"
    if stem.startswith("vtab_leaderboard"):
        return f"vtab/{_slug(name)}"
    return name


def normalize_dataset(name: str) -> str:
    """Canonical dataset id for any registered spelling (raises `UnknownDatasetError`)."""
    return resolve_dataset(name).id


# --------------------------------------------------------------------------------------------
# Records


def _read_csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"record file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot parse record file {path}: {exc}") from exc


def _normalise_frame(df: pd.DataFrame, path: Path, *, unknown_datasets: str) -> pd.DataFrame:
    """Validate one long-format table and normalise its model and dataset names."""
    import numpy as np
    import pandas as pd

    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path.name}: missing column(s) {missing}; record files need columns "
            f"{list(_REQUIRED)} (+ optional 'benchmark'), found {list(df.columns)}"
        )
    df = df.copy()
    for col in ("model", "dataset", "metric"):
        if df[col].isna().any():
            rows = df.index[df[col].isna()].tolist()[:5]
            raise ValueError(f"{path.name}: empty {col!r} in row(s) {rows}")
        df[col] = df[col].astype(str).str.strip()
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        rows = df.index[bad].tolist()[:5]
        raise ValueError(f"{path.name}: non-numeric or missing 'value' in row(s) {rows}")
    df["value"] = values.astype("float64")
    pct = df["metric"].str.endswith("_top1") | df["metric"].str.endswith("_top5")
    out_of_range = pct & ((df["value"] < 0) | (df["value"] > 100))
    if out_of_range.any():
        rows = df.index[out_of_range].tolist()[:5]
        raise ValueError(f"{path.name}: accuracy metrics must be percent in [0, 100]; row(s) {rows} are not")
    df["source"] = df["source"].fillna("").astype(str)

    models = {m: normalize_model_id(m, path.name) for m in df["model"].unique()}
    df["model"] = df["model"].map(models)
    datasets: dict[str, str] = {}
    for d in df["dataset"].unique():
        try:
            datasets[d] = normalize_dataset(d)
        except UnknownDatasetError as exc:
            if unknown_datasets == "keep":
                datasets[d] = d
            else:
                raise UnknownDatasetError(
                    d, exc.suggestions,
                    f"{path.name}: {exc} Register it with fennec_hub.datasets.register_dataset() "
                    "or pass unknown_datasets='keep'.",
                ) from None
    df["dataset"] = df["dataset"].map(datasets)
    return df


def _benchmark_column(df: pd.DataFrame, path: Path) -> pd.Series:
    import numpy as np
    import pandas as pd

    if path.name == "parc_oracles.csv":
        controlled = df["source"].str.contains(PARC_CONTROLLED_TAG, regex=False)
        return pd.Series(np.where(controlled, "parc", "parc_crowd"), index=df.index)
    if "benchmark" in df.columns and df["benchmark"].notna().all():
        return df["benchmark"].astype(str)
    return pd.Series(GROUND_TRUTH_FILES.get(path.name, path.stem), index=df.index)


def _flagged(df: pd.DataFrame, raw_models: pd.Series, path: Path) -> pd.Series:
    """Rows known to be broken: PARC checkpoints whose oracle PARC's evaluation voids."""
    import pandas as pd

    if path.name != "parc_oracles.csv":
        return pd.Series(False, index=df.index)
    sources = raw_models.str.split("|", n=1).str[1]
    return sources.isin(PARC_VOIDED_SOURCES)


def _load_file(path: Path, *, include_flagged: bool, unknown_datasets: str) -> pd.DataFrame:
    raw = _read_csv(path)
    raw_models = raw["model"].astype(str).str.strip() if "model" in raw.columns else None
    df = _normalise_frame(raw, path, unknown_datasets=unknown_datasets)
    df["benchmark"] = _benchmark_column(df, path)
    if not include_flagged and raw_models is not None:
        df = df.loc[~_flagged(df, raw_models, path)]
    return df.loc[:, list(RECORD_COLUMNS)]


@functools.lru_cache(maxsize=2)
def _bundled_files(include_voided: bool) -> pd.DataFrame:
    import pandas as pd

    frames = [
        _load_file(RECORDS_DIR / f, include_flagged=include_voided, unknown_datasets="error")
        for f in GROUND_TRUTH_FILES
    ]
    return pd.concat(frames, ignore_index=True)


@functools.lru_cache(maxsize=4)
def _bundled_records(include_flagged: bool, include_collapsed: bool = False) -> pd.DataFrame:
    if include_flagged or include_collapsed:
        return _bundled_files(include_flagged)
    records = _bundled_files(False)
    return records.loc[~_untrusted(records)].reset_index(drop=True)


def _chance(dataset: str) -> float:
    """Accuracy (%) of guessing the most frequent of equally likely classes; 0 when unknown."""
    entry = find_dataset(dataset)
    n = entry.num_classes if entry is not None else None
    return 100.0 / n if n else 0.0


def collapsed_runs(records: pd.DataFrame) -> pd.Series:
    """Boolean mask of runs that collapsed instead of measuring transfer.

    Within each (source, dataset, metric) group: a run is collapsed when it is near chance (less
    than a tenth of the way from chance to the group's 90th percentile), or when it lies in a
    cluster cut off below the group's healthy runs (under half-way from chance to their median,
    below a gap of at least 15% of that distance) while the same model ranks in the top three
    quarters of its other groups of that source (a model that is weak everywhere is weak, not
    collapsed).
    """
    import numpy as np
    import pandas as pd

    keys = ["source", "dataset", "metric"]
    values = records["value"].to_numpy(float)
    near = np.zeros(len(records), bool)
    far = np.zeros(len(records), bool)
    for key, idx in records.groupby(keys, sort=False).indices.items():
        v, c = values[idx], _chance(key[1])
        near[idx] = (v - c) < 0.1 * (np.percentile(v, 90) - c)
        healthy = v[~near[idx]]
        if len(healthy) < 2:
            continue
        mid = np.median(healthy)
        low = np.sort(healthy[(healthy - c) < 0.5 * (mid - c)])
        if not len(low):
            continue
        edges = np.concatenate([low, np.sort(healthy[healthy > low[-1]])[:1]])
        gaps = np.diff(edges)
        if len(gaps) and gaps.max() >= 0.15 * (mid - c):
            far[idx] = ~near[idx] & (v <= edges[int(np.argmax(gaps))])
    ok = ~(near | far)
    pct = records["value"].where(pd.Series(ok, index=records.index)).groupby(
        [records[k] for k in keys], sort=False).rank(pct=True)
    standing = pct.groupby([records["model"], records["source"]], sort=False).transform("median")
    far &= standing.fillna(0.0).to_numpy() >= 0.25
    return pd.Series(near | far, index=records.index)


def trained_on_target(records: pd.DataFrame) -> pd.Series:
    """Boolean mask of runs of a checkpoint that was already trained on the run's dataset, as its
    Hub card declares (a community ViT fine-tuned on CIFAR-100, fine-tuned on CIFAR-100 again). Such
    a run measures how well the checkpoint already knows the task, not how it transfers:
    TransferGraph's reaches 99.6% on CIFAR-100, where no other checkpoint passes 93.3%."""
    import pandas as pd

    source = _model_metadata()["source_dataset"]
    return pd.Series((records["model"].map(source) == records["dataset"]).to_numpy(bool), index=records.index)


def _untrusted(records: pd.DataFrame) -> pd.Series:
    """Runs that `load_records` leaves out: collapsed, or of a checkpoint trained on the target."""
    return collapsed_runs(records) | trained_on_target(records)


def collapsed_counts() -> pd.Series:
    """How many bundled records `collapsed_runs` flags, per benchmark (the PARC rows voided by
    PARC's own evaluation are counted apart, in ``.attrs["voided"]``, and the runs of checkpoints
    already trained on the target that did not collapse, `trained_on_target`, per benchmark in
    ``.attrs["trained_on_target"]``)."""
    records = _bundled_files(False)
    collapsed = collapsed_runs(records)
    counts = collapsed.groupby(records["benchmark"]).sum().astype(int)
    counts.attrs["voided"] = len(_bundled_files(True)) - len(records)
    known = trained_on_target(records) & ~collapsed
    per_bench = known.groupby(records["benchmark"]).sum()
    counts.attrs["trained_on_target"] = {str(b): int(n) for b, n in per_bench.items() if n}
    return counts


def load_records(
    paths: str | PathLike[str] | Iterable[str | PathLike[str]] | None = None,
    *,
    include_flagged: bool = False,
    include_collapsed: bool = False,
    unknown_datasets: str = "error",
) -> pd.DataFrame:
    """Load transfer records as one long table with normalised model and dataset ids.

    Columns: ``model, dataset, metric, value, source, benchmark``; ``value`` is percent (0-100)
    for ``*_top1`` metrics. ``paths=None`` loads every bundled ground-truth file (not the
    method-score files, the metadata files or the timm ImageNet results). User CSVs must have
    the same long format; their ``benchmark`` column defaults to the file stem. Rows that the
    benchmark's own authors void (PARC's broken SSL checkpoints), runs that collapsed
    (`collapsed_runs`: at chance, or cut off far below the same group's other runs) and runs of a
    checkpoint already trained on the run's dataset (`trained_on_target`) are dropped unless
    ``include_flagged=True`` (``include_collapsed=True`` keeps only the collapsed and
    trained-on-target runs, as other methods' published figures count them).
    ``unknown_datasets``: "error" (default) raises `UnknownDatasetError` for a dataset the
    registry lacks; "keep" keeps the raw name.
    """
    import pandas as pd

    if unknown_datasets not in ("error", "keep"):
        raise ValueError("unknown_datasets must be 'error' or 'keep'")
    if paths is None:
        return _bundled_records(bool(include_flagged), bool(include_collapsed)).copy()
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise ValueError("load_records: empty list of paths")
    frames = [_load_file(p, include_flagged=include_flagged, unknown_datasets=unknown_datasets) for p in files]
    records = pd.concat(frames, ignore_index=True)
    if include_flagged or include_collapsed:
        return records
    return records.loc[~_untrusted(records)].reset_index(drop=True)


def benchmark_records(name: str) -> pd.DataFrame:
    """Ground truth of one of the five evaluation benchmarks (see `BENCHMARKS`)."""
    try:
        bench = BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}") from None
    return bench.select(load_records())


@functools.lru_cache(maxsize=8)
def benchmark_protocol(name: str) -> tuple[str, str]:
    """``(source, metric)`` of a benchmark's records: the fine-tuning protocol to name in
    `TransferSpace.task_vector` / `recommend(protocol=...)` queries."""
    rows = benchmark_records(name)
    sources, metrics = rows["source"].unique(), rows["metric"].unique()
    if len(sources) != 1 or len(metrics) != 1:
        raise ValueError(f"benchmark {name!r} mixes {len(sources)} sources and {len(metrics)} metrics")
    return str(sources[0]), str(metrics[0])


# --------------------------------------------------------------------------------------------
# Method scores


@functools.lru_cache(maxsize=1)
def _method_scores() -> pd.DataFrame:
    import pandas as pd

    frames = []
    for fname, bench in METHOD_SCORE_FILES.items():
        path = RECORDS_DIR / fname
        df = _read_csv(path)
        if "run" not in df.columns:
            df["run"] = 0
        df = _normalise_frame(df, path, unknown_datasets="error")
        df["run"] = df["run"].astype("int64")
        df["benchmark"] = bench
        frames.append(df[["model", "dataset", "metric", "run", "value", "source", "benchmark"]])
    return pd.concat(frames, ignore_index=True)


def load_method_scores() -> pd.DataFrame:
    """Transferability scores published by other methods, with normalised ids.

    Columns ``model, dataset, metric, run, value, source`` (+ ``benchmark``: which ground truth
    they score). Metrics: ``fennec_mf_cold_score`` (Fennec, 5 runs, on the Fennec and PARC
    benchmarks), ``logme_score`` (LogME on PARC), and ``gbc, leep, nleep, logme, hscore`` (Keras
    benchmark, one run, ``run`` = 0). Higher is better for every metric.
    """
    return _method_scores().copy()


# --------------------------------------------------------------------------------------------
# Model metadata

# Pre-training data: the labels fennec_hub uses, the tokens of timm tags and the phrases of model
# descriptions that name them, and each dataset's size in training images as published with it.
_PRETRAIN_TOKENS: tuple[tuple[str, str], ...] = (
    (r"laion2b|laiona|laion400m|laion", "laion"),
    (r"openai", "openai"),
    (r"dfn\d*b?", "dfn"),
    (r"webli", "webli"),
    (r"jft\d*m?", "jft"),
    (r"ig\d+b|swsl|wsl|swag|seer", "instagram"),
    (r"yfcc100m|yfcc15m", "yfcc100m"),
    (r"m38m|m30m", "merged-38m"),
    (r"lvd142m", "lvd142m"),
    (r"lvd1689m", "lvd1689m"),
    (r"merged2b", "merged-2b"),
    (r"datacompxl", "datacomp-1b"),  # OpenCLIP's DataComp.XL models, trained on DataComp-1B
    (r"cc12m", "cc12m"),
    (r"dfndr2b", "dfn"),
    (r"in22k|in21k|inw21k", "in21k"),  # inw21k: ImageNet-22k's Winter21 variant (MViTv2)
    (r"in12k", "in12k"),
    (r"in1k", "in1k"),
)
# Self-supervised pre-training on ImageNet-1k without labels (ConvNeXt V2's FCMAE, MAE, DINO); a
# supervised fine-tune on larger data afterwards (``fcmae_ft_in22k_in1k``) names the data that counts.
_SELF_SUPERVISED_IN1K = re.compile(r"fcmae|mae|dino")
_PRETRAIN_RE = tuple((re.compile(pattern), label) for pattern, label in _PRETRAIN_TOKENS)
_PRETRAIN_PHRASES = (("imagenet-21k", "in21k"), ("imagenet-22k", "in21k"), ("lvd-142m", "lvd142m"),
                     ("wit-400m", "openai"), ("webli", "webli"), ("laion", "laion"), ("imagenet-1k", "in1k"))
PRETRAIN_IMAGES: dict[str, float] = {
    "in1k": 1.28e6, "in12k": 1.2e7, "in21k": 1.4e7, "merged-38m": 3.8e7, "yfcc100m": 1.0e8,
    "lvd142m": 1.42e8, "jft": 3.0e8, "openai": 4.0e8, "instagram": 1.0e9, "laion": 2.0e9, "dfn": 2.0e9,
    "webli": 1.0e10, "lvd1689m": 1.689e9, "merged-2b": 2.0e9, "metaclip-400m": 4.0e8, "metaclip-2.5b": 2.5e9,
    "datacomp-1b": 1.4e9,  # DataComp-1B: 1.4B image-text pairs (Gadre et al., arXiv 2304.14108)
    "cc12m": 1.24e7,  # Conceptual 12M: 12.4M image-text pairs (Changpinyo et al., arXiv 2102.08981)
}
# Tags that name their data in two tokens (``metaclip_2pt5b``): the size is the tag's own.
_PRETRAIN_PAIRS = ((("metaclip", "400m"), "metaclip-400m"), (("metaclip", "2pt5b"), "metaclip-2.5b"))


def timm_pretrain(tag: str | None) -> str | None:
    """Pre-training data of a timm checkpoint from its tag (``tv_in1k`` -> in1k,
    ``augreg_in21k_ft_in1k`` -> in21k, ``laion2b_ft_in12k_in1k`` -> laion, ``mae`` -> in1k,
    ``fcmae_ft_in22k_in1k`` -> in21k); None if not stated."""
    if not tag:
        return None
    tokens = tag.lower().split("_")
    pre = tokens[: tokens.index("ft")] if "ft" in tokens else tokens
    if not pre:  # ``ft_in1k``: a fine-tune (at a higher resolution) of a checkpoint of the same data
        pre = tokens[1:]
    for pair, label in _PRETRAIN_PAIRS:
        if set(pair) <= set(pre):
            return label
    label = _first_pretrain_label(pre)
    if label is None and any(_SELF_SUPERVISED_IN1K.fullmatch(t) for t in pre):
        later = _first_pretrain_label(tokens[len(pre):])
        label = later if later and PRETRAIN_IMAGES[later] > PRETRAIN_IMAGES["in1k"] else "in1k"
    return label


def _first_pretrain_label(tokens: list[str]) -> str | None:
    for pattern, label in _PRETRAIN_RE:
        if any(pattern.fullmatch(t) for t in tokens):
            return label
    return None


def pretrain_label(text: object) -> str | None:
    """Pre-training label from a description such as ``"imagenet-21k, fine-tuned imagenet-1k"``
    (-> ``in21k``: the first dataset named wins), a label itself, or a dataset name; None if empty."""
    if not isinstance(text, str) or not text.strip():
        return None
    low = text.lower().strip()
    if low in PRETRAIN_IMAGES:
        return low
    for key, label in _PRETRAIN_PHRASES:
        if key in low:
            return label
    return low.split()[0].strip(",")


def pretrain_images(label: object) -> float | None:
    """Training images of a pre-training label, or of a registered dataset named by it (models
    trained from scratch on e.g. CIFAR-10); None when unknown."""
    if not isinstance(label, str) or not label:
        return None
    if label in PRETRAIN_IMAGES:
        return PRETRAIN_IMAGES[label]
    entry = find_dataset(label)
    return float(entry.train_size) if entry is not None and entry.train_size else None


def _timm_metadata() -> pd.DataFrame:
    import pandas as pd

    meta = _read_csv(RECORDS_DIR / TIMM_METADATA_FILE)
    results = _read_csv(RECORDS_DIR / TIMM_RESULTS_FILE)
    top1 = results[(results["dataset"] == "imagenet") & (results["metric"] == "top1")]
    top1 = top1.drop_duplicates("model").set_index("model")["value"]

    meta["param_count"] = pd.to_numeric(meta["param_count"].astype(str).str.replace(",", ""), errors="coerce")
    meta["img_size"] = pd.to_numeric(meta["img_size"], errors="coerce")
    meta["imagenet_top1"] = meta["model"].map(top1)
    extra = sorted(set(top1.index) - set(meta["model"]))  # evaluated, but no metadata row
    # One row per checkpoint: the smallest evaluated resolution (timm's default input size;
    # the larger one is its test-time size).
    meta = meta.sort_values(["timm_name", "img_size"], kind="stable").drop_duplicates("timm_name")
    rows = []
    for key in extra:
        name, _, img = key.partition("@")
        rows.append({"model": key, "timm_name": name, "img_size": pd.to_numeric(img, errors="coerce"),
                     "imagenet_top1": top1[key]})
    if rows:
        meta = pd.concat([meta, pd.DataFrame(rows)], ignore_index=True).drop_duplicates("timm_name")

    tags = meta["timm_name"].str.partition(".")[2].replace("", None)
    out = pd.DataFrame({
        "model": "timm/" + meta["timm_name"],
        "params_m": meta["param_count"],
        "img_size": meta["img_size"],
        "imagenet_top1": meta["imagenet_top1"],
        "pretrain_tag": tags,
        "pretrain": [timm_pretrain(t) or _meta_pretrain(m) for t, m in zip(tags, meta.get("pretrain_tag_in1k_meta"))],
        "library": "timm",
        "arch": meta["timm_name"].str.partition(".")[0],
        "crop_pct": meta.get("crop_pct"),
        "interpolation": meta.get("interpolation"),
        "source_dataset": "ILSVRC/imagenet-1k",  # every checkpoint in timm's in1k results ends on ImageNet-1k
    })
    return out


SAME_WEIGHTS_FILE = Path(__file__).parent / "data" / "same_weights.csv"
HF_CONFIGS_DIR = Path(__file__).parent / "data" / "hf_configs"  # shipped transformers configs + index.json
PYTORCHCV_RESULTS_FILE = "pytorchcv_imagenet_results.csv"
TORCHVISION_RESULTS_FILE = "torchvision_imagenet_results.csv"  # scripts/torchvision_imagenet_results.py
KERAS_RESULTS_FILE = "keras_imagenet_results.csv"  # Keras Applications' published table
IMAGENET_RESULTS = ("imagenet", "imagenet-real", "imagenetv2-mf", "imagenet-sketch", "imagenet-r", "imagenet-a")


@functools.lru_cache(maxsize=1)
def shipped_hf_configs() -> tuple[dict, ...]:
    """The index of the canonical transformers checkpoints whose config.json ships with the package
    (``fennec_hub/data/hf_configs/index.json``): one dict per model, with ``model_id`` and what the
    index says of it (``file``, ``pretraining``, ``license``, ...); empty without an index."""
    import json

    path = HF_CONFIGS_DIR / "index.json"
    if not path.exists():
        return ()
    index = json.loads(path.read_text(encoding="utf-8"))
    items = index.get("models", index) if isinstance(index, dict) else index
    if isinstance(items, dict):
        items = [{"model_id": k, **(v if isinstance(v, dict) else {})} for k, v in items.items()]
    out = []
    for it in items:
        mid = it.get("model_id") or it.get("id") or it.get("repo_id")
        if mid:
            out.append({**it, "model_id": str(mid)})
    return tuple(out)


@functools.lru_cache(maxsize=1)
def same_weights() -> dict[str, str]:
    """Checkpoints published twice with identical weights: model id -> the timm checkpoint it is
    (``facebook/convnext-tiny-224`` -> ``timm/convnext_tiny.fb_in1k``). Such a pair is one model
    for records and metadata. From ``fennec_hub/data/same_weights.csv`` (each row says why)."""
    table = _read_csv(SAME_WEIGHTS_FILE)
    return dict(zip(table["model"].astype(str), table["same_as"].astype(str)))


def first_recorded_uploads(recorded: Iterable[str]) -> dict[str, str]:
    """timm checkpoint -> the first of its uploads (in `same_weights` order) that has records: of
    two recorded uploads of one checkpoint, the other is this one's copy."""
    recorded = set(recorded)
    first: dict[str, str] = {}
    for m, t in same_weights().items():
        if m in recorded:
            first.setdefault(t, m)
    return first


def recorded_copies(recorded: Iterable[str]) -> dict[str, str]:
    """Second recorded upload of a checkpoint -> the first (`first_recorded_uploads`), whose
    records and metadata it shares."""
    recorded = set(recorded)
    twins, first = same_weights(), first_recorded_uploads(recorded)
    return {m: first[t] for m, t in twins.items() if m in recorded and first[t] != m}


def same_weights_pretrain(model_id: str) -> str | None:
    """Pre-training data of a checkpoint published twice, as the tag of its timm copy names it
    (``microsoft/swin-base-patch4-window7-224`` -> in21k); None for any other checkpoint."""
    same = same_weights().get(model_id, "")
    return timm_pretrain(same.rpartition(".")[2]) if same.startswith("timm/") else None


@functools.lru_cache(maxsize=1)
def _timm_results() -> pd.DataFrame:
    """timm's ImageNet results, one row per checkpoint (its smallest evaluated resolution)."""
    df = _read_csv(RECORDS_DIR / TIMM_RESULTS_FILE)
    parts = df["model"].str.partition("@")
    df = df.assign(name=parts[0], res=parts[2].astype(int))
    df = df[df["res"] == df.groupby("name")["res"].transform("min")]
    df = df[df["metric"] == "top1"]
    return df.pivot_table(index="name", columns="dataset", values="value", aggfunc="first")


@functools.lru_cache(maxsize=1)
def _top5_to_top1():
    """ImageNet top-5 -> top-1, an isotonic fit over timm's results (for zoos reporting top-5 only)."""
    import numpy as np

    df = _read_csv(RECORDS_DIR / TIMM_RESULTS_FILE)
    wide = df.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
    wide = wide.loc[df[df["dataset"] == "imagenet"]["model"].unique()].dropna(subset=["top1", "top5"])
    order = np.argsort(wide["top5"].to_numpy(), kind="stable")
    x, y = wide["top5"].to_numpy()[order], wide["top1"].to_numpy()[order]
    y = np.maximum.accumulate(y)  # monotone envelope: a better top-5 never maps to a worse top-1
    return x, y


_RESOLUTION_SUFFIX = re.compile(r"_\d{3}$")  # ``vit_base_patch32_clip_384``, ``..._ft_in1k_384``


def _sibling(name: str, evaluated: pd.Index) -> str | None:
    """The evaluated fine-tune of a timm checkpoint that has no ImageNet result of its own:
    ``convnext_large.fb_in22k`` -> ``convnext_large.fb_in22k_ft_in1k``, ``vit_base_patch16_clip_224.openai``
    -> ``vit_base_patch16_clip_224.openai_ft_in1k``, an intermediate fine-tune's further ImageNet-1k one
    (``vit_huge_patch14_clip_224.laion2b_ft_in12k`` -> ``...laion2b_ft_in12k_in1k``, ``hiera_base_224.mae``
    -> ``hiera_base_224.mae_in1k_ft_in1k``); the same network, resolution suffixes aside, preferring the
    same resolution."""
    arch, _, tag = name.partition(".")
    if not tag:
        return None
    base = _RESOLUTION_SUFFIX.sub("", arch)
    tag_base = _RESOLUTION_SUFFIX.sub("", tag)
    starts = (tag_base + "_ft", tag_base + "_in1k")
    hits = [n for n in evaluated if n.partition(".")[2].startswith(starts)
            and _RESOLUTION_SUFFIX.sub("", n.partition(".")[0]) == base]
    res = tag[len(tag_base):]  # "_320", or ""
    hits.sort(key=lambda n: (n.partition(".")[0] != arch, bool(res) and not n.endswith(res), len(n), n))
    return hits[0] if hits else None


# How a zoo's ``imagenet_from`` column starts for a checkpoint whose prior stands on `network_top1`
# (the build writes it, explanations read it).
STAND_IN_FROM = "stand-in from "

# Pre-training on image-text pairs (CLIP-style towers): a tower without an ImageNet fine-tune is
# compared with the fine-tunes of towers of its architecture trained the same way (`network_top1`).
IMAGE_TEXT_PRETRAIN = frozenset({"laion", "openai", "dfn", "webli", "datacomp-1b", "metaclip-400m",
                                 "metaclip-2.5b", "merged-2b", "cc12m"})


def network_top1(model_id: str, params_m: float) -> tuple[float, str] | None:
    """A stand-in ImageNet top-1 from the same network, for a timm tower pre-trained on image-text
    pairs (or an identical upload of one, `same_weights`) that has no result of its own or of its
    fine-tune (``vit_base_patch32_clip_224.laion400m_e32``), of ``params_m`` million parameters:
    what :func:`expected_imagenet_top1` gives for its size and data, moved by how far timm's
    evaluated towers of its kind, also pre-trained on image-text pairs, stand from what it gives for
    theirs (the median). Its kind: its architecture (at its resolution where any is evaluated),
    else the architecture at any resolution, else its family (``vit``, ``convnext``: the name's
    first word), as in ``vit_giant_patch14_clip_224``, which has no evaluated checkpoint; of those,
    the towers fine-tuned on ImageNet-1k directly where there are any. Returns
    ``(top-1, "the ImageNet results of N <kind> checkpoints")``, or None.

    A network's own checkpoints say more than its size does: a ViT-B/32 reaches less than other
    networks of its 88M parameters, so a stand-in from size alone would put a ViT-B/32 tower without
    a fine-tune above the ViT-B/32 towers that have one, and level with the ViT-B/16 ones. Only
    towers trained the same way count: a supervised ImageNet-1k ViT says little of an MAE one."""
    import numpy as np

    target = same_weights().get(model_id, model_id)
    if not target.startswith("timm/"):
        return None
    arch, _, tag = target[len("timm/"):].partition(".")
    data = timm_pretrain(tag)
    if data not in IMAGE_TEXT_PRETRAIN or not (params_m and params_m > 0):
        return None
    base, res = _RESOLUTION_SUFFIX.sub("", arch), _RESOLUTION_SUFFIX.search(tag) is not None
    family = arch.partition("_")[0]
    kin = [((b == base, a == arch, r == res, direct), off) for a, b, r, direct, off in _image_text_offsets()
           if a.partition("_")[0] == family]
    if not kin:
        return None
    best = max(k[0] for k in kin)
    offsets = [off for near, off in kin if near == best]
    kind, n = (arch if best[1] else base if best[0] else f"image-text {family}"), len(offsets)
    return (expected_imagenet_top1(params_m, PRETRAIN_IMAGES[data]) + float(np.median(offsets)),
            f"the ImageNet results of {n} {kind} checkpoint{'s' if n > 1 else ''}")


@functools.lru_cache(maxsize=1)
def _image_text_offsets() -> tuple[tuple[str, str, bool, bool, float], ...]:
    """timm's evaluated checkpoints pre-trained on image-text pairs: ``(architecture, architecture
    without its resolution suffix, whether the tag has one, whether it was fine-tuned on ImageNet-1k
    directly (not through ImageNet-12k or -22k first, which adds to its figure), top-1 less what
    :func:`expected_imagenet_top1` gives for its size and data)``."""
    meta = _timm_metadata()
    sizes = dict(zip(meta["model"].str[len("timm/"):], meta["params_m"]))
    results = _timm_results()
    out = []
    for name, top1 in (results["imagenet"].dropna().items() if "imagenet" in results.columns else ()):
        a, _, t = name.partition(".")
        d, params = timm_pretrain(t), sizes.get(name)
        if d in IMAGE_TEXT_PRETRAIN and params and params > 0:
            out.append((a, _RESOLUTION_SUFFIX.sub("", a), _RESOLUTION_SUFFIX.search(t) is not None,
                        re.search(r"_ft_in(12|22)k", t) is None,
                        float(top1) - expected_imagenet_top1(float(params), PRETRAIN_IMAGES[d])))
    return tuple(out)


def imagenet_quality(models: Iterable[str]) -> pd.DataFrame:
    """ImageNet accuracy of each model, with where it comes from.

    Columns: ``imagenet_top1`` and the other results timm reports (``imagenet-real``,
    ``imagenetv2-mf``, ``imagenet-sketch``, ``imagenet-r``, ``imagenet-a``, top-1 %), and
    ``imagenet_from``: ``"own"`` (timm's result for this checkpoint), ``"same weights: X"`` (the
    identical checkpoint published as X, `same_weights`), ``"fine-tuned sibling: X"`` (a checkpoint
    without a result borrows that of its own ImageNet fine-tune X), ``"same architecture: X"`` (an
    ImageNet classifier of a benchmark zoo, e.g. Keras, or a PARC fine-tune of a torchvision network,
    borrows the result of the same network's original-recipe timm checkpoint X), ``"keras-applications"`` /
    ``"torchvision: X IMAGENET1K_V1"`` (the figure Keras or torchvision publishes for its own
    weights, where timm has no copy of them),
    ``"its model card"`` (the ImageNet-1k accuracy its Hub card reports, `_card_top1`, for a
    checkpoint none of the above covers), ``"top-5 (pytorchcv)"`` (top-1 estimated from the top-5
    pytorchcv reports, through timm's top-5/top-1 relation), or None.
    """
    import numpy as np
    import pandas as pd

    models = list(models)
    results = _timm_results()
    twins = same_weights()
    pcv = _read_csv(RECORDS_DIR / PYTORCHCV_RESULTS_FILE).set_index("model")["value"]
    tv = _read_csv(RECORDS_DIR / TORCHVISION_RESULTS_FILE).query("metric == 'top1'").set_index("model")["value"]
    keras = _read_csv(RECORDS_DIR / KERAS_RESULTS_FILE).query("metric == 'top1'").set_index("model")["value"]
    x5, y1 = _top5_to_top1()
    cards = _card_top1()
    rows = []
    for m in models:
        row: dict[str, object] = dict.fromkeys(IMAGENET_RESULTS, np.nan)
        row["imagenet_from"] = None
        target = twins.get(m, m)
        name = target[len("timm/"):] if target.startswith("timm/") else None
        hit, how = None, None
        if name is not None and name in results.index:
            hit, how = name, "own" if target == m else f"same weights: {target}"
        elif name is not None:
            sib = _sibling(name, results.index)
            if sib is not None:
                hit, how = sib, f"fine-tuned sibling: timm/{sib}"
        published = _published_top1(m, keras, tv) if hit is None else None
        if hit is None and (m.startswith(("keras/", "torchvision/")) or _parc_finetune(m)):
            mapped = mapped_architecture(m)
            if mapped is not None and mapped[0] == "timm" and (published is None or _torchvision_arch(m)):
                # timm's evaluation of the torchvision weights themselves, or of the same network
                hit = _original_recipe(mapped[1], results.index)
                how = f"same architecture: timm/{hit}" if hit else None
            elif published is None and mapped is not None and mapped[1] in pcv.index:
                m = f"pytorchcv/{mapped[1]}"  # the pytorchcv network's own top-5, below
        card = cards.get(m) if hit is None and published is None else None
        if hit is not None:
            row.update({k: float(results.at[hit, k]) for k in IMAGENET_RESULTS if k in results.columns})
            row["imagenet_from"] = how
        elif published is not None:
            row["imagenet"], row["imagenet_from"] = published
        elif card is not None and np.isfinite(card):
            row["imagenet"], row["imagenet_from"] = float(card), "its model card"
        elif m.startswith("pytorchcv/") and m[len("pytorchcv/"):] in pcv.index:
            top5 = float(pcv[m[len("pytorchcv/"):]])
            row["imagenet"] = float(np.interp(top5, x5, y1))
            row["imagenet_from"] = "top-5 (pytorchcv)"
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(models, name="model"))
    return out.rename(columns={"imagenet": "imagenet_top1"})


def _published_top1(model: str, keras: pd.Series, tv: pd.Series) -> tuple[float, str] | None:
    """The ImageNet top-1 its publisher reports for a benchmark bank's own weights: Keras
    Applications for ``keras/<name>``, torchvision for ``torchvision/<arch>`` and PARC's fine-tunes
    of them; None where the publisher reports none."""
    if model.startswith("keras/") and model[len("keras/"):] in keras.index:
        return float(keras[model[len("keras/"):]]), "keras-applications"
    arch = _torchvision_arch(model)
    if arch in tv.index:
        return float(tv[arch]), f"torchvision: {arch} IMAGENET1K_V1"
    return None


def _torchvision_arch(model: str) -> str | None:
    """The torchvision network whose ImageNet weights a benchmark id is (``torchvision/googlenet``,
    or a PARC fine-tune of one, ``parc/googlenet-cub200`` -> ``googlenet``); None otherwise."""
    if model.startswith("torchvision/"):
        return model[len("torchvision/"):]
    return _parc_models()[model][0] if _parc_finetune(model) else None


def _parc_finetune(model: str) -> bool:
    """A PARC controlled-bank checkpoint: a torchvision ImageNet network fine-tuned on one dataset."""
    return model.startswith("parc/") and _parc_models().get(model, ("", "", False))[2]


@functools.lru_cache(maxsize=1)
def _card_top1() -> pd.Series:
    """ImageNet-1k top-1 (%) that checkpoints' own Hub cards report (TransferGraph's metadata), by id:
    only a card that declares ImageNet with a 1,000-class head, and only a figure within the range
    timm's evaluated checkpoints within a factor of 2 of its size span. Where timm also evaluates
    the weights, 17 of 24 such cards agree within a point; a card that reports its own downstream
    accuracy on a kept ImageNet head (93% for a 28M Swin) falls outside the range."""
    import numpy as np

    tg = _transfergraph_metadata().drop_duplicates("model").set_index("model")
    keep = (tg["hub_declared_dataset"].astype(str).str.lower() == "imagenet") & (tg["hub_num_labels"] == 1000)
    card = 100.0 * tg.loc[keep, "hub_card_accuracy"]
    params = tg.loc[keep, "params_m"]
    timm = _timm_metadata().dropna(subset=["params_m", "imagenet_top1"])
    size, top1 = np.log(timm["params_m"].to_numpy(float)), timm["imagenet_top1"].to_numpy(float)
    ok = []
    for value, p in zip(card, params):
        near = np.abs(size - np.log(p)) <= np.log(2.0) if p > 0 else np.zeros(len(size), bool)
        ok.append(bool(np.isfinite(value) and near.any() and top1[near].min() <= value <= top1[near].max()))
    return card[np.array(ok, dtype=bool)]


def _original_recipe(arch: str, evaluated: pd.Index) -> str | None:
    """The evaluated ImageNet-1k checkpoint of a timm architecture closest to its paper's training:
    the torchvision or TensorFlow port where timm has one, else its plain ``in1k`` tag."""
    for tag in ("tv_in1k", "tf_in1k", "in1k"):
        if f"{arch}.{tag}" in evaluated:
            return f"{arch}.{tag}"
    return None


@functools.lru_cache(maxsize=1)
def _expected_top1_fit():
    """What :func:`expected_imagenet_top1` interpolates, from timm's evaluated checkpoints: the gain
    per decade of pre-training images (least squares on log params and log images, with the residual
    spread and the median top-1), and, with that gain removed, ``(log params, lower quartile)`` knots
    over 12 equal-count bins of log params, made non-decreasing."""
    import numpy as np

    meta = _timm_metadata()
    images = np.log10(meta["pretrain"].map(lambda p: pretrain_images(p) or np.nan).to_numpy(float))
    size = np.log(meta["params_m"].to_numpy(float))
    y = meta["imagenet_top1"].to_numpy(float)
    ok = np.isfinite(images) & np.isfinite(size) & np.isfinite(y)
    images, size, y = images[ok], size[ok], y[ok]
    x = np.column_stack([np.ones(len(y)), images, size])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    spread = float(np.std(y - x @ coef))
    base = y - coef[1] * (images - math.log10(PRETRAIN_IMAGES["in1k"]))
    bins = np.clip(np.searchsorted(np.quantile(size, np.linspace(0.0, 1.0, 13)), size, side="right") - 1, 0, 11)
    knots = np.array([np.median(size[bins == b]) for b in range(12)])
    lower = np.maximum.accumulate([np.quantile(base[bins == b], 0.25) for b in range(12)])
    return coef, spread, float(np.median(y)), knots, lower


def expected_imagenet_top1(params_m: float, pretrain_images_: float | None = None) -> float:
    """A cautious ImageNet top-1 (%) for a checkpoint that publishes none; it stands in for a
    model's own figure in the quality prior only, and is never shown as one.

    With its pre-training data declared (a timm tag such as ``laion2b`` or ``openai``): the lower
    quartile of what timm's evaluated checkpoints of its size reach (interpolated between size bins,
    never decreasing with size, flat beyond the largest but for 0.01 per e-fold of parameters that
    keeps larger networks ahead), plus what its data adds per decade of images. Without it (most
    community uploads): the lower quartile of a least-squares fit on log parameters at ImageNet-1k
    scale, and never above the median checkpoint's top-1, however large the network: an unknown
    upload is not assumed to be a typical one.
    """
    import numpy as np

    coef, spread, median, knots, lower = _expected_top1_fit()
    if not (params_m and params_m > 0):
        return float("nan")
    size = math.log(params_m)
    if not (pretrain_images_ and pretrain_images_ >= PRETRAIN_IMAGES["in1k"]):
        images = pretrain_images_ if pretrain_images_ and pretrain_images_ > 0 else PRETRAIN_IMAGES["in1k"]
        fit = coef[0] + coef[1] * math.log10(images) + coef[2] * size - 0.674 * spread
        return float(min(fit, median))
    data = coef[1] * (math.log10(pretrain_images_) - math.log10(PRETRAIN_IMAGES["in1k"]))
    return float(np.interp(size, knots, lower) + data + 0.01 * size)


def _meta_pretrain(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return "in21k" if value.startswith("in21k") else ("in1k" if value.startswith("in1k") else value)


def _parse_architectures(value: object) -> str | None:
    """``"['ViTForImageClassification']"`` -> ``"ViTForImageClassification"`` (no eval)."""
    if not isinstance(value, str):
        return None
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", value)
    return ",".join(names) or None


def _transfergraph_metadata() -> pd.DataFrame:
    import pandas as pd

    tg = _read_csv(RECORDS_DIR / TRANSFERGRAPH_METADATA_FILE)
    out = pd.DataFrame({
        "model": tg["model"].astype(str).str.strip(),
        "params_m": pd.to_numeric(tg["number_of_parameters"], errors="coerce") / 1e6,
        "img_size": pd.to_numeric(tg["input_shape"], errors="coerce"),
        "library": "transformers",
        "model_type": tg["model_type"],
        "architectures": tg["architectures"].map(_parse_architectures),
        "hub_declared_dataset": tg["hub_declared_dataset"],
        # The dataset the Hub card says the checkpoint was trained or fine-tuned on, where registered.
        "source_dataset": tg["hub_declared_dataset"].map(
            lambda d: _dataset_or_none(d) if isinstance(d, str) else None),
        "hub_num_labels": pd.to_numeric(tg["hub_num_labels"], errors="coerce"),
        "hub_card_accuracy": pd.to_numeric(tg["hub_card_accuracy"], errors="coerce"),
        "number_of_parameters": pd.to_numeric(tg["number_of_parameters"], errors="coerce"),
        "input_shape": pd.to_numeric(tg["input_shape"], errors="coerce"),
        "output_shape": pd.to_numeric(tg["output_shape"], errors="coerce"),
        "problem_type": tg["problem_type"],
    })
    return out


def _dataset_or_none(name: str) -> str | None:
    entry = find_dataset(name)
    return entry.id if entry is not None else None


def _short_name(dataset: str) -> str:
    """Registry short name of a training set used as a ``pretrain`` label (ImageNet -> in1k)."""
    entry = find_dataset(dataset)
    if entry is None:
        return dataset
    return "in1k" if entry.id == "ILSVRC/imagenet-1k" else entry.short_name


@functools.lru_cache(maxsize=1)
def _parc_models() -> dict[str, tuple[str, str, bool]]:
    """PARC's checkpoints: model id -> (architecture, source it was trained on, in the controlled bank)."""
    raw: dict[str, tuple[str, str, bool]] = {}
    for fname in ("parc_oracles.csv", "parc_method_scores.csv"):
        df = _read_csv(RECORDS_DIR / fname)
        controlled = df["source"].str.contains(PARC_CONTROLLED_TAG, regex=False) | (fname != "parc_oracles.csv")
        for m, ctl in zip(df["model"].astype(str).str.strip(), controlled):
            arch, source = m.split("|", 1)
            raw[normalize_model_id(m, fname)] = (arch, source, bool(ctl))
    return raw


def _detectron2_training(source: str) -> str:
    """What a detectron2 checkpoint of PARC's crowd-sourced bank was last trained on, from its
    config name (``mask-rcnn_fpn_lvis_144219072``): COCO unless the name says otherwise."""
    data = next((name for key, name in (("lvis", "LVIS"), ("cityscapes", "Cityscapes"), ("voc", "PASCAL VOC"))
                 if f"_{key}_" in source), "COCO")
    task = next((task for key, task in (("keypoint", "keypoints"), ("panoptic", "panoptic segmentation"),
                                        ("mask", "instance segmentation")) if source.startswith(key)), "detection")
    return f"{data} ({task})"


def _record_model_rows(records: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Metadata derivable from the record files themselves (library, arch, source dataset)."""
    import pandas as pd

    raw = _parc_models()
    rows = []
    for model in sorted(set(records["model"]) | set(scores["model"])):
        row: dict[str, object] = {"model": model}
        ns, _, name = model.partition("/")
        if model in raw:
            arch, source, controlled = raw[model]
            dataset = _dataset_or_none(source)
            row.update(arch=arch, parc_source=source, source_dataset=dataset)
            if ns == "parc":
                if controlled:  # PARC fine-tuned an ImageNet-trained torchvision network on `source`
                    row.update(library="parc", pretrain="in1k")
                elif re.search(r"rcnn|retinanet", source):
                    row.update(library="detectron2", last_training=_detectron2_training(source))
                else:
                    row["library"] = "vissl"
                    if source.startswith("supervised_places205"):
                        row["last_training"] = "Places205 (scene classification)"
            elif ns == "torchvision":
                row.update(library="torchvision", pretrain="in1k")
        elif ns == "keras":
            # The Keras applications of the stable_transfer study are ImageNet classifiers.
            row.update(library="keras", arch=name, pretrain="in1k", source_dataset="ILSVRC/imagenet-1k")
        elif ns == "pytorchcv":
            src = next((s for s in ("cifar100", "cifar10", "svhn", "cub") if name.endswith("_" + s)), None)
            dataset = normalize_dataset(src) if src else "ILSVRC/imagenet-1k"
            row.update(library="pytorchcv", arch=name, source_dataset=dataset,
                       pretrain="in1k" if src is None else _short_name(src))
            if src in ("cifar10", "cifar100", "svhn"):
                row["img_size"] = 32  # README: the CIFAR/SVHN pytorchcv models take 32x32 inputs
        elif ns == "vtab":
            row.update(library="vtab", arch="resnet50")  # every VTAB leaderboard method is a ResNet-50
        elif ns == "timm":
            # Tagged names are covered by timm's metadata; legacy repo names carry the data as a
            # suffix (e.g. timm/vit_huge_patch14_224_in21k).
            row.update(library="timm", arch=name.partition(".")[0],
                       pretrain=timm_pretrain(name.partition(".")[2] or name.rsplit("_", 1)[-1]))
        else:
            row.update(library="transformers")  # TransferGraph: Hugging Face checkpoints
        rows.append(row)
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=1)
def _model_metadata() -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    shipped = pd.DataFrame([{"model": it["model_id"], "pretrain": pretrain_label(it.get("pretraining"))}
                            for it in shipped_hf_configs()], columns=["model", "pretrain"])
    parts = [_timm_metadata(), _transfergraph_metadata(),
             _record_model_rows(load_records(include_flagged=True), load_method_scores()), shipped]
    # Later parts only fill what earlier, more specific parts left missing.
    meta = parts[0].set_index("model")
    for part in parts[1:]:
        meta = meta.combine_first(part.drop_duplicates("model").set_index("model"))
    columns = [
        "library", "arch", "params_m", "img_size", "imagenet_top1", "pretrain", "pretrain_tag", "license",
        "source_dataset", "model_type", "architectures", "hub_declared_dataset", "hub_num_labels",
        "hub_card_accuracy", "number_of_parameters", "input_shape", "output_shape", "problem_type",
        "parc_source", "last_training", "crop_pct", "interpolation",
    ]
    for col in columns:
        if col not in meta.columns:
            meta[col] = np.nan
    meta = meta[columns].sort_index()
    meta["img_size"] = meta["img_size"].astype("Int64")
    meta["hub_num_labels"] = meta["hub_num_labels"].astype("Int64")
    for col in ("license",):
        meta[col] = meta[col].astype("object").where(meta[col].notna(), None)
    meta.index.name = "model"
    return meta


def load_model_metadata() -> pd.DataFrame:
    """Per-model metadata indexed by normalised model id (missing where the data is silent).

    Columns: ``library`` (timm, transformers, keras, pytorchcv, torchvision, parc, detectron2,
    vissl, vtab), ``arch``, ``params_m`` (millions), ``img_size``, ``imagenet_top1`` (timm
    results-imagenet top-1 %), ``pretrain`` (pre-training data: in1k, in21k, in12k, laion,
    openai, ...), ``pretrain_tag`` (raw timm tag, e.g. ``tv_in1k``), ``license`` (not in the
    shared data: all missing), ``source_dataset`` (canonical id of the data the checkpoint was
    trained on, where stated), TransferGraph Hub fields (``model_type``, ``architectures``,
    ``hub_declared_dataset``, ``hub_num_labels``, ``hub_card_accuracy``,
    ``number_of_parameters``, ``input_shape``, ``output_shape``, ``problem_type``),
    ``parc_source``, ``last_training`` (what a checkpoint was last trained on where that is no dataset
    of the registry: ``"COCO (detection)"`` for PARC's detectron2 checkpoints, ``"Places205 (scene
    classification)"``) and timm's ``crop_pct``/``interpolation``.

    timm checkpoints evaluated at two resolutions keep the row of the smaller one (timm's
    default ``input_size``; the larger is its test-time size), so ``img_size`` and
    ``imagenet_top1`` describe that resolution.
    """
    return _model_metadata().copy()
