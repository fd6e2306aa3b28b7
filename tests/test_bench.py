"""Evaluation harness: metrics, leave-one-dataset-out isolation, released-score figures, report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, pearsonr, weightedtau

from fennec_hub import bench, report


def test_ranking_metrics_match_scipy_and_definitions():
    rng = np.random.default_rng(0)
    truth = rng.uniform(50, 90, size=12)
    scores = truth + rng.normal(scale=8, size=12)
    m = bench.ranking_metrics(scores, truth)
    assert m["wtau"] == pytest.approx(weightedtau(scores, truth).statistic)
    assert m["kendall"] == pytest.approx(kendalltau(scores, truth).statistic)
    assert m["pearson"] == pytest.approx(pearsonr(scores, truth).statistic)
    order = np.argsort(-scores)
    assert m["top1_rel"] == pytest.approx(truth[order[0]] / truth.max())
    assert m["top5_rel"] == pytest.approx(truth[order[:5]].max() / truth.max())
    # NaN scores are left out; a perfect ranking scores 1 everywhere.
    perfect = bench.ranking_metrics(np.append(truth, np.nan), np.append(truth, 70.0))
    assert all(perfect[k] == pytest.approx(1.0) for k in bench.METRICS)


def test_models_scored_alike_tie_whatever_the_last_bits():
    """Identical model vectors in different rows of one product can differ in the last bits (how
    depends on the BLAS build); the metrics count them as tied, so a benchmark reads the same on any
    machine."""
    truth = np.array([80.0, 85.0, 70.0, 60.0])
    exact = np.array([0.3, 0.3, 0.1, -0.2])
    noisy = exact.copy()
    noisy[1] = np.nextafter(noisy[1], 1.0)  # the tied pair now orders as the truth does
    assert bench.ranking_metrics(noisy, truth) == bench.ranking_metrics(exact, truth)
    assert bench.ranking_metrics(exact, truth)["kendall"] < kendalltau(noisy, truth).statistic
    # placement among a zoo: a held-out model level with a zoo checkpoint is not placed below it
    row = bench.zoo_placement_row(np.array([np.nextafter(0.3, 1.0), 0.2, 0.1]), exact[:3], truth[:3])
    assert row["top_rank"] == 1.0 and row["zoo_size"] == 3


def test_lodo_removes_the_dataset_from_every_source():
    from fennec_hub.records import load_records

    records = load_records()
    target = "uoft-cs/cifar100"
    sources_before = records.loc[records["dataset"] == target, "source"].nunique()
    assert sources_before >= 3  # TransferGraph HF, VTAB-1k HF, Keras, VTAB leaderboard
    train = bench.lodo_training_records(records, target)
    assert target not in set(train["dataset"])
    assert len(train) == (records["dataset"] != target).sum()


@dataclass(frozen=True)
class _Bench:
    name: str
    metric: str = "finetune_top1"

    def select(self, records: pd.DataFrame) -> pd.DataFrame:
        return records[records["benchmark"] == self.name].reset_index(drop=True)


def _toy_inputs() -> bench.BenchInputs:
    rng = np.random.default_rng(1)
    rows = []
    datasets = [f"d{i}" for i in range(5)]
    hints = {}
    for b, n_models in (("alpha", 12), ("beta", 10)):
        quality = rng.normal(size=n_models)
        hints.update({f"{b}/m{m}": q + 0.3 * rng.normal() for m, q in enumerate(quality)})
        for m in range(n_models):
            for j, d in enumerate(datasets):
                if b == "beta" and d == "d4":
                    continue
                rows.append(dict(model=f"{b}/m{m}", dataset=d, metric="finetune_top1",
                                 value=60 + 8 * quality[m] + rng.normal(), source=f"src-{b}", benchmark=b))
    records = pd.DataFrame(rows)
    models = sorted(records["model"].unique())
    # the quality prior's input, an ImageNet-like figure that follows the latent quality
    mf = pd.DataFrame({"log_params": rng.normal(size=len(models)),
                       "quality_top1": [80 + 5 * hints[m] for m in models]}, index=models)
    tf = pd.DataFrame({"log_num_classes": np.log([10, 20, 40, 80, 160])}, index=datasets)
    meta = pd.DataFrame({"params_m": np.exp(mf["log_params"])}, index=models)
    scores = records[records["benchmark"] == "alpha"][["model", "dataset"]].assign(
        metric="fennec_mf_cold_score", run=0, value=rng.normal(size=60), benchmark="alpha")
    return bench.BenchInputs(records=records, benchmarks={"alpha": _Bench("alpha"), "beta": _Bench("beta")},
                             method_scores=scores, metadata=meta, model_features=mf, task_features=tf)


def _spy_on_fits(monkeypatch, note: Callable[[pd.DataFrame, dict], Any]) -> list:
    """Record ``note(train, options)`` for every space the harness fits; returns the record."""
    seen = []
    real_fit = bench._fit_space

    def spy(train, inputs_, task_features, **options):
        seen.append(note(train, options))
        return real_fit(train, inputs_, task_features, **options)

    monkeypatch.setattr(bench, "_fit_space", spy)
    return seen


def test_harness_fits_without_the_held_out_dataset(monkeypatch):
    inputs = _toy_inputs()
    seen = _spy_on_fits(monkeypatch, lambda train, options: set(train["dataset"]))
    result = bench.run_lodo(inputs, ("alpha", "beta"), progress=False)
    frame = result.frame()
    held = sorted(frame["dataset"].unique())
    assert held == [f"d{i}" for i in range(5)]
    assert len(seen) == len(held)
    for dataset, train_sets in zip(held, seen):
        assert dataset not in train_sets and len(train_sets) == 4
    methods = set(frame["method"])
    assert {bench.OURS, bench.PRIOR, "Random", "Parameter count", bench.FENNEC_REIMPL,
            "Fennec (released scores)"} <= methods
    assert frame[list(bench.METRICS)].notna().any().all()


def test_text_proxy_is_compared_forced_off_and_on(monkeypatch):
    inputs = _toy_inputs()
    rng = np.random.default_rng(1)
    text = pd.DataFrame(rng.normal(size=(5, 4)), index=inputs.task_features.index,
                        columns=[f"text_{i}" for i in range(4)])
    inputs.task_features = pd.concat([inputs.task_features, text], axis=1)
    weights = _spy_on_fits(monkeypatch, lambda train, options: (options.get("text_weight"),
                                                                options.get("text_choice")))
    frame = bench.run_lodo(inputs, ("alpha",), progress=False, fennec_reimpl=False).frame()
    # per fold: text weight chosen for the space, forced off, chosen per protocol
    assert weights == [(None, None), (0.0, None), (None, "protocol")] * 5
    per_method = frame.groupby("method")["dataset"].nunique()
    for method in (bench.OURS, bench.OURS_META, bench.OURS_PER_PROTOCOL, bench.OURS_ANY):
        assert per_method[method] == 5
    note = bench.text_choice_note(bench._fit_space(inputs.records, inputs, inputs.task_features), inputs,
                                  ("alpha", "beta"))
    assert note.startswith("Weight of the text view") and "alpha " in note and "beta " in note


def test_lomo_scores_held_out_models_from_features_only(monkeypatch):
    inputs = _toy_inputs()
    seen = _spy_on_fits(monkeypatch, lambda train, options: set(train["model"]))
    result = bench.run_lomo(inputs, ("alpha",), folds=3, progress=False)
    frame = result.frame()
    assert set(frame["protocol"]) == {"lomo", "mixed"}
    assert set(frame.loc[frame["protocol"] == "lomo", "dataset"]) == {f"d{i}" for i in range(5)}
    alpha_models = {m for m in inputs.records["model"] if m.startswith("alpha/")}
    held_out = [alpha_models - s for s in seen]
    assert all(h for h in held_out)
    assert set().union(*held_out) == alpha_models  # every model is held out exactly once
    assert sum(len(h) for h in held_out) == len(alpha_models)
    # The mixed ranking: held-out models among the recorded ones, against cold-start models at the average.
    mixed = frame[frame["protocol"] == "mixed"]
    assert set(mixed["method"]) == {bench.OURS, bench.COLD_AT_MEAN, bench.OURS_ANY}
    assert set(mixed["dataset"]) == {f"d{i}" for i in range(5)} and mixed["n"].eq(12).all()
    # The toy's accuracy follows a latent quality that the features reveal: cold vectors beat the average.
    by = mixed.groupby("method")["wtau"].mean()
    assert by[bench.OURS] > by[bench.COLD_AT_MEAN]


def test_released_scores_reproduce_the_published_figures():
    from fennec_hub.records import BENCHMARKS, load_method_scores, load_records

    # (on the ground truth the methods were published on: collapsed runs included)
    inputs = bench.BenchInputs(records=load_records(include_collapsed=True), benchmarks=dict(BENCHMARKS),
                               method_scores=load_method_scores())
    fennec = bench.released_table(inputs, "fennec").groupby("method")[["wtau", "pearson"]].mean()
    parc = bench.released_table(inputs, "parc").groupby("method")[["wtau", "pearson"]].mean()
    # README section 7: Fennec wtau 47.91 / Pearson 87.79 on its benchmark; PARC 63.51 / 68.12; LogME 46.12 / 55.09.
    assert round(100 * fennec.loc["Fennec (released scores)", "wtau"], 2) == pytest.approx(47.91, abs=0.01)
    assert round(100 * fennec.loc["Fennec (released scores)", "pearson"], 2) == pytest.approx(87.79, abs=0.01)
    assert round(100 * parc.loc["Fennec (released scores)", "wtau"], 2) == pytest.approx(63.51, abs=0.01)
    assert round(100 * parc.loc["LogME (released)", "wtau"], 2) == pytest.approx(46.12, abs=0.01)
    assert round(100 * parc.loc["LogME (released)", "pearson"], 2) == pytest.approx(55.09, abs=0.01)


def test_report_and_json(tmp_path):
    inputs = _toy_inputs()
    result = bench.run(("alpha", "beta"), "all", inputs=inputs, progress=False, fennec_reimpl=False)
    assert result.timings["fit_all_records_s"] > 0 and result.timings["score_100000_models_median_ms"] > 0
    md = report.write_outputs(result, tmp_path / "R.md", tmp_path / "r.json", "fennec-hub bench --x", ("alpha", "beta"))
    assert (tmp_path / "R.md").read_text() == md
    assert "fennec-hub bench --x" in md and "Leave-one-dataset-out" in md and "Leave-models-out" in md
    assert f"| {bench.OURS} |" in md and "mean over benchmarks" in md
    # a method named "ours | prior models" is one table cell: its pipe is escaped
    assert f"| {bench.OURS} \\| {bench.PARAMS} models |" in md and f"| {bench.OURS} | {bench.PARAMS} models |" not in md
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["command"] == "fennec-hub bench --x"
    summary = pd.DataFrame(payload["summary"])
    assert {"lodo", "lomo", "mixed"} == set(summary["protocol"])
    assert len(payload["rows"]) == len(result.rows)


def test_paired_difference_is_over_the_datasets_both_methods_were_scored_on():
    """The scorecard's ``+d ± se`` pairs two methods dataset by dataset: a dataset only one of them
    was scored on does not count, and the standard error is that of the per-dataset differences."""
    rows = [dict(protocol="lodo", benchmark="b", dataset=d, method=m, wtau=v)
            for d, a, b in (("d1", 0.50, 0.40), ("d2", 0.60, 0.55), ("d3", 0.30, 0.35))
            for m, v in (("A", a), ("B", b))]
    rows += [dict(protocol="lodo", benchmark="b", dataset="d4", method="A", wtau=0.9),   # B not scored on d4
             dict(protocol="lomo", benchmark="b", dataset="d1", method="B", wtau=0.0)]   # another protocol
    mean, se, n = report.paired_difference(pd.DataFrame(rows), "lodo", "b", "A", "B")
    diffs = np.array([0.10, 0.05, -0.05])
    assert n == 3 and mean == pytest.approx(diffs.mean())
    assert se == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    assert report._pm((mean, se, n)) == f"+0.033 ± {se:.3f} over 3 datasets"
    assert report.paired_difference(pd.DataFrame(rows), "lodo", "b", "A", "missing") == (
        pytest.approx(float("nan"), nan_ok=True), pytest.approx(float("nan"), nan_ok=True), 0)


def test_leave_one_bank_out_holds_out_whole_banks_and_whole_families():
    inputs = bench.load_inputs(text=False)
    folds = bench.lobo_folds(inputs)
    names = [f[0] for f in folds]
    assert names[:3] == ["parc", "keras", "fennec"] and len(folds) == 3 + bench.LOBO_HF_FOLDS
    for bank in ("parc", "keras", "fennec"):
        held = dict((n, h) for n, h, _ in folds)[bank]
        assert set(held) == set(inputs.truth(bank).index)
    hf = [(set(h), b) for n, h, b in folds if n.startswith("hf")]
    families = [{bench._hf_family(m, inputs.metadata) for m in held} for held, _ in hf]
    for i, a in enumerate(families):  # a family is never on both sides of a fold
        for b in families[i + 1:]:
            assert not a & b
    # One network under two transformers model types is one family: DeiT is a ViT, data2vec-vision a BEiT.
    fold_of = {m: k for k, (held, _) in enumerate(hf) for m in held}
    assert fold_of["facebook/deit-base-distilled-patch16-224"] == fold_of["google/vit-base-patch16-224"]
    assert fold_of["facebook/data2vec-vision-base-ft1k"] == fold_of["microsoft/beit-base-patch16-224"]
    assert set().union(*(h for h, _ in hf)) == set(inputs.truth("transfergraph_hf").index) | set(
        inputs.truth("vtab1k_hf").index)


def test_leave_one_bank_out_rows_compare_on_the_same_models():
    inputs = bench.load_inputs(text=False)
    result = bench.run_lobo(inputs, ("keras",), zoo=False, progress=False)
    frame = result.frame()
    lobo = frame[frame["protocol"] == "lobo"]
    assert set(lobo["benchmark"]) == {"keras"} and lobo["dataset"].nunique() == 9
    ours = lobo[lobo["method"] == bench.OURS]
    assert (ours["n"] >= 17).all()  # every Keras model with a result there (collapsed runs aside), scored cold
    top1 = lobo[lobo["method"] == bench.TOP1].set_index("dataset")["n"]
    same = lobo[lobo["method"] == f"{bench.OURS} | {bench.TOP1} models"].set_index("dataset")["n"]
    pd.testing.assert_series_equal(top1, same, check_names=False)
    assert (top1 < ours.set_index("dataset")["n"]).all()  # top-1 is known for fewer Keras models


@pytest.mark.skipif(not (Path(bench.__file__).parent / "data" / "zoo" / "zoo.json").is_file(),
                    reason="the embedded default zoo has not been built yet")
def test_leave_one_bank_out_places_held_out_models_among_what_a_ranking_lists():
    """The zoo-level rows count the checkpoints `recommend()` lists: no test repository, one copy
    of a checkpoint published twice, and none of the held-out models' own copies."""
    from fennec_hub import Zoo, recommend
    from fennec_hub.records import same_weights

    inputs = bench.load_inputs(text=False)
    frame = bench.run_lobo(inputs, ("keras",), progress=False).frame()
    placed = frame[frame["protocol"] == "lobo_zoo"]
    sizes = placed.loc[placed["method"] == bench.OURS, "zoo_size"]
    listed = set(recommend("cifar100", top_k=None)["model_id"])
    held = set(inputs.truth("keras").index)
    copies = {t for m, t in same_weights().items() if m in held} & listed
    assert copies and len(sizes) == 9
    assert (sizes == len(listed) - len(copies)).all() and len(listed) < len(Zoo.default().models)
    # the same zoo sorted by each trivial prior, side by side: only its checkpoints that have the prior
    priors = {bench.TOP1, bench.PARAMS, bench.TOP1_IN_DATA}
    assert set(placed["method"]) == {bench.OURS} | priors | {f"{bench.OURS} | {p} models" for p in priors}
    by_prior = placed[placed["method"].isin(priors)].groupby("method")
    assert (by_prior["zoo_size"].max() < sizes.min()).all() and (by_prior.size() == 9).all()
    # ours on the held-out models a prior ranks: as many placed, among the whole listed zoo
    top1 = placed[placed["method"] == bench.TOP1].set_index("dataset")
    ours_top1 = placed[placed["method"] == f"{bench.OURS} | {bench.TOP1} models"].set_index("dataset")
    assert (ours_top1["n"] == top1["n"]).all() and (ours_top1["zoo_size"] == sizes.iloc[0]).all()


