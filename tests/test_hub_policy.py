"""fennec_hub.hub's policies: timeouts on every Hub call, errors that are huggingface_hub errors too,
and one repo-id parser.

The timeout tests talk to a loopback server that accepts TCP connections and never answers (the
Hub stalling): every call must fail with HubTimeout instead of waiting forever. Each of them is
bounded by pytest-timeout, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import huggingface_hub.errors as hf_errors
import pytest

import fennec_hub
from fennec_hub import hub
from loophub import StallingServer

HUB_PY = Path(__file__).resolve().parents[1] / "fennec_hub" / "hub.py"
STALL_TIMEOUT = "1"  # seconds: FENNEC_HUB_TIMEOUT for the stalling-server tests


@pytest.fixture
def stalling(monkeypatch):
    """A stalling Hub: HF_ENDPOINT points at it and FENNEC_HUB_TIMEOUT is 1 s."""
    import huggingface_hub.constants  # noqa: F401  (reads HF_ENDPOINT now, while it names the loopback Hub)

    server = StallingServer()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("FENNEC_HUB_TIMEOUT", STALL_TIMEOUT)
    yield server
    server.close()


def _assert_timeout(err: BaseException, server: StallingServer, call: str) -> None:
    assert isinstance(err, hub.HubTimeout), f"{type(err).__name__}: {err}"
    assert isinstance(err, TimeoutError) and isinstance(err, hf_errors.OfflineModeIsEnabled)
    message = str(err)
    assert server.url in message and call in message and "1 s" in message, message
    assert err.timeout == 1.0 and err.endpoint == server.url and call in err.call


# ---------------------------------------------------------------------------- timeouts
@pytest.mark.timeout(60)
@pytest.mark.parametrize("call, run", [
    ("dataset_info", lambda: hub.dataset_info("someuser/some-dataset")),
    ("model_info", lambda: hub.model_info("someuser/some-model")),
    ("list_models", lambda: next(iter(hub.list_models(limit=5)))),
    ("list_files", lambda: hub.list_files("someuser/some-model")),
    ("repo_files", lambda: hub.repo_files("someuser/some-dataset")),
    ("download", lambda: hub.download("someuser/some-model", "config.json")),
    ("snapshot", lambda: hub.snapshot("someuser/some-dataset")),
    ("read of 'config.json'", lambda: hub.read_small_file("someuser/some-model", "config.json")),
    ("push_folder", lambda: hub.push_folder("someuser/zoo", Path(__file__).parent / "fixtures", token="x")),
])
def test_every_hub_call_times_out_on_a_stalling_hub(stalling, call, run):
    with pytest.raises(hub.HubError) as err:
        run()
    if call in ("download", "snapshot", "push_folder"):  # their first request is a metadata call
        assert isinstance(err.value, hub.HubTimeout), err.value
    else:
        _assert_timeout(err.value, stalling, call)


@pytest.mark.timeout(60)
def test_a_timed_out_request_is_not_retried(stalling):
    # huggingface_hub retries listing pages on timeouts (5 times, ~23 s of backoff); fennec_hub's
    # own with_retries retries transport errors: neither retries a HubTimeout.
    with pytest.raises(hub.HubTimeout):
        list(hub.list_models(limit=5))
    assert len(stalling.connections) == 1
    waits: list[float] = []
    with pytest.raises(hub.HubTimeout):
        hub.with_retries(lambda: hub.model_info("someuser/some-model"), attempts=4, sleep=waits.append)
    assert waits == [] and len(stalling.connections) == 2


@pytest.mark.timeout(60)
def test_huggingface_hub_own_timeouts_are_capped(stalling):
    # hf_hub_download's HEAD carries huggingface_hub's etag timeout (10 s): FENNEC_HUB_TIMEOUT caps it.
    from huggingface_hub import hf_hub_download

    hub._install_network_policy()
    with pytest.raises(Exception) as err:
        hf_hub_download("someuser/some-model", "config.json", endpoint=stalling.url, etag_timeout=10)
    timed_out = hub._in_chain(err.value, hub.HubTimeout)
    assert timed_out is not None and timed_out.timeout == 1.0


@pytest.mark.timeout(60)
def test_recommend_for_a_hub_dataset_times_out(stalling):
    from fennec_hub import recommend
    from fennec_hub.datasets import UnknownDatasetError

    with pytest.raises(UnknownDatasetError) as err:  # recommend's contract: the Hub error is the cause
        recommend("someuser/some-dataset")
    _assert_timeout(err.value.__cause__, stalling, "dataset_info")
    assert "sent no answer within 1 s" in str(err.value)


@pytest.mark.timeout(60)
def test_zoo_from_hub_times_out(stalling):
    from fennec_hub import Zoo

    with pytest.raises(hub.HubTimeout) as err:
        Zoo.from_hub("someuser/some-zoo")
    assert stalling.url in str(err.value) and "zoo.json" in str(err.value)


@pytest.mark.timeout(60)
def test_zoo_given_to_recommend_times_out(stalling):
    from fennec_hub import recommend

    with pytest.raises(hub.HubTimeout):
        recommend("cifar100", zoo="someuser/some-zoo")


@pytest.mark.timeout(60)
def test_crawl_listing_times_out(stalling, tmp_path):
    from fennec_hub import crawl

    with pytest.raises(hub.HubTimeout) as err:
        crawl(tmp_path / "crawl", limit=3, progress=False)
    _assert_timeout(err.value, stalling, "list_models")


@pytest.mark.timeout(60)
def test_dataset_resolver_times_out(stalling):
    from fennec_hub import datasets as datasets_mod

    with pytest.raises(hub.HubTimeout) as err:
        datasets_mod.resolve_hub_dataset("someuser/some-dataset")
    _assert_timeout(err.value, stalling, "dataset_info")


def test_timeout_setting(monkeypatch):
    monkeypatch.delenv(hub.TIMEOUT_ENV, raising=False)
    assert hub.network_timeout() == hub.DEFAULT_TIMEOUT
    # without FENNEC_HUB_TIMEOUT: missing timeouts get the default, huggingface_hub's own are kept
    assert hub._policy_timeouts({"connect": None, "read": 10.0, "write": None, "pool": None}) == {
        "connect": hub.DEFAULT_TIMEOUT, "read": 10.0, "write": hub.DEFAULT_TIMEOUT, "pool": hub.DEFAULT_TIMEOUT}
    monkeypatch.setenv(hub.TIMEOUT_ENV, "2.5")
    assert hub.network_timeout() == 2.5
    assert hub._policy_timeouts({"connect": None, "read": 10.0}) == {
        "connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    for bad in ("soon", "0", "-3", "nan"):
        monkeypatch.setenv(hub.TIMEOUT_ENV, bad)
        with pytest.raises(ValueError, match=hub.TIMEOUT_ENV):
            hub.network_timeout()


def test_loopback_hub_still_answers_under_a_short_timeout(loophub, monkeypatch):
    monkeypatch.setenv(hub.TIMEOUT_ENV, "5")
    loophub.add_model_repo("policy-test/vit", config={"model_type": "vit"})
    assert hub.model_info("policy-test/vit").id == "policy-test/vit"
    loophub.slow(r"^/api/models/policy-test/vit$", seconds=2.0)
    monkeypatch.setenv(hub.TIMEOUT_ENV, "0.5")
    with pytest.raises(hub.HubTimeout):
        hub.model_info("policy-test/vit")


# ---------------------------------------------------------------------------- errors
def test_hub_errors_are_huggingface_hub_errors(loophub, tmp_path, offline_toggle):
    loophub.add_model_repo("errs-hf/vit", config={"model_type": "vit"})
    loophub.add_model_repo("errs-hf/gated", config={"model_type": "vit"}, gated="manual")
    cases = [
        (lambda: hub.model_info("nobody/nothing"), hub.RepoNotFound, hf_errors.RepositoryNotFoundError),
        (lambda: hub.download("errs-hf/gated", "config.json"), hub.GatedRepo, hf_errors.GatedRepoError),
        (lambda: hub.model_info("errs-hf/vit", revision="v9"), hub.RevisionNotFound,
         hf_errors.RevisionNotFoundError),
        (lambda: hub.download("errs-hf/vit", "nope.json"), hub.EntryNotFound, hf_errors.RemoteEntryNotFoundError),
        (lambda: hub.download("errs-hf/vit", "nope.json"), hub.EntryNotFound, hf_errors.EntryNotFoundError),
        (lambda: hub.download("errs-hf/vit", "config.json", cache_dir=tmp_path, local_files_only=True),
         hub.NotCached, hf_errors.LocalEntryNotFoundError),
    ]
    for run, ours, theirs in cases:
        with pytest.raises(theirs) as err:  # code written against huggingface_hub catches ours
            run()
        assert type(err.value) is ours and isinstance(err.value, hub.HubError), err.value
    not_found = pytest.raises(hub.RepoNotFound, hub.model_info, "nobody/nothing").value
    assert not_found.response.status_code == not_found.status_code == 401  # the real answer is kept
    with offline_toggle():
        with pytest.raises(hf_errors.OfflineModeIsEnabled) as err:
            hub.model_info("errs-hf/vit")
    assert type(err.value) is hub.HubOffline


@pytest.fixture
def offline_toggle(monkeypatch):
    import contextlib

    import huggingface_hub.constants as hf_constants

    @contextlib.contextmanager
    def toggle():
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
        try:
            yield
        finally:
            monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)

    return toggle


@pytest.mark.parametrize("name", ["RepoNotFound", "GatedRepo", "RevisionNotFound", "EntryNotFound", "HubOffline",
                                  "NotCached", "HubTimeout"])
def test_hub_errors_build_without_a_response_and_pickle(name):
    cls = getattr(hub, name)
    err = cls("what went wrong", status_code=404 if name != "HubOffline" else None)
    assert str(err) == "what went wrong" and err.response is None
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == "what went wrong" and back.status_code == err.status_code
    with pytest.raises(hub.HubError):
        raise err


def test_hub_module_uses_only_public_huggingface_hub_modules():
    tree = ast.parse(HUB_PY.read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    hf = [m for m in modules if m.startswith("huggingface_hub")]
    assert hf and not [m for m in hf if any(part.startswith("_") for part in m.split("."))], hf


# ---------------------------------------------------------------------------- repo ids
@pytest.mark.parametrize("text, repo_id", [
    ("owner/name", "owner/name"),
    ("  owner/name ", "owner/name"),
    ("hf://datasets/owner/name", "owner/name"),
    ("hf://owner/name", "owner/name"),
    ("https://huggingface.co/datasets/owner/name", "owner/name"),
    ("https://huggingface.co/datasets/owner/name/tree/main", "owner/name"),
    ("huggingface.co/datasets/owner/name?row=3", "owner/name"),
    ("uoft-cs/cifar100", "uoft-cs/cifar100"),
])
def test_parse_repo_id_accepts_ids_uris_and_urls(text, repo_id):
    assert hub.parse_repo_id(text) == repo_id and hub.is_repo_id(text)


@pytest.mark.parametrize("text", ["foo/bar--baz", "foo/a..b", "../../etc", "a/b/c", "foo/bar.", "-foo/bar",
                                  "name-only", "", "hf://models/owner/name", "https://huggingface.co/owner/model",
                                  "owner/name.git", "foo/" + "x" * 97])
def test_parse_repo_id_rejects_what_the_hub_rejects(text):
    with pytest.raises(hub.InvalidRepoId) as err:
        hub.parse_repo_id(text, argument="zoo")
    assert isinstance(err.value, ValueError) and isinstance(err.value, hf_errors.HFValidationError)
    assert str(err.value).startswith("zoo=") and err.value.argument == "zoo"
    assert not hub.is_repo_id(text)


def test_loopback_endpoint_urls_are_repo_ids(loophub):
    assert hub.parse_repo_id(f"{loophub.url}/datasets/owner/name") == "owner/name"
    assert hub.parse_repo_id(f"{loophub.url}/owner/model", repo_type="model") == "owner/model"


def test_bad_ids_are_refused_before_any_request(loophub):
    from fennec_hub import Zoo, recommend
    from fennec_hub.crawler import base_models_of
    from fennec_hub.datasets import UnknownDatasetError

    loophub.clear_log()
    with pytest.raises(hub.InvalidRepoId, match=r"^zoo='\.\./\.\./etc' is not a valid Hub dataset id"):
        recommend("cifar100", zoo="../../etc")
    with pytest.raises(hub.InvalidRepoId, match="^repo_id="):
        Zoo.from_hub("foo/a..b")
    with pytest.raises(hub.InvalidRepoId, match="^dataset="):
        fennec_hub.datasets.resolve_hub_dataset("foo/bar--baz")
    with pytest.raises(hub.InvalidRepoId, match="^repo_id="):
        hub.model_info("foo/bar--baz")
    with pytest.raises(UnknownDatasetError):  # not a Hub id: an unknown name, never looked up
        recommend("foo/bar--baz")
    assert base_models_of({"base_model": ["foo/bar--baz", "google/vit-base-patch16-224", "x/a..b"]}, [], None) == [
        "google/vit-base-patch16-224"]
    assert loophub.calls() == []
