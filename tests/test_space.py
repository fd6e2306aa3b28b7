"""TransferSpace: per-group standardisation, missing cells, quality prior, architecture twins, cold starts,
persistence, exact matvec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fennec_hub.space import (
    TransferSpace,
    _downstream_level,
    _foreign_twin_agreement,
    _group_spreads,
    _protocol_transfer,
    _softmax,
    downstream_models,
    standardize,
)

DATASETS = ["d0", "d1", "d2", "d3", "d4", "d5"]


def _toy(seed: int = 0, missing: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two sources with different accuracy scales; models share a latent quality plus a task effect.

    Model features as a zoo has them: ``quality_top1`` (an ImageNet-like figure that follows the
    quality), and an architecture vector shared by pairs of models (``org/m{k}`` and ``org/m{k+12}``
    are the same network, so the same task effect): architecture twins.
    """
    rng = np.random.default_rng(seed)
    n_models = 24
    quality = rng.normal(size=n_models)
    arch = rng.normal(size=(12, 8))
    affinity = np.tile(rng.normal(size=12), 2)  # helps on "textured" tasks, hurts elsewhere; per architecture
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
    model_feats = pd.DataFrame({"quality_top1": 80 + 5 * quality + rng.normal(scale=0.5, size=n_models),
                                "log_params": np.log(25.0), "log_pretrain_images": 6.1},
                               index=[f"org/m{m}" for m in range(n_models)])
    vectors = np.tile(arch, (2, 1))
    for j in range(vectors.shape[1]):
        model_feats[f"a2v_{j}"] = vectors[:, j]
    model_feats.attrs["affinity"] = dict(zip(model_feats.index, affinity))  # the truth, for checks only
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
    # A known model on a known task scores its own standardised result, on one scale and moved by one
    # offset per group (the group's spread and mean quality prior): within a group, the records' order.
    for (src, d), g in records.assign(z=z).groupby(["source", "dataset"]):
        got = space.score(list(g["model"]), d, source=src)
        x, y = g["z"].to_numpy() - g["z"].mean(), got - got.mean()
        scale = float(x @ y / (x @ x))
        assert scale > 0
        np.testing.assert_allclose(y, scale * x, atol=1e-9)
    # Missing cells get finite predictions.
    full = {(m, d) for m, d in zip(records["model"], records["dataset"])}
    gaps = [(m, d) for m in space.known_models for d in DATASETS if (m, d) not in full]
    assert gaps
    for m, d in gaps[:5]:
        assert np.isfinite(space.score([m], d)).all()


def test_score_is_one_matvec_and_cold_starts_follow_prior_and_twins():
    records, mf, tf = _toy()
    held = ["org/m0", "org/m1", "org/m2"]
    train = records[~records["model"].isin(held) & (records["dataset"] != "d5")]
    space = TransferSpace.fit(train, model_features=mf, task_features=tf)
    assert "d5" not in space.known_tasks and "org/m0" not in space.known_models
    assert space.options["prior_weights"]["quality_top1"] > 0  # the prior learned that quality helps
    models = held + ["org/m5", "org/m9"]
    for task in ["d5", "d0", {"kind": 1.0, "log_num_classes": np.log(25)}]:
        vec = space.task_vector(task)
        assert vec.shape == (space.dim,)
        mv = space.model_vectors(models, model_features=mf)
        np.testing.assert_array_equal(space.score(models, task) if not isinstance(task, dict) else mv @ vec, mv @ vec)
        assert np.isfinite(mv @ vec).all()
    # Cold-start models: their level is the quality prior, from their metadata alone ...
    cold = space.model_vectors(held, model_features=mf)
    np.testing.assert_allclose(cold[:, 0], space.quality_prior(held, mf))
    assert np.all(np.diff(cold[np.argsort(mf.loc[held, "quality_top1"]), 0]) > 0)
    # ... and their task-specific part comes from their architecture twins (org/m12 for org/m0):
    # on a task of one kind and on a task of the other, the shared affinity moves the score apart,
    # in the direction of the true affinity.
    assert space.twin_weights(["org/m0"], mf)[0, space.known_models.index("org/m12")] == pytest.approx(1.0)
    up, down = space.task_vector("d0"), space.task_vector("d1")
    G, twins = len(space.groups), space._twin_coords
    twin_part = cold[:, twins]
    moved = twin_part @ up[twins] - twin_part @ down[twins]
    assert np.all(np.abs(moved) > 0)
    assert np.sign(moved).tolist() == np.sign([mf.attrs["affinity"][m] for m in held]).tolist()
    # A model unlike any recorded one has no twin evidence: its score is its prior, on every task.
    stranger = mf.loc[["org/m0"]].copy().rename(index={"org/m0": "other/net"})
    stranger[[c for c in stranger if c.startswith("a2v_")]] = np.arange(8.0) - 3.5
    vec = space.model_vectors(["other/net"], model_features=stranger)[0]
    assert not vec[1 : 1 + G].any() and not vec[twins].any()


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
    cold = mf.loc[["org/m0"]].rename(index={"org/m0": "new/model"})
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
    # Twins in one record bank agree on their own evidence; across banks they do not, so a model's
    # standing in its bank does not count for a task only other banks recorded.
    assert space.cross_block_evidence < 0.5
    # Twins lend in proportion to how far twins agree in their block: little in pytorchcv's zoo,
    # whose many ResNet variants disagree, more in the HF and Keras banks.
    agreement = dict(zip(space.group_block, space.twin_agreement[space.group_block]))
    by_source = {space.groups[g][0].split("@")[0]: agreement[space.group_block[g]] for g in range(len(space.groups))}
    assert by_source["Fay-why/Fennec"] < 0.2 < min(by_source["zLizy/transfergraph"], by_source["google-research/google-research"])
    # Two recorded uploads of one checkpoint (the ConvNeXt-XL conversions under nielsr/ and
    # facebook/) lend once, and their pair does not count as two twins agreeing.
    assert space.options["copies"] == ["nielsr/convnext-xlarge-224-22k", "nielsr/convnext-xlarge-224-22k-1k"]
    lending = space._lending_weights(["timm/convnext_xlarge.fb_in22k_ft_in1k_384"])[0]
    index = space.known_models.index
    assert lending[index("nielsr/convnext-xlarge-224-22k-1k")] == 0 < lending[index("facebook/convnext-xlarge-224-22k-1k")]


