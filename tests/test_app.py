"""The Gradio Space (spaces_app/app.py): its ranking handler, and the launched app via gradio_client.

Everything runs against the real `fennec_hub.recommend` and the embedded default zoo; the server
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fennec_hub
from fennec_hub import hub
from fennec_hub.datasets import UnknownDatasetError, list_datasets, resolve_dataset

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LINK = re.compile(r"^\[(?P<id>[^\]]+)\]\((?P<url>[^)]+)\)$")


def model_of_cell(cell: str) -> str:
    """The model id shown in a table cell: a Markdown Hub link, or plain text for off-Hub models."""
    m = _LINK.match(cell)
    return m.group("id") if m else cell.split(" *(", 1)[0]


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
            assert model_cell == f"[{exp.model_id}](https://huggingface.co/{exp.model_id})"
        assert float(score) == pytest.approx(float(exp.score), abs=0.051)
        if pd.isna(exp.params):
            assert params_m is None or (isinstance(params_m, float) and np.isnan(params_m))
        else:
            assert float(params_m) == pytest.approx(exp.params / 1e6, abs=0.051)
        assert library == ("" if pd.isna(exp.library) else str(exp.library))
        assert license_ == ("unknown" if pd.isna(exp.license) else str(exp.license))
        assert why == exp.why


# ---------------------------------------------------------------------------- ranking handler
@pytest.mark.parametrize("dataset", ["cifar100", "food101", "dtd", "eurosat"])
def test_rank_matches_recommend(app, dataset):
    table, figure, csv_path, message = app.rank(dataset, 7)
    expected = fennec_hub.recommend(dataset, top_k=7)
    assert list(table.columns) == app.TABLE_COLUMNS
    assert_table_matches(table.values.tolist(), expected)
    entry = resolve_dataset(dataset)
    assert entry.name in message and entry.id in message and "ms" in message
    # The CSV holds the same rows with their raw columns and a link column.
    csv = pd.read_csv(csv_path)
    assert csv["model_id"].tolist() == expected["model_id"].tolist()
    assert csv["rank"].tolist() == expected["rank"].tolist()
    assert {"score", "params", "license", "why", "url"} <= set(csv.columns)
    assert Path(csv_path).name.startswith("fennec_hub_") and csv_path.endswith(".csv")
    # The plot: the whole zoo on a log size axis, the top-k highlighted.
    assert figure is not None
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    everything = fennec_hub.recommend(dataset, top_k=None)
    n_sized = int(pd.to_numeric(everything["params"], errors="coerce").gt(0).sum())
    plotted = sum(len(c.get_offsets()) for c in ax.collections)
    assert plotted == n_sized
    assert "Pareto front" in [t.get_text() for t in figure.legends[0].get_texts()][-1]


def test_rank_filters_match_recommend(app):
    zoo = fennec_hub.Zoo.default()
    library = zoo.models["library"].dropna().value_counts().index[0]
    licenses = zoo.models["license"].dropna().value_counts().index[:2].tolist()
    table, figure, csv_path, message = app.rank("food101", 10, "100M", licenses, library)
    expected = fennec_hub.recommend("food101", top_k=10, max_params="100M", licenses=licenses, library=library)
    assert_table_matches(table.values.tolist(), expected)
    assert (table["Params (M)"] <= 100).all()
    assert set(table["License"]) <= set(licenses)
    assert set(table["Library"]) == {library}
    assert "100M" in message and library in message


def test_rank_follows_a_fine_tuning_protocol(app):
    table, _, csv_path, message = app.rank("eurosat", 8, protocol="vtab1k_hf")
    expected = fennec_hub.recommend("eurosat", top_k=8, protocol="vtab1k_hf")
    assert_table_matches(table.values.tolist(), expected)
    assert expected["model_id"].tolist() != fennec_hub.recommend("eurosat", top_k=8)["model_id"].tolist()
    assert "VTAB-1k" in message
    from fennec_hub.recommend import protocols

    assert {value for _, value in app.PROTOCOL_CHOICES} == {app.ANY, *protocols()}
    table, *_, message = app.rank("eurosat", 8, protocol="imagenet")
    assert table.empty and "unknown protocol" in message


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


# ---------------------------------------------------------------------------- friendly messages
def _assert_failed(result) -> str:
    """A failed ranking: empty table with the usual columns, no plot, no CSV, a readable message."""
    table, figure, csv_path, message = result
    assert table.empty and list(table.columns) == load_app_module().TABLE_COLUMNS
    assert figure is None and csv_path is None
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


def test_zoo_repo_from_the_hub(app, loophub, hub_token):
    """The advanced field ranks a published zoo; a missing one gets a message."""
    message = _assert_failed(app.rank("dtd", 5, zoo_repo="acme/no-such-zoo"))
    assert "acme/no-such-zoo" in message and "built-in zoo" in message
    zoo = fennec_hub.Zoo.default()
    repo = "fennec-tester/space-zoo"
    zoo.push_to_hub(repo, token=hub_token)
    table, figure, csv_path, message = app.rank("dtd", 5, zoo_repo=repo)
    expected = fennec_hub.recommend("dtd", top_k=5, zoo=fennec_hub.Zoo.from_hub(repo))
    assert_table_matches(table.values.tolist(), expected)


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
    assert list(endpoints) == ["/rank"]
    table, plot, csv_path, message = client.predict(
        dataset="eurosat", top_k=6, max_params="any", licenses=[], library="any", zoo_repo="", protocol="any",
        api_name="/rank")
    expected = fennec_hub.recommend("eurosat", top_k=6)
    assert table["headers"] == [c for c in load_app_module().TABLE_COLUMNS]
    assert_table_matches(table["data"], expected)
    assert pd.read_csv(csv_path)["model_id"].tolist() == expected["model_id"].tolist()
    assert plot and "image/png" in str(plot)[:2000]
    assert "EuroSAT" in message

    table, plot, csv_path, message = client.predict(
        dataset="cifar1000", top_k=6, max_params="any", licenses=[], library="any", zoo_repo="", api_name="/rank")
    assert table["data"] == [] or table["data"] == [[]] or all(not any(r) for r in table["data"])
    assert csv_path is None and "cifar1000" in message


def test_twenty_concurrent_clients_each_get_their_own_answer(served, registry_ids):
    url, downloads = served
    jobs = [(registry_ids[i % len(registry_ids)], 3 + i % 5) for i in range(20)]

    def ask(job):
        dataset, k = job
        client = _client(url, downloads)
        table, _plot, _csv, message = client.predict(
            dataset=dataset, top_k=k, max_params="any", licenses=[], library="any", zoo_repo="",
            api_name="/rank")
        return table["data"], message

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(ask, jobs))
    for (dataset, k), (rows, message) in zip(jobs, answers):
        assert_table_matches(rows, fennec_hub.recommend(dataset, top_k=k))
        assert dataset in message


# ---------------------------------------------------------------------------- Space files
def test_space_card_and_requirements():
    from huggingface_hub import SpaceCard

    card = SpaceCard.load(REPO_ROOT / "spaces_app" / "README.md").data
    assert card.sdk == "gradio" and card.app_file == "app.py"
    assert (REPO_ROOT / "spaces_app" / card.app_file).is_file()
    assert card.title and card.license and 0 < len(card.to_dict()["short_description"]) <= 60
    assert card.datasets and all(resolve_dataset(d).id == d for d in card.datasets)
    requirements = (REPO_ROOT / "spaces_app" / "requirements.txt").read_text().splitlines()
    names = [re.split(r"[<>=\[ ]", line.strip())[0].lower() for line in requirements
             if line.strip() and not line.startswith("#")]
    assert "fennec_hub" in names and "gradio" in names
    assert "python spaces_app/app.py" in (REPO_ROOT / "spaces_app" / "README.md").read_text()
