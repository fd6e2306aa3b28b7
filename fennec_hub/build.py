"""Building a zoo: the catalogues of candidate checkpoints, the history table, and the two builds.

* `build_default_zoo` builds the zoo embedded in the package (``fennec_hub/data/zoo/``) from the
  bundled fine-tuning records, timm's pretrained catalogue and the shipped transformers configs
  (optionally a `fennec-hub crawl` directory): candidates -> archi2vec -> model and task features
  -> `TransferSpace.fit` -> model vectors, twins and exclusions -> task rows and proxies -> files.
  Deterministic: the same inputs and library versions give byte-identical files.
* `build_custom_zoo` (what `Zoo.build` calls) encodes your own checkpoints into a zoo placed in an
  existing zoo's transfer space.

The artifact itself (format, save / load / verify, the Hub, the card) is `fennec_hub.zoo`. This
module (about 770 lines) holds the two builds as sequences of short named steps, and the
catalogues they read.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from importlib.metadata import version as _dist_version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from . import __version__, features, hub
from ._extras import needs
from .architecture import ARCHI2VEC_VERSION, describe_many, timm_family
from .crawler import load_crawl
from .datasets import list_datasets, resolve_dataset
from .records import (
    HF_CONFIGS_DIR,
    NON_HUB_NAMESPACES,
    STAND_IN_FROM,
    first_recorded_uploads,
    imagenet_quality,
    load_model_metadata,
    load_records,
    network_top1,
    pretrain_label,
    recorded_copies,
    same_weights,
    same_weights_pretrain,
    shipped_hf_configs,
    timm_pretrain,
)
from .space import TransferSpace
from .tasks import fit_task_proxies, task_vector_from_proxies
from .zoo import DEFAULT_ZOO_DIR, HISTORY_COLUMNS, Zoo, ZooFormatError, _safe_relpath

__all__ = ["build_default_zoo", "build_custom_zoo", "timm_catalogue", "hf_catalogue", "history_table",
           "MAX_CONFIG_BYTES"]

#: Bound of a model's config.json read from disk or fetched from the Hub by a custom build.
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


def _vector(info: Any) -> np.ndarray:
    return np.asarray(info.vector, dtype=np.float32)


def _fetch_config(model_id: str, token: str | bool | None, endpoint: str | None) -> dict[str, Any] | None:
    """config.json of a Hub model (private ones with `token`) through fennec_hub.hub, or None.

    Its size is checked before the download: over `MAX_CONFIG_BYTES` raises `hub.DownloadTooLarge`."""
    try:
        path = hub.download(model_id, "config.json", max_bytes=MAX_CONFIG_BYTES, token=token, endpoint=endpoint)
    except hub.EntryNotFound:
        return None
    return _load_config(Path(path))


def history_table(records: "pd.DataFrame", models: Iterable[str] | None = None) -> "pd.DataFrame":
    """Records in the zoo's history format: value, and rank / group size within (benchmark, dataset, metric)."""
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


def build_custom_zoo(
    models: Iterable[str | Mapping[str, Any] | tuple],
    space: "TransferSpace | Zoo | None" = None,
    *,
    token: str | bool | None = None,
    endpoint: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Zoo:
    """Encode your own checkpoints into a custom zoo (what `Zoo.build` does; see its docstring)."""
    base, space = _base_zoo(space)
    specs = _custom_specs(models)
    ids = [s["model_id"] for s in specs]
    known = set(space.known_models)
    base_rows = {m: i for i, m in enumerate(base.models["model_id"])} if base is not None else {}
    vectors, infos = _encode_custom(specs, base_rows, known, token=token, endpoint=endpoint)
    mdf = pd.DataFrame([_custom_row(s, infos.get(i), base, base_rows, known) for i, s in enumerate(specs)])
    mv, todo, feats = _custom_model_vectors(space, ids, mdf, vectors, base, base_rows)
    av = _custom_archi2vec(ids, vectors, base, base_rows)
    if base is not None and base.dim == space.dim:
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
        "archi2vec_version": ARCHI2VEC_VERSION,
        "records": (base.info.get("records") if base is not None else None) or [],
        "license": "other",
    }
    return Zoo(mdf, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, info=info,
               source="built in memory")