def test_twins_lend_as_much_as_twins_agree_in_their_block(tmp_path):
    """A recorded twin counts as `twin_agreement` of an observation of its block when it lends to a
    model without records: nothing where twins of that block disagree, in full where they agree
    perfectly; the agreement is saved with the space and checked on load."""
    records, mf, tf = _toy()
    space = TransferSpace.fit(records[records["model"] != "org/m0"], model_features=mf, task_features=tf)
    assert len(space.twin_agreement) == space.group_block.max() + 1
    # Toy twins share an affinity: they agree where a block records pairs of them (srcA); srcB
    # records no pair of twins, so nothing says its twins agree.
    assert space.twin_agreement.tolist()[0] > 0.5 and space.twin_agreement.tolist()[1] == 0.0
    lent, named = {}, {}
    for value in (0.0, 0.5, 1.0):
        space.options["twin_agreement"] = [value] * len(space.twin_agreement)
        lent[value] = space.model_vectors(["org/m0"], model_features=mf)[0, space._twin_coords]
        named[value] = space.top_twins(["org/m0"], mf)[0]
    assert not lent[0.0].any() and named[0.0] == []  # explanations name no twin that lends nothing
    twin = space.known_models.index("org/m12")  # org/m0's one twin, of weight 1, recorded in every group
    np.testing.assert_allclose(lent[1.0], space._twin_profile()[twin] / 2)
    np.testing.assert_allclose(lent[0.5], space._twin_profile()[twin] / 3)
    assert named[1.0][0] == ("org/m12", pytest.approx(1.0)) and named[0.5][0] == ("org/m12", pytest.approx(0.5))
    space.options["twin_agreement"] = [0.5] * len(space.twin_agreement)
    loaded = TransferSpace.load(space.save(tmp_path / "space"))
    np.testing.assert_allclose(loaded.model_vectors(["org/m0"], model_features=mf)[0, space._twin_coords], lent[0.5])
    for bad in ([2.0] * len(space.twin_agreement), [0.5], "high"):
        space.options["twin_agreement"] = bad
        with pytest.raises(ValueError, match="twin_agreement"):
            space.model_vectors(["org/m0"], model_features=mf)
    del space.options["twin_agreement"]  # saved before it was measured: twins lend as they used to
    np.testing.assert_allclose(space.model_vectors(["org/m0"], model_features=mf)[0, space._twin_coords], lent[1.0])
    # A second recorded upload of one checkpoint lends nothing (its records are the first's), and
    # the list of such copies is checked on load.
    space.options["copies"] = ["org/m12"]
    assert not space.model_vectors(["org/m0"], model_features=mf)[0, space._twin_coords].any()
    assert "org/m12" not in dict(space.top_twins(["org/m0"], mf)[0])
    space.options["copies"] = "org/m12"
    with pytest.raises(ValueError, match="copies"):
        space.model_vectors(["org/m0"], model_features=mf)


