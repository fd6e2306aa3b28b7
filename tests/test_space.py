"""TransferSpace: per-group standardisation, missing cells, cold starts, persistence, exact matvec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fennec_hub.space import TransferSpace, standardize

DATASETS = ["d0", "d1", "d2", "d3", "d4", "d5"]


def _toy(seed: int = 0, missing: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two sources with different accuracy scales; models share a latent quality plus a task effect."""
    rng = np.random.default_rng(seed)
    n_models = 24
    quality = rng.normal(size=n_models)
    affinity = rng.normal(size=n_models)  # helps on "textured" tasks, hurts elsewhere
    task_kind = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    rows = []
    for m in range(n_models):
        for j, d in enumerate(DATASETS):
            if rng.random() < missing:
                continue
            acc = 70 + 5 * quality[m] + 3 * affinity[m] * task_kind[j] + rng.normal(scale=0.5)
            source = "srcA" if m < 16 else "srcB"
            scale = 1.0 if source == "srcA" else 0.01  # srcB reports fractions
            rows.append(dict(model=f"org/m{m}", dataset=d, metric="finetune_top1", value=acc * scale, source=source))
    records = pd.DataFrame(rows)
    task_feats = pd.DataFrame({"kind": task_kind, "log_num_classes": np.log([10, 20, 30, 40, 50, 60])},
                              index=DATASETS)
    model_feats = pd.DataFrame({"quality_hint": quality + rng.normal(scale=0.1, size=n_models),
                                "affinity_hint": affinity},
                               index=[f"org/m{m}" for m in range(n_models)])
    return records, model_feats, task_feats


def test_standardize_compares_values_only_within_groups():
    records, _, _ = _toy()
    z = standardize(records)
    a = records["source"] == "srcA"
    # srcB values are 100x smaller; within-group ranks decide, so both groups span the same range.
    assert abs(z[a].mean()) < 1e-9 and abs(z[~a].mean()) < 1e-9
    for src in ("srcA", "srcB"):  # same group size -> the same set of standardised values
        g0 = np.sort(z[(records["source"] == src) & (records["dataset"] == "d0")])
        g1 = np.sort(z[(records["source"] == src) & (records["dataset"] == "d1")])
        np.testing.assert_allclose(g0, g1)
    # Changing another group's values leaves a group's standardised values untouched.
    changed = records.copy()
    changed.loc[changed["dataset"] == "d1", "value"] *= -3
    z2 = standardize(changed)
    keep = records["dataset"] != "d1"
    np.testing.assert_allclose(z[keep], z2[keep])
    # A single-record group standardises to 0; z-scores are clipped.
    one = pd.DataFrame(dict(model=["a"], dataset=["x"], metric=["m"], value=[42.0], source=["s"]))
    assert standardize(one).iloc[0] == 0.0
    assert standardize(records, "zscore").abs().max() <= 3.0
    with pytest.raises(ValueError):
        standardize(records, "minmax")


def test_fit_handles_missing_cells_and_reproduces_history():
    records, mf, tf = _toy(missing=0.3)
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    z = standardize(records)
    # A known model on a known task scores its own standardised result (one group per dataset here).
    for _, row in records.assign(z=z).sample(10, random_state=0).iterrows():
        got = space.score([row["model"]], row["dataset"], source=row["source"])[0]
        assert got == pytest.approx(row["z"], abs=1e-9)
    # Missing cells get finite predictions.
    full = {(m, d) for m, d in zip(records["model"], records["dataset"])}
    gaps = [(m, d) for m in space.known_models for d in DATASETS if (m, d) not in full]
    assert gaps
    for m, d in gaps[:5]:
        assert np.isfinite(space.score([m], d)).all()


