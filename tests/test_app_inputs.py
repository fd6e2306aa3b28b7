"""Property: whatever a caller sends to the Space's /rank, it gets a ranking or one of the messages
the Space card documents (spaces_app/README.md, "What /rank answers"), in bounded time, and never
an exception or a "this is a bug" apology.

Inputs are drawn as a client may send them (the event runs without Gradio's preprocessing): text,
numbers of any size, infinities and NaN, lists where a single value is expected, and the other way
round, mixed with the values the page itself offers. Zoo repos typed by the visitor go to a stand-in
for `Zoo.from_hub` (the Hub side is tested in test_app.py); everything else is real.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pandas as pd
import pytest

import fennec_hub
from fennec_hub import hub
from fennec_hub.datasets import list_datasets

from test_app import load_app_module

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# The message families of the Space card's "What /rank answers" table, in its order.
DOCUMENTED_MESSAGES = [
    r"^Type a dataset name or a Hub dataset id",
    r"^That dataset name is too long to be a dataset id\.",
    r"^I don't know a dataset called \*\*.*\*\*\. Did you mean",
    r"is gated on the Hub|^There is no dataset \*\*.*\*\* on the Hub|is not in the built-in registry and the Hub "
    r"cannot be reached|^Looking up \*\*.*\*\* on the Hub failed",
    r"^That is not a Hub dataset id:",
    r"^Max parameters must be a positive parameter count",
    r"^No checkpoint passes the filters",
    r"^no model in this zoo has (library|license)",
    r"^unknown protocol",
    r"^zoo=.* is not a valid Hub dataset id",
    r"^No zoo repo `.*` on the Hub|^The zoo repo `.*` is gated|^Could not load the zoo from the Hub",
    r"^This Space is set not to load the zoo",
    r"^This Space has loaded several zoos for you recently",
]
RANKED = re.compile(r": top \*\*\d+\*\* shown; ")


def _names() -> list[str]:
    names = []
    for entry in list_datasets():
        names += [entry.id, entry.name, *getattr(entry, "aliases", ())]
    return names


APP = load_app_module()
ZOO = fennec_hub.Zoo.default()
LICENSES = sorted(ZOO.models["license"].dropna().astype(str).unique())
LIBRARIES = sorted(ZOO.models["library"].dropna().astype(str).unique())

numbers = st.one_of(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=-5, max_value=150),
                    st.floats(allow_nan=True, allow_infinity=True), st.just(10**400), st.just(-(10**400)))
odd = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30), st.lists(st.text(max_size=8), max_size=3))
datasets = st.one_of(
    st.sampled_from(_names()),
    st.text(max_size=40),
    st.from_regex(r"[A-Za-z0-9][\w.-]{0,12}/[\w.-]{1,12}", fullmatch=True),
    st.builds(lambda s: f"https://huggingface.co/datasets/{s}", st.from_regex(r"[a-z]{1,6}/[a-z0-9-]{1,10}",
                                                                             fullmatch=True)),
    st.text(min_size=190, max_size=260),
    odd,
)
top_ks = st.one_of(numbers, st.text(max_size=8), st.none(), st.lists(st.integers(), max_size=2))
max_params = st.one_of(
    st.sampled_from(APP.MAX_PARAMS_CHOICES),
    st.from_regex(r"\s?-?[0-9]{0,3}(\.[0-9]{1,2})?\s?[kKmMbBgGtTx]?\s?(params?)?", fullmatch=True),
    st.from_regex(r"[0-9]{300,420}", fullmatch=True),
    odd,
)
licenses = st.one_of(st.lists(st.sampled_from(LICENSES) | st.text(max_size=12), max_size=4),
                     st.builds(", ".join, st.lists(st.sampled_from(LICENSES), max_size=3)), odd)
libraries = st.one_of(st.sampled_from([APP.ANY, *LIBRARIES]), st.lists(st.sampled_from(LIBRARIES), max_size=2), odd)
zoos = st.one_of(st.just(""), st.none(), st.from_regex(r"[a-z]{1,8}/[a-z-]{1,12}", fullmatch=True),
                 st.sampled_from(["acme/missing-zoo", "acme/gated-zoo", "nope nope", "a/b/c"]), odd)
protocols = st.one_of(st.sampled_from([value for _, value in APP.PROTOCOL_CHOICES]), odd)


def _fake_from_hub(repo_id, revision=None, token=None, *, max_bytes=None, **kwargs):
    """Zoo.from_hub as the Hub would answer: a few repos are missing or gated, the others are zoos."""
    if "missing" in repo_id:
        raise hub.RepoNotFound(f"{repo_id} not found")
    if "gated" in repo_id:
        raise hub.GatedRepo(f"{repo_id} is gated")
    return ZOO


@pytest.fixture(scope="module", autouse=True)
def _stand_in_hub_zoos():
    with pytest.MonkeyPatch.context() as mp:  # undone after this module: zoos and load budgets too
        mp.setattr(fennec_hub.Zoo, "from_hub", _fake_from_hub)
        mp.setattr(APP, "_zoos", {k: v for k, v in APP._zoos.items() if not k})
        mp.setattr(APP, "_zoo_loads", None)
        mp.setenv("FENNEC_SPACE_ZOO_DENY", "acme/denied-*")
        APP.rank("cifar100", 3)  # imports and first-use costs stay out of the examples' time
        yield


def _check(result) -> None:
    table, plot, message = result
    assert isinstance(table, pd.DataFrame) and list(table.columns) == APP.TABLE_COLUMNS
    assert isinstance(message, str) and message.strip()
    assert "bug" not in message.lower() and "Traceback" not in message
    if table.empty:
        assert plot is None
        plain = message.replace("\\", "")  # Markdown escapes of the visitor's text
        assert any(re.search(p, plain, re.S) for p in DOCUMENTED_MESSAGES), f"undocumented message: {message!r}"
    else:
        assert RANKED.search(message), message
        assert 1 <= len(table) <= APP.TOP_K_MAX
        assert table["Rank"].tolist() == list(range(1, len(table) + 1))


@settings(max_examples=300, deadline=timedelta(seconds=10), derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(dataset=datasets, top_k=top_ks, max_params=max_params, licenses=licenses, library=libraries, zoo=zoos,
       protocol=protocols, host=st.sampled_from(["10.1.0.1", "10.1.0.2", None]))
def test_any_input_gets_a_ranking_or_a_documented_message(dataset, top_k, max_params, licenses, library, zoo,
                                                          protocol, host):
    import gradio as gr

    request = None if host is None else gr.Request(client={"host": host}, headers={}, session_hash=host)
    _check(APP.rank(dataset, top_k, max_params, licenses, library, zoo, protocol, request=request))


@settings(max_examples=60, deadline=timedelta(seconds=10), derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(dataset=st.sampled_from(["cifar100", "dtd", "eurosat", "food101"]), top_k=top_ks, max_params=max_params,
       licenses=licenses, library=libraries, protocol=protocols)
def test_registry_datasets_rank_like_recommend(dataset, top_k, max_params, licenses, library, protocol):
    """When /rank answers with a table, it is recommend()'s answer for the inputs as the card reads them."""
    table, _, message = APP.rank(dataset, top_k, max_params, licenses, library, "", protocol)
    if table.empty:
        return
    query = APP.read_query(dataset, top_k, max_params, licenses, library, "", protocol)
    expected = fennec_hub.recommend(query.dataset, top_k=query.top_k, max_params=query.max_params,
                                    licenses=query.licenses, library=query.library, protocol=query.protocol)
    assert table["Model"].str.extract(r"^\[?([^\]]+)", expand=False).str.split(" \\*\\(").str[0].tolist() == \
        expected["model_id"].tolist()