def test_twins_lend_in_full_only_under_their_own_protocol(tmp_path):
    """Twins' residuals have their own coordinates: a query under the twin's protocol takes them in
    full, one under any other protocol (none named, or one no block recorded) by `foreign_twins`,
    what twins recorded in different blocks agree on; a recorded model's own residuals count the same
    under both. The share is measured at fit time, saved and checked on load."""
    records, mf, tf = _toy()
    space = TransferSpace.fit(records[records["model"] != "org/m0"], model_features=mf, task_features=tf)
    G, twins = len(space.groups), space._twin_coords
    assert space.dim == 1 + G + len(space.sources) + space._n_blocks + G and twins == slice(space.dim - G, space.dim)
    # Toy twins share an affinity across sources too (org/m4 in srcA, org/m16 in srcB): they agree.
    assert space.foreign_twins > 0.3
    cold = space.model_vectors(["org/m0"], model_features=mf)[0]
    assert not cold[1 : 1 + G].any() and cold[twins].any()
    named, default = space.task_vector("d0", source="srcA"), space.task_vector("d0")
    np.testing.assert_allclose(named[twins], named[1 : 1 + G])
    share = space._foreign_share()[space.group_block]
    np.testing.assert_allclose(default[twins], default[1 : 1 + G] * share)
    assert np.all(share <= 1.0) and default[twins].any()
    lost = space.task_vector("d0", source="another bank")  # a protocol no block recorded: foreign
    np.testing.assert_allclose(lost[twins], lost[1 : 1 + G] * share)
    recorded = space.model_vectors(["org/m12"])[0]
    assert not recorded[twins].any()  # a recorded model lends its residuals, it does not borrow
    # With no agreement across blocks, a default query ranks a model without records by its prior.
    space.options["foreign_twins"] = 0.0
    assert space.score(["org/m0"], "d0")[0] == pytest.approx(space.quality_prior(["org/m0"], mf)[0])
    assert space.score(["org/m0"], "d0", source="srcA")[0] != pytest.approx(space.quality_prior(["org/m0"], mf)[0])
    space.options["foreign_twins"] = 0.5
    loaded = TransferSpace.load(space.save(tmp_path / "space"))
    assert loaded.foreign_twins == 0.5
    np.testing.assert_allclose(loaded.task_vector("d1"), space.task_vector("d1"))
    for bad in (1.5, -0.1, "all", True):
        space.options["foreign_twins"] = bad
        with pytest.raises(ValueError, match="foreign_twins"):
            space.task_vector("d0")
    # A space saved before twins had their own coordinates lends through the groups' coordinates.
    del space.options["foreign_twins"]
    assert space.dim == 1 + G + len(space.sources) + space._n_blocks and space._twin_coords == slice(1, 1 + G)
    assert space.model_vectors(["org/m0"], model_features=mf)[0, 1 : 1 + G].any()


def test_protocol_transfer_is_the_slope_of_a_standing_across_protocols():
    """A model's residual under one protocol regressed on its residual under another, on the same
    dataset in one block; blocks count the same once they hold enough models; nothing measured, no
    shrink; a negative slope lends nothing."""
    rng = np.random.default_rng(0)
    n = 200
    a = rng.normal(size=n)
    R = np.full((2 * n, 4), np.nan)
    R[:n, 0], R[:n, 1] = a, 0.5 * a + 0.1 * rng.normal(size=n)  # block 0: carries half
    R[n:, 2], R[n:, 3] = a, a  # block 1: carries in full
    dataset, block, protocol = np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    # Both directions count: the slope is 2 cov / (var_a + var_b), 0.8 for block 0.
    assert _protocol_transfer(R, dataset, block, protocol) == pytest.approx((0.8 + 1.0) / 2, abs=0.02)
    assert _protocol_transfer(R[:, :2], dataset[:2], block[:2], protocol[:2]) == pytest.approx(0.8, abs=0.02)
    small = R.copy()
    small[20:n, :2] = np.nan  # block 0 now holds 20 models: too few to say anything
    assert _protocol_transfer(small, dataset, block, protocol) == pytest.approx(1.0)
    assert _protocol_transfer(R, np.array([0, 1, 2, 3]), block, protocol) == 1.0  # no dataset twice
    flipped = R[:, :2].copy()
    flipped[:, 1] = -flipped[:, 1]
    assert _protocol_transfer(flipped, dataset[:2], block[:2], protocol[:2]) == 0.0


