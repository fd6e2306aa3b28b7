"""recommend(): resolution, scoring, filters, explanations, zoo sources and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fennec_hub import recommend
from fennec_hub.cli import main as cli_main
from fennec_hub.datasets import UnknownDatasetError, resolve_dataset
from fennec_hub.ranking import (
    HUB_URL,
    RESULT_COLUMNS,
    FilterWarning,
    RecommendArgumentError,
    RecommendTypeError,
    format_table,
    model_url,
    parse_params,
)
from fennec_hub.zoo import MANIFEST, Zoo, settled

from test_zoo import make_small_zoo

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def zoo() -> Zoo:
    return make_small_zoo()


def test_columns_order_and_scores(zoo: Zoo):
    df = recommend("cifar100", zoo=zoo)
    assert list(df.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    assert len(df) == 10 and df["rank"].tolist() == list(range(1, 11))
    assert df["score"].is_monotonic_decreasing
    assert df["score"].between(0, 100).all()
    assert df["why"].map(lambda s: isinstance(s, str) and 10 < len(s) < 200).all()
    assert df.attrs["dataset"] == "uoft-cs/cifar100"
    assert df.attrs["n_models"] == len(zoo) == df.attrs["n_ranked"]


def test_ranking_is_the_matvec_of_model_and_task_vectors(zoo: Zoo):
    df = recommend("dtd", top_k=None, zoo=zoo)
    tv = zoo.space.task_vector("tanganke/dtd")
    raw = zoo.model_vectors @ tv.astype(np.float32)
    ids = np.array(zoo.model_ids, dtype=object)
    # best first; scores equal to 6 significant digits (float32 noise) tie, and ties go by model id
    expected = ids[np.lexsort((ids, -settled(raw, digits=6)))].tolist()
    assert df["model_id"].tolist() == expected
    np.testing.assert_allclose(df["raw_score"].to_numpy(), np.sort(raw)[::-1], rtol=1e-4, atol=1e-5)
    # the score is the raw score rescaled over the whole zoo: best model 100, worst 0
    assert df["score"].iloc[0] == 100.0 and df["score"].iloc[-1] == 0.0


def test_models_scored_alike_are_ordered_by_id_not_by_float_noise(zoo: Zoo):
    """Two models with the same vector, one nudged by float32 noise (as another BLAS build might sum
    it), tie and are listed by model id, whichever is nudged up."""
    ids = zoo.model_ids
    first, second = sorted(ids[:2])
    below = 1 - 2e-7 if recommend("dtd", top_k=None, zoo=zoo).set_index("model_id").at[second, "raw_score"] > 0 \
        else 1 + 2e-7  # the first by id is nudged below the second
    vectors = zoo.model_vectors.copy()
    vectors[ids.index(first)] = vectors[ids.index(second)] * np.float32(below)
    variant = Zoo(zoo.models, vectors, zoo.tasks, zoo.task_vectors, history=zoo.history, space=zoo.space,
                  info=dict(zoo.info))
    df = recommend("dtd", top_k=None, zoo=variant).set_index("model_id")
    raw = df["raw_score"]
    assert raw[first] != raw[second]
    assert df.at[first, "rank"] < df.at[second, "rank"]


def test_aliases_resolve_to_the_same_ranking(zoo: Zoo):
    a = recommend("cifar100", zoo=zoo)
    b = recommend("CIFAR-100", zoo=zoo)
    c = recommend("uoft-cs/cifar100", zoo=zoo)
    assert a["model_id"].tolist() == b["model_id"].tolist() == c["model_id"].tolist()


def test_known_model_on_known_task_explains_with_its_record(zoo: Zoo):
    df = recommend("cifar100", top_k=None, zoo=zoo)
    hist = zoo.history
    row = df[df["vector_source"] == "history"].iloc[0]
    rec = hist[(hist["model_id"] == row["model_id"]) & (hist["dataset"] == "uoft-cs/cifar100")]
    if len(rec):
        assert f"{rec['value'].iloc[0]:.1f}%" in row["why"] and "CIFAR-100" in row["why"]
    cold = df[df["vector_source"] == "cold_start"].iloc[0]
    assert cold["why"].startswith("Cold start (no fine-tuning records of its own): ")
    assert cold["family"] in cold["why"]


def test_filters(zoo: Zoo):
    df = recommend("food101", top_k=None, zoo=zoo, max_params="50M")
    assert len(df) and (df["params"].dropna() <= 50_000_000).all() and df["params"].notna().all()
    assert df.attrs["n_ranked"] == len(df) < len(zoo)
    df = recommend("food101", top_k=None, zoo=zoo, licenses=["Apache-2.0", "mit"])
    assert set(df["license"]) == {"apache-2.0", "mit"}
    df = recommend("food101", top_k=5, zoo=zoo, library="timm")
    assert set(df["library"]) == {"timm"} and len(df) == 5
    with pytest.warns(FilterWarning, match="no model of the zoo's 46 passes the filters"):
        df = recommend("food101", zoo=zoo, library="timm", max_params=1000)
    assert len(df) == 0 and list(df.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    # the filtered ranking is the unfiltered one with rows removed
    full = recommend("food101", top_k=None, zoo=zoo)
    small = recommend("food101", top_k=None, zoo=zoo, max_params=30_000_000)
    kept = full[full["params"].notna() & (full["params"] <= 30_000_000)]
    assert small["model_id"].tolist() == kept["model_id"].tolist()


@pytest.mark.parametrize("text,value", [("50M", 50_000_000), ("1.5B", 1_500_000_000), ("800k", 800_000),
                                        (" 25 m ", 25_000_000), (12345, 12345), (1.9, 1), ("1", 1),
                                        (10**15, 10**15), ("3e", None), ("-5M", None), ("0.5", None), (0.5, None),
                                        (0, None), (10**400, None), (float("inf"), None), (float("nan"), None),
                                        ("9" * 400, None), ("1001T", None)])
def test_parse_params(text, value):
    if value is None:
        with pytest.raises(RecommendArgumentError) as err:
            parse_params(text)
        assert err.value.argument == "max_params" and "max_params" in str(err.value)
    else:
        assert parse_params(text) == value


def test_bad_arguments(zoo: Zoo):
    with pytest.raises(ValueError):
        recommend("cifar100", top_k=0, zoo=zoo)
    with pytest.raises(ValueError):
        recommend("cifar100", zoo=zoo, licenses=[])
    with pytest.raises(TypeError):
        recommend("cifar100", zoo=42)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_params": 10**400}, RecommendArgumentError, "beyond any model"),
    ({"max_params": float("inf")}, RecommendArgumentError, "beyond any model"),
    ({"max_params": "9" * 400}, RecommendArgumentError, "beyond any model"),
    ({"max_params": "0.5"}, RecommendArgumentError, "at least 1 parameter"),
    ({"max_params": 0.5}, RecommendArgumentError, "at least 1 parameter"),
    ({"max_params": [50]}, RecommendTypeError, "max_params must be a number or a string"),
    ({"licenses": 5}, RecommendTypeError, "licenses must be a string or a list of strings"),
    ({"library": 5}, RecommendTypeError, "library must be a string or a list of strings"),
    ({"licenses": [5]}, RecommendTypeError, "licenses must be strings"),
    ({"library": b"timm"}, RecommendTypeError, "library must be a string"),
    ({"licenses": ""}, RecommendArgumentError, "licenses filter is empty"),
    ({"licenses": [" ", ","]}, RecommendArgumentError, "licenses filter is empty"),
    ({"protocol": []}, RecommendTypeError, "protocol must be a str"),
    ({"protocol": "imagenet"}, RecommendArgumentError, "unknown protocol 'imagenet'; choose one of"),
    ({"images": -1}, RecommendArgumentError, "images must be a positive integer"),
    ({"images": 0}, RecommendArgumentError, "images must be a positive integer"),
    ({"images": True}, RecommendTypeError, "images must be a positive integer"),
    ({"images": 10, "protocol": "keras"}, RecommendArgumentError, "cannot be combined"),
    ({"top_k": 2.5}, RecommendArgumentError, "top_k must be a positive integer"),
    ({"top_k": "3"}, RecommendTypeError, "top_k must be a positive integer"),
    ({"max_per_family": 0}, RecommendArgumentError, "max_per_family must be a positive integer"),
    ({"token": 5}, RecommendTypeError, "token must be"),
])
def test_bad_arguments_give_a_documented_error(zoo: Zoo, kwargs, error, match):
    with pytest.raises(error, match=match) as err:
        recommend("cifar100", zoo=zoo, **kwargs)
    assert isinstance(err.value, ValueError) and err.value.argument in kwargs


def test_a_dataset_that_is_not_a_name_is_a_type_error(zoo: Zoo):
    for bad in (5, None, ["cifar100"], b"cifar100"):
        with pytest.raises(RecommendTypeError, match="dataset must be"):
            recommend(bad, zoo=zoo)


def test_images_are_checked_before_the_zoo_is_asked(zoo: Zoo):
    """A bad image count is reported as such, not as a zoo without an image proxy."""
    assert "image" not in zoo.proxies
    with pytest.raises(RecommendArgumentError, match="images must be a positive integer or None, got -1") as err:
        recommend("cifar100", zoo=zoo, images=-1)
    assert "regressor" not in str(err.value)
    with pytest.raises(RecommendArgumentError, match="no image-proxy regressor"):
        recommend("cifar100", zoo=zoo, images=50)


def test_unknown_library_or_license_is_refused_with_the_zoos_own(zoo: Zoo):
    with pytest.raises(RecommendArgumentError, match="libraries in this zoo .*: transformers, timm") as err:
        recommend("cifar100", zoo=zoo, library="foo")
    assert err.value.argument == "library" and err.value.known == ["transformers", "timm"]
    with pytest.raises(RecommendArgumentError, match="no model in this zoo has license 'gpl-3.0'") as err:
        recommend("cifar100", zoo=zoo, licenses="gpl-3.0")
    assert set(err.value.known) == {"apache-2.0", "mit"} and "apache-2.0" in str(err.value)
    # one known value among unknown ones: the known one filters, a warning names the others
    with pytest.warns(FilterWarning, match="license 'gpl-3.0' matches no model in this zoo, so only mit filters"):
        df = recommend("cifar100", zoo=zoo, licenses=["MIT", "gpl-3.0"], top_k=None)
    assert set(df["license"]) == {"mit"}


def test_unknown_dataset_lists_close_names(zoo: Zoo):
    with pytest.raises(UnknownDatasetError) as err:
        recommend("cifar1000", zoo=zoo)
    assert "uoft-cs/cifar100" in err.value.suggestions
    assert "cifar100" in str(err.value)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_unknown_hub_dataset_offline_fails_fast_with_suggestions(zoo: Zoo, offline):
    t = time.perf_counter()
    with pytest.raises(UnknownDatasetError) as err:
        recommend("someone/cifar100", zoo=zoo)
    assert time.perf_counter() - t < 5
    assert "uoft-cs/cifar100" in err.value.suggestions


def test_task_without_history_is_placed_by_the_space(zoo: Zoo):
    # a registry dataset the records never mention: its stored vector came from the space's
    # metadata encoder; dropping it from the zoo makes recommend() encode it on the fly
    entry = resolve_dataset("beans")
    i = zoo.task_index(entry.id)
    assert zoo.tasks.iloc[i]["vector_source"] == "metadata"
    lean = Zoo(zoo.models, zoo.model_vectors, zoo.tasks.drop(index=i), np.delete(zoo.task_vectors, i, axis=0),
               history=zoo.history, space=zoo.space)
    a = recommend("beans", top_k=None, zoo=zoo)
    b = recommend("beans", top_k=None, zoo=lean)
    assert a["model_id"].tolist() == b["model_id"].tolist()
    assert b.attrs["task_vector_source"] == "metadata"


def test_nearest_tasks_differ_by_task(zoo: Zoo):
    near = {d: recommend(d, zoo=zoo).attrs["nearest_tasks"] for d in ("cifar100", "eurosat")}
    assert all(len(v) == 3 for v in near.values())
    assert "uoft-cs/cifar100" not in near["cifar100"] and "tanganke/eurosat" not in near["eurosat"]


def test_zoo_given_as_a_hub_repo(loophub, zoo: Zoo, unique_repo_id: str, hub_token: str):
    zoo.push_to_hub(unique_repo_id, token=hub_token)
    df = recommend("cifar100", zoo=unique_repo_id, token=hub_token)
    local = recommend("cifar100", zoo=zoo)
    assert df["model_id"].tolist() == local["model_id"].tolist()
    assert df.attrs["zoo_revision"] == loophub.commits("dataset", unique_repo_id)[0]


def _table_rows(text: str) -> list[str]:
    """The table of a format_table() text: the lines between the first blank line and the next."""
    lines = text.splitlines()
    start = lines.index("") + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_format_table_reads_at_a_glance(zoo: Zoo):
    df = recommend("cifar100", zoo=zoo, max_params="100M")
    text = format_table(df, width=200)
    lines = text.splitlines()
    assert "CIFAR-100" in lines[0] and "uoft-cs/cifar100" in lines[0]
    assert "ranked" in lines[1] and "score" in lines[2]
    assert any(line.startswith("filters: params <= 100M") for line in lines)
    table = _table_rows(text)
    assert table[0].split() == ["#", "model", "score", "params", "library", "license", "why"]
    assert len(table) == 11 and all(len(line) <= 200 for line in table)
    # columns align: the score column ends at the same offset in every row
    ends = {line.index(f"{s:5.1f}") + 5 for line, s in zip(table[1:], df["score"])}
    assert len(ends) == 1
    # each row's why is there (whole, or cut with an ellipsis)
    for line, why in zip(table[1:], df["why"]):
        assert why in line or line.rstrip().endswith("…")
    # under the table: how to load the first model, and which rows are fine-tunes of CIFAR-100 already
    load = next(line for line in lines if line.startswith("load #1: "))
    assert load == f'load #1: transformers.AutoModelForImageClassification.from_pretrained("{df["model_id"].iloc[0]}")'
    done = [f"#{r}" for r in df.loc[df["fine_tuned_on_query"], "rank"]]
    note = [line for line in lines if line.startswith("already fine-tuned on CIFAR-100")]
    assert note == ([f"already fine-tuned on CIFAR-100: {', '.join(done)} (use as is, or fine-tune further)"]
                    if done else [])


def test_format_table_narrow_terminal_puts_why_on_its_own_line(zoo: Zoo):
    df = recommend("cifar100", zoo=zoo, top_k=3)
    table = _table_rows(format_table(df, width=90))
    assert len(table) == 1 + 2 * 3 and all(len(line) <= 90 for line in table)
    assert table[2].startswith("      ") and table[2].strip()[:20] == df["why"].iloc[0][:20]


def _zoo_with_ids(zoo: Zoo, renames: dict[str, str], **columns) -> Zoo:
    """The test zoo with some model ids renamed and extra model columns (same vectors and space)."""
    models = zoo.models.copy()
    models["model_id"] = [renames.get(m, m) for m in models["model_id"]]
    for name, values in columns.items():
        models[name] = [values.get(m) for m in models["model_id"]]
    return Zoo(models, zoo.model_vectors, zoo.tasks, zoo.task_vectors, history=zoo.history, space=zoo.space)


def test_format_table_shows_whole_model_ids(zoo: Zoo):
    long_id = "an-organisation-with-a-long-name/" + "vit-base-patch16-224-in21k-finetuned-on-many-things-v2"
    top = recommend("cifar100", zoo=zoo, top_k=1)["model_id"].iloc[0]
    z = _zoo_with_ids(zoo, {top: long_id})
    df = recommend("cifar100", zoo=z, top_k=5)
    assert df["model_id"].iloc[0] == long_id and len(long_id) > 80
    for width in (80, 120, 160, 220):
        table = _table_rows(format_table(df, width=width))
        assert any(long_id in line for line in table), width
        # every model id is whole: the why gives way first
        for m in df["model_id"]:
            assert any(m in line for line in table)


def test_filters_line_names_every_filter(zoo: Zoo):
    def filters_line(df):
        return next(line for line in format_table(df, width=160).splitlines() if line.startswith("filters:"))

    assert filters_line(recommend("cifar100", zoo=zoo)) == "filters: none"
    assert filters_line(recommend("cifar100", zoo=zoo, max_per_family=1)) == (
        "filters: at most 1 model per architecture family")
    line = filters_line(recommend("cifar100", zoo=zoo, max_params="100M", licenses="mit", library="transformers",
                                  max_per_family=2, protocol="transfergraph_hf"))
    assert line == ("filters: params <= 100M; license in mit; library in transformers; at most 2 models per "
                    "architecture family; fine-tuning protocol: transfergraph_hf (ranked as its records rank models)")


def test_model_url():
    assert model_url("timm/resnet50.a1_in1k") == "https://huggingface.co/timm/resnet50.a1_in1k"
    assert model_url("google/vit-base-patch16-224") == HUB_URL + "google/vit-base-patch16-224"
    for off_hub in ("pytorchcv/resnet18", "keras/resnet50", "parc/resnet50_imagenet", "vtab/Sup-100%",
                    "torchvision/resnet50", "resnet50"):
        assert model_url(off_hub) is None


def test_output_columns_a_user_can_act_on(zoo: Zoo):
    z = _zoo_with_ids(
        zoo, {"local/tiny-vit": "pytorchcv/resnet18", "timm/efficientnet_b0.ra_in1k": "apple/mobileclip_s0_timm"},
        timm_name={"apple/mobileclip_s0_timm": "fastvit_mci0.apple_mclip"},
        downloads={"timm/resnet50.a1_in1k": 123456, "pytorchcv/resnet18": None},
        likes={"timm/resnet50.a1_in1k": 78},
        gated={"timm/resnet50.a1_in1k": "False", "timm/convnext_tiny.fb_in1k": "manual"},
    )
    df = recommend("cifar100", zoo=z, top_k=None)
    assert list(df.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    df = df.set_index("model_id")
    assert pd.isna(df.loc["pytorchcv/resnet18", "url"])
    assert df.loc["timm/resnet50.a1_in1k", "url"] == "https://huggingface.co/timm/resnet50.a1_in1k"
    # timm rows: the name timm.create_model takes; other libraries: none (their repo id is the name)
    assert df.loc["timm/resnet50.a1_in1k", "timm_name"] == "resnet50.a1_in1k"
    assert df.loc["apple/mobileclip_s0_timm", "timm_name"] == "fastvit_mci0.apple_mclip"
    assert df.loc[df["library"] == "transformers", "timm_name"].isna().all()
    # Hub popularity where the zoo has it, missing elsewhere
    assert df.loc["timm/resnet50.a1_in1k", "downloads"] == 123456 and df.loc["timm/resnet50.a1_in1k", "likes"] == 78
    assert df["downloads"].dtype == "Int64" and df["downloads"].isna().sum() == len(df) - 1
    assert df.loc["timm/resnet50.a1_in1k", "gated"] == False  # noqa: E712 (pandas boolean)
    assert df.loc["timm/convnext_tiny.fb_in1k", "gated"] == True  # noqa: E712
    assert df["gated"].isna().sum() == len(df) - 2
    assert df["fine_tuned_on_query"].dtype == bool


def test_popularity_and_source_columns_survive_save_and_load(zoo: Zoo, tmp_path: Path):
    z = _zoo_with_ids(zoo, {}, downloads={"timm/resnet50.a1_in1k": 5}, likes={"timm/resnet50.a1_in1k": 2},
                      gated={"timm/resnet50.a1_in1k": "auto"},
                      source_dataset={"timm/convnext_tiny.fb_in1k": "uoft-cs/cifar100"})
    loaded = Zoo.load(z.save(tmp_path / "zoo"))
    df = recommend("cifar100", zoo=loaded, top_k=None).set_index("model_id")
    row = df.loc["timm/resnet50.a1_in1k"]
    assert (row["downloads"], row["likes"], row["gated"]) == (5, 2, True)
    # the zoo's source dataset says which checkpoints are already fine-tuned on the query
    assert df.loc["timm/convnext_tiny.fb_in1k", "fine_tuned_on_query"]
    assert df.loc["timm/convnext_tiny.fb_in1k", "source_dataset"] == "uoft-cs/cifar100"
    assert not recommend("dtd", zoo=loaded, top_k=None).set_index("model_id").loc[
        "timm/convnext_tiny.fb_in1k", "fine_tuned_on_query"]


def test_cli_formats(zoo: Zoo, tmp_path: Path, capsys):
    d = zoo.save(tmp_path / "zoo")
    assert cli_main(["recommend", "cifar100", "--zoo", str(d), "--format", "json", "--top-k", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"] == "uoft-cs/cifar100" and len(out["results"]) == 3
    assert set(RESULT_COLUMNS) <= set(out["results"][0])
    assert cli_main(["recommend", "eurosat", "--zoo", str(d), "--format", "csv", "--library", "timm",
                     "--max-params", "30M", "--license", "apache-2.0,mit"]) == 0
    csv = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert set(csv["library"]) == {"timm"} and (csv["params"] <= 30e6).all()
    assert cli_main(["recommend", "cifar1000", "--zoo", str(d)]) == 1
    assert "cifar100" in capsys.readouterr().err


def test_cli_push(loophub, zoo: Zoo, tmp_path: Path, unique_repo_id: str, hub_token: str, capsys):
    d = zoo.save(tmp_path / "zoo")
    assert cli_main(["push", str(d), unique_repo_id, "--private", "--token", hub_token]) == 0
    url = capsys.readouterr().out.strip()
    assert loophub.commits("dataset", unique_repo_id)[0] in url


default_missing = not (REPO_ROOT / "fennec_hub" / "data" / "zoo" / MANIFEST).exists()


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_readme_command_works_with_no_network(tmp_path: Path):
    """`fennec-hub recommend cifar100` in a fresh process, offline, with an empty HF cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    env.pop("HF_ENDPOINT", None)
    out = subprocess.run([sys.executable, "-m", "fennec_hub.cli", "recommend", "cifar100"], env=env,
                         capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "CIFAR-100" in lines[0]
    table = _table_rows(out.stdout)
    ranks = [line.split()[0] for line in table[1:] if line.split() and line.split()[0].isdigit()]
    assert ranks == [str(i) for i in range(1, 11)]  # ten rows, the why under its row where ids are long


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_default_zoo_flags_checkpoints_already_fine_tuned_on_the_query():
    eurosat = recommend("eurosat", top_k=None).set_index("model_id")
    assert eurosat.loc["nielsr/vit-finetuned-eurosat-kornia", "fine_tuned_on_query"]
    assert eurosat.loc["nielsr/vit-finetuned-eurosat-kornia", "source_dataset"] == "tanganke/eurosat"
    flagged = eurosat[eurosat["fine_tuned_on_query"]]
    assert (flagged["source_dataset"] == "tanganke/eurosat").all() and 1 < len(flagged) < 100
    # ImageNet checkpoints are not fine-tunes of EuroSAT; the EuroSAT fine-tune is not one of CIFAR-100
    assert not eurosat.loc["timm/resnet50.a1_in1k", "fine_tuned_on_query"]
    cifar = recommend("cifar100", top_k=None).set_index("model_id")
    assert not cifar.loc["nielsr/vit-finetuned-eurosat-kornia", "fine_tuned_on_query"]
    top = recommend("eurosat", top_k=int(flagged["rank"].min()))
    done = ", ".join(f"#{r}" for r in top.loc[top["fine_tuned_on_query"], "rank"])
    assert done and f"already fine-tuned on EuroSAT: {done} " in format_table(top)


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_default_zoo_holds_the_source_datasets_of_the_feature_store():
    """A ranking reads where each checkpoint was last trained from the zoo alone: the build copies the
    feature store's source datasets into the zoo's column, so the store is read only for a zoo
    without one."""
    from fennec_hub.ranking import _stored_sources

    cols = Zoo.default().columns()
    column = dict(zip(cols["model_id"], cols["source_dataset"]))
    shared = {m: s for m, s in _stored_sources().items() if m in column}
    assert len(shared) > 50
    assert {m: s for m, s in shared.items() if column[m] != s} == {}


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_default_zoo_timm_names_are_what_timm_creates():
    """Every timm row's `timm_name` is a name timm.create_model accepts, for that very Hub repo."""
    timm = pytest.importorskip("timm")
    from timm.models import get_pretrained_cfg

    df = recommend("cifar100", top_k=None)
    rows = df[df["library"] == "timm"]
    assert rows["timm_name"].notna().all()
    # a transformers checkpoint has a timm name only where timm publishes the same weights
    others = df[df["library"] != "timm"]
    assert (others["timm_name"].notna() == others["same_weights_as"].fillna("").str.startswith("timm/")).all()
    pretrained = set(timm.list_pretrained())
    named = rows[~rows["timm_name"].str.startswith("hf-hub:")]
    assert len(named) > 1000
    for model_id, name in zip(named["model_id"], named["timm_name"]):
        assert timm.is_model(name), (model_id, name)
        if name in pretrained:  # (a few ids are timm's deprecated names, which it maps to current ones)
            assert get_pretrained_cfg(name).hf_hub_id == model_id, (model_id, name)
    # the other rows use the form timm reads from any Hub repo
    assert (rows.loc[rows["timm_name"].str.startswith("hf-hub:"), "timm_name"].str[len("hf-hub:"):]
            == rows.loc[rows["timm_name"].str.startswith("hf-hub:"), "model_id"]).all()
    # and the example of the docs builds (on the meta device: no weights)
    import torch

    name = df.set_index("model_id").loc["timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k", "timm_name"]
    assert name == "resnext101_32x8d.fb_wsl_ig1b_ft_in1k"
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    assert model.pretrained_cfg["hf_hub_id"] == "timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k"


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_default_zoo_rankings_differ_between_datasets():
    tops = {d: recommend(d)["model_id"].tolist() for d in ("cifar100", "food101", "dtd", "eurosat")}
    assert all(len(v) == 10 for v in tops.values())
    assert len({tuple(v) for v in tops.values()}) == 4


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_no_test_repository_is_a_candidate_in_the_default_zoo():
    """Test repositories are in the zoo's table, with the reason, and never in a ranking: by the
    repository's name (``nateraw/test_model_a``) or its owner's (``nates-test-org/convit_base``)."""
    from fennec_hub.build import _TOY_NAME

    table = Zoo.default().models.set_index("model_id")
    ranked = set(recommend("food101", top_k=None)["model_id"])
    toys = [m for m in table.index if any(_TOY_NAME.search(part) for part in m.split("/"))]
    assert {"nateraw/test_model_a", "nates-test-org/convit_base", "hf-internal-testing/tiny-random-vit",
            "lysandre/tiny-vit-random"} <= set(toys)
    assert not ranked & set(toys)
    assert table.loc["nates-test-org/convit_base", "excluded"] == "test repository (nates-test-org)"


def test_unknown_hub_dataset_is_resolved_and_placed_from_metadata(loophub, zoo: Zoo, unique_repo_id: str):
    """A Hub dataset id the registry does not know: fennec_hub.tasks reads its card, the space places it."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8) for _ in range(6)]
    repo = unique_repo_id.replace("/", "/leaf-disease-")
    loophub.add_image_dataset(repo, images, [0, 1, 2, 0, 1, 2], ["healthy", "rust", "blight"])
    df = recommend(repo, zoo=zoo, top_k=5)
    assert df.attrs["dataset"] == repo and df.attrs["task_vector_source"] == "metadata"
    assert len(df) == 5
    # the task was registered, so a second call needs no Hub request
    loophub.clear_log()
    again = recommend(repo, zoo=zoo, top_k=5)
    assert again["model_id"].tolist() == df["model_id"].tolist()
    assert loophub.calls() == []
    # under the protocol of the zoo's records, it is placed among that protocol's recorded tasks
    proto = recommend(repo, zoo=zoo, top_k=5, protocol="transfergraph_hf")
    assert proto.attrs["task_vector_source"] == "metadata" and proto.attrs["protocol"] == "transfergraph_hf"
    assert len(proto) == 5


def test_max_per_family_caps_each_family_and_keeps_the_order():
    import fennec_hub

    full = fennec_hub.recommend("cifar100", top_k=None)
    capped = fennec_hub.recommend("cifar100", top_k=10, max_per_family=1)
    assert len(capped) == 10
    assert capped["family"].dropna().is_unique
    # the capped list is the full ranking with the later members of each family removed (a model
    # of unknown family is a family of its own)
    family = full["family"].fillna(full["model_id"])
    expected = full[~family.duplicated()].head(10)["model_id"].tolist()
    assert capped["model_id"].tolist() == expected
    assert capped.attrs["filters"]["max_per_family"] == 1
    with pytest.raises(ValueError, match="max_per_family"):
        fennec_hub.recommend("cifar100", max_per_family=0)


def test_protocol_ranks_recorded_models_as_that_protocols_records_do():
    import fennec_hub
    from fennec_hub.ranking import protocols
    from fennec_hub.records import benchmark_records
    from scipy.stats import spearmanr

    assert set(protocols()) == {"transfergraph_hf", "vtab1k_hf", "parc", "keras", "fennec"}
    truth = benchmark_records("vtab1k_hf")
    truth = truth[truth["dataset"] == "tanganke/eurosat"].groupby("model")["value"].mean()
    ranked = {p: fennec_hub.recommend("eurosat", top_k=None, protocol=p).set_index("model_id")
              for p in (None, "vtab1k_hf")}
    truth = truth[truth.index.isin(ranked[None].index)]  # test and toy repositories are not candidates
    rho = {p: spearmanr(df.loc[truth.index, "raw_score"], truth).statistic for p, df in ranked.items()}
    # Under its own protocol a recorded task reproduces that protocol's records; the default follows
    # EuroSAT's full-data fine-tuning records, which rank models otherwise.
    assert rho["vtab1k_hf"] > 0.999 and rho[None] < rho["vtab1k_hf"] - 0.05
    full = benchmark_records("transfergraph_hf")
    full = full[full["dataset"] == "tanganke/eurosat"].groupby("model")["value"].mean()
    full = full[full.index.isin(ranked[None].index)]
    # (not exactly: without a protocol the records count at `protocol_transfer`, the rest is the prior,
    # and the source-similarity term lifts the checkpoints that were fine-tuned on EuroSAT)
    assert spearmanr(ranked[None].loc[full.index, "raw_score"], full).statistic > 0.95
    assert ranked["vtab1k_hf"].attrs["protocol"] == "vtab1k_hf"
    # A dataset without records is placed among the protocol's recorded tasks.
    new = fennec_hub.recommend("beans", top_k=10, protocol="vtab1k_hf")
    assert new.attrs["task_vector_source"] == "metadata" and len(new) == 10
    assert new["model_id"].tolist() != fennec_hub.recommend("beans", top_k=10)["model_id"].tolist()
    assert "fine-tuning protocol: vtab1k_hf" in format_table(new)
    with pytest.raises(ValueError, match="unknown protocol 'imagenet'; choose one of transfergraph_hf"):
        fennec_hub.recommend("beans", protocol="imagenet")
    with pytest.raises(ValueError, match="cannot be combined"):
        fennec_hub.recommend("beans", protocol="keras", images=10)


def test_explain_writes_the_why_of_the_best_rows_only(zoo: Zoo):
    full = recommend("cifar100", top_k=None, zoo=zoo)
    few = recommend("cifar100", top_k=None, zoo=zoo, explain=3)
    pd.testing.assert_frame_equal(full.drop(columns="why"), few.drop(columns="why"))
    assert few["why"].head(3).tolist() == full["why"].head(3).tolist() and (few["why"].iloc[3:] == "").all()
    with pytest.raises(RecommendArgumentError, match="explain"):
        recommend("cifar100", zoo=zoo, explain=0)


def test_why_names_how_a_record_was_obtained():
    """Figures of different protocols are not comparable: the explanation says which one it quotes
    (full fine-tuning, fine-tuning on 1,000 examples, linear probe), fine-tuning first."""
    df = recommend("oxford_pets", top_k=None, explain=3000).set_index("model_id")
    whys = df["why"].dropna()
    assert whys.str.contains("fine-tuned on 1,000 examples of Oxford-IIIT Pets in its records").any()
    assert whys.str.contains(r"% fine-tuned on Oxford-IIIT Pets in its records").any()
    # keras/efficientnetb3's weights were both fine-tuned and linear-probed on Pets: the fine-tune is quoted.
    assert "fine-tuned on Oxford-IIIT Pets" in df.at["timm/tf_efficientnet_b3.in1k", "why"]
    # A model with a full-data and a 1,000-example record of CIFAR-100 is quoted by the one the ranking
    # follows: full-data by default, the named protocol's otherwise.
    quoted = {p: recommend("cifar100", top_k=None, protocol=p).set_index("model_id").at["Frodnar/bee-likes", "why"]
              for p in (None, "vtab1k_hf")}
    assert "% fine-tuned on CIFAR-100 in its records" in quoted[None]
    assert "fine-tuned on 1,000 examples of CIFAR-100" in quoted["vtab1k_hf"]
    # A checkpoint already trained on CIFAR-100 (its card says so) re-fine-tuned on it measures what it
    # already knows, not transfer: that record is neither fitted nor quoted.
    leaked = recommend("cifar100", top_k=None).set_index("model_id").loc["Ahmed9275/Vit-Cifar100"]
    assert leaked["fine_tuned_on_query"] and "99.6%" not in leaked["why"] and leaked["rank"] > 100


def test_why_quotes_the_records_on_the_tasks_the_query_weighs():
    """A recorded model without a record of the query is explained by its records in the groups the
    query's task vector weighs, where its score comes from: CIFAR-100 for CIFAR-10 (TransferGraph
    recorded no CIFAR-10), not whatever record it ranks best in."""
    import copy

    df = recommend("cifar10", top_k=20).set_index("model_id")
    why = df.at["facebook/convnext-xlarge-224-22k", "why"]
    assert why.startswith("Ranked #") and "fine-tuned on CIFAR-100" in why and "close to this one" in why, why
    # A zoo without a transfer space to read the weights from names the tasks where models rank alike.
    bare = copy.copy(Zoo.default())
    bare._space = None
    alt = recommend("cifar10", top_k=20, zoo=bare)
    assert alt["model_id"].tolist() == df.index.tolist() and alt["why"].str.len().gt(20).all()
    assert alt.set_index("model_id").at["facebook/convnext-xlarge-224-22k", "why"] != why


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_why_of_a_model_recorded_only_far_from_the_query_gives_its_standing():
    """A recorded model whose records the query hardly weighs is placed by its standing over all of
    them: the explanation gives that standing (median and best), not one unrelated record as if it
    were the reason."""
    df = recommend("food101", top_k=None, explain=50).set_index("model_id")
    model = "facebook/data2vec-vision-large-ft1k"
    hist = Zoo.default().history_of(model)
    shares = sorted(r / n for *_, r, n in hist)
    median = int(np.ceil(100 * float(np.median(shares))))
    why = df.at[model, "why"]
    assert why.startswith(f"No records on tasks close to this one; placed by its standing across its {len(hist)} "
                          f"records (median: top {median}%; best: "), why
    ds, _, value, rank, n = hist[0]
    assert f"{value:.1f}%" in why and f"#{rank} of {n})" in why and rank / n == shares[0]
    assert not df["why"].str.startswith("Best record").any()


def test_a_cold_downstream_fine_tune_says_what_it_was_fine_tuned_on(zoo: Zoo):
    models = zoo.models.copy()
    models["source_dataset"] = None
    models.loc[models["model_id"] == "timm/convnext_tiny.fb_in1k", "source_dataset"] = "tanganke/eurosat"
    models.loc[models["model_id"] == "timm/resnet50.a1_in1k", "source_dataset"] = "ILSVRC/imagenet-1k"
    variant = Zoo(models, zoo.model_vectors, zoo.tasks, zoo.task_vectors, history=zoo.history, space=zoo.space,
                  info=dict(zoo.info))
    why = recommend("cifar100", top_k=None, zoo=variant).set_index("model_id")["why"]
    assert "fine-tuned on EuroSAT" in why["timm/convnext_tiny.fb_in1k"]
    assert "fine-tuned on" not in why["timm/resnet50.a1_in1k"]  # pre-training data is not a fine-tune



@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_a_cold_start_quotes_a_twin_only_under_the_protocol_the_twin_lends_to():
    """A twin's records count (and are quoted) only for a ranking under its own bank's protocol:
    `densenet201.tv_in1k`'s Keras twin under `protocol="keras"`, none without a protocol, and not the
    Keras twin under PARC's protocol."""
    def why(**protocol: str) -> str:
        df = recommend("oxford_pets", top_k=None, **protocol).set_index("model_id")
        return str(df.at["timm/densenet201.tv_in1k", "why"])

    assert "(keras/densenet201) ranks #" in why(protocol="keras")
    for text in (why(), why(protocol="parc")):
        assert text.startswith("Cold start (no fine-tuning records of its own): densenet architecture")
        assert "trained elsewhere" not in text

