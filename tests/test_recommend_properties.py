"""Property-based tests: whatever the arguments, recommend() and `fennec-hub recommend` give a ranking or
a documented error, quickly, offline.

Documented errors: `UnknownDatasetError`, `RecommendArgumentError` (a ValueError; `RecommendTypeError`
is also a TypeError), `fennec_hub.hub.HubError` (an OSError), `ZooFormatError`, and the ValueError
that huggingface_hub raises for a string that cannot be a repo id. Each carries a message. The Hub is
off (the `offline` fixture), so Hub-looking names fail fast instead of waiting on a server.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fennec_hub import recommend  # noqa: E402
from fennec_hub.cli import main as cli_main  # noqa: E402
from fennec_hub.datasets import UnknownDatasetError  # noqa: E402
from fennec_hub.hub import HubError, InvalidRepoId  # noqa: E402
from fennec_hub.ranking import RESULT_COLUMNS, RecommendArgumentError, parse_params  # noqa: E402
from fennec_hub.records import BENCHMARKS  # noqa: E402
from fennec_hub.zoo import MANIFEST, DEFAULT_ZOO_DIR, Zoo, ZooFormatError  # noqa: E402

pytestmark = pytest.mark.skipif(not (DEFAULT_ZOO_DIR / MANIFEST).exists(),
                                reason="the embedded default zoo has not been built yet")

DOCUMENTED = (UnknownDatasetError, RecommendArgumentError, HubError, InvalidRepoId, ZooFormatError)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=2000, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def is_documented(exc: BaseException) -> bool:
    """One of fennec_hub's documented errors, always with a message."""
    return bool(str(exc).strip()) and isinstance(exc, DOCUMENTED)


@pytest.fixture(scope="module")
def warm():
    """Load the default zoo and the modules of the slow paths once, outside the timed examples."""
    import huggingface_hub.constants as hf_constants

    zoo = Zoo.default()
    saved = hf_constants.HF_HUB_OFFLINE
    hf_constants.HF_HUB_OFFLINE = True
    try:
        recommend("cifar100", zoo=zoo)
        recommend("beans", protocol="vtab1k_hf", zoo=zoo)
        for name in ("someone/some-dataset", "cifar1000"):
            with pytest.raises(UnknownDatasetError):
                recommend(name, zoo=zoo)
        with pytest.raises(HubError):
            recommend("cifar100", zoo="someone/some-zoo")
    finally:
        hf_constants.HF_HUB_OFFLINE = saved
    return zoo


# ---------------------------------------------------------------------------- strategies
KNOWN_DATASETS = ["cifar100", "CIFAR-100", "uoft-cs/cifar100", "eurosat", "dtd", "food101", "beans", "pets",
                  "https://huggingface.co/datasets/uoft-cs/cifar100"]
hub_like = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}/[A-Za-z0-9._-]{1,12}", fullmatch=True)
junk_text = st.text(max_size=40)
long_text = st.text(min_size=200, max_size=1500)

datasets = st.one_of(st.sampled_from(KNOWN_DATASETS), junk_text, long_text, hub_like,
                     st.sampled_from(["", " ", "../../etc/passwd", "a/b/c", "datasets/", "\x00", "ＣＩＦＡＲ100",
                                      "cifar100\n", "🦊/🦊"]),
                     st.integers(), st.none(), st.binary(max_size=10), st.lists(st.sampled_from(KNOWN_DATASETS),
                                                                                 max_size=2))
top_ks = st.one_of(st.none(), st.integers(-3, 3000), st.sampled_from([10**30, 2**63]), st.floats(allow_nan=True),
                   st.booleans(), st.text(max_size=4))
max_params = st.one_of(st.none(), st.integers(-10, 10**16), st.sampled_from([10**400, 2**64]),
                       st.floats(allow_nan=True, allow_infinity=True),
                       st.from_regex(r"\s*[0-9]{0,30}\.?[0-9]{1,400}\s*[kKmMbBgGtT]?\s*(params?)?\s*", fullmatch=True),
                       st.text(max_size=12), st.lists(st.integers(), max_size=2), st.booleans())
license_values = st.sampled_from(["apache-2.0", "MIT", "Apache-2.0,mit", "gpl-3.0", "cc-by-nc-4.0", "", " , ",
                                  "other", "unknown"])
licenses = st.one_of(st.none(), license_values, junk_text, st.lists(st.one_of(license_values, junk_text), max_size=4),
                     st.integers(), st.lists(st.integers(), min_size=1, max_size=2), st.binary(max_size=5),
                     st.frozensets(license_values, max_size=3))
library_values = st.sampled_from(["timm", "transformers", "TIMM", "timm,transformers", "foo", "", "keras"])
libraries = st.one_of(st.none(), library_values, junk_text, st.lists(library_values, max_size=3), st.integers(),
                      st.lists(st.none(), min_size=1, max_size=2))
per_family = st.one_of(st.none(), st.integers(-2, 6), st.sampled_from([10**20]), st.floats(allow_nan=True),
                       st.text(max_size=3))
protocols = st.one_of(st.none(), st.sampled_from([*BENCHMARKS, "imagenet", "", "VTAB1K_HF"]), junk_text,
                      st.integers(), st.lists(st.sampled_from(list(BENCHMARKS)), max_size=2))
images = st.one_of(st.none(), st.integers(-3, 500), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3))
zoos = st.one_of(st.none(), st.just("default"), hub_like, junk_text,
                 st.sampled_from(["", "../../etc", "/", ".", "my-org/my-zoo", "a" * 200, "x/" * 30]), st.integers())