def test_a_query_without_a_protocol_weighs_records_by_protocol_transfer(tmp_path):
    """Where one bank recorded a dataset under two protocols, how far a standing carries from one to
    the other is measured at fit time; a query that names no protocol weighs every term records make
    by it (the prior stays), a query naming one takes them in full. Saved, checked on load."""
    records, mf, tf = _toy()
    probe = records[records["source"] == "srcA"].copy()
    rng = np.random.default_rng(1)
    probe["metric"] = "linear_probe_top1"
    probe["value"] = 0.3 * probe["value"] + rng.normal(scale=2.0, size=len(probe))  # a noisier protocol
    space = TransferSpace.fit(pd.concat([records, probe], ignore_index=True), model_features=mf, task_features=tf)
    lam = space.protocol_transfer
    assert 0.0 < lam < 1.0 and space.options["protocol_transfer"] == lam
    default = space.task_vector("d0")
    space.options["protocol_transfer"] = 1.0
    full = space.task_vector("d0")
    assert default[0] == full[0] == 1.0 and full[1:].any()
    np.testing.assert_allclose(default[1:], lam * full[1:])
    named = space.task_vector("d0", source="srcA", metric="finetune_top1")
    space.options["protocol_transfer"] = lam
    np.testing.assert_allclose(space.task_vector("d0", source="srcA", metric="finetune_top1"), named)
    models = ["org/m1", "org/m2"]
    f = space.model_vectors(models)[:, 0]
    np.testing.assert_allclose(space.score(models, "d0"), f + lam * (space.model_vectors(models) @ full - f))
    assert TransferSpace.load(space.save(tmp_path / "space")).protocol_transfer == lam
    for bad in (1.5, -0.1, "half", True):
        space.options["protocol_transfer"] = bad
        with pytest.raises(ValueError, match="protocol_transfer"):
            space.task_vector("d0")
    del space.options["protocol_transfer"]  # saved before it was measured: records count in full
    np.testing.assert_allclose(space.task_vector("d0"), full)


def test_foreign_twin_agreement_measures_agreement_across_blocks():
    """Pairs of twins recorded by different blocks on one dataset: their residuals' twin-weighted
    correlation less one standard error; residuals that do not agree give 0."""
    rng = np.random.default_rng(0)
    n = 40
    W = np.zeros((2 * n, 2 * n))
    W[np.arange(n), np.arange(n) + n] = 1.0  # model i (block 0) and model n + i (block 1) are twins
    obs = np.zeros((2 * n, 2), bool)
    obs[:n, 0] = obs[n:, 1] = True
    shared = rng.normal(size=n)
    lent = np.zeros((2 * n, 2))
    lent[:n, 0], lent[n:, 1] = shared, shared + 0.3 * rng.normal(size=n)
    blocks, datasets = np.array([0, 1]), np.array([0, 0])
    agree = _foreign_twin_agreement(W, lent, obs, blocks, datasets)
    assert 0.6 < agree < 1.0
    lent[n:, 1] = rng.normal(size=n)
    assert _foreign_twin_agreement(W, lent, obs, blocks, datasets) == 0.0
    assert _foreign_twin_agreement(W, lent, obs, blocks, np.array([0, 1])) == 0.0  # other datasets: no pair


def test_own_evidence_counts_where_its_block_recorded_the_task(tmp_path):
    """A recorded model's own evidence is its standing against its prior in its block's population:
    it counts in full for a task its block recorded and for a task no block recorded, and by
    `cross_block_evidence` for a task recorded only in other blocks."""
    records, mf, tf = _toy()
    records = records.assign(dataset=np.where(records["source"] == "srcB",
                                              records["dataset"].str.replace("d", "e"), records["dataset"]))
    tf = pd.concat([tf, tf.rename(index=lambda d: d.replace("d", "e"))])
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    assert space._n_blocks == 2 and 0.0 <= space.cross_block_evidence <= 1.0
    space.options["cross_block_evidence"] = 0.25
    a, b = "org/m0", "org/m20"  # recorded by srcA (datasets d*) and by srcB (datasets e*)
    level = dict(zip(space.models, space.prior))
    for task, weights in (("d0", (1.0, 0.25)), ("e0", (0.25, 1.0)), ({"kind": 1.0, "log_num_classes": 3.0}, (1.0, 1.0))):
        expl = {m: space.explain(m, task) for m in (a, b)}
        for m, weight in zip((a, b), weights):
            assert expl[m]["evidence_weight"] == weight
            assert expl[m]["prior"] == pytest.approx(level[m])
        np.testing.assert_allclose(space.model_vectors([a, b]) @ space.task_vector(task), space.score([a, b], task))
    loaded = TransferSpace.load(space.save(tmp_path / "space"))
    np.testing.assert_array_equal(loaded.model_vectors([a, b]) @ loaded.task_vector("d0"), space.score([a, b], "d0"))
    # A space saved before own evidence was kept apart loads with it inside the prior, as it was.
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(tmp_path / "space" / "space.safetensors"))
    del arrays["evidence"]
    save_file(arrays, str(tmp_path / "space" / "space.safetensors"))
    legacy = TransferSpace.load(tmp_path / "space")
    assert legacy.dim == space.dim - 2
    np.testing.assert_allclose(legacy.model_vectors([a])[0, 0], level[a])