def _base_zoo(space: "TransferSpace | Zoo | None") -> tuple[Zoo | None, TransferSpace]:
    """The zoo a custom build starts from (None for a bare space) and its transfer space; no
    `space` means the embedded default zoo."""
    if space is None:
        base = Zoo.default()
        return base, base.space
    if isinstance(space, Zoo):
        return space, space.space
    return None, space


def _custom_specs(models: Iterable[Any]) -> list[dict[str, Any]]:
    """The models of a custom build as specs (see `_normalise_spec`): at least one, ids unique."""
    specs = [_normalise_spec(m) for m in models]
    if not specs:
        raise ValueError("Zoo.build needs at least one model")
    ids = [s["model_id"] for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError("Zoo.build: duplicate model ids")
    return specs


def _encode_custom(specs: list[dict[str, Any]], base_rows: Mapping[str, int], known: set[str], *,
                   token: str | bool | None, endpoint: str | None) -> tuple[dict[int, np.ndarray], dict[int, Any]]:
    """archi2vec vectors and infos of a custom build's models (spec index -> value). Shipped and
    timm ids and given configs encode directly; another Hub id that neither the base zoo nor the
    space knows fetches its config.json (stored in its spec) and encodes that."""
    infos = describe_many([s.get("config") if s.get("config") is not None else s["model_id"] for s in specs])
    vectors = {i: _vector(info) for i, info in infos.items()}
    for i, s in enumerate(specs):
        if i in vectors or s.get("config") is not None or "/" not in s["model_id"] or s["model_id"].startswith(NON_HUB_NAMESPACES):
            continue
        if s["model_id"] in base_rows or s["model_id"] in known:
            continue
        cfg = _fetch_config(s["model_id"], token, endpoint)
        if cfg is not None:
            s["config"] = cfg
            fetched = describe_many([cfg])
            if fetched:
                infos[i] = fetched[0]
                vectors[i] = _vector(fetched[0])
    return vectors, infos


def _custom_row(s: Mapping[str, Any], info: Any, base: Zoo | None, base_rows: Mapping[str, int],
                known: set[str]) -> dict[str, Any]:
    """One models-table row of a custom build: each column from the spec where it says, else from
    the base zoo's row, the architecture info or the config, in that column's order of trust."""
    cfg = s.get("config") or {}
    b = base.models.iloc[base_rows[s["model_id"]]] if base is not None and s["model_id"] in base_rows else None

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
    return {
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
    }


def _custom_model_vectors(space: TransferSpace, ids: list[str], mdf: pd.DataFrame, vectors: Mapping[int, np.ndarray],
                          base: Zoo | None, base_rows: Mapping[str, int]
                          ) -> tuple[np.ndarray, list[int], pd.DataFrame | None]:
    """Transfer-space vectors of a custom build: the base zoo's row where the model is there;
    otherwise the space's, from features built of the architecture vectors and metadata just
    gathered. Returns the vectors, the indices the space placed, and their features (None when
    the space placed none)."""
    d = space.dim
    mv = np.zeros((len(ids), d), np.float32)
    todo = []
    for i, m in enumerate(ids):
        if m in base_rows and base is not None and base.dim == d:
            mv[i] = base.model_vectors[base_rows[m]]
        else:
            todo.append(i)
    feats = None
    if todo:
        meta = pd.DataFrame({
            "params_m": [None if mdf.at[i, "params"] is None else float(mdf.at[i, "params"]) / 1e6 for i in todo],
            "img_size": [mdf.at[i, "input_size"] for i in todo],
            "imagenet_top1": [mdf.at[i, "imagenet_top1"] for i in todo],
            "pretrain": [mdf.at[i, "pretrain"] for i in todo],
        }, index=[ids[i] for i in todo]).astype({"params_m": float})
        feats = features.build_model_features([ids[i] for i in todo], meta,
                                              {ids[i]: vectors[i] for i in todo if i in vectors})
        mv[todo] = np.asarray(space.model_vectors([ids[i] for i in todo], model_features=feats), dtype=np.float32)
    return mv, todo, feats


def _custom_archi2vec(ids: list[str], vectors: Mapping[int, np.ndarray], base: Zoo | None,
                      base_rows: Mapping[str, int]) -> np.ndarray:
    """The archi2vec matrix of a custom build: each model's new vector, else its base zoo row's."""
    A = max((v.shape[0] for v in vectors.values()), default=0)
    if base is not None and base.archi2vec_vectors.shape[1]:
        A = base.archi2vec_vectors.shape[1] if not vectors else A
    av = np.zeros((len(ids), A), np.float32)
    for i, m in enumerate(ids):
        if i in vectors and vectors[i].shape[0] == A:
            av[i] = vectors[i]
        elif m in base_rows and base is not None and base.archi2vec_vectors.shape[1] == A:
            av[i] = base.archi2vec_vectors[base_rows[m]]
    return av


def timm_catalogue() -> "pd.DataFrame":
    """Every timm pretrained checkpoint that timm lists with a Hub id (offline, from its cfgs).

    timm's `test_*` models (tiny networks for its own CI) are left out.
    """
    with needs("encode", "the timm catalogue"):
        import timm
        from timm.models import get_pretrained_cfg

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
    root = HF_CONFIGS_DIR
    items = shipped_hf_configs()
    if not items:
        return pd.DataFrame(columns=["model_id"])
    rows = []
    for it in items:
        mid = it["model_id"]
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


def build_default_zoo(out: str | os.PathLike = DEFAULT_ZOO_DIR, *, limit: int | None = None, progress: bool = True,
                      log: Callable[..., Any] = print, crawl: str | os.PathLike | None = None,
                      proxies: Sequence[str] = ("metadata", "text")) -> Zoo:
    """Build the embedded default zoo from the bundled records, timm's catalogue and shipped configs.

    Deterministic: the same records, library versions and options give the same files. `limit`
    keeps only the first N timm checkpoints (quick checks); `crawl` adds a `fennec-hub crawl`
    directory: its encoded models become candidates (with their archi2vec vectors, license,
    params) and its model-card records join the fit; `proxies` are the task-proxy regressors to
    fit (fennec_hub.tasks). `log` receives one line per step. Returns the zoo read back from `out`.
    """
    out = Path(out)
    t0 = time.time()

    def timed(message: str) -> None:
        log(f"[build-zoo] {message} ({time.time() - t0:.1f}s)")

    records, meta, crawl_df = _default_inputs(crawl, log)
    rec_models = sorted(set(records["model"]))
    cands = _candidates(rec_models, meta, crawl_df, limit)
    cand = cands.table
    ids = cand["model_id"].tolist()
    timed(f"{len(ids)} candidate checkpoints: {cands.n_timm} timm, {cands.n_hf} shipped transformers "
          f"configs, {cands.n_hub_records} Hub models in the records")
    enc = _encode_architectures(cand, rec_models, cands.crawl_vectors, meta, progress=progress)
    timed(f"archi2vec: {enc.n_encoded}/{enc.n_architectures} architectures encoded, {enc.n_fallback} more from "
          "metadata configs")
    params = _fill_catalogue_columns(cand, meta, enc.infos)
    mf = _model_features(cand, meta, rec_models, params, enc.vectors)
    task_ids = sorted({e.id for e in list_datasets()} | set(records["dataset"]))
    tf = features.task_features(task_ids)
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    timed(f"fitted {space!r}")
    mv, av, history = _model_vectors(cand, space, mf, records, enc.vectors)
    tasks, tv = _task_rows(space, task_ids)
    fitted = _place_tasks_with_proxies(space, tasks, tv, proxies, log)
    if fitted:
        timed(f"task proxies: {sorted(fitted)}")
    tcounts = records.groupby("dataset").size()
    tasks["n_records"] = [int(tcounts.get(t, 0)) for t in tasks["task_id"]]
    zoo = Zoo(cand, mv, tasks, tv, archi2vec_vectors=av, history=history, space=space, proxies=fitted,
              info=_default_info(records, space), source="built")
    zoo.save(out)
    log(f"[build-zoo] wrote {out} ({time.time() - t0:.1f}s): {len(ids)} models "
        f"({int((cand['vector_source'] == 'history').sum())} history), {len(tasks)} tasks, "
        f"{_dir_size(out) / 1e6:.1f} MB")
    return Zoo.load(out, source=str(out))


def _default_inputs(crawl: str | os.PathLike | None, log: Callable[..., Any]
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """The bundled records and model metadata; with `crawl`, its encoded models (None without)
    and its model-card records appended to the records."""
    records = load_records()
    meta = load_model_metadata()
    crawl_df = None
    if crawl is not None:
        crawl_df, crawl_records = load_crawl(crawl)
        if "status" in crawl_df:
            crawl_df = crawl_df[crawl_df["status"] == "encoded"]
        crawl_df = crawl_df.reset_index(drop=True)
        if len(crawl_records):
            records = pd.concat([records, crawl_records[[c for c in records.columns if c in crawl_records]]],
                                ignore_index=True)
        log(f"[build-zoo] crawl {crawl}: {len(crawl_df)} encoded models, {len(crawl_records)} model-card records")
    return records, meta, crawl_df


class _Candidates(NamedTuple):
    table: pd.DataFrame  # one row per candidate checkpoint, sorted by model_id
    crawl_vectors: dict[str, np.ndarray]  # archi2vec vectors the crawl computed (current archi2vec version)
    n_timm: int
    n_hf: int
    n_hub_records: int


def _candidates(rec_models: list[str], meta: pd.DataFrame, crawl_df: pd.DataFrame | None,
                limit: int | None) -> _Candidates:
    """Every candidate checkpoint of the default zoo, one row each: timm's catalogue, the shipped
    transformers configs, the Hub models of the records and the crawled models. Where several
    describe one model, the first with a value wins per column (timm cfg > shipped config >
    records > crawl)."""
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
        crawl_rows, crawl_vectors = _crawl_candidates(crawl_df)
        parts.append(crawl_rows)
    cand = pd.concat(parts, ignore_index=True)
    cand = cand.groupby("model_id", sort=True, dropna=False).first().reset_index()
    # A Hub copy of a timm checkpoint has the pre-training data its timm tag names (as its features do).
    cand["pretrain"] = [same_weights_pretrain(m) or p for m, p in zip(cand["model_id"], cand["pretrain"])]
    if limit is not None:
        keep = set(timm_df["model_id"]) | set(hf_df["model_id"]) | set(hub_rec)
        if crawl_df is not None:
            keep |= set(crawl_df["model_id"])
        cand = cand[cand["model_id"].isin(keep)].reset_index(drop=True)
    return _Candidates(cand, crawl_vectors, len(timm_df), len(hf_df), len(hub_rec))


def _crawl_candidates(crawl_df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Candidate rows of a crawl's encoded models, and the archi2vec vectors it computed with this
    archi2vec version (others are encoded again)."""
    rows = pd.DataFrame({"model_id": crawl_df["model_id"]})
    for col in ("library", "license", "pipeline_tag", "family", "architecture", "params", "downloads", "likes",
                "gated"):
        rows[col] = crawl_df[col] if col in crawl_df else None
    dim = len(next(iter(vec_list for vec_list in crawl_df.get("archi2vec", []) if isinstance(vec_list, list)), []))
    version = ARCHI2VEC_VERSION
    vectors = {}
    for m, v, ver in zip(crawl_df["model_id"], crawl_df.get("archi2vec", [None] * len(crawl_df)),
                         crawl_df.get("archi2vec_version", [version] * len(crawl_df))):
        if isinstance(v, list) and len(v) == dim and str(ver) == version:
            vectors[m] = np.asarray(v, dtype=np.float32)
    return rows, vectors


class _Encoded(NamedTuple):
    vectors: dict[str, np.ndarray]  # model id -> archi2vec vector
    infos: dict[str, Any]  # model id -> archi2vec.ArchitectureInfo
    n_encoded: int
    n_architectures: int
    n_fallback: int  # models encoded from a metadata config


def _encode_architectures(cand: pd.DataFrame, rec_models: list[str], crawl_vectors: Mapping[str, np.ndarray],
                          meta: pd.DataFrame, *, progress: bool) -> _Encoded:
    """archi2vec of every candidate and record model, one encoding per distinct architecture (timm
    tags share their architecture's; the record models, benchmark zoos included, are encoded for
    the space's cold-start map). The crawl's vectors are kept; community checkpoints known only
    by metadata (TransferGraph's table) get the closest shipped config of their model type at
    their size and resolution (`architecture.describe_many` with their metadata)."""
    enc_key = {}
    for r in cand.itertuples(index=False):
        if r.library == "timm" and isinstance(getattr(r, "timm_name", None), str):
            enc_key[r.model_id] = r.timm_name.partition(".")[0]
        else:
            enc_key[r.model_id] = r.model_id
    for m in rec_models:
        enc_key.setdefault(m, m)
    for m in crawl_vectors:
        enc_key.pop(m, None)
    uniq = sorted(set(enc_key.values()))
    info_u = describe_many(uniq, progress=progress)
    pos = {k: i for i, k in enumerate(uniq)}
    infos = {m: info_u[pos[k]] for m, k in enc_key.items() if pos[k] in info_u}
    missing = sorted(m for m in enc_key if m not in infos and m not in crawl_vectors)
    by_metadata = describe_many(missing, metadata=meta)
    infos.update({missing[j]: info for j, info in by_metadata.items()})
    vectors = {m: _vector(info) for m, info in infos.items()}
    vectors.update(crawl_vectors)
    return _Encoded(vectors, infos, len(info_u), len(uniq), len(by_metadata))


def _fill_catalogue_columns(cand: pd.DataFrame, meta: pd.DataFrame, infos: Mapping[str, Any]) -> list[float | None]:
    """Fill the candidates' params (the published count, classifier included, where known (timm
    results, Hub metadata), else the backbone built on the meta device), missing families (from the
    architecture) and ImageNet quality, in place. Returns the params column as a list."""
    ids = cand["model_id"].tolist()
    cand_params = dict(zip(cand["model_id"], cand["params"])) if "params" in cand.columns else {}
    params = []
    for m in ids:
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
    for i, (m, top1, p) in enumerate(zip(ids, cand["imagenet_top1"], params)):
        stand_in = network_top1(m, float(p) / 1e6) if p and not np.isfinite(top1) else None
        if stand_in is not None:  # no figure to show; say what the prior stands on instead
            cand.at[i, "imagenet_from"] = STAND_IN_FROM + stand_in[1]
    return params


def _model_features(cand: pd.DataFrame, meta: pd.DataFrame, rec_models: list[str], params: list[float | None],
                    vectors: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Model features (fennec_hub.features) of every record model and candidate: the candidates'
    from the metadata table, with their input size, pre-training data and params where it has
    none; the record models' from the feature store. Also fills the candidates' `source_dataset`."""
    ids = cand["model_id"].tolist()
    recorded = set(rec_models)
    others = [m for m in ids if m not in recorded]
    feat_meta = meta.reindex(others).drop(columns=["imagenet_top1"]).copy()
    cand_ix = cand.set_index("model_id")
    for col, src in (("img_size", "input_size"), ("pretrain", "pretrain")):
        filled = cand_ix[src].reindex(others)
        feat_meta[col] = feat_meta[col].astype(object).where(feat_meta[col].notna(), filled)
    feat_meta["params_m"] = pd.to_numeric(pd.Series(
        [None if p is None else float(p) / 1e6 for p in params], index=ids).reindex(others)
        .fillna(pd.to_numeric(feat_meta["params_m"], errors="coerce")), errors="coerce")
    feat_meta["img_size"] = pd.to_numeric(feat_meta["img_size"], errors="coerce")
    # The recorded models' rows are the precomputed feature store's, which `fennec-hub bench` scores
    # them on: the zoo's space is then the benchmarked one (the store also has the parameter counts
    # of built networks where the metadata has none, and so their quality stand-ins).
    mf = pd.concat([features.model_features(rec_models), features.build_model_features(others, feat_meta, vectors)])
    mf = mf.reindex(list(dict.fromkeys(rec_models + ids)))
    cand["source_dataset"] = mf["source_dataset"].reindex(ids).tolist()
    return mf


def _model_vectors(cand: pd.DataFrame, space: TransferSpace, mf: pd.DataFrame, records: pd.DataFrame,
                   vectors: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The candidates' transfer-space vectors and archi2vec matrix, and the history table; fills
    `same_as`, `vector_source`, `n_records`, `twins` and `excluded` in place. Identical weights
    published twice are one model: a candidate whose twin has records takes the twin's vector
    (and the twin's records, which the history keeps for every recorded model, explain it); of
    two recorded uploads of one checkpoint, the second is the first's copy; an upload without
    records of a timm checkpoint in the zoo is the timm row's copy."""
    ids = cand["model_id"].tolist()
    known = set(space.known_models)
    twins = same_weights()
    first, copies = first_recorded_uploads(known), recorded_copies(known)
    listed = set(ids)

    def primary(m: str) -> str | None:
        if m in known:
            return copies.get(m)
        if m in first:
            return first[m]
        t = twins.get(m)  # an upload without records of a timm checkpoint: the timm row is the model
        return first.get(t, t) if t in known or t in first or t in listed else None

    same = [primary(m) for m in ids]
    same = [s if s != m else None for m, s in zip(ids, same)]
    cand["same_as"] = same
    mv = np.asarray(space.model_vectors([s or m for m, s in zip(ids, same)], model_features=mf), dtype=np.float32)
    cand["vector_source"] = ["history" if (s or m) in known else "cold_start" for m, s in zip(ids, same)]
    history = history_table(records)
    counts = history["model_id"].value_counts()
    cand["n_records"] = [int(counts.get(m, 0)) for m in ids]
    A = max((v.shape[0] for v in vectors.values()), default=0)
    av = np.zeros((len(ids), A), np.float32)
    for i, m in enumerate(ids):
        if m in vectors and vectors[m].shape[0] == A:
            av[i] = vectors[m]
    cand["twins"] = _twin_column(space, ids, mf, cand["vector_source"])
    cand["excluded"] = [_exclusion(m, p, n) for m, p, n in zip(ids, cand["params"], cand["n_records"])]
    return mv, av, history


def _place_tasks_with_proxies(space: TransferSpace, tasks: pd.DataFrame, tv: np.ndarray, proxy_names: Sequence[str],
                              log: Callable[..., Any]) -> dict[str, Any]:
    """Fit the task-proxy regressors (fennec_hub.tasks: dataset metadata and MiniLM text -> task
    vector) on the historical tasks, and let them place the tasks without history (rows of `tv`,
    in place; a task they cannot place keeps the space's metadata vector). Returns the proxies
    ({} when they cannot be fitted: they are an optional extra, and the space places new tasks)."""
    proxies: dict[str, Any] = {}
    try:
        proxies = dict(fit_task_proxies(space, proxies=tuple(proxy_names))) if proxy_names else {}
    except Exception as exc:
        log(f"[build-zoo] no task proxies: {type(exc).__name__}: {exc}")
    if proxies:
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
    return proxies


def _default_info(records: pd.DataFrame, space: TransferSpace) -> dict[str, Any]:
    """The default zoo's manifest fields: what it is, how it was built, from which records, by which versions."""
    bench = sorted(records["benchmark"].dropna().unique()) if "benchmark" in records else []
    sources = sorted({str(s).split(":")[0] for s in records["source"].dropna().unique()})
    return {
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
        "archi2vec_version": ARCHI2VEC_VERSION,
        "timm_version": _version("timm"),
        "space": repr(space),
        "fit_records": int(len(records)),
        "fit_models": int(len(space.known_models)),
        "license": "other",
    }


_TOY_NAME = re.compile(r"(?:^|[-_./])(?:tests?|testing|dummy|debug|random)(?:$|[-_.])",
                       re.IGNORECASE)
MIN_CANDIDATE_PARAMS = 1_000_000


def _exclusion(model_id: str, params: Any, n_records: int) -> str | None:
    """Why a checkpoint is not a candidate (None if it is): test or toy repositories, by the name of
    the repository or of its owner (``hf-internal-testing``, ``nates-test-org``), and networks too
    small to fine-tune usefully that have no records to show otherwise."""
    owner, _, name = model_id.rpartition("/")
    if owner and _TOY_NAME.search(owner):
        return f"test repository ({owner})"
    if _TOY_NAME.search(name):
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
    sources = list(sources)
    cold = [m for m, src in zip(ids, sources) if src == "cold_start"]
    out: dict[str, str] = {}
    if cold:
        for m, best in zip(cold, space.top_twins(cold, features, top)):
            if best:
                out[m] = ";".join(f"{twin}={w:.2f}" for twin, w in best)
    return [out.get(m) for m in ids]


def _version(pkg: str) -> str:
    try:
        return _dist_version(pkg)
    except Exception:
        return "unknown"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