def check_result(df, kw: dict) -> None:
    """What every ranking promises, whatever the filters."""
    assert list(df.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    n = len(df)
    assert df["rank"].tolist() == list(range(1, n + 1))
    if kw.get("top_k") is not None:
        assert n <= kw["top_k"]
    assert df["score"].between(0, 100).all() and df["score"].is_monotonic_decreasing
    assert df["fine_tuned_on_query"].dtype == bool
    assert df["url"].dropna().str.startswith("https://huggingface.co/").all()
    limit = df.attrs["filters"]["max_params"]
    if limit is not None:
        assert (df["params"] <= limit).all()
    if df.attrs["filters"]["licenses"]:
        assert set(df["license"].str.lower()) <= set(df.attrs["filters"]["licenses"])
    if df.attrs["filters"]["library"]:
        assert set(df["library"].str.lower()) <= set(df.attrs["filters"]["library"])
    if kw.get("max_per_family"):
        assert (df["family"].dropna().value_counts() <= kw["max_per_family"]).all()


def run_recommend(warm_zoo: Zoo, dataset, **kw):
    """recommend() with `zoo="default"` meaning the warm default zoo; returns the frame or the error."""
    if kw.get("zoo") == "default":
        kw["zoo"] = warm_zoo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return recommend(dataset, **kw), kw
        except Exception as exc:  # noqa: BLE001 (the property is about which exceptions)
            return exc, kw


# ---------------------------------------------------------------------------- recommend()
@PROPERTY_SETTINGS
@given(dataset=st.sampled_from(KNOWN_DATASETS), top_k=top_ks, max_params=max_params, licenses=licenses,
       library=libraries, max_per_family=per_family, protocol=protocols, images=images)
def test_any_filters_give_a_ranking_or_a_documented_error(warm, offline, dataset, top_k, max_params, licenses,
                                                          library, max_per_family, protocol, images):
    out, kw = run_recommend(warm, dataset, top_k=top_k, zoo="default", max_params=max_params, licenses=licenses,
                            library=library, max_per_family=max_per_family, protocol=protocol, images=images)
    if isinstance(out, Exception):
        assert is_documented(out), repr(out)
    else:
        check_result(out, kw)


@PROPERTY_SETTINGS
@given(dataset=datasets, zoo=zoos, top_k=st.one_of(st.none(), st.integers(1, 50)),
       protocol=st.one_of(st.none(), st.sampled_from(list(BENCHMARKS))))
def test_any_dataset_or_zoo_string_gives_a_ranking_or_a_documented_error(warm, offline, dataset, zoo, top_k,
                                                                         protocol):
    out, kw = run_recommend(warm, dataset, top_k=top_k, zoo=zoo, protocol=protocol)
    if isinstance(out, Exception):
        assert is_documented(out), repr(out)
    else:
        check_result(out, kw)
        assert isinstance(dataset, str)


@PROPERTY_SETTINGS
@given(value=max_params)
def test_parse_params_gives_a_count_or_a_documented_error(value):
    try:
        n = parse_params(value)
    except RecommendArgumentError as exc:
        assert str(exc) and exc.argument == "max_params"
        return
    assert n is None if value is None else (isinstance(n, int) and 1 <= n <= 10**15)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        assert n == math.floor(value)


# ---------------------------------------------------------------------------- the CLI
flag_values = {
    "--top-k": st.one_of(st.integers(-2, 3000).map(str), junk_text),
    "--max-params": st.one_of(st.sampled_from(["50M", "1.5B", "800k", "0.5", "inf", "1e9", "9" * 50, "1000T"]),
                              junk_text),
    "--license": st.one_of(license_values, junk_text),
    "--library": st.one_of(library_values, junk_text),
    "--max-per-family": st.one_of(st.integers(-2, 5).map(str), junk_text),
    "--protocol": st.one_of(st.sampled_from([*BENCHMARKS, "imagenet"]), junk_text),
    "--format": st.sampled_from(["table", "csv", "json", "xml", ""]),
    "--zoo": st.one_of(st.sampled_from(["../../etc", "/", "", "someone/some-zoo"]), hub_like, junk_text),
    "--revision": junk_text,
}
options = st.lists(st.sampled_from(sorted(flag_values)).flatmap(
    lambda flag: flag_values[flag].map(lambda value: [flag, value])), max_size=4).map(
    lambda pairs: [x for pair in pairs for x in pair])
cli_datasets = st.one_of(st.sampled_from(KNOWN_DATASETS), junk_text.filter(lambda s: "\x00" not in s), hub_like)


@PROPERTY_SETTINGS
@given(dataset=cli_datasets, opts=options)
def test_cli_recommend_answers_or_explains(warm, offline, dataset, opts):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = cli_main(["recommend", dataset, *opts])
        except SystemExit as exc:  # argparse: a usage error
            code = exc.code
    errors = err.getvalue()
    assert "Traceback" not in errors
    assert code in (0, 1, 2), (code, errors)
    for flag in ("--license", "--library"):
        given_values = [opts[i + 1] for i in range(0, len(opts), 2) if opts[i] == flag]
        if given_values and not "".join(given_values).replace(",", "").strip():
            assert code != 0, f"{flag} given only blank values was ignored"
    if code == 1:
        assert errors.startswith("fennec-hub recommend: error: ") and len(errors.strip()) > 30
    elif code == 2:
        assert "fennec-hub recommend: error:" in errors and "usage:" in errors
    else:
        assert out.getvalue().strip()
        assert all(line.startswith("fennec-hub recommend: warning: ") for line in errors.splitlines() if line)


def test_a_dataset_entry_is_accepted(warm):
    from fennec_hub.datasets import resolve_dataset

    df = recommend(resolve_dataset("cifar100"), zoo=warm)
    assert len(df) == 10 and np.isfinite(df["raw_score"]).all()
