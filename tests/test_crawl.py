"""The crawler against a loopback Hub seeded with realistic repos (tests/fixtures/crawl/repos/).

Each fixture repo is a folder with the files of a real checkpoint's repo (config.json, README.md,
placeholder weights) and an info.json with its Hub wire fields. The crawler runs against its own
LoopHub (so other tests' repos never enter its listing), in process and as a subprocess that is
SIGKILLed mid-run and resumed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from loophub import DEFAULT_TOKEN, LoopHub

from fennec_hub.crawler import (
    MAX_FRONT_MATTER_BYTES,
    MODELS_FILE,
    RECORDS_FILE,
    STATE_FILE,
    base_models_of,
    crawl,
    load_crawl,
    mine_records,
    parse_card,
)

FIXTURES = Path(__file__).parent / "fixtures" / "crawl" / "repos"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _fixture_meta() -> dict[str, dict]:
    out = {}
    for info in sorted(FIXTURES.glob("*/info.json")):
        meta = json.loads(info.read_text())
        meta["dir"] = info.parent
        out[meta["id"]] = meta
    return out


META = _fixture_meta()


def _rows(out: Path, name: str = MODELS_FILE) -> list[dict]:
    return [json.loads(line) for line in (out / name).read_text().splitlines() if line.strip()]


def _new_hub(ids: list[str] | None = None) -> LoopHub:
    hub = LoopHub().start()
    if ids is None:
        hub.add_fixture_dir(FIXTURES)
    else:
        for rid in ids:
            hub.add_fixture_dir(META[rid]["dir"])
    return hub


@pytest.fixture(scope="module")
def crawl_hub():
    hub = _new_hub()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def crawled(crawl_hub, tmp_path_factory):
    """One uninterrupted crawl of every fixture repo (no token): (out dir, summary)."""
    out = tmp_path_factory.mktemp("crawl-ref")
    marker = out / "PWNED"
    old = os.environ.get("FENNEC_PWNED_MARKER")
    os.environ["FENNEC_PWNED_MARKER"] = str(marker)
    crawl_hub.clear_log()
    try:
        summary = crawl(out, endpoint=crawl_hub.url, progress=False, checkpoint_every=7)
    finally:
        if old is None:
            os.environ.pop("FENNEC_PWNED_MARKER", None)
        else:
            os.environ["FENNEC_PWNED_MARKER"] = old
    return out, summary, list(crawl_hub.requests)


# --- the fixtures are what the tests claim ----------------------------------------------------------

def test_fixture_hub_has_30_plus_realistic_repos_and_the_hostile_cases():
    assert len(META) >= 30
    families = {json.loads((m["dir"] / "config.json").read_text()).get("model_type")
                for m in META.values() if (m["dir"] / "config.json").exists() and m["id"] != "broken-uploads/vit-base-malformed-config"}
    assert {"vit", "deit", "swin", "convnext", "resnet", "efficientnet", "beit"} <= families
    assert sum(m["info"].get("library_name") == "timm" for m in META.values()) >= 5
    with_index = [m for m in META.values() if "model-index:" in (m["dir"] / "README.md").read_text()]
    assert len(with_index) >= 12


# --- one full crawl ---------------------------------------------------------------------------------

def test_every_listed_repo_gets_exactly_one_row_in_listing_order(crawled):
    out, summary, requests = crawled
    rows = _rows(out)
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(META)
    assert len(set(ids)) == len(ids)
    listed = [r for r in requests if r.method == "GET" and r.path == "/api/models"]
    assert listed, "the crawl lists models through the Hub API"
    # listing order = pipeline tag, then downloads (descending) within it
    tags = [META[i]["info"]["pipeline_tag"] for i in ids]
    assert tags == sorted(tags, key=["image-classification", "image-feature-extraction"].index)
    for tag in set(tags):
        dl = [META[i]["info"]["downloads"] for i in ids if META[i]["info"]["pipeline_tag"] == tag]
        assert dl == sorted(dl, reverse=True)
    assert summary.listed == len(META) and summary.crawled == len(META)
    assert summary.encoded == sum(r["status"] == "encoded" for r in rows)
    assert sum(summary.skipped.values()) == sum(r["status"] == "skipped" for r in rows)
    assert summary.records == len(_rows(out, RECORDS_FILE))
    text = str(summary)
    assert f"encoded: {summary.encoded}" in text and "skipped (custom code): 1" in text


def test_hostile_repos_are_kept_with_their_reason_and_never_executed(crawled):
    out, _, requests = crawled
    rows = {r["id"]: r for r in _rows(out)}
    expect = {
        "acme-research/hypervision-classifier": "custom code",
        "broken-uploads/vit-base-malformed-config": "malformed config",
        "giant-claims/vit-absurd-size": "architecture error",
        "gated-org/vit-base-patch16-224-chest-xray": "gated",
        "legacy-user/resnet-pickle-only": "missing config",
        "exotic-lab/fancynet-classifier": "unknown model type",
        "nielsr/van-base-finetuned-eurosat-imgaug": "unknown model type",
    }
    for rid, kind in expect.items():
        row = rows[rid]
        assert row["status"] == "skipped", rid
        assert row["reason"].split(":")[0] == kind, (rid, row["reason"])
        assert row["archi2vec"] is None
    assert "depth" in rows["giant-claims/vit-absurd-size"]["reason"] or "limit" in rows["giant-claims/vit-absurd-size"]["reason"]
    # nothing but config.json and README.md was ever downloaded: no code, no weights
    fetched = {r.path.rsplit("/", 1)[-1] for r in requests if "/resolve/" in r.path}
    assert fetched <= {"config.json", "README.md"}
    assert not (out / "PWNED").exists()
    assert not any(name.endswith(".py") for name in os.listdir(out))
    # cards that do not parse: the model is still encoded, the card error is recorded, nothing mined
    for rid, needle in (("sloppy-cards/vit-base-invalid-yaml", "invalid YAML"),
                        ("sloppy-cards/yaml-alias-bomb", "aliases"),
                        ("sloppy-cards/convnext-broken-model-index", "model-index")):
        row = rows[rid]
        assert row["status"] == "encoded", rid
        assert needle in row["card_error"], (rid, row["card_error"])
        assert row["n_records"] == 0


def test_encoded_rows_carry_archi2vec_and_metadata(crawled):
    from fennec_hub.architecture import ARCHI2VEC_DIM, archi2vec

    out, _, _ = crawled
    rows = {r["id"]: r for r in _rows(out)}
    encoded = [r for r in rows.values() if r["status"] == "encoded"]
    assert len(encoded) >= 30
    for r in encoded:
        assert len(r["archi2vec"]) == ARCHI2VEC_DIM, r["id"]
        assert r["library"] in ("transformers", "timm")
        assert r["params"] and r["params"] > 0
        assert r["sha"] and re.fullmatch(r"[0-9a-f]{40}", r["sha"])
    for rid in ("google/vit-base-patch16-224", "timm/resnet50.a1_in1k", "microsoft/swin-tiny-patch4-window7-224"):
        cfg = json.loads((META[rid]["dir"] / "config.json").read_text())
        want = archi2vec(cfg, library=rows[rid]["library"])
        assert rows[rid]["archi2vec"] == pytest.approx([float(v) for v in want])
        assert rows[rid]["params"] == META[rid]["info"]["safetensors"]["total"]
        assert rows[rid]["params_source"] == "safetensors"
    # no safetensors metadata -> parameters counted on the module tree
    bomb = rows["sloppy-cards/yaml-alias-bomb"]
    assert bomb["params_source"] == "architecture" and 1e6 < bomb["params"] < 1e7
    assert rows["timm/resnet50.a1_in1k"]["architecture"] == "resnet50"
    assert rows["google/vit-base-patch16-224"]["model_type"] == "vit"
    assert rows["google/vit-base-patch16-224"]["license"] == "apache-2.0"
    assert rows["google/mobilenet_v2_1.0_224"]["num_labels"] == 1001
    assert rows["google/vit-base-patch16-224"]["base_models"] == ["google/vit-base-patch16-224-in21k"]


def _expected_records() -> set[tuple]:
    """(finetuned repo, base, raw dataset, value in %) read straight from the fixture cards."""
    out = set()
    for rid, m in META.items():
        text = (m["dir"] / "README.md").read_text()
        if "model-index:" not in text or rid.startswith("sloppy-cards/"):
            continue
        front = yaml.safe_load(text.split("---")[1])
        base = front.get("base_model") or re.search(r"fine-tuned version of \[([^\]]+)\]", text).group(1)
        for entry in front["model-index"]:
            for res in entry["results"]:
                for metric in res["metrics"]:
                    out.add((rid, base, res["dataset"]["type"], round(float(metric["value"]) * 100, 6)))
    return out


def test_card_results_become_records_attributed_to_the_base_checkpoint(crawled):
    from fennec_hub.datasets import resolve_dataset

    out, _, _ = crawled
    records = _rows(out, RECORDS_FILE)
    sha = {r["id"]: r["sha"] for r in _rows(out)}
    got = {(r["model"], r["base_model"], r["dataset_raw"], r["value"]) for r in records}
    assert got == _expected_records()
    for r in records:
        assert r["metric"] == "finetune_top1" and 0 < r["value"] <= 100
        assert r["source"] == f"hub:{r['model']}@{sha[r['model']]}:README.md"
        try:
            assert r["dataset"] == resolve_dataset(r["dataset_raw"]).id
        except KeyError:  # not in the registry: kept raw, never guessed
            assert r["dataset"] is None

    models, recs = load_crawl(out)
    assert set(models["model_id"]) == set(META)
    by_id = models.set_index("model_id")
    assert by_id.loc["google/vit-base-patch16-224", "architecture"] == "ViTForImageClassification"
    assert by_id.loc["timm/resnet50.a1_in1k", "architecture"] == "resnet50"
    assert list(recs.columns[:6]) == ["model", "dataset", "metric", "value", "source", "benchmark"]
    assert (recs["benchmark"] == "hub_cards").all() and recs["dataset"].notna().all()
    # one row per (base, dataset): the best reported fine-tune
    beans = recs[recs["dataset"] == resolve_dataset("beans").id].set_index("model")["value"]
    raw = [r for r in records if r["dataset_raw"] == "beans"]
    for base in beans.index:
        assert beans[base] == max(r["value"] for r in raw if r["base_model"] == base)
    assert not recs.duplicated(["model", "dataset", "metric"]).any()
    full = load_crawl(out, aggregate=None)[1]
    assert len(full) == sum(1 for r in records if r["dataset"] and r["base_model"])


def test_gated_repo_is_encoded_with_a_token(crawl_hub, crawled, tmp_path):
    out = tmp_path / "with-token"
    crawl(out, endpoint=crawl_hub.url, token=DEFAULT_TOKEN, progress=False, pipeline_tags="image-classification")
    rows = {r["id"]: r for r in _rows(out)}
    gated = rows["gated-org/vit-base-patch16-224-chest-xray"]
    assert gated["status"] == "encoded" and gated["archi2vec"] and gated["license"] == "cc-by-nc-4.0"
    ref = {r["id"]: r for r in _rows(crawled[0])}
    assert ref["gated-org/vit-base-patch16-224-chest-xray"]["status"] == "skipped"


def test_library_since_and_limit_select_the_listing(crawl_hub, tmp_path):
    s = crawl(tmp_path / "timm", endpoint=crawl_hub.url, libraries="timm", progress=False)
    rows = _rows(tmp_path / "timm")
    assert rows and all(r["library"] == "timm" for r in rows)
    assert len(rows) == sum(m["info"].get("library_name") == "timm" for m in META.values()) == s.listed
    crawl(tmp_path / "lim", endpoint=crawl_hub.url, limit=5, progress=False)
    assert len(_rows(tmp_path / "lim")) == 5
    s = crawl(tmp_path / "future", endpoint=crawl_hub.url, since="2999-01-01", progress=False)
    assert s.listed == 0 and _rows(tmp_path / "future") == []


def test_mined_records_change_the_ranking_of_the_dataset_they_cover(crawled):
    """Records mined from the fixture cards, added to the public ground truth, re-rank `beans`."""
    import pandas as pd
    from scipy.stats import spearmanr

    from fennec_hub.datasets import resolve_dataset
    from fennec_hub.features import task_features
    from fennec_hub.records import load_records
    from fennec_hub.space import TransferSpace

    out, _, _ = crawled
    models, mined = load_crawl(out)
    beans = resolve_dataset("beans").id
    covered = mined[mined["dataset"] == beans].set_index("model")["value"]
    assert len(covered) >= 2  # two different base checkpoints were fine-tuned on beans in the cards

    public = load_records()
    public = public[public["benchmark"] == "transfergraph_hf"]
    assert beans not in set(public["dataset"])  # without the crawl, beans has no history at all
    tf = task_features(sorted(set(public["dataset"]) | set(mined["dataset"])), text=False)
    before = TransferSpace.fit(public, task_features=tf, shrink=1.0, temperature=1.0)
    after = TransferSpace.fit(pd.concat([public, mined], ignore_index=True), task_features=tf,
                              shrink=1.0, temperature=1.0)
    assert beans in after.known_tasks and beans not in before.known_tasks

    candidates = sorted(set(public["model"]))[:60] + [m for m in covered.index if m not in set(public["model"])]
    candidates = list(dict.fromkeys(candidates + list(covered.index)))
    s0 = before.score(candidates, beans)
    s1 = after.score(candidates, beans)
    assert spearmanr(s0, s1).statistic < 0.99  # the ranking for beans changed
    # ... and now follows the mined results among the models they cover
    got = [s1[candidates.index(m)] for m in covered.index]
    assert spearmanr(got, covered.to_numpy()).statistic == pytest.approx(1.0)
    # a dataset the cards do not cover keeps its ranking
    other = sorted(set(public["dataset"]) - set(mined["dataset"]))[0]
    keep = spearmanr(before.score(candidates, other), after.score(candidates, other)).statistic
    assert keep > 0.9


# --- updates, faults, kills --------------------------------------------------------------------------

SMALL = [
    "google/vit-base-patch16-224", "timm/resnet18.tv_in1k", "nateraw/vit-base-beans",
    "mrm8488/convnext-tiny-finetuned-beans", "acme-research/hypervision-classifier",
    "nickmuchi/vit-base-beans", "microsoft/resnet-18", "facebook/convnext-tiny-224",
]


def test_rerun_skips_unchanged_repos_and_appends_changed_ones(tmp_path):
    hub = _new_hub(SMALL)
    try:
        out = tmp_path / "c"
        crawl(out, endpoint=hub.url, progress=False)
        first = (out / MODELS_FILE).read_bytes()
        hub.clear_log()
        s = crawl(out, endpoint=hub.url, progress=False)
        assert s.unchanged == len(SMALL) and s.crawled == 0
        assert not hub.calls(path_regex="/resolve/")
        assert (out / MODELS_FILE).read_bytes() == first

        card = (META["nickmuchi/vit-base-beans"]["dir"] / "README.md").read_text()
        new_sha = hub.commit_files("model", "nickmuchi/vit-base-beans",
                                   {"README.md": card.replace("value: 0.969", "value: 0.975")})
        hub.clear_log()
        s = crawl(out, endpoint=hub.url, progress=False)
        assert s.crawled == 1 and s.unchanged == len(SMALL) - 1
        assert {r.path.split("/resolve/")[0] for r in hub.calls(path_regex="/resolve/")} == {"/nickmuchi/vit-base-beans"}
        rows = _rows(out)
        assert (out / MODELS_FILE).read_bytes().startswith(first)
        assert [r["id"] for r in rows[len(SMALL):]] == ["nickmuchi/vit-base-beans"]
        assert rows[-1]["sha"] == new_sha
        models, recs = load_crawl(out, aggregate=None)
        assert len(models) == len(SMALL)
        assert models.set_index("model_id").loc["nickmuchi/vit-base-beans", "sha"] == new_sha
        mine = recs[recs["finetuned"] == "nickmuchi/vit-base-beans"]
        assert mine["value"].tolist() == [97.5]  # the old sha's record is superseded
    finally:
        hub.stop()


def test_faults_are_retried_and_change_nothing(tmp_path):
    hub = _new_hub(SMALL)
    try:
        huge = {"model_type": "vit", "id2label": {str(i): "x" * 40 for i in range(60_000)}}
        hub.add_repo("model", "huge-configs/vit-3mb-config", {"config.json": json.dumps(huge)},
                     {"pipeline_tag": "image-classification", "library_name": "transformers", "downloads": 5})
        clean = tmp_path / "clean"
        crawl(clean, endpoint=hub.url, progress=False)
        rows = {r["id"]: r for r in _rows(clean)}
        assert rows["huge-configs/vit-3mb-config"]["reason"].startswith("malformed config")
        assert "larger than" in rows["huge-configs/vit-3mb-config"]["reason"]
        faulty = tmp_path / "faulty"
        hub.clear_log()
        hub.fail_next(r"^/api/models$", status=503, times=1)
        hub.fail_next(r"/nateraw/vit-base-beans/resolve/", status=429, times=1, headers={"Retry-After": "1"})
        hub.fail_next(r"/timm/resnet18.tv_in1k/resolve/", status=500, times=2)
        hub.fail_next(r"/microsoft/resnet-18/resolve/", status=502, times=1)
        hub.drop_next(r"/facebook/convnext-tiny-224/resolve/", times=1)
        hub.slow(r"/google/vit-base-patch16-224/resolve/", seconds=1.0, times=1)
        t0 = time.monotonic()
        s = crawl(faulty, endpoint=hub.url, progress=False, workers=3)
        assert time.monotonic() - t0 >= 1.0  # Retry-After was honoured
        assert s.errors == 0
        assert (faulty / MODELS_FILE).read_bytes() == (clean / MODELS_FILE).read_bytes()
        assert (faulty / RECORDS_FILE).read_bytes() == (clean / RECORDS_FILE).read_bytes()
        assert len(hub.calls("GET", r"^/api/models$")) >= 3  # 2 listings, the failed page asked again
        assert len(hub.calls(path_regex=r"/timm/resnet18.tv_in1k/resolve/")) >= 3
    finally:
        hub.stop()


def _die_at(kill_at: str) -> None:
    """In a forked child: make the crawl SIGKILL its own process at ``<point>:<n>``: ``partial:n``
    (half of row n written), ``row:n`` (right after row n is written) or ``replace:n`` (checkpoint n
    written to state.json.tmp, not yet moved over state.json)."""
    import importlib

    crawl_module = importlib.import_module("fennec_hub.crawler")
    point, n = kill_at.split(":")
    n = int(n)
    output = crawl_module._Output
    append, replace = output.append, crawl_module.os.replace

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def append_then_die(self, row, records):
        if point == "partial" and self.rows + 1 == n:
            data = crawl_module._dumps(row)
            self.files[MODELS_FILE].write(data[: len(data) // 2])
            self.files[MODELS_FILE].flush()
            die()
        append(self, row, records)
        if point == "row" and self.rows == n:
            die()

    class _Os:  # the crawl module's `os`, with a replace that dies before checkpoint n lands
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            if point == "replace" and str(dst).endswith(STATE_FILE) and json.loads(Path(src).read_text())[
                    "checkpoints"] == n:
                die()
            replace(src, dst)

    output.append = append_then_die
    crawl_module.os = _Os()


def _forked_crawl(out: Path, url: str, kill_at: str) -> int | None:
    """Exit code of a crawl run in a forked child that SIGKILLs itself at `kill_at` (see `_die_at`).

    A fork starts at once (torch etc. are already imported), unlike a fresh interpreter.
    """
    def target() -> None:
        _die_at(kill_at)
        crawl(out, endpoint=url, progress=False, checkpoint_every=2)

    p = multiprocessing.get_context("fork").Process(target=target)
    p.start()
    p.join(120)
    return p.exitcode


def _cli(out: Path, url: str, extra: tuple = ()) -> subprocess.Popen:
    env = dict(os.environ, HF_ENDPOINT=url, PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "fennec_hub.cli", "crawl", "--out", str(out), "--endpoint", url,
           "--no-progress", "--checkpoint-every", "2", *extra]
    return subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


KILLSET = SMALL + [
    "broken-uploads/vit-base-malformed-config", "gated-org/vit-base-patch16-224-chest-xray",
    "nateraw/food", "sloppy-cards/vit-base-invalid-yaml", "timm/efficientnet_b0.ra_in1k",
    "google/vit-base-patch16-224-in21k",
]


@pytest.fixture(scope="module")
def kill_hub(tmp_path_factory):
    """A 14-repo hub and its uninterrupted crawl (the reference for the kill/resume tests)."""
    hub = _new_hub(KILLSET)
    ref = tmp_path_factory.mktemp("kill-ref")
    crawl(ref, endpoint=hub.url, progress=False)
    yield hub, ref
    hub.stop()


def test_sigkilled_crawl_resumes_to_exactly_the_uninterrupted_output(kill_hub, tmp_path):
    hub, ref = kill_hub
    out = tmp_path / "killed"

    # 1. killed half-way through writing row 6 (a torn line on disk)
    assert _forked_crawl(out, hub.url, "partial:6") == -signal.SIGKILL
    torn = (out / MODELS_FILE).read_bytes()
    assert not torn.endswith(b"\n")  # the tail really is torn
    state = json.loads((out / STATE_FILE).read_text())
    assert 0 < state["rows"] < 6 and state["models_bytes"] < len(torn)

    # 2. resumed, then killed between writing state.json.tmp and replacing state.json
    n_ckpt = state["checkpoints"] + 2
    assert _forked_crawl(out, hub.url, f"replace:{n_ckpt}") == -signal.SIGKILL
    assert (out / (STATE_FILE + ".tmp")).exists()
    state = json.loads((out / STATE_FILE).read_text())
    assert state["checkpoints"] == n_ckpt - 1 and state["rows"] > 4

    # 3. resumed, killed right after row 11 is handed to the file (before its checkpoint)
    assert _forked_crawl(out, hub.url, "row:11") == -signal.SIGKILL
    # whatever reached the disk is a prefix of the uninterrupted output (unflushed rows are lost)
    assert (ref / MODELS_FILE).read_bytes().startswith((out / MODELS_FILE).read_bytes())
    assert json.loads((out / STATE_FILE).read_text())["rows"] <= 11

    # 4. resumed to the end by the command line
    p = _cli(out, hub.url)
    stdout, stderr = p.communicate(timeout=180)
    assert p.returncode == 0, stderr.decode()[-2000:]
    assert "encoded:" in stdout.decode() and "unchanged" in stdout.decode()

    assert (out / MODELS_FILE).read_bytes() == (ref / MODELS_FILE).read_bytes()
    assert (out / RECORDS_FILE).read_bytes() == (ref / RECORDS_FILE).read_bytes()
    ids = [r["id"] for r in _rows(out)]
    assert len(ids) == len(set(ids)) == len(KILLSET)


def test_external_sigkill_at_a_random_moment_then_resume(kill_hub, tmp_path):
    hub, ref = kill_hub
    out = tmp_path / "killed-ext"
    hub.slow(r"/resolve/", seconds=0.2, times=10_000)  # keep the crawl running long enough
    try:
        def target() -> None:
            crawl(out, endpoint=hub.url, progress=False, workers=2, checkpoint_every=2)

        p = multiprocessing.get_context("fork").Process(target=target)
        p.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and p.is_alive():
            path = out / MODELS_FILE
            if path.exists() and path.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.01)
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        assert p.exitcode == -signal.SIGKILL
    finally:
        hub.clear_faults()
    assert 0 < len(_rows(out)) < len(KILLSET)
    s = crawl(out, endpoint=hub.url, progress=False)
    assert s.unchanged > 0
    assert (out / MODELS_FILE).read_bytes() == (ref / MODELS_FILE).read_bytes()
    assert (out / RECORDS_FILE).read_bytes() == (ref / RECORDS_FILE).read_bytes()


def test_damaged_output_is_refused(tmp_path, crawled):
    ref, _, _ = crawled
    out = tmp_path / "damaged"
    shutil.copytree(ref, out)
    (out / MODELS_FILE).write_bytes((out / MODELS_FILE).read_bytes()[:100])
    with pytest.raises(ValueError, match="shorter than its checkpoint"):
        crawl(out, endpoint="http://127.0.0.1:9", progress=False)


# --- card parsing units -------------------------------------------------------------------------------

def test_parse_card_front_matter():
    card = parse_card("---\nlicense: mit\nbase_model: a/b\n---\n# Title\n")
    assert card.metadata == {"license": "mit", "base_model": "a/b"} and card.body.startswith("# Title")
    assert card.error is None
    assert parse_card("# no front matter").metadata == {}
    bad = parse_card("---\nlicense: [mit\n---\nbody")
    assert bad.metadata == {} and bad.error.startswith("invalid YAML")
    assert parse_card("---\n- a list\n---\n").error == "invalid YAML front matter: not a mapping"
    big = parse_card("---\nx: '" + "a" * (MAX_FRONT_MATTER_BYTES + 10) + "'\n---\n")
    assert "larger than" in big.error
    # python-specific tags are refused by the safe loader
    assert parse_card("---\nx: !!python/object/apply:os.system ['true']\n---\n").error.startswith("invalid YAML")


def test_base_model_sources_in_order():
    tags = ["base_model:finetune:org/from-tag", "base_model:quantized:org/quantized", "license:mit"]
    assert base_models_of({"base_model": "org/from-card"}, tags, None) == ["org/from-card", "org/from-tag"]
    assert base_models_of({}, tags, None) == ["org/from-tag"]
    assert base_models_of({}, [], {"relation": "finetune", "models": [{"id": "org/listed"}]}) == ["org/listed"]
    body = "This model is a fine-tuned version of [google/vit-base-patch16-224-in21k](https://huggingface.co/google/vit-base-patch16-224-in21k) on the beans dataset."
    assert base_models_of({}, [], None, body) == ["google/vit-base-patch16-224-in21k"]
    assert base_models_of({"base_model": "not a repo id; rm -rf /"}, [], None) == []


def _index(value, metric="accuracy", dataset="cifar10"):
    return {"model-index": [{"name": "m", "results": [{
        "task": {"type": "image-classification"},
        "dataset": {"name": dataset, "type": dataset, "split": "test"},
        "metrics": [{"type": metric, "value": value}]}]}]}


@pytest.mark.parametrize("value,expected", [(0.985, 98.5), (98.5, 98.5), ("98.5%", 98.5), ("0.5", 50.0), (1, 100.0)])
def test_accuracy_values_become_percent(value, expected):
    recs, err = mine_records(_index(value), repo_id="u/m", sha="s", base_models=["b/base"])
    assert err is None and recs[0]["value"] == pytest.approx(expected)
    assert recs[0]["model"] == "u/m" and recs[0]["base_model"] == "b/base" and recs[0]["split"] == "test"


def test_unusable_values_and_other_metrics():
    assert mine_records(_index("n/a"), repo_id="u/m", sha="s", base_models=[])[0] == []
    assert mine_records(_index(250.0), repo_id="u/m", sha="s", base_models=[])[0] == []
    f1, _ = mine_records(_index(0.9, metric="f1"), repo_id="u/m", sha="s", base_models=[])
    assert f1[0]["metric"] == "f1" and f1[0]["value"] == 0.9
    recs, err = mine_records({"model-index": "oops"}, repo_id="u/m", sha="s", base_models=[])
    assert recs == [] and err.startswith("invalid model-index")
