"""Records loader: bundled ground truth, normalised ids, benchmarks, method scores, metadata."""

from __future__ import annotations

import pandas as pd
import pytest

import fennec_hub
from fennec_hub.datasets import UnknownDatasetError, resolve_dataset
from fennec_hub.records import (
    BENCHMARKS,
    GROUND_TRUTH_FILES,
    PARC_VOIDED_SOURCES,
    RECORD_COLUMNS,
    RECORDS_DIR,
    benchmark_records,
    load_method_scores,
    load_model_metadata,
    load_records,
    normalize_dataset,
    normalize_model_id,
    timm_pretrain,
)


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return load_records()


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(RECORDS_DIR / name)


def test_load_records_is_exported():
    assert fennec_hub.load_records is load_records


def test_record_columns_and_values(records):
    assert tuple(records.columns) == RECORD_COLUMNS
    assert records["value"].dtype == "float64"
    assert records[list(RECORD_COLUMNS)].notna().all().all()
    top1 = records[records["metric"].str.endswith("_top1")]
    assert len(top1) == len(records)
    assert top1["value"].between(0, 100).all()
    assert not records.duplicated(["model", "dataset", "metric", "benchmark"]).any()
    assert set(records["benchmark"]) == {"transfergraph_hf", "vtab1k_hf", "parc", "parc_crowd", "keras",
                                         "fennec", "vtab_resnet50"}


def test_datasets_are_canonical_ids(records):
    for d in records["dataset"].unique():
        assert resolve_dataset(d).id == d
    assert "uoft-cs/cifar100" in set(records["dataset"])
    assert "cifar100" not in set(records["dataset"])


def test_bundled_files_exclude_scores_metadata_and_timm(records):
    assert not any(f.endswith(("_scores.csv", "_metadata.csv")) or f.startswith("timm_") for f in GROUND_TRUTH_FILES)
    assert not records["metric"].isin(["logme", "fennec_mf_cold_score", "top1"]).any()
    assert not records["model"].str.endswith("@224").any()


@pytest.mark.parametrize(
    "name, source_file, expected",
    [
        ("resnet50|imagenet", "parc_oracles.csv", "timm/resnet50.tv_in1k"),
        ("resnet18|imagenet", "parc_method_scores.csv", "timm/resnet18.tv_in1k"),
        ("alexnet|imagenet", "parc_oracles.csv", "torchvision/alexnet"),
        ("googlenet|imagenet", "parc_oracles.csv", "torchvision/googlenet"),
        ("resnet50|cub200", "parc_oracles.csv", "parc/resnet50-cub200"),
        ("resnet101|faster-rcnn_c4_138204752", "parc_oracles.csv", "parc/resnet101-faster-rcnn_c4_138204752"),
        ("resnet50.tv_in1k@224", "timm_imagenet_results.csv", "timm/resnet50.tv_in1k"),
        ("resnet50", "stable_transfer_keras_accuracy.csv", "keras/resnet50"),
        ("pytorchcv/vgg19", "fennec_benchmark_finetune.csv", "pytorchcv/vgg19"),
        ("Sup-100%", "vtab_leaderboard_resnet50.csv", "vtab/sup-100"),
        ("Rel.Pat.Loc", "vtab_leaderboard_resnet50.csv", "vtab/rel-pat-loc"),
        ("Ahmed9275/ALL-3", "transfergraph_hf_finetune.csv", "Ahmed9275/ALL-3"),
        ("  google/vit-base-patch16-224 ", None, "google/vit-base-patch16-224"),
    ],
)
def test_normalize_model_id(name, source_file, expected):
    assert normalize_model_id(name, source_file) == expected


def test_normalize_model_id_rejects_bad_names():
    with pytest.raises(ValueError):
        normalize_model_id("  ", None)
    with pytest.raises(ValueError, match="arch\\|source"):
        normalize_model_id("resnet50", "parc_oracles.csv")


def test_normalize_dataset():
    assert normalize_dataset("CIFAR-100") == "uoft-cs/cifar100"
    assert normalize_dataset("nabird") == "public/nabirds"
    with pytest.raises(UnknownDatasetError):
        normalize_dataset("not-a-dataset-name")