def test_zoo_placement_ranks_among_the_checkpoints_that_have_the_score():
    zoo = np.array([90.0, 85.0, np.nan, 80.0, 75.0])  # a checkpoint without the score is not counted
    held = np.array([82.0, np.nan, 88.0, 70.0])
    truth = np.array([0.9, 0.5, 0.7, 0.1])
    row = bench.zoo_placement_row(zoo, held, truth)
    assert row == dict(n=3, zoo_size=4, median_rank=3.0, best_rank=3.0, top_rank=2.0)
    assert np.isnan(bench.zoo_placement_row(zoo, held, np.array([0.1, 0.9, 0.2, 0.3]))["best_rank"])
    assert bench.zoo_placement_row(zoo, np.array([np.nan, np.nan, 1.0, 2.0]), truth) is None  # < 3 placed


def test_lomo_ranks_each_fold_on_its_own(monkeypatch):
    """Every fold's scores come from its own fit, on that fit's scale: a method that orders models
    exactly as ImageNet top-1 does, shifted by a different constant in each fit, must score as
    top-1 does, not worse because the folds' scales were pooled."""
    inputs = _toy_inputs()
    inputs.model_features["imagenet_top1"] = inputs.model_features["quality_top1"]
    fits = []

    class Shifted:
        def __init__(self, shift: float) -> None:
            self.shift = shift

        def model_vectors(self, models, features):
            return (features["imagenet_top1"].reindex(list(models)).to_numpy(float) + self.shift)[:, None]

        def task_vector(self, dataset, **protocol):
            return np.ones(1)

    def fit(train, inputs_, task_features, **options):
        fits.append(Shifted(shift=100.0 * (-1) ** len(fits) * len(fits)))
        return fits[-1]

    monkeypatch.setattr(bench, "_fit_space", fit)
    frame = bench.run_lomo(inputs, ("alpha",), folds=3, progress=False).frame()
    lomo = frame[frame["protocol"] == "lomo"].set_index(["dataset", "method"])["wtau"].unstack()
    assert len(fits) == 3
    np.testing.assert_allclose(lomo[f"{bench.OURS} | {bench.TOP1} models"], lomo[bench.TOP1])