def test_cold_start_features_are_bounded():
    records, mf, tf = _toy()
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    odd = pd.DataFrame({"quality_top1": [1e6], "log_pretrain_images": [-1e6]}, index=["odd/model"])
    normal = space.score(space.known_models, "d0")
    assert abs(space.model_vectors(["odd/model"], model_features=odd) @ space.task_vector("d0")).max() < 10 * np.abs(
        normal).max()


def test_settings_are_checked_at_construction_and_fit_learns_scikit_learn_style():
    for bad in (dict(standardization="minmax"), dict(tune_criterion="best"), dict(text_choice="dataset"),
                dict(text_weight=1.5), dict(shrink=-1.0), dict(prior_ridge=float("nan")), dict(task_dim=0)):
        with pytest.raises(ValueError):
            TransferSpace(**bad)
    records, mf, tf = _toy()
    configured = TransferSpace(shrink=0.5, temperature=0.1)
    assert configured.fit(records, model_features=mf, task_features=tf) is configured
    same = TransferSpace.fit(records, model_features=mf, task_features=tf, shrink=0.5, temperature=0.1)
    np.testing.assert_array_equal(configured.score(configured.known_models, "d2"),
                                  same.score(same.known_models, "d2"))


def test_load_rejects_malformed_spaces_at_load_time(tmp_path):
    import json

    from safetensors.numpy import load_file, save_file

    records, mf, tf = _toy()
    path = TransferSpace.fit(records, model_features=mf, task_features=tf, shrink=0.5, temperature=0.1).save(
        tmp_path / "space")
    meta = json.loads((path / "space.json").read_text())
    arrays = load_file(str(path / "space.safetensors"))
    cases = {"models": 5, "groups": [["a", "b"]], "format_version": 1, "prior_columns": ["other"],
             "pair_temperature": "hot", "settings": {"unknown_setting": 1}}
    for key, value in cases.items():
        (path / "space.json").write_text(json.dumps({**meta, key: value}))
        with pytest.raises(ValueError, match="space"):
            TransferSpace.load(path)
    (path / "space.json").write_text(json.dumps(meta))
    for name, value in (("profile", arrays["profile"][:, :-1]), ("prior", np.full_like(arrays["prior"], np.nan)),
                        ("group_dataset", arrays["group_dataset"] + 100)):
        save_file({**arrays, name: np.ascontiguousarray(value)}, str(path / "space.safetensors"))
        with pytest.raises(ValueError, match=name):
            TransferSpace.load(path)


def test_a_new_task_without_protocol_weighs_each_fine_tuning_protocol_equally():
    rng = np.random.default_rng(0)
    rows = []
    for m in range(12):
        for d in ("a", "b", "c", "d"):
            for source, metric, n in (("full", "finetune_top1", 1), ("few", "finetune_vtab1k_top1", 1),
                                      ("probe", "linear_probe_top1", 1)):
                rows.append(dict(model=f"o/m{m}", dataset=d, metric=metric, source=source,
                                 value=float(rng.normal())))
    records = pd.DataFrame(rows)
    tf = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 1.5]}, index=["a", "b", "c", "d", "new"])
    space = TransferSpace.fit(records, task_features=tf, shrink=1.0, temperature=0.5)
    space.options["protocol_transfer"] = 1.0  # records in full: the split between protocols is checked here
    w = space.task_vector("new")[1 : 1 + len(space.groups)]
    by_source = pd.Series(w).groupby([g[0] for g in space.groups]).sum()
    assert by_source["full"] == pytest.approx(0.5) and by_source["few"] == pytest.approx(0.5)
    assert by_source["probe"] == pytest.approx(0.0)  # a linear probe predicts another use
    named = space.task_vector("new", source="probe", metric="linear_probe_top1")[1 : 1 + len(space.groups)]
    assert pd.Series(named).groupby([g[0] for g in space.groups]).sum()["probe"] == pytest.approx(1.0)