def test_score_is_one_matvec_and_cold_starts_are_task_specific():
    records, mf, tf = _toy()
    train = records[~records["model"].isin(["org/m0", "org/m1", "org/m2"]) & (records["dataset"] != "d5")]
    space = TransferSpace.fit(train, model_features=mf, task_features=tf)
    assert "d5" not in space.known_tasks and "org/m0" not in space.known_models
    models = ["org/m0", "org/m1", "org/m2", "org/m5", "org/m9"]
    for task in ["d5", "d0", {"kind": 1.0, "log_num_classes": np.log(25)}]:
        vec = space.task_vector(task)
        assert vec.shape == (space.dim,)
        mv = space.model_vectors(models, model_features=mf)
        np.testing.assert_array_equal(space.score(models, task) if not isinstance(task, dict) else mv @ vec, mv @ vec)
        assert np.isfinite(mv @ vec).all()
    # Cold-start models: scores follow their features and differ between opposite new tasks.
    up = space.model_vectors(models, model_features=mf) @ space.task_vector({"kind": 1.0, "log_num_classes": 3.0})
    down = space.model_vectors(models, model_features=mf) @ space.task_vector({"kind": -1.0, "log_num_classes": 3.0})
    assert not np.allclose(np.argsort(up), np.argsort(down)) or not np.allclose(up - up.mean(), down - down.mean())
    cold = space.model_vectors(["org/m0", "org/m1", "org/m2"], model_features=mf)[:, 0]
    assert np.corrcoef(cold, mf.loc[["org/m0", "org/m1", "org/m2"], "quality_hint"])[0, 1] > 0.5


def test_new_task_ranking_beats_chance_on_structured_toy():
    records, mf, tf = _toy(seed=3)
    from scipy.stats import kendalltau

    taus = []
    for held in DATASETS:
        space = TransferSpace.fit(records[records["dataset"] != held], model_features=mf, task_features=tf)
        truth = records[(records["dataset"] == held) & (records["source"] == "srcA")]
        pred = space.score(list(truth["model"]), held)
        taus.append(kendalltau(pred, truth["value"]).statistic)
    assert np.mean(taus) > 0.3


def test_save_load_round_trip(tmp_path):
    records, mf, tf = _toy(missing=0.2)
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    space.save(tmp_path / "space")
    assert {p.name for p in (tmp_path / "space").iterdir()} == {"space.safetensors", "space.json"}
    loaded = TransferSpace.load(tmp_path / "space")
    models = space.known_models[:6]
    for task in ["d0", "d3", {"kind": -1.0, "log_num_classes": 2.0}]:
        np.testing.assert_array_equal(space.model_vectors(models) @ space.task_vector(task),
                                      loaded.model_vectors(models) @ loaded.task_vector(task))
    cold = pd.DataFrame({"quality_hint": [1.0], "affinity_hint": [-0.5]}, index=["new/model"])
    np.testing.assert_array_equal(space.model_vectors(["new/model"], model_features=cold),
                                  loaded.model_vectors(["new/model"], model_features=cold))
    assert loaded.known_tasks == space.known_tasks and loaded.dim == space.dim