def test_the_embedded_zoo_is_the_space_the_bench_scores():
    """The default zoo's transfer space is fitted on the features `fennec-hub bench` scores models
    from (the feature store), so the figures describe what `recommend()` serves: the same recorded
    models, quality prior, downstream step and prior of every recorded model."""
    from fennec_hub import Zoo
    from fennec_hub.space import TransferSpace

    inputs = bench.load_inputs()
    served = Zoo.default().space
    fitted = TransferSpace.fit(inputs.records, model_features=inputs.model_features,
                               task_features=inputs.task_features)
    assert fitted.models == served.models
    assert fitted.downstream_level == pytest.approx(served.downstream_level, abs=1e-12)
    np.testing.assert_allclose(fitted.prior_weights, served.prior_weights, atol=1e-12)
    np.testing.assert_allclose(fitted.prior, served.prior, atol=1e-9)
    # Checkpoints published twice are one model for metadata too: the Hub copy of a timm checkpoint
    # has the pre-training data its timm tag names.
    features = inputs.model_features
    assert features.at["microsoft/swin-base-patch4-window7-224", "log_pretrain_images"] == pytest.approx(np.log10(1.4e7))
    assert features.at["google/vit-base-patch32-384", "log_pretrain_images"] == pytest.approx(np.log10(1.4e7))