def test_benchmark_row_counts_match_files():
    expected = {}
    for name, bench in BENCHMARKS.items():
        raw = _raw(bench.file)
        raw = raw[raw["metric"] == bench.metric]
        if bench.controlled_only:
            raw = raw[raw["source"].str.contains("(controlled bank)", regex=False)]
            raw = raw[~raw["model"].str.split("|").str[1].isin(PARC_VOIDED_SOURCES)]
        expected[name] = (len(raw), raw["model"].nunique(), raw["dataset"].nunique())
    from fennec_hub.records import collapsed_runs, load_records as load, trained_on_target

    every = load(include_flagged=True)
    every = every[~every["model"].str.contains("|".join(PARC_VOIDED_SOURCES))]
    collapsed = every[collapsed_runs(every) | trained_on_target(every)]
    for name in BENCHMARKS:
        got = benchmark_records(name)
        n_collapsed = len(BENCHMARKS[name].select(collapsed))
        assert len(got) + n_collapsed == expected[name][0], name
        # (TransferGraph's Food-101 runs all collapsed, but one by a checkpoint trained on Food-101)
        assert got["dataset"].nunique() == expected[name][2] - (name == "transfergraph_hf"), name
        assert got["model"].nunique() <= expected[name][1]
        assert (got["metric"] == BENCHMARKS[name].metric).all()
    assert expected["parc"][:2] == (196, 32)
    assert expected["transfergraph_hf"][:2] == (2254, 180)
    assert expected["keras"][:2] == (171, 19)
    assert expected["fennec"][:2] == (735, 105)


def test_every_bundled_row_is_loaded_except_flagged(records):
    n_files = sum(len(_raw(f)) for f in GROUND_TRUTH_FILES)
    flagged = load_records(include_flagged=True)
    assert len(flagged) == n_files
    parc_raw = _raw("parc_oracles.csv")
    n_voided = parc_raw["model"].str.split("|").str[1].isin(PARC_VOIDED_SOURCES).sum()
    assert n_voided > 0
    from fennec_hub.records import collapsed_counts

    counts = collapsed_counts()
    assert len(records) == n_files - n_voided - int(counts.sum()) - sum(counts.attrs["trained_on_target"].values())


def test_parc_filter_drops_voided_checkpoints(records):
    parc = benchmark_records("parc")
    assert not parc["model"].str.contains("moco_imagenet|swav_imagenet|simclr_imagenet|npid_imagenet|deepcluster").any()
    assert "timm/resnet50.tv_in1k" in set(parc["model"])
    assert parc["model"].str.startswith(("parc/", "timm/", "torchvision/")).all()
    assert not records["model"].str.contains("moco_imagenet").any()
    everything = load_records(include_flagged=True)
    moco = everything[everything["model"] == "parc/resnet50-moco_imagenet"]
    assert len(moco) > 0 and (moco["benchmark"] == "parc_crowd").all()


def test_keras_benchmark_is_finetune_only(records):
    keras = records[records["benchmark"] == "keras"]
    assert set(keras["metric"]) == {"finetune_top1", "linear_probe_top1"}
    assert set(benchmark_records("keras")["metric"]) == {"finetune_top1"}
    assert keras["model"].str.startswith("keras/").all()


def test_unknown_benchmark():
    with pytest.raises(KeyError, match="transfergraph_hf"):
        benchmark_records("nope")


def test_load_records_returns_independent_copies():
    a = load_records()
    a.loc[:, "value"] = -1.0
    assert (load_records()["value"] >= 0).all()