def _views_toy(informative: str, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Twelve tasks of two kinds; only one view of the task features ("meta" or "text") knows the kind."""
    rng = np.random.default_rng(seed)
    datasets = [f"t{j}" for j in range(12)]
    kind = np.tile([1.0, -1.0], 6)
    quality, affinity = rng.normal(size=30), rng.normal(size=30)
    rows = [dict(model=f"org/m{m}", dataset=d, metric="finetune_top1", source="src",
                 value=70 + 2 * quality[m] + 4 * affinity[m] * kind[j] + rng.normal(scale=0.3))
            for m in range(30) for j, d in enumerate(datasets)]
    signal = kind[:, None] * rng.normal(size=(1, 8)) + rng.normal(scale=0.3, size=(12, 8))
    noise = rng.normal(size=(12, 8))
    meta, text = (signal, noise) if informative == "meta" else (noise, signal)
    feats = pd.DataFrame(np.hstack([meta[:, :3], text]), index=datasets,
                         columns=["log_num_classes", "log_train_size", "domain_x"] + [f"text_{i}" for i in range(8)])
    return pd.DataFrame(rows), feats


@pytest.mark.parametrize("informative", ["meta", "text"])
def test_text_view_weight_is_chosen_where_it_helps(informative):
    records, tf = _views_toy(informative)
    space = TransferSpace.fit(records, task_features=tf)
    assert space.task_encoder.views == (3, 8)
    weight = space.text_weights()["src/finetune_top1"]
    assert (weight == 0.0) if informative == "meta" else (weight > 0.0)
    # Held-out tasks are placed with the chosen view: new-task rankings follow the task kind.
    from scipy.stats import kendalltau

    taus = []
    for held in ["t0", "t1", "t2", "t3"]:
        train = records[records["dataset"] != held]
        fitted = TransferSpace.fit(train, task_features=tf)
        truth = records[records["dataset"] == held]
        taus.append(kendalltau(fitted.score(list(truth["model"]), held, source="src"), truth["value"]).statistic)
    assert np.mean(taus) > 0.5


def test_fixed_text_weight_zero_is_metadata_only():
    records, tf = _views_toy("meta", seed=1)
    with_text = TransferSpace.fit(records[records["dataset"] != "t0"], task_features=tf, text_weight=0.0)
    meta_only = TransferSpace.fit(records[records["dataset"] != "t0"], task_features=tf.drop(
        columns=[c for c in tf if c.startswith("text_")]))
    models = with_text.known_models
    np.testing.assert_allclose(with_text.score(models, "t0"), meta_only.score(models, "t0"), atol=1e-9)
    with pytest.raises(ValueError, match="text_weight"):
        TransferSpace.fit(records, task_features=tf, text_weight=2.0)
    with pytest.raises(ValueError, match="text_choice"):
        TransferSpace.fit(records, task_features=tf, text_choice="dataset")


def test_fit_rejects_bad_records():
    with pytest.raises(ValueError, match="lack columns"):
        TransferSpace.fit(pd.DataFrame({"model": ["a"], "value": [1.0]}))
    with pytest.raises(ValueError, match="no records"):
        TransferSpace.fit(pd.DataFrame(columns=["model", "dataset", "metric", "value", "source"]))


@pytest.fixture(scope="module")
def real_space():
    from fennec_hub.datasets import list_datasets
    from fennec_hub.features import model_features, task_features
    from fennec_hub.records import load_records

    records = load_records()
    mf = model_features(sorted(records["model"].unique()), compute=False)
    tf = task_features(sorted({e.id for e in list_datasets()} | set(records["dataset"])), text=None)
    return records, TransferSpace.fit(records, model_features=mf, task_features=tf)


def test_real_records_space(real_space):
    records, space = real_space
    assert set(space.known_tasks) == set(records["dataset"])
    assert set(space.known_models) == set(records["model"])
    # A PARC model pre-trained on CUB-200 is pushed up for NABirds by the source-similarity term.
    parc = "dbolya/parc@ddfca43:oracles/all.csv (controlled bank)"
    expl = space.explain("parc/resnet50-cub200", "public/nabirds", source=parc, metric="finetune_top1")
    assert expl["source_dataset"] == "bentrevett/caltech-ucsd-birds-200-2011"
    assert expl["source_term"] > 0
    # Unknown models and a dataset alias outside the records are scored (cold starts), finitely.
    scores = space.score(["parc/resnet50-cub200", "timm/convnext_tiny.fb_in1k", "someone/unknown-model"], "beans")
    assert np.isfinite(scores).all()
    from fennec_hub.datasets import resolve_dataset

    entry = resolve_dataset("beans")
    np.testing.assert_allclose(space.task_vector(entry), space.task_vector("beans"))


def test_interaction_term_learns_feature_by_task_structure():
    records, mf, tf = _toy(seed=5)
    space = TransferSpace.fit(records[records["dataset"] != "d5"], model_features=mf, task_features=tf,
                              interaction=True)
    assert space.inter_map.size  # the toy's affinity x task-kind effect is found by inner LODO
    models = space.known_models
    np.testing.assert_allclose(space.score(models, "d5"), space.model_vectors(models) @ space.task_vector("d5"))
    expl = space.explain(models[0], "d5")
    assert np.isfinite(expl["architecture_term"])


def test_cold_start_features_are_bounded():
    records, mf, tf = _toy()
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    odd = pd.DataFrame({"quality_hint": [1e6], "affinity_hint": [-1e6]}, index=["odd/model"])
    normal = space.score(space.known_models, "d0")
    assert abs(space.model_vectors(["odd/model"], model_features=odd) @ space.task_vector("d0")).max() < 10 * np.abs(
        normal).max()