def test_a_known_task_without_protocol_follows_its_full_data_fine_tuning():
    """A dataset id names the whole dataset: with no protocol named, a dataset the records know is
    ranked by its full-data fine-tuning groups, not averaged with 1,000-example fine-tuning or a
    linear probe (which rank models differently); a dataset that has only those keeps them."""
    rng = np.random.default_rng(0)
    rows = []
    for m in range(12):
        for d in ("a", "b", "c"):
            for source, metric in (("full", "finetune_top1"), ("few", "finetune_vtab1k_top1"),
                                   ("probe", "linear_probe_top1")):
                if d == "c" and source == "full":
                    continue
                rows.append(dict(model=f"o/m{m}", dataset=d, metric=metric, source=source, value=float(rng.normal())))
    space = TransferSpace.fit(pd.DataFrame(rows), shrink=1.0, temperature=0.5)
    space.options["protocol_transfer"] = 1.0  # records in full: which groups are followed is checked here

    def weights(task: str, **protocol) -> pd.Series:
        w = space.task_vector(task, **protocol)[1 : 1 + len(space.groups)]
        return pd.Series(w).groupby([g[0] for g in space.groups]).sum()

    assert weights("a")["full"] == pytest.approx(1.0) and weights("a")[["few", "probe"]].sum() == 0
    assert weights("c")["few"] == pytest.approx(1.0)  # no full-data group: 1,000 examples, not the probe
    assert weights("a", source="few", metric="finetune_vtab1k_top1")["few"] == pytest.approx(1.0)
    assert weights("a", source="probe", metric="linear_probe_top1")["probe"] == pytest.approx(1.0)


def test_twins_lend_no_group_slope():
    """What recorded models lend their architecture twins is, in every group, centred and
    uncorrelated with their prior level: how steeply a group follows the prior (PARC's Pets, where
    AlexNet-to-ResNet-50 spans more prior than ranks) says something about the group, not about a
    network, and must not move the twins of strong models down against models without twins."""
    records, mf, tf = _toy()
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    lent = space._twin_profile()
    for g in range(len(space.groups)):
        obs = space.profile[:, g] != 0
        x = space.prior[obs] - space.prior[obs].mean()
        assert abs(lent[obs, g].mean()) < 1e-9 and abs(x @ lent[obs, g]) < 1e-9
        assert np.all(lent[~obs, g] == 0)


def test_twins_fine_tuned_on_a_downstream_dataset_lend_only_to_its_models():
    """A network fine-tuned on a downstream dataset carries that dataset's effect: it is a twin of
    models of the same source only (pre-training datasets such as ImageNet lend to every source)."""
    records, mf, tf = _toy()
    mf = mf.assign(source_dataset=None)
    mf.loc["org/m12", "source_dataset"] = "d4"  # the recorded twin of org/m0 was fine-tuned on d4
    space = TransferSpace.fit(records[records["model"] != "org/m0"], model_features=mf, task_features=tf)
    twin = space.known_models.index("org/m12")
    for source, weight in (("d4", 1.0), ("d5", 0.0)):
        cold = mf.loc[["org/m0"]].assign(source_dataset=source)
        assert space.twin_weights(["org/m0"], cold)[0, twin] == pytest.approx(weight)


def test_prior_weights_are_learned_from_published_figures_only():
    """A stand-in ImageNet figure (``quality_top1`` without ``imagenet_top1``) places a model but does
    not teach the prior how much ImageNet accuracy matters."""
    records, mf, tf = _toy()
    mf = mf.assign(imagenet_top1=mf["quality_top1"])
    stand_ins = [f"org/m{k}" for k in range(0, 24, 3)]
    weights = []
    for seed in (1, 2):
        changed = mf.copy()
        changed.loc[stand_ins, "imagenet_top1"] = np.nan
        changed.loc[stand_ins, "quality_top1"] = np.random.default_rng(seed).uniform(60, 90, len(stand_ins))
        weights.append(TransferSpace.fit(records, model_features=changed, task_features=tf).prior_weights)
    np.testing.assert_allclose(weights[0], weights[1])
    assert weights[0][0] > 0


