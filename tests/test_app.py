"""The Gradio Space (spaces_app/app.py): its ranking handler, and the launched app via gradio_client.

Everything runs against the real `fennec_hub.recommend` and the embedded default zoo; the server
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fennec_hub
from fennec_hub import hub
from fennec_hub.datasets import UnknownDatasetError, list_datasets, resolve_dataset
from spacetools import free_port, model_of_cell

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_PATH = REPO_ROOT / "spaces_app" / "app.py"


def load_app_module():
    """Import spaces_app/app.py as a module (the Space folder is not a package)."""
    if "fennec_space_app" in sys.modules:
        return sys.modules["fennec_space_app"]
    spec = importlib.util.spec_from_file_location("fennec_space_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fennec_space_app"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app():
    return load_app_module()


@pytest.fixture(scope="module")
def registry_ids() -> list[str]:
    """Canonical ids of registry datasets that the default zoo ranks (at most 20)."""
    ids = []
    for entry in list_datasets():
        try:
            fennec_hub.recommend(entry.id, top_k=1)
        except Exception:
            continue
        ids.append(entry.id)
        if len(ids) == 20:
            break
    assert len(ids) >= 5, "the default zoo should rank most registry datasets"
    return ids


def assert_table_matches(table_rows: list[list], expected: pd.DataFrame) -> None:
    """Visible rows == recommend() rows: same order, ids, ranks, links, scores, sizes, licenses."""
    assert len(table_rows) == len(expected) > 0
    for row, exp in zip(table_rows, expected.itertuples(index=False)):
        rank, model_cell, score, params_m, library, license_, why = row
        assert int(rank) == exp.rank
        assert model_of_cell(model_cell) == exp.model_id
        if exp.model_id.startswith(("pytorchcv/", "keras/", "parc/", "vtab/", "torchvision/")):
            assert "](" not in model_cell
        else:
            link = f"[{exp.model_id}](https://huggingface.co/{exp.model_id})"
            other = exp.same_weights_as
            assert model_cell == link + (f" · same weights: [{other}](https://huggingface.co/{other})"
                                         if isinstance(other, str) else "")
        assert float(score) == pytest.approx(float(exp.score), abs=0.051)
        if pd.isna(exp.params):
            assert params_m is None or (isinstance(params_m, float) and np.isnan(params_m))
        else:
            assert float(params_m) == pytest.approx(exp.params / 1e6, abs=0.051)
        assert library == ("" if pd.isna(exp.library) else str(exp.library))
        assert license_ == ("unknown" if pd.isna(exp.license) else str(exp.license))
        assert why == exp.why


def plot_spec(plot) -> dict:
    """The Plotly figure behind a /rank plot value: a gr.Plot value or the dict gradio_client returns."""
    assert plot is not None
    payload = plot if isinstance(plot, dict) else plot.model_dump()
    assert payload["type"] == "plotly"
    return json.loads(payload["plot"])


def assert_plot_matches(spec: dict, ranked: pd.DataFrame, top_k: int) -> None:
    """Every sized checkpoint of the ranking is a hoverable point; the top-k and the Pareto front are marked."""
    assert spec["layout"]["xaxis"]["type"] == "log"
    traces = {t["name"].split(" (")[0]: t for t in spec["data"]}
    assert set(traces) == {"other checkpoints", "Pareto front", f"your top {min(top_k, len(ranked))}"}
    sized = ranked[pd.to_numeric(ranked["params"], errors="coerce").gt(0)]
    top, other, front = traces[f"your top {min(top_k, len(ranked))}"], traces["other checkpoints"], traces["Pareto front"]
    assert top["text"] == [m for m in sized["model_id"] if m in set(ranked["model_id"].head(top_k))]
    assert sorted(top["text"] + other["text"]) == sorted(sized["model_id"])
    for trace in (top, other, front):
        assert "%{text}" in trace["hovertemplate"]  # hovering a point names its model
        by_id = sized.set_index("model_id")
        assert trace["y"] == pytest.approx(by_id.loc[trace["text"], "score"].astype(float).tolist(), abs=0.01)
        assert trace["x"] == pytest.approx((by_id.loc[trace["text"], "params"].astype(float) / 1e6).tolist(),
                                           rel=1e-3)
        assert trace["customdata"] == by_id.loc[trace["text"], "rank"].astype(int).tolist()
    p = (sized["params"].astype(float) / 1e6).round(3).to_numpy()
    expected_front = sized["model_id"].to_numpy()[load_app_module().pareto_front(p, sized["score"].to_numpy(float))]
    assert front["text"] == expected_front.tolist() and front["line"]["shape"] == "hv"
    assert np.all(np.diff(front["x"]) > 0) and np.all(np.diff(front["y"]) > 0)


# ---------------------------------------------------------------------------- ranking handler
@pytest.mark.parametrize("dataset", ["cifar100", "food101", "dtd", "eurosat"])
def test_rank_matches_recommend(app, dataset):
    table, plot, message = app.rank(dataset, 7)
    expected = fennec_hub.recommend(dataset, top_k=7)
    assert list(table.columns) == app.TABLE_COLUMNS
    assert_table_matches(table.values.tolist(), expected)
    entry = resolve_dataset(dataset)
    assert entry.name in message and entry.id in message and "ms" in message
    # The plot: the whole zoo on a log size axis, the top-k and the Pareto front marked.
    assert_plot_matches(plot_spec(plot), fennec_hub.recommend(dataset, top_k=None), 7)
    # The CSV, written when asked for: the same rows with their raw columns and a link column.
    csv_path = app.ranking_csv(dataset, 7)
    csv = pd.read_csv(csv_path)
    assert csv["model_id"].tolist() == expected["model_id"].tolist()
    assert csv["rank"].tolist() == expected["rank"].tolist()
    assert {"score", "params", "license", "why", "url"} <= set(csv.columns)
    assert Path(csv_path).name.startswith("fennec_hub_") and csv_path.endswith(".csv")


def test_a_checkpoint_published_twice_links_its_other_upload(app):
    """One model, one row: the Model cell links the id the ranking lists and the other upload of the
    same weights (a facebook/ ConvNeXt beside its timm copy)."""
    table, _, _ = app.rank("cifar100", 10)
    expected = fennec_hub.recommend("cifar100", top_k=10)
    twice = expected[expected["same_weights_as"].notna()]
    assert len(twice)
    for cell, (model_id, other) in zip(table["Model"].iloc[twice.index], twice[["model_id", "same_weights_as"]].values):
        assert model_of_cell(cell) == model_id
        assert cell.endswith(f" · same weights: [{other}](https://huggingface.co/{other})")
    alone = expected["same_weights_as"].isna()
    assert not table["Model"][alone.to_numpy()].str.contains("same weights").any()


def test_plot_shows_names_from_a_zoo_as_text_not_markup(app):
    ranked = pd.DataFrame({"rank": [1, 2, 3], "model_id": ["acme/<a href='javascript:alert(1)'>x</a>", "acme/ok",
                                                           "acme/<b>bold</b>"],
                           "score": [100.0, 50.0, 0.0], "params": pd.array([10**6, 2 * 10**6, None], dtype="Int64")})
    spec = app.transfer_plot(ranked, 2, "<img src=x onerror=alert(1)>")
    texts = [t for trace in spec["data"] for t in trace["text"]]
    assert "acme/&lt;a href='javascript:alert(1)'&gt;x&lt;/a&gt;" in texts and "acme/ok" in texts
    assert not any("<" in t for t in texts) and "<img" not in spec["layout"]["title"]["text"]
    assert "1 of unknown size not shown" in spec["layout"]["xaxis"]["title"]["text"]


def test_a_ranking_is_reused_for_another_top_k_but_not_for_other_filters(app, monkeypatch):
    calls = []
    real = fennec_hub.recommend

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(fennec_hub, "recommend", counting)
    for k in (3, 12, 3):
        table, plot, _ = app.rank("svhn", k, "50M")
        assert_table_matches(table.values.tolist(), real("svhn", top_k=k, max_params="50M"))
        assert_plot_matches(plot_spec(plot), real("svhn", top_k=None, max_params="50M"), k)
    assert len(calls) <= 1  # at most the first call ranks (another test may have ranked it already)
    table, *_ = app.rank("svhn", 5, "25M")
    assert_table_matches(table.values.tolist(), real("svhn", top_k=5, max_params="25M"))
    monkeypatch.setenv("FENNEC_SPACE_RANK_CACHE", "0")
    calls.clear()
    for _ in range(2):
        app.rank("svhn", 4, "10M")
    assert len(calls) == 2


def test_rank_filters_match_recommend(app):
    zoo = fennec_hub.Zoo.default()
    library = zoo.models["library"].dropna().value_counts().index[0]
    licenses = zoo.models["license"].dropna().value_counts().index[:2].tolist()
    table, plot, message = app.rank("food101", 10, "100M", licenses, library)
    expected = fennec_hub.recommend("food101", top_k=10, max_params="100M", licenses=licenses, library=library)
    assert_table_matches(table.values.tolist(), expected)
    assert (table["Params (M)"] <= 100).all()
    assert set(table["License"]) <= set(licenses)
    assert set(table["Library"]) == {library}
    assert "100M" in message and library in message


def test_rank_follows_a_fine_tuning_protocol(app):
    table, _, message = app.rank("eurosat", 8, protocol="vtab1k_hf")
    expected = fennec_hub.recommend("eurosat", top_k=8, protocol="vtab1k_hf")
    assert_table_matches(table.values.tolist(), expected)
    assert expected["model_id"].tolist() != fennec_hub.recommend("eurosat", top_k=8)["model_id"].tolist()
    assert "VTAB-1k" in message
    from fennec_hub.ranking import protocols

    assert {value for _, value in app.PROTOCOL_CHOICES} == {app.ANY, *protocols()}
    table, *_, message = app.rank("eurosat", 8, protocol="imagenet")
    assert table.empty and "unknown protocol" in message


def test_rank_can_show_one_checkpoint_per_architecture_family(app):
    """The checkbox (or a number through the API) caps each architecture family, as
    recommend(max_per_family=...) does; the message names the cap; unreadable values mean no cap."""
    table, _, message = app.rank("cifar10", 10, per_family=True)
    expected = fennec_hub.recommend("cifar10", top_k=10, max_per_family=1)
    assert_table_matches(table.values.tolist(), expected)
    assert expected["family"].is_unique
    assert "at most 1 per architecture family" in message
    uncapped = fennec_hub.recommend("cifar10", top_k=10)
    assert not uncapped["family"].is_unique  # one network's tags fill the uncapped list
    two, *_ = app.rank("cifar10", 10, per_family="2")
    assert_table_matches(two.values.tolist(), fennec_hub.recommend("cifar10", top_k=10, max_per_family=2))
    for value, cap in ((False, None), (None, None), ("", None), ("any", None), (0, None), (float("nan"), None),
                       ("true", 1), (3.7, 3), (10**9, app.TOP_K_MAX)):
        assert app.read_query("cifar10", per_family=value).per_family == cap, value


def test_rank_accepts_ui_defaults(app):
    """'any' and empty selections mean no filter, exactly like recommend() without filters."""
    table, *_ = app.rank("  dtd ", 5.0, "any", [], "any", "")
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("dtd", top_k=5))


def test_pasted_hub_url_ranks_its_dataset(app):
    table, *_ = app.rank("https://huggingface.co/datasets/uoft-cs/cifar100/viewer", 3)
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("uoft-cs/cifar100", top_k=3))


def test_pareto_front_is_the_set_of_undominated_models(app):
    rng = np.random.default_rng(0)
    params, scores = rng.uniform(1, 500, 80), rng.uniform(0, 100, 80)  # no ties
    front = app.pareto_front(params, scores)
    undominated = [i for i in range(80) if not np.any((params < params[i]) & (scores > scores[i]))]
    assert sorted(front.tolist()) == undominated
    assert np.all(np.diff(params[front]) > 0) and np.all(np.diff(scores[front]) > 0)
    # Of two models of the same size only the better one is on the front.
    assert app.pareto_front(np.array([10.0, 10.0, 20.0]), np.array([50.0, 60.0, 55.0])).tolist() == [1]


def test_old_csv_files_are_cleaned_up_and_ranking_goes_on(app):
    """CSV folders older than an hour are removed by the next ranking, which still answers."""
    first_csv = app.ranking_csv("dtd", 3)
    folder = Path(first_csv).parent
    two_hours_ago = time.time() - 2 * 3600
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (two_hours_ago, two_hours_ago))
    table, _, message = app.rank("dtd", 3)
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("dtd", top_k=3))
    csv_path = app.ranking_csv("dtd", 3)
    assert pd.read_csv(csv_path)["model_id"].tolist() == fennec_hub.recommend("dtd", top_k=3)["model_id"].tolist()
    assert not folder.exists()


def test_licenses_as_text_are_license_ids_not_characters(app):
    """The API may send the licenses as one comma-separated string instead of a list."""
    licenses = fennec_hub.Zoo.default().models["license"].dropna().value_counts().index[:2].tolist()
    expected = fennec_hub.recommend("food101", top_k=10, licenses=licenses)
    for given in (", ".join(licenses), f" {licenses[0]} ,{licenses[1]},", licenses):
        table, *_, message = app.rank("food101", 10, None, given)
        assert_table_matches(table.values.tolist(), expected)
        assert all(lic in message for lic in licenses)
    table, *_ = app.rank("food101", 10, None, licenses[0])
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("food101", top_k=10, licenses=licenses[0]))


@pytest.mark.parametrize("value", [10**400, float("inf"), "inf", "9" * 400, "10000T", "any", "", " ", None],
                         ids=["10**400", "inf", "'inf'", "400 nines", "10000T", "any", "empty", "blank", "None"])
def test_max_params_beyond_any_checkpoint_means_no_limit(app, value):
    table, *_, message = app.rank("dtd", 5, value)
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("dtd", top_k=5))
    assert "filters" not in message


@pytest.mark.parametrize("value", [-5, 0, 0.5, "0.4", float("nan"), float("-inf"), True, "lots", "-3M", "1e400",
                                   "x" * 500],
                         ids=lambda v: repr(v)[:16])
def test_unreadable_max_params_get_a_message(app, value):
    message = _assert_failed(app.rank("dtd", 5, value))
    assert "Max parameters must be a positive parameter count" in message


@pytest.mark.parametrize("value, rows", [(float("inf"), 100), (10**400, 100), (-(10**400), 1), (float("-inf"), 1),
                                         (float("nan"), 10), ("7", 7), ("seven", 10), (None, 10), (3.9, 3),
                                         ([], 10)], ids=lambda v: repr(v)[:16])
def test_any_top_k_gives_a_table(app, value, rows):
    table, *_ = app.rank("cifar100", value)
    assert_table_matches(table.values.tolist(), fennec_hub.recommend("cifar100", top_k=rows))


# ---------------------------------------------------------------------------- friendly messages
def _assert_failed(result) -> str:
    """A failed ranking: empty table with the usual columns, no plot, a readable message."""
    table, figure, message = result
    assert table.empty and list(table.columns) == load_app_module().TABLE_COLUMNS
    assert figure is None
    assert "Traceback" not in message and message.strip()
    return message


def test_unknown_dataset_lists_the_registry_suggestions(app):
    with pytest.raises(UnknownDatasetError) as info:
        resolve_dataset("cifar1000")
    message = _assert_failed(app.rank("cifar1000", 5))
    assert "cifar1000" in message
    assert info.value.suggestions and all(f"`{s}`" in message for s in info.value.suggestions)


def test_empty_and_hostile_inputs(app):
    assert "example" in _assert_failed(app.rank("", 5)).lower()
    assert "example" in _assert_failed(app.rank(None, 5)).lower()
    assert "too long" in _assert_failed(app.rank("x" * 500, 5))
    message = _assert_failed(app.rank("<img src=x onerror=alert(1)>", 5))
    assert "\\<img" in message and not re.search(r"(?<!\\)<img", message)  # escaped for Markdown
    assert "parameter count" in _assert_failed(app.rank("dtd", 5, "lots"))
    assert "filters" in _assert_failed(app.rank("dtd", 5, "1k"))
    assert "not a valid Hub dataset id" in _assert_failed(app.rank("dtd", 5, zoo_repo="not a repo"))
    assert "not a valid Hub dataset id" in _assert_failed(app.rank("dtd", 5, zoo_repo="foo/bar--baz"))


def test_gated_and_missing_hub_datasets(app, loophub):
    readme = "---\nlicense: mit\ntask_categories: [image-classification]\n---\n# Birds\n"
    loophub.add_repo("dataset", "acme/gated-birds", {"README.md": readme}, gated=True)
    message = _assert_failed(app.rank("acme/gated-birds", 5))
    assert "gated" in message and "acme/gated-birds" in message
    message = _assert_failed(app.rank("acme/no-such-dataset", 5))
    assert "no dataset" in message.lower() and "acme/no-such-dataset" in message


def test_hub_errors_become_messages(app, monkeypatch):
    """Whatever the Hub layer raises while ranking, the visitor gets a sentence, never a traceback."""
    cases = {
        hub.GatedRepo("gated"): "gated",
        hub.RepoNotFound("missing"): "no dataset",
        hub.HubOffline("offline"): "cannot be reached",
        RuntimeError("boom"): "bug",
    }
    for error, words in cases.items():
        def fail(*args, _error=error, **kwargs):
            raise _error

        monkeypatch.setattr(fennec_hub, "recommend", fail)
        assert words in _assert_failed(app.rank("someone/some-images", 5)).lower()


@pytest.mark.skipif("max_bytes" not in inspect.signature(fennec_hub.Zoo.from_hub).parameters,
                    reason="the Space downloads Hub zoos with Zoo.from_hub(..., max_bytes=cap), which this "
                           "fennec_hub does not offer yet")
def test_zoo_repo_from_the_hub(app, loophub, hub_token):
    """The advanced field ranks a published zoo; a missing one gets a message."""
    message = _assert_failed(app.rank("dtd", 5, zoo_repo="acme/no-such-zoo"))
    assert "acme/no-such-zoo" in message and "built-in zoo" in message
    zoo = fennec_hub.Zoo.default()
    repo = "fennec-tester/space-zoo"
    zoo.push_to_hub(repo, token=hub_token)
    table, plot, message = app.rank("dtd", 5, zoo_repo=repo)
    expected = fennec_hub.recommend("dtd", top_k=5, zoo=fennec_hub.Zoo.from_hub(repo))
    assert_table_matches(table.values.tolist(), expected)


# ---------------------------------------------------------------------------- zoo loads from the Hub
def test_token_buckets_refill_per_key():
    app = load_app_module()
    now = [1000.0]
    buckets = app.TokenBuckets(2, 60.0, max_keys=3, clock=lambda: now[0])
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(60.0)  # empty: the next token comes in a minute
    assert buckets.take("b") == 0.0  # visitors do not share a bucket
    now[0] += 30
    assert buckets.take("a") == pytest.approx(30.0)  # half a token so far; a refusal costs nothing
    now[0] += 30
    assert buckets.take("a") == 0.0 and buckets.take("a") > 0
    now[0] += 3600
    assert buckets.take("a") == 0.0 and buckets.take("a") == 0.0 and buckets.take("a") > 0  # capped at 2
    for key in ("c", "d", "e"):
        buckets.take(key)
    assert buckets.take("b") == 0.0 and len(buckets._buckets) == 3  # least recently used dropped


class FakeHubZoos:
    """Stands in for Zoo.from_hub: counts downloads; a repo named *missing* is not on the Hub."""

    def __init__(self):
        self.loaded: list[tuple[str, int]] = []

    def __call__(self, repo_id, revision=None, token=None, *, max_bytes=None, **kwargs):
        self.loaded.append((repo_id, max_bytes))
        if "missing" in repo_id:
            raise hub.RepoNotFound(f"{repo_id} not found")
        return fennec_hub.Zoo.default()


@pytest.fixture
def hub_zoos(app, monkeypatch):
    fake = FakeHubZoos()
    monkeypatch.setattr(fennec_hub.Zoo, "from_hub", fake)
    monkeypatch.setattr(app, "_zoos", {k: v for k, v in app._zoos.items() if not k})
    for name in ("FENNEC_ZOO", "FENNEC_SPACE_ZOO_ALLOW", "FENNEC_SPACE_ZOO_DENY", "FENNEC_SPACE_PROXY_HOPS",
                 "SPACE_ID", "FENNEC_SPACE_MAX_ZOO_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FENNEC_SPACE_ZOO_LOADS", "2")
    monkeypatch.setenv("FENNEC_SPACE_ZOO_LOAD_EVERY_S", "3600")
    monkeypatch.setattr(app, "_zoo_loads", None)
    return fake


def visitor(host: str, forwarded: str | None = None):
    import gradio as gr

    return gr.Request(client={"host": host}, headers={"x-forwarded-for": forwarded} if forwarded else {},
                      session_hash=f"session-{host}")


def test_each_visitor_may_load_only_a_few_zoos_from_the_hub(app, hub_zoos):
    expected = fennec_hub.recommend("dtd", top_k=4)
    for repo in ("acme/zoo-a", "acme/zoo-b"):
        table, *_ = app.rank("dtd", 4, zoo_repo=repo, request=visitor("10.0.0.1"))
        assert_table_matches(table.values.tolist(), expected)
    message = _assert_failed(app.rank("dtd", 4, zoo_repo="acme/zoo-c", request=visitor("10.0.0.1")))
    assert "loaded several zoos for you recently" in message and "60 min" in message
    assert [repo for repo, _ in hub_zoos.loaded] == ["acme/zoo-a", "acme/zoo-b"]
    # Zoos already loaded cost nothing, and the built-in zoo always works.
    for repo in ("acme/zoo-a", "acme/zoo-b", "", None):
        table, *_ = app.rank("dtd", 4, zoo_repo=repo, request=visitor("10.0.0.1"))
        assert_table_matches(table.values.tolist(), expected)
    # Another visitor has a budget of their own; a failed load (repo not found) spends it too.
    assert "No zoo repo" in _assert_failed(app.rank("dtd", 4, zoo_repo="acme/missing-1", request=visitor("10.0.0.2")))
    assert "No zoo repo" in _assert_failed(app.rank("dtd", 4, zoo_repo="acme/missing-2", request=visitor("10.0.0.2")))
    assert "recently" in _assert_failed(app.rank("dtd", 4, zoo_repo="acme/zoo-c", request=visitor("10.0.0.2")))
    assert len(hub_zoos.loaded) == 4
    # The CSV endpoint goes through the same zoo loading.
    assert app.ranking_csv("dtd", 4, zoo_repo="acme/zoo-c", request=visitor("10.0.0.2")) is None


def test_behind_the_hub_proxy_the_forwarded_address_is_the_visitor(app, hub_zoos, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/fennec")  # on a Space: one trusted proxy hop by default
    proxy = "10.9.9.9"
    assert app.visitor_of(visitor(proxy, "6.6.6.6, 203.0.113.7")) == "203.0.113.7"  # first entry is spoofable
    for i in range(2):
        app.rank("dtd", 3, zoo_repo=f"acme/a{i}", request=visitor(proxy, f"1.1.1.{i}, 203.0.113.7"))
    assert "recently" in _assert_failed(app.rank("dtd", 3, zoo_repo="acme/a9", request=visitor(proxy, "203.0.113.7")))
    table, *_ = app.rank("dtd", 3, zoo_repo="acme/b0", request=visitor(proxy, "198.51.100.4"))
    assert not table.empty
    monkeypatch.setenv("FENNEC_SPACE_PROXY_HOPS", "0")
    assert app.visitor_of(visitor(proxy, "198.51.100.4")) == proxy


def test_zoo_allow_and_deny_lists(app, hub_zoos, monkeypatch):
    monkeypatch.setenv("FENNEC_SPACE_ZOO_ALLOW", "acme/*, fennec-hub/default-zoo")
    monkeypatch.setenv("FENNEC_SPACE_ZOO_DENY", "acme/private-*")
    message = _assert_failed(app.rank("dtd", 3, zoo_repo="mallory/huge-repo", request=visitor("10.0.0.3")))
    assert "set not to load the zoo" in message and "mallory/huge-repo" in message and "acme/\\*" in message
    assert "set not to load" in _assert_failed(app.rank("dtd", 3, zoo_repo="acme/private-zoo"))
    for repo in ("acme/public-zoo", "fennec-hub/default-zoo"):
        assert not app.rank("dtd", 3, zoo_repo=repo, request=visitor("10.0.0.3"))[0].empty
    assert [r for r, _ in hub_zoos.loaded] == ["acme/public-zoo", "fennec-hub/default-zoo"]
    # The Space's own zoo ($FENNEC_ZOO) is the owner's choice: no list and no budget applies to it.
    monkeypatch.setenv("FENNEC_ZOO", "owner/zoo")
    monkeypatch.setenv("FENNEC_SPACE_ZOO_ALLOW", "nothing/*")
    assert not app.rank("dtd", 3, request=visitor("10.0.0.4"))[0].empty
    assert hub_zoos.loaded[-1][0] == "owner/zoo"


def test_hub_zoos_are_downloaded_with_a_size_cap(app, hub_zoos, monkeypatch):
    app.rank("dtd", 3, zoo_repo="acme/zoo-x")
    monkeypatch.setenv("FENNEC_SPACE_MAX_ZOO_BYTES", "12345678")
    app.rank("dtd", 3, zoo_repo="acme/zoo-y")
    assert hub_zoos.loaded == [("acme/zoo-x", 200_000_000), ("acme/zoo-y", 12_345_678)]


def test_a_slow_zoo_download_does_not_hold_up_other_rankings(app, hub_zoos, monkeypatch):
    release = threading.Event()
    started = threading.Event()

    def slow(repo_id, *args, **kwargs):
        started.set()
        assert release.wait(30)
        return fennec_hub.Zoo.default()

    monkeypatch.setattr(fennec_hub.Zoo, "from_hub", slow)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(app.rank, "dtd", 3, zoo_repo="acme/slow-zoo")
        assert started.wait(30)
        table, *_ = app.rank("food101", 3)  # the built-in zoo, while the download is under way
        assert_table_matches(table.values.tolist(), fennec_hub.recommend("food101", top_k=3))
        assert not pending.done()
        release.set()
        assert_table_matches(pending.result(timeout=30)[0].values.tolist(), fennec_hub.recommend("dtd", top_k=3))


# ---------------------------------------------------------------------------- launched app
@pytest.fixture(scope="module")
def served(app, tmp_path_factory):
    demo = app.build_demo(picker="textbox")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, share=False, **app.launch_options())
    assert url.startswith("http://127.0.0.1:")
    yield url, tmp_path_factory.mktemp("client-downloads")
    demo.close()


def _client(url: str, downloads: Path):
    from gradio_client import Client

    # Plain http on 127.0.0.1: no TLS context to build (that alone costs ~0.5 s per client).
    return Client(url, verbose=False, analytics_enabled=False, download_files=str(downloads), ssl_verify=False)


def test_launched_app_ranks_through_gradio_client(served):
    url, downloads = served
    client = _client(url, downloads)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/csv", "/rank"]
    query = dict(dataset="eurosat", top_k=6, max_params="any", licenses=[], library="any", zoo_repo="",
                 protocol="any")
    table, plot, message = client.predict(**query, api_name="/rank")
    expected = fennec_hub.recommend("eurosat", top_k=6)
    assert table["headers"] == [c for c in load_app_module().TABLE_COLUMNS]
    assert_table_matches(table["data"], expected)
    assert_plot_matches(plot_spec(plot), fennec_hub.recommend("eurosat", top_k=None), 6)
    assert "EuroSAT" in message
    # The CSV only when asked for, from the same inputs.
    csv_path = client.predict(**query, api_name="/csv")
    assert pd.read_csv(csv_path)["model_id"].tolist() == expected["model_id"].tolist()

    table, plot, message = client.predict(
        dataset="cifar1000", top_k=6, max_params="any", licenses=[], library="any", zoo_repo="", api_name="/rank")
    assert table["data"] == [] or table["data"] == [[]] or all(not any(r) for r in table["data"])
    assert plot is None and "cifar1000" in message


def test_launched_app_answers_inputs_the_page_cannot_send(served):
    """Out-of-range top-k, licenses as text, unknown choices: answers or messages, never a Gradio error."""
    url, downloads = served
    client = _client(url, downloads)
    licenses = fennec_hub.Zoo.default().models["license"].dropna().value_counts().index[:2].tolist()
    table, _, message = client.predict(dataset="dtd", top_k=500, max_params=10**400, licenses=",".join(licenses),
                                       library=["any"], zoo_repo=None, protocol="any", api_name="/rank")
    assert_table_matches(table["data"], fennec_hub.recommend("dtd", top_k=100, licenses=licenses))
    table, _, message = client.predict(dataset="dtd", top_k=0, max_params="any", licenses=[], library="any",
                                       zoo_repo="", protocol="no-such-protocol", api_name="/rank")
    assert "unknown protocol" in message and not any(any(r) for r in table["data"])
    table, _, message = client.predict(dataset="dtd", top_k=-3, max_params=-1, licenses=None, library=None,
                                       zoo_repo="", protocol=None, api_name="/rank")
    assert "Max parameters must be a positive parameter count" in message


def test_launched_app_limits_zoo_loads_per_visitor(served, hub_zoos):
    """Gradio hands rank() the request, so the zoo-load budget is per client address."""
    url, downloads = served
    client = _client(url, downloads)
    messages = [client.predict(dataset="dtd", top_k=3, max_params="any", licenses=[], library="any",
                               zoo_repo=f"acme/served-zoo-{i}", protocol="any", api_name="/rank")[2]
                for i in range(3)]
    assert "recently" not in messages[0] + messages[1] and "recently" in messages[2]
    assert [r for r, _ in hub_zoos.loaded] == ["acme/served-zoo-0", "acme/served-zoo-1"]


def test_twenty_concurrent_clients_each_get_their_own_answer(served, registry_ids):
    url, downloads = served
    jobs = [(registry_ids[i % len(registry_ids)], 3 + i % 5) for i in range(20)]

    def ask(job):
        dataset, k = job
        client = _client(url, downloads)
        table, _plot, message = client.predict(
            dataset=dataset, top_k=k, max_params="any", licenses=[], library="any", zoo_repo="",
            api_name="/rank")
        return table["data"], message

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(ask, jobs))
    for (dataset, k), (rows, message) in zip(jobs, answers):
        assert_table_matches(rows, fennec_hub.recommend(dataset, top_k=k))
        assert dataset in message


def test_concurrency_and_queue_settings_come_from_the_environment(app, monkeypatch):
    monkeypatch.setenv("FENNEC_SPACE_CONCURRENCY", "3")
    monkeypatch.setenv("FENNEC_SPACE_QUEUE_SIZE", "40")
    demo = app.build_demo(picker="textbox")
    ranking = [fn for fn in demo.fns.values() if fn.fn in (app.rank, app.ranking_csv)]
    assert len(ranking) == 2 + len(app.EXAMPLES)  # /rank, /csv and one per example button
    assert {fn.concurrency_limit for fn in ranking} == {3} and {fn.concurrency_id for fn in ranking} == {"rank"}
    assert not any(fn.preprocess for fn in ranking)  # the handlers read raw inputs themselves
    assert demo._queue.max_size == 40
    monkeypatch.setenv("FENNEC_SPACE_CONCURRENCY", "lots")
    assert app.concurrency_limit() == 2


# ---------------------------------------------------------------------------- Space files
def test_space_card_and_requirements():
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(REPO_ROOT / "spaces_app" / "README.md").data
    assert card.sdk == "gradio" and card.app_file == "app.py"
    assert (REPO_ROOT / "spaces_app" / card.app_file).is_file()
    assert card.title and card.license and 0 < len(card.to_dict()["short_description"]) <= 60
    assert card.datasets and all(resolve_dataset(d).id == d for d in card.datasets)
    requirements = (REPO_ROOT / "spaces_app" / "requirements.txt").read_text().splitlines()
    names = [re.split(r"[<>=\[ ;]", line.strip())[0].lower().replace("_", "-") for line in requirements
             if line.strip() and not line.startswith("#")]
    # gradio comes from the card's sdk_version, fennec_hub is vendored next to app.py by deploy-space,
    # and the Space never needs torch.
    assert "gradio" not in names and "fennec-hub" not in names and "torch" not in names
    assert {"numpy", "pandas", "pyarrow", "safetensors", "huggingface-hub"} <= set(names)
    import gradio

    assert str(card.sdk_version) == gradio.__version__, "keep the card's sdk_version at the tested gradio"
    assert "python spaces_app/app.py" in (REPO_ROOT / "spaces_app" / "README.md").read_text()