def test_user_csv_long_format(tmp_path):
    path = tmp_path / "my_runs.csv"
    path.write_text(
        "model,dataset,metric,value,source\n"
        "google/vit-base-patch16-224,CIFAR-100,finetune_top1,91.5,me\n"
        "microsoft/resnet-50,oxford_iiit_pet,finetune_top1,88.0,me\n"
    )
    df = load_records(path)
    assert tuple(df.columns) == RECORD_COLUMNS
    assert list(df["dataset"]) == ["uoft-cs/cifar100", "timm/oxford-iiit-pet"]
    assert set(df["benchmark"]) == {"my_runs"}
    both = load_records([path, RECORDS_DIR / "parc_oracles.csv"])
    assert set(both["benchmark"]) == {"my_runs", "parc", "parc_crowd"}

    tagged = tmp_path / "tagged.csv"
    tagged.write_text("model,dataset,metric,value,source,benchmark\nm/x,cifar10,finetune_top1,50,me,mine\n")
    assert list(load_records(str(tagged))["benchmark"]) == ["mine"]


def test_user_csv_errors(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("model,dataset,value\nm,cifar10,1\n")
    with pytest.raises(ValueError, match="missing column.*metric"):
        load_records(missing)
    bad_value = tmp_path / "bad_value.csv"
    bad_value.write_text("model,dataset,metric,value,source\nm,cifar10,finetune_top1,abc,me\n")
    with pytest.raises(ValueError, match="non-numeric"):
        load_records(bad_value)
    fraction = tmp_path / "fraction.csv"
    fraction.write_text("model,dataset,metric,value,source\nm,cifar10,finetune_top1,150,me\n")
    with pytest.raises(ValueError, match="percent"):
        load_records(fraction)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("model,dataset,metric,value,source\nm,my-private-set,finetune_top1,50,me\n")
    with pytest.raises(UnknownDatasetError, match="unknown.csv"):
        load_records(unknown)
    assert list(load_records(unknown, unknown_datasets="keep")["dataset"]) == ["my-private-set"]
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "nope.csv")
    with pytest.raises(ValueError):
        load_records([])


def test_method_scores():
    scores = load_method_scores()
    assert list(scores.columns[:6]) == ["model", "dataset", "metric", "run", "value", "source"]
    assert set(scores["metric"]) == {"fennec_mf_cold_score", "logme_score", "gbc", "leep", "nleep", "logme", "hscore"}
    fennec = scores[(scores["benchmark"] == "fennec")]
    assert sorted(fennec["run"].unique()) == [0, 1, 2, 3, 4]
    # Every scored pair has ground truth with the same normalised ids (collapsed runs included).
    every = load_records(include_flagged=True)
    truth = pd.concat([BENCHMARKS[b].select(every) for b in ("parc", "fennec", "keras")])
    truth_pairs = set(zip(truth["model"], truth["dataset"]))
    scored_pairs = set(zip(scores["model"], scores["dataset"]))
    assert scored_pairs <= truth_pairs
    assert ("timm/resnet50.tv_in1k", "uoft-cs/cifar10") in scored_pairs


def test_model_metadata_joins(records):
    meta = load_model_metadata()
    assert meta.index.is_unique
    row = meta.loc["timm/resnet50.tv_in1k"]
    raw = _raw("timm_imagenet_results.csv")
    expected_top1 = raw[(raw["model"] == "resnet50.tv_in1k@224") & (raw["metric"] == "top1")
                        & (raw["dataset"] == "imagenet")]["value"].item()
    assert row["imagenet_top1"] == pytest.approx(expected_top1)
    assert 20 < row["params_m"] < 30
    assert row["library"] == "timm" and row["pretrain"] == "in1k" and row["pretrain_tag"] == "tv_in1k"
    assert row["parc_source"] == "imagenet"
    # Every model with records or scores has a metadata row that names its library.
    used = set(records["model"]) | set(load_method_scores()["model"])
    assert used <= set(meta.index)
    assert meta.loc[sorted(used), "library"].notna().all()
    vit = meta.loc["google/vit-base-patch16-224"]
    assert vit["model_type"] == "vit" and vit["architectures"] == "ViTForImageClassification"
    assert vit["library"] == "transformers" and vit["params_m"] == pytest.approx(vit["number_of_parameters"] / 1e6)
    assert meta.loc["parc/resnet50-cub200", "source_dataset"] == resolve_dataset("cub200").id
    assert meta.loc["keras/resnet50", "library"] == "keras"
    assert pd.isna(meta.loc["keras/resnet50", "params_m"])  # not in the shared data: left missing
    assert meta.loc["pytorchcv/resnet20_cifar10", "img_size"] == 32
    assert meta["license"].isna().all()
    assert meta.loc["timm/vit_huge_patch14_224_in21k", "pretrain"] == "in21k"  # legacy Hub name in TransferGraph