def test_a_group_of_similar_models_is_narrower_on_the_common_scale():
    """The best of a population of weak models must not be placed above a population of stronger
    ones just because each population standardises to the same spread: every group's results are
    put on the prior's scale, sqrt(var(prior in the group) + s^2)."""
    rng = np.random.default_rng(1)
    quality = np.concatenate([rng.uniform(-2.0, -1.0, 12), rng.uniform(1.0, 2.0, 12), rng.uniform(-2.0, 2.0, 12)])
    rows, names = [], [f"org/m{m}" for m in range(36)]
    for m, q in enumerate(quality):
        source = ("weak", "strong", "mixed")[m // 12]
        for j, d in enumerate(DATASETS):
            rows.append(dict(model=names[m], dataset=d, metric="finetune_top1", source=source,
                             value=70 + 5 * q + rng.normal(scale=3.0)))
    records = pd.DataFrame(rows)
    mf = pd.DataFrame({"quality_top1": 80 + 5 * quality + rng.normal(scale=1.0, size=36), "log_params": 3.0,
                       "log_pretrain_images": 6.1}, index=names)
    space = TransferSpace.fit(records, model_features=mf)
    assert space.options["unseen_spread"] > 0
    scores = space.score(names, "d0")
    truth = records[records["dataset"] == "d0"].set_index("model")["value"].reindex(names).to_numpy()
    weak, strong = scores[:12], scores[12:24]
    assert weak.max() < np.median(strong)  # the weak population's best stays below the strong one's middle
    assert pd.Series(scores).corr(pd.Series(truth), method="spearman") > 0.93


def test_group_spreads_follow_the_prior_spread_of_each_group():
    rng = np.random.default_rng(1)
    f = rng.normal(size=40)
    obs = np.zeros((40, 3), bool)
    obs[:20, 0] = obs[20:, 1] = obs[:, 2] = True
    f[:20] = 0.3  # group 0: one prior level for every model
    Z = np.where(obs, (f + rng.normal(scale=0.5, size=40))[:, None], np.nan)
    spread, s = _group_spreads(Z, obs, f)
    assert spread[0] == pytest.approx(s)
    var = [f[obs[:, g]].var() for g in range(3)]
    np.testing.assert_allclose(spread, np.sqrt(np.array(var) + s ** 2))
    assert _group_spreads(Z, obs, np.zeros(40)) == (pytest.approx(np.ones(3)), 1.0)  # no prior: unchanged


def _bank_with_fine_tunes(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight ImageNet checkpoints and, recorded beside them, three downstream fine-tunes of each
    (same metadata, results about 8 points lower): PARC's layout."""
    rows, feats = [], {}
    for k, q in enumerate(np.linspace(70, 82, 8)):
        parent = f"org/g{k}"
        feats[parent] = {"quality_top1": q, "source_dataset": "ILSVRC/imagenet-1k"}
        members = [(parent, 0.0)]
        for c in range(3):
            feats[f"{parent}-ft{c}"] = {"quality_top1": q, "source_dataset": f"org/downstream{c}"}
            members.append((f"{parent}-ft{c}", -8.0))
        for name, gap in members:
            for d in DATASETS:
                rows.append({"model": name, "dataset": d, "metric": "finetune_top1", "source": "bank",
                             "value": 70 + 1.5 * (q - 76) + gap + rng.normal(scale=1.0)})
    mf = pd.DataFrame.from_dict(feats, orient="index").assign(log_params=3.0, log_pretrain_images=6.1)
    return pd.DataFrame(rows), mf


def test_downstream_fine_tunes_do_not_lift_their_parents_above_unrecorded_peers(tmp_path):
    """A bank of downstream fine-tunes shares its parents' metadata. Left at the parents' prior, they
    set the group level too low for the parents, whose own evidence then reads as a large lead over
    any unrecorded checkpoint of the same metadata. The fine-tunes sit one step below instead."""
    records, mf = _bank_with_fine_tunes(np.random.default_rng(0))
    space = TransferSpace.fit(records, model_features=mf)
    assert space.downstream_level < -0.3
    parents = [f"org/g{k}" for k in range(8)]
    evidence = space.model_vectors(parents, mf)[:, 0] - space.quality_prior(parents, mf)
    assert np.abs(evidence).mean() < 0.2  # the parents' level is their prior's, as an unrecorded peer's
    peers = pd.DataFrame({"quality_top1": [82.0, 82.0], "source_dataset": ["ILSVRC/imagenet-1k", "org/downstream0"],
                          "log_params": 3.0, "log_pretrain_images": 6.1}, index=["new/peer", "new/fine-tune"])
    cold = space.model_vectors(list(peers.index), peers)[:, 0]
    assert cold[1] - cold[0] == pytest.approx(space.downstream_level)
    loaded = TransferSpace.load(space.save(tmp_path / "space"))
    assert loaded.downstream_level == space.downstream_level
    ids = list(peers.index)
    np.testing.assert_allclose(loaded.model_vectors(ids, peers), space.model_vectors(ids, peers))
    assert list(downstream_models(peers, list(peers.index))) == [False, True]


def test_backbones_last_trained_for_detection_are_downstream_checkpoints():
    """PARC's detectron2 backbones were last trained on COCO, LVIS, Cityscapes or VOC detection data,
    which the registry does not hold as classification datasets: the metadata says so
    (``last_training``), and the features mark them downstream, so they take the downstream step
    below the ImageNet classifiers they started from."""
    from fennec_hub.features import model_features
    from fennec_hub.records import load_model_metadata

    meta = load_model_metadata()
    expected = {"parc/resnet50-mask-rcnn_fpn_lvis_144219072": "LVIS (instance segmentation)",
                "parc/resnet50-faster-rcnn_c4_voc_142202221": "PASCAL VOC (detection)",
                "parc/resnet101-keypoint-rcnn_fpn_138363331": "COCO (keypoints)",
                "parc/resnet50-retinanet_190397773": "COCO (detection)",
                "parc/resnet50-supervised_places205": "Places205 (scene classification)"}
    for model, training in expected.items():
        assert meta.at[model, "last_training"] == training
    ids = [*expected, "parc/resnet50-semisup_instagram", "parc/resnet50-pirl_imagenet", "timm/resnet50.tv_in1k"]
    assert meta.loc[ids[5:], "last_training"].isna().all()
    feats = model_features(ids)
    assert feats["downstream"].tolist() == [True] * 5 + [False] * 3
    assert downstream_models(feats, ids).tolist() == [True] * 5 + [False] * 3


def test_parents_of_fine_tunes_lend_their_twins_no_group_specific_gap():
    """How far below their parents a bank's downstream fine-tunes fall differs from one target to the
    next; that gap describes the group, so the parents lend their architecture twins none of it."""
    rng = np.random.default_rng(1)
    records, mf = _bank_with_fine_tunes(rng)
    is_ft = records["model"].str.contains("-ft")
    gap = records["dataset"].map(dict(zip(DATASETS, [0.0, 6.0, -3.0, 4.0, -5.0, 2.0])))
    records["value"] = records["value"] - np.where(is_ft, gap, 0.0)
    sources = [f"org/downstream{c}" for c in range(3)]
    tf = pd.DataFrame({"x": np.arange(len(DATASETS) + 3, dtype=float), "y": rng.normal(size=len(DATASETS) + 3)},
                      index=DATASETS + sources)
    space = TransferSpace.fit(records, model_features=mf, task_features=tf)
    down = space.model_source >= 0
    assert down.sum() == 24
    lent = space._twin_profile()
    for g in range(len(space.groups)):
        obs = space.profile[:, g] != 0
        assert abs(lent[obs & down, g].mean() - lent[obs & ~down, g].mean()) < 1e-9


def test_downstream_level_is_within_groups_and_never_positive():
    obs = np.ones((6, 2), bool)
    f = np.zeros(6)
    down = np.array([0, 0, 0, 1, 1, 1], bool)
    Z = np.array([[1.0, 5.0], [0.0, 4.0], [-1.0, 3.0], [0.0, 4.0], [-1.0, 3.0], [-2.0, 2.0]])
    assert _downstream_level(Z, obs, f, down, ["a", "b"]) == pytest.approx(-1.0)  # group offsets do not count
    assert _downstream_level(-Z, obs, f, down, ["a", "b"]) == 0.0
    assert _downstream_level(Z, obs, f, np.zeros(6, bool), ["a", "b"]) == 0.0


def test_a_new_task_is_placed_within_the_similarity_range_its_kernel_was_tuned_on():
    """A new task whose description repeats one recorded dataset's (smallNORB's azimuth and elevation
    tasks: the same images, another label) is clipped to the highest similarity between two recorded
    datasets, so that one group does not take the weight of all the others; within that range the
    kernel is unchanged."""
    rng = np.random.default_rng(1)
    records = pd.DataFrame([dict(model=f"o/m{m}", dataset=d, metric="finetune_top1", source="s",
                                 value=float(rng.normal())) for m in range(12) for d in "abcd"])
    tf = pd.DataFrame({"x": [1.0, 0.0, -1.0, 0.0, 1.0, 0.0], "y": [0.0, 1.0, 0.0, -1.0, 0.0, 0.0],
                       "z": [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]},
                      index=["a", "b", "c", "d", "copy_of_a", "unlike_any"])
    space = TransferSpace.fit(records, task_features=tf, shrink=1.0, temperature=0.1)
    tau = space.protocol_temperature[0]
    order = space.group_dataset  # groups' datasets, in the task vector's order

    def weights(task):
        sims = space.task_encoder.similarity(space.task_emb[order], space._task_embedding(task))
        return space.task_vector(task, source="s", metric="finetune_top1")[1 : 1 + len(order)], sims

    pairs = np.array([[space.task_encoder.similarity(space.task_emb[[i]], space.task_emb[j])[0]
                       for j in order] for i in order])
    cap = pairs[~np.eye(len(order), dtype=bool)].max()
    w, sims = weights("copy_of_a")
    a = space.datasets.index("a")
    assert sims[order == a][0] == pytest.approx(1.0) and cap < 0.9
    np.testing.assert_allclose(w, _softmax(np.minimum(sims, cap) / tau), atol=1e-9)
    assert w[order == a][0] < _softmax(sims / tau)[order == a][0] - 0.1
    w, sims = weights("unlike_any")
    assert sims.max() < cap
    np.testing.assert_allclose(w, _softmax(sims / tau), atol=1e-9)