def test_twin_agreement_note_reports_what_twins_lend_within_and_across_banks():
    """The report states the twins' agreement the zoo's space lends with: per bank, and across banks,
    where on the bundled records it is within one standard error of 0, so twins lend nothing to a
    query without their protocol."""
    from fennec_hub import Zoo

    space = Zoo.default().space
    inputs = bench.load_inputs(text=False)
    note = bench.twin_agreement_note(space, inputs, bench.DEFAULT_BENCHMARKS)
    for b in bench.DEFAULT_BENCHMARKS:
        assert f"{b} 0." in note
    corr, se = space.foreign_twin_correlation()
    assert 0 < se < 0.2 and abs(corr) < se
    assert space.foreign_twins == 0.0 and f"{corr:.3f} (standard error {se:.3f}), so 0.00" in note


def test_cross_bank_placement_ranks_two_banks_of_one_protocol_together():
    """PARC's controlled and crowd-sourced banks share a protocol and 7 targets: the report compares the
    space's ranking of both banks' models together with each bank rank-standardised on its own and
    merged. Scores equal to the results rank them perfectly."""
    from fennec_hub import Zoo

    space = Zoo.default().space
    inputs = bench.load_inputs(text=False)
    ours, naive, n = bench.cross_bank_placement(space, inputs)
    assert n == 7 and -1 <= ours <= 1 and 0.5 < naive < 1
    note = bench.cross_bank_note(space, inputs)
    assert f"weighted τ {ours:.3f}, against {naive:.3f}" in note

    rec = inputs.records[inputs.records["benchmark"].isin(["parc", "parc_crowd"])]
    truth = rec.groupby(["model", "dataset"])["value"].mean().unstack("dataset")

    class Oracle:
        def model_vectors(self, models, features=None):
            return np.eye(len(truth))[truth.index.get_indexer(models)]

        def task_vector(self, dataset):
            return truth[dataset].fillna(0.0).to_numpy()

    assert bench.cross_bank_placement(Oracle(), inputs)[:2] == (pytest.approx(1.0), pytest.approx(naive))