@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_a_hub_copy_of_a_timm_checkpoint_shows_the_timm_tags_pretraining_data():
    """Identical weights are one model for metadata too: the zoo's `pretrain` column of a Hub copy
    is what its timm twin's tag names (the Swin authors' base checkpoint is their 22k-to-1k one)."""
    from fennec_hub import Zoo
    from fennec_hub.records import same_weights

    models = Zoo.default().models.set_index("model_id")
    pairs = [(m, t) for m, t in same_weights().items() if m in models.index and t in models.index]
    assert len(pairs) >= 30
    for copy, timm_id in pairs:
        assert models.at[copy, "pretrain"] == models.at[timm_id, "pretrain"], (copy, timm_id)
    assert models.at["microsoft/swin-base-patch4-window7-224", "pretrain"] == "in21k"
    # A checkpoint uploaded twice to the Hub, both uploads with records (the ConvNeXt-XL conversion
    # under nielsr/ and facebook/): the timm copy and the second upload are the first upload's
    # copies, which borrow its ImageNet figure and pre-training data; a ranking lists it once, with
    # the timm name.
    for copy in ("timm/convnext_xlarge.fb_in22k", "nielsr/convnext-xlarge-224-22k"):
        assert models.at[copy, "same_as"] == "facebook/convnext-xlarge-224-22k"
    for upload in ("nielsr/convnext-xlarge-224-22k", "facebook/convnext-xlarge-224-22k"):
        assert models.at[upload, "imagenet_from"] == "fine-tuned sibling: timm/convnext_xlarge.fb_in22k_ft_in1k"
        assert models.at[upload, "pretrain"] == "in21k"
    ranked = recommend("svhn", top_k=None).set_index("model_id")
    assert "nielsr/convnext-xlarge-224-22k" not in ranked.index
    assert ranked.at["facebook/convnext-xlarge-224-22k", "same_weights_as"] == "timm/convnext_xlarge.fb_in22k"
    # Neither upload recorded (OpenAI's CLIP tower in transformers and in timm): the transformers
    # upload is the timm row's copy, with its ImageNet figure; listed once, unless a filter keeps
    # only the transformers copy, which then scores as the timm row does.
    clip, clip_timm = "openai/clip-vit-base-patch16", "timm/vit_base_patch16_clip_224.openai"
    assert models.at[clip, "same_as"] == clip_timm and models.at[clip, "vector_source"] == "cold_start"
    assert models.at[clip, "imagenet_top1"] == models.at[clip_timm, "imagenet_top1"] > 80
    assert clip not in ranked.index and ranked.at[clip_timm, "same_weights_as"] == clip
    only = recommend("svhn", top_k=None, library="transformers").set_index("model_id")
    assert only.at[clip, "raw_score"] == pytest.approx(ranked.at[clip_timm, "raw_score"])
    # Two copies of a recorded network the zoo does not list (Keras's EfficientNet-B0, published by
    # timm and by transformers): the timm copy stands for both, with the Keras records.
    assert models.at["google/efficientnet-b0", "same_as"] == models.at["timm/tf_efficientnet_b0.in1k", "same_as"] \
        == "keras/efficientnetb0" and "keras/efficientnetb0" not in models.index
    assert "google/efficientnet-b0" not in ranked.index
    assert ranked.at["timm/tf_efficientnet_b0.in1k", "same_weights_as"] == "google/efficientnet-b0"
    assert ranked.at["timm/tf_efficientnet_b0.in1k", "why"].startswith("Same weights as keras/efficientnetb0")
    assert only.at["google/efficientnet-b0", "raw_score"] == ranked.at["timm/tf_efficientnet_b0.in1k", "raw_score"]


def test_image_text_towers_without_a_fine_tune_stand_with_their_networks_in_the_default_zoo():
    """In the zoo users get, a CLIP tower without an ImageNet fine-tune ranks with the towers of its
    network that have one (ViT-B/32 below every ViT-B/16, ViT-L/14 above both), and says so."""
    ranked = recommend("resisc45", top_k=None).set_index("model_id")
    pos = {m: i for i, m in enumerate(ranked.index)}

    def tower(size: str, data: str) -> str:
        return f"timm/vit_{size}_clip_224.{data}"

    b32 = [pos[tower("base_patch32", d)] for d in ("openai", "laion2b", "laion400m_e32", "datacompxl")]
    b16 = [pos[tower("base_patch16", d)] for d in ("openai", "laion2b", "laion400m_e32", "datacompxl")]
    l14 = [pos[tower("large_patch14", d)] for d in ("openai", "laion2b", "laion400m_e32", "datacompxl")]
    assert max(l14) < min(b16) and max(b16) < min(b32)
    why = ranked.at[tower("base_patch32", "laion400m_e32"), "why"]
    assert "no ImageNet result (stand-in from the ImageNet results of 2 vit_base_patch32_clip_224 checkpoints)" in why