def test_timm_two_resolutions_keep_smaller():
    meta = load_model_metadata()
    raw = _raw("timm_model_metadata.csv")
    sizes = raw[raw["timm_name"] == "convnext_atto.d2_in1k"]["img_size"]
    assert len(sizes) == 2
    assert meta.loc["timm/convnext_atto.d2_in1k", "img_size"] == sizes.min()


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("tv_in1k", "in1k"),
        ("augreg_in21k_ft_in1k", "in21k"),
        ("fb_in22k_ft_in1k", "in21k"),
        ("laion2b_ft_in12k_in1k", "laion"),
        ("openai_ft_in1k", "openai"),
        ("fb_swsl_ig1b_ft_in1k", "instagram"),
        ("sw_in12k_ft_in1k", "in12k"),
        ("fb_inw21k", "in21k"),  # MViTv2: ImageNet-22k's Winter21 variant
        ("clip_ft_in1k", None),
        ("metaclip_2pt5b", "metaclip-2.5b"),  # the data's size as the tag names it
        ("lvd1689m", "lvd1689m"),
        ("apple_mclip2_dfndr2b", "dfn"),
        ("datacompxl", "datacomp-1b"),  # the DataComp.XL models' training set
        ("metaclip2_worldwide", None),  # no published size at hand: not guessed
        ("fcmae", "in1k"),  # self-supervised on ImageNet-1k
        ("fcmae_ft_in22k_in1k", "in21k"),  # then supervised on ImageNet-22k: the larger data counts
        ("fcmae_ft_in1k", "in1k"),
        ("mae", "in1k"),
        ("dino", "in1k"),
        ("ft_in1k", "in1k"),  # a higher-resolution fine-tune of an ImageNet-1k checkpoint
        ("cc12m", "cc12m"),
        (None, None),
    ],
)
def test_timm_pretrain(tag, expected):
    assert timm_pretrain(tag) == expected


def test_collapsed_runs_are_flagged_and_left_out():
    import pandas as pd

    from fennec_hub.records import collapsed_counts, collapsed_runs, trained_on_target

    values = [90.0, 91.0, 89.5, 92.0, 88.0, 90.5, 1.0, 1.1]  # two runs at chance (100 classes)
    rows = [dict(model=f"m{i}", dataset="uoft-cs/cifar100", metric="finetune_top1", value=v, source="s")
            for i, v in enumerate(values)]
    # a cluster cut off far below, by a model that is fine on another dataset: collapsed ...
    rows += [dict(model=f"m{i}", dataset="tanganke/dtd", metric="finetune_top1", value=v, source="s")
             for i, v in enumerate([70.0, 71.0, 69.0, 72.0, 68.0, 25.0, 70.5, 69.5])]
    # ... while a model weak everywhere is weak, not collapsed
    rows += [dict(model="weak", dataset=d, metric="finetune_top1", value=v, source="s")
             for d, v in (("uoft-cs/cifar100", 50.0), ("tanganke/dtd", 30.0))]
    table = pd.DataFrame(rows)
    flags = collapsed_runs(table)
    flagged = set(zip(table.loc[flags, "model"], table.loc[flags, "dataset"]))
    assert flagged == {("m6", "uoft-cs/cifar100"), ("m7", "uoft-cs/cifar100"), ("m5", "tanganke/dtd")}
    # The bundled records: TransferGraph's collapsed Food-101 runs (chance, and the 13.9% one) are out.
    records = load_records()
    food = records[(records["benchmark"] == "transfergraph_hf") & (records["dataset"] == "ethz/food101")]
    assert food.empty  # every one collapsed, but one by a checkpoint already trained on Food-101
    counts = collapsed_counts()
    assert counts["transfergraph_hf"] > 100 and counts.attrs["voided"] > 0
    # Runs of a checkpoint already trained on the target (its card declares the dataset) are out too.
    raw = load_records(include_collapsed=True)
    known = trained_on_target(raw)
    hit = raw[known & (raw["model"] == "Ahmed9275/Vit-Cifar100")]
    assert set(hit["dataset"]) == {"uoft-cs/cifar100"} and hit["value"].max() > 99
    assert not ((records["model"] == "Ahmed9275/Vit-Cifar100") & (records["dataset"] == "uoft-cs/cifar100")).any()
    assert counts.attrs["trained_on_target"] == {"transfergraph_hf": 22, "vtab1k_hf": 7}
    assert len(load_records(include_flagged=True)) == (len(records) + int(counts.sum()) + counts.attrs["voided"]
                                                       + sum(counts.attrs["trained_on_target"].values()))


def test_imagenet_quality_says_where_each_figure_comes_from():
    from fennec_hub.records import expected_imagenet_top1, imagenet_quality

    q = imagenet_quality(["timm/resnet50.tv_in1k", "facebook/convnext-tiny-224", "timm/convnext_tiny.fb_in1k",
                          "timm/convnext_large.fb_in22k", "keras/vgg16", "pytorchcv/resnet50", "someone/unknown"])
    src = q["imagenet_from"]
    assert src["timm/resnet50.tv_in1k"] == "own" and q.at["timm/resnet50.tv_in1k", "imagenet_top1"] == 76.156
    assert src["facebook/convnext-tiny-224"] == "same weights: timm/convnext_tiny.fb_in1k"
    assert (q.loc["facebook/convnext-tiny-224"].drop("imagenet_from")
            == q.loc["timm/convnext_tiny.fb_in1k"].drop("imagenet_from")).all()
    assert src["timm/convnext_large.fb_in22k"] == "fine-tuned sibling: timm/convnext_large.fb_in22k_ft_in1k"
    # An intermediate fine-tune borrows its own further ImageNet-1k fine-tune's figure (at its own
    # resolution); another pre-training run of the same network (augreg) lends nothing.
    sib = imagenet_quality(["timm/vit_huge_patch14_clip_224.laion2b_ft_in12k", "timm/hiera_base_224.mae",
                            "timm/convnext_large_mlp.clip_laion2b_soup_ft_in12k_384", "timm/convnext_base.clip_laion2b"])
    assert sib["imagenet_from"].tolist()[:3] == [
        "fine-tuned sibling: timm/vit_huge_patch14_clip_224.laion2b_ft_in12k_in1k",
        "fine-tuned sibling: timm/hiera_base_224.mae_in1k_ft_in1k",
        "fine-tuned sibling: timm/convnext_large_mlp.clip_laion2b_soup_ft_in12k_in1k_384"]
    assert pd.isna(sib.at["timm/convnext_base.clip_laion2b", "imagenet_top1"])
    # A bank's own weights carry their publisher's figure (Keras's VGG16 is not torchvision's) ...
    assert src["keras/vgg16"] == "keras-applications" and q.at["keras/vgg16", "imagenet_top1"] == 71.268
    # ... and PARC's fine-tunes of torchvision weights carry timm's evaluation of those weights.
    assert imagenet_quality(["parc/resnet50-nabird"])["imagenet_from"].iloc[0] == "same architecture: timm/resnet50.tv_in1k"
    assert src["pytorchcv/resnet50"] == "top-5 (pytorchcv)" and 70 < q.at["pytorchcv/resnet50", "imagenet_top1"] < 85
    assert pd.isna(src["someone/unknown"]) and pd.isna(q.at["someone/unknown", "imagenet_top1"])
    # torchvision's weights without a timm evaluation carry torchvision's published figure.
    tv = imagenet_quality(["torchvision/googlenet", "parc/googlenet-cub200", "torchvision/alexnet"])
    assert tv.at["torchvision/googlenet", "imagenet_top1"] == tv.at["parc/googlenet-cub200", "imagenet_top1"] == 69.778
    assert tv.at["torchvision/alexnet", "imagenet_top1"] == 56.522
    assert tv["imagenet_from"].str.startswith("torchvision: ").all()
    # Without any of those, the ImageNet-1k figure its own Hub card reports (VAN's authors' cards) ...
    card = imagenet_quality(["Visual-Attention-Network/van-base", "facebook/convnext-base-384", "Ahmed9275/ALL-3",
                             "google/vit-base-patch16-224"])
    assert card.at["Visual-Attention-Network/van-base", "imagenet_top1"] == pytest.approx(82.8)
    assert card.at["facebook/convnext-base-384", "imagenet_from"] == "its model card"
    # ... but not a card's own downstream accuracy on a kept ImageNet head (93% for a 28M Swin) ...
    assert pd.isna(card.at["Ahmed9275/ALL-3", "imagenet_top1"])
    # ... and never in place of timm's evaluation of the same weights (that card says 85.5%).
    assert card.at["google/vit-base-patch16-224", "imagenet_from"].startswith("same weights: timm/")
    assert card.at["google/vit-base-patch16-224", "imagenet_top1"] < 82
    # An unknown checkpoint's stand-in is cautious: below what the same size typically reaches.
    assert expected_imagenet_top1(25.0) < 80 and expected_imagenet_top1(25.0, 1.4e7) > expected_imagenet_top1(25.0)
    # Declared pre-training: larger networks stand higher, however large, and never above what the
    # largest evaluated checkpoints' lower quartile reaches; undeclared: never above the median.
    sizes = [86.0, 300.0, 1000.0, 4000.0]
    declared = [expected_imagenet_top1(p, 2e9) for p in sizes]
    assert all(a < b for a, b in zip(declared, declared[1:])) and declared[-1] - declared[1] < 0.5
    assert expected_imagenet_top1(4000.0) == expected_imagenet_top1(300.0) < declared[0]


def test_an_image_text_tower_without_a_fine_tune_stands_with_its_networks_evaluated_ones():
    """A CLIP tower without an ImageNet fine-tune is placed by the fine-tunes of towers of its
    architecture, not by its size: ViT-B/32 towers reach less than other 88M-parameter networks."""
    from fennec_hub.records import expected_imagenet_top1, imagenet_quality, network_top1

    evaluated = imagenet_quality(["timm/vit_base_patch32_clip_224.openai", "timm/vit_base_patch32_clip_224.laion2b",
                                  "timm/vit_base_patch16_clip_224.laion2b"])["imagenet_top1"]
    b32, how = network_top1("timm/vit_base_patch32_clip_224.laion400m_e32", 87.5)
    b16, _ = network_top1("timm/vit_base_patch16_clip_224.laion400m_e32", 85.8)
    assert how.endswith("vit_base_patch32_clip_224 checkpoints")
    # Level with the B/32 towers that have a fine-tune, where its size alone would put it above them
    # and level with the B/16 ones.
    assert abs(b32 - evaluated["timm/vit_base_patch32_clip_224.laion2b"]) < 1.0
    size_only = expected_imagenet_top1(87.5, 2e9)
    assert size_only > evaluated[:2].max() + 1.0 and abs(size_only - expected_imagenet_top1(85.8, 2e9)) < 0.2
    assert b16 > b32 + 2.0 and abs(b16 - evaluated["timm/vit_base_patch16_clip_224.laion2b"]) < 1.0
    # A network with no evaluated checkpoint of its own stands with its family's image-text towers.
    giant, how = network_top1("timm/vit_giant_patch14_clip_224.laion2b", 1011.2)
    assert how.endswith("image-text vit checkpoints") and giant > expected_imagenet_top1(1011.2, 2e9)
    # Towers trained another way lend nothing: an MAE ViT, a supervised ResNet, an unknown upload.
    assert network_top1("timm/vit_base_patch16_224.mae", 85.8) is None
    assert network_top1("timm/resnet50.a1_in1k", 25.6) is None and network_top1("someone/clip", 87.5) is None
