"""fennec_hub.hub against the loopback Hub (tests/loophub.py): real huggingface_hub client, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fennec_hub import hub

FIXTURES = Path(__file__).parent / "fixtures" / "hub"
REPO_ROOT = Path(__file__).resolve().parents[1]

VIT_CARD = textwrap.dedent("""\
    ---
    license: apache-2.0
    base_model: google/vit-base-patch16-224-in21k
    datasets:
    - uoft-cs/cifar100
    model-index:
    - name: vit-cifar100
      results:
      - task:
          type: image-classification
          name: Image Classification
        dataset:
          name: cifar100
          type: uoft-cs/cifar100
          split: test
        metrics:
        - type: accuracy
          value: 0.9123
    ---
    # vit-cifar100
    """)
VIT_CONFIG = {"architectures": ["ViTForImageClassification"], "model_type": "vit", "hidden_size": 768,
              "num_hidden_layers": 12, "image_size": 224, "patch_size": 16}


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), full_env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=120, cwd=REPO_ROOT)


# ---------------------------------------------------------------------------- import cost
def test_importing_hub_module_does_not_import_huggingface_hub():
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("hubmod", {str(REPO_ROOT / 'fennec_hub' / 'hub.py')!r})
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
        heavy = [m for m in ("huggingface_hub", "httpx", "httpx2", "datasets", "torch") if m in sys.modules]
        print(heavy)
        """)
    out = _run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- listing
def test_list_models_paginates_and_returns_expanded_fields(loophub, monkeypatch):
    ns = "list-pages"
    for i in range(5):
        loophub.add_model_repo(f"{ns}/vit-{i}", config=VIT_CONFIG, card=VIT_CARD, safetensors_params=1000 + i,
                               downloads=10 * i, likes=i, tags=["vision"])
    loophub.add_model_repo(f"{ns}/timm-only", config={"architecture": "resnet50"}, library_name="timm",
                           safetensors_params=25_557_032, downloads=1000)
    monkeypatch.setattr(loophub, "page_size", 2)
    loophub.clear_log()

    models = list(hub.list_models(author=ns, library="transformers", pipeline_tag="image-classification",
                                  sort="downloads",
                                  expand=["config", "safetensors", "cardData", "tags", "downloads", "likes",
                                          "sha", "lastModified", "library_name", "baseModels"]))

    assert [m.id for m in models] == [f"{ns}/vit-{i}" for i in (4, 3, 2, 1, 0)]  # timm repo filtered out
    pages = loophub.calls("GET", r"^/api/models$")
    assert len(pages) == 3  # 2 + 2 + 1 via Link rel="next"
    assert pages[0].query["expand"][:2] == ["config", "safetensors"]
    first = models[0]
    assert first.safetensors.total == 1004
    assert first.downloads == 40 and first.likes == 4
    assert first.config == {"architectures": ["ViTForImageClassification"], "model_type": "vit"}
    assert first.card_data.license == "apache-2.0"
    assert "license:apache-2.0" in first.tags and "base_model:finetune:google/vit-base-patch16-224-in21k" in first.tags
    assert first.base_models["models"][0]["id"] == "google/vit-base-patch16-224-in21k"
    assert len(first.sha) == 40 and first.last_modified is not None


def test_list_models_limit_search_and_size_filter(loophub):
    ns = "list-filters"
    for name, params in (("tiny-net", 5_000_000), ("big-net", 300_000_000), ("tiny-vit", 6_000_000)):
        loophub.add_model_repo(f"{ns}/{name}", config=VIT_CONFIG, safetensors_params=params,
                               downloads=params // 1000)
    small = [m.id for m in hub.list_models(author=ns, num_parameters="max:100M", expand=["safetensors"])]
    assert sorted(small) == [f"{ns}/tiny-net", f"{ns}/tiny-vit"]
    assert [m.id for m in hub.list_models(author=ns, search="vit")] == [f"{ns}/tiny-vit"]
    assert [m.id for m in hub.list_models(author=ns, limit=1)] == [f"{ns}/big-net"]


# ---------------------------------------------------------------------------- info
def test_model_info_reports_card_safetensors_and_eval_results(loophub):
    repo_id = "info-test/vit-cifar100"
    sha = loophub.add_model_repo(repo_id, config=VIT_CONFIG, card=VIT_CARD,
                                 safetensors_params={"F32": 85_000_000, "F16": 800_000})
    info = hub.model_info(repo_id, expand=["cardData", "safetensors", "config", "tags", "sha"])
    assert info.sha == sha
    assert info.safetensors.total == 85_800_000
    assert info.card_data.license == "apache-2.0"
    assert info.card_data.base_model == "google/vit-base-patch16-224-in21k"
    result = info.card_data.eval_results[0]
    assert (result.dataset_type, result.metric_type, result.metric_value) == ("uoft-cs/cifar100", "accuracy", 0.9123)
    full = hub.model_info(repo_id)  # no expand: the Hub's default field set, siblings included
    assert {s.rfilename for s in full.siblings} == {"README.md", "config.json", "model.safetensors"}


def test_dataset_info_exposes_class_names_from_card(loophub):
    repo_id = "info-test/tiny-images"
    loophub.add_image_dataset(repo_id, [_image(i) for i in range(4)], [0, 1, 2, 1], ["cat", "dog", "fox"])
    info = hub.dataset_info(repo_id)
    features = info.card_data["dataset_info"]["features"]
    names = next(f for f in features if f["name"] == "label")["dtype"]["class_label"]["names"]
    assert [names[k] for k in sorted(names, key=int)] == ["cat", "dog", "fox"]
    assert "data/train-00000-of-00001.parquet" in hub.list_files(repo_id, repo_type="dataset")


# ---------------------------------------------------------------------------- errors
def test_not_found_and_private_repos(loophub, hub_token):
    with pytest.raises(hub.RepoNotFound, match=r"model repo 'nobody/nothing' not found on http://127\.0\.0\.1"):
        hub.model_info("nobody/nothing")
    loophub.add_model_repo("secret-org/private-vit", config=VIT_CONFIG, private=True)
    with pytest.raises(hub.RepoNotFound, match="or private: pass a token"):
        hub.model_info("secret-org/private-vit")
    stranger = loophub.add_token("hf_stranger_token", "stranger")
    with pytest.raises(hub.RepoNotFound):
        hub.model_info("secret-org/private-vit", token=stranger)
    assert hub.model_info("secret-org/private-vit", token=hub_token).private is True
    # private repos never show up in listings without access
    assert [m.id for m in hub.list_models(author="secret-org")] == []
    assert [m.id for m in hub.list_models(author="secret-org", token=hub_token)] == ["secret-org/private-vit"]
    assert isinstance(pytest.raises(hub.HubError, hub.model_info, "nobody/nothing").value, OSError)


def test_gated_repo_info_visible_but_download_refused(loophub, hub_token):
    repo_id = "gate-keeper/gated-vit"
    loophub.add_model_repo(repo_id, config=VIT_CONFIG, gated="manual")
    assert hub.model_info(repo_id).gated == "manual"
    with pytest.raises(hub.GatedRepo, match="is gated: accept its conditions on the Hub and pass a token"):
        hub.download(repo_id, "config.json")
    stranger = loophub.add_token("hf_gate_stranger", "gate-stranger")
    with pytest.raises(hub.GatedRepo):
        hub.download(repo_id, "config.json", token=stranger)
    loophub.grant_access("model", repo_id, "gate-stranger")
    assert json.loads(Path(hub.download(repo_id, "config.json", token=stranger)).read_text()) == VIT_CONFIG


def test_missing_file_and_revision(loophub):
    loophub.add_model_repo("errs/vit", config=VIT_CONFIG)
    with pytest.raises(hub.EntryNotFound, match="'nope.json' not found"):
        hub.download("errs/vit", "nope.json")
    with pytest.raises(hub.RevisionNotFound, match="revision 'v9'"):
        hub.model_info("errs/vit", revision="v9")


def test_unreachable_hub_is_hub_offline(tmp_path):
    with pytest.raises(hub.HubOffline, match="cannot reach http://127.0.0.1:9"):
        hub.model_info("any/model", endpoint="http://127.0.0.1:9")
    # (hf_hub_download itself retries an unreachable Hub for ~23 s before using the cache; a cache
    # miss without the network is exercised through local_files_only to keep the test fast)
    with pytest.raises(hub.HubOffline, match="not in the local cache"):
        hub.download("any/model", "config.json", endpoint="http://127.0.0.1:9", cache_dir=tmp_path,
                     local_files_only=True)


# ---------------------------------------------------------------------------- downloads and offline
def test_download_then_offline_reuse_in_subprocess(loophub, hf_home):
    repo_id = "cache-test/vit"
    loophub.add_model_repo(repo_id, config=VIT_CONFIG, card=VIT_CARD)
    path = hub.download(repo_id, "config.json")
    assert Path(path).is_relative_to(hf_home) and json.loads(Path(path).read_text()) == VIT_CONFIG
    loophub.clear_log()
    code = textwrap.dedent(f"""
        import json
        from fennec_hub import hub
        assert hub.is_offline()
        print(json.dumps(json.load(open(hub.download({repo_id!r}, "config.json")))))
        try:
            hub.download({repo_id!r}, "README.md")
        except hub.HubOffline as err:
            print("HubOffline:", err)
        try:
            hub.model_info({repo_id!r})
        except hub.HubOffline as err:
            print("HubOffline:", err)
        """)
    out = _run_python(code, HF_HUB_OFFLINE="1", HF_HOME=str(hf_home))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[0]) == VIT_CONFIG
    assert lines[1].startswith("HubOffline:") and "not in the local cache" in lines[1]
    assert lines[2].startswith("HubOffline:") and "offline mode is enabled" in lines[2]
    assert loophub.requests == []  # offline: not a single request reached the Hub


def test_snapshot_returns_commit_and_pattern(loophub):
    repo_id = "snap-test/zoo"
    sha = loophub.add_repo("dataset", repo_id, {"data/a.txt": "A", "vectors.bin": b"\x00\x01", "README.md": "# zoo"})
    local, commit = hub.snapshot(repo_id, allow_patterns=["data/*", "README.md"])
    assert commit == sha
    assert sorted(p.relative_to(local).as_posix() for p in Path(local).rglob("*") if p.is_file()) == [
        "README.md", "data/a.txt"]


def test_offline_fixture_serves_snapshot_from_cache(loophub, offline):
    # `offline` is active for the whole test: first fill the cache with offline mode lifted.
    import huggingface_hub.constants as hf_constants

    repo_id = "snap-test/offline-zoo"
    sha = loophub.add_repo("dataset", repo_id, {"data/a.txt": "A"})
    hf_constants.HF_HUB_OFFLINE = False
    try:
        hub.snapshot(repo_id)
    finally:
        hf_constants.HF_HUB_OFFLINE = True
    loophub.commit_files("dataset", repo_id, {"data/a.txt": "B"})
    loophub.clear_log()
    assert hub.is_offline()
    local, commit = hub.snapshot(repo_id)
    assert commit == sha and (Path(local) / "data/a.txt").read_text() == "A"  # cached commit, not the new one
    with pytest.raises(hub.HubOffline, match="offline mode is enabled"):
        hub.dataset_info(repo_id)
    assert loophub.requests == []


# ---------------------------------------------------------------------------- publishing
def test_push_files_makes_one_commit_and_reads_back(loophub, hub_token, unique_repo_id, tmp_path):
    local_file = tmp_path / "vectors.bin"
    local_file.write_bytes(b"\x01\x02\x03")
    loophub.clear_log()
    result = hub.push_files(unique_repo_id, {"README.md": b"---\nlicense: mit\n---\n# zoo\n",
                                             "data/train-00000-of-00001.parquet": b"PAR1fake",
                                             "vectors.bin": str(local_file)},
                            commit_message="Publish zoo", token=hub_token)
    assert len(loophub.calls("POST", r"/commit/")) == 1
    assert loophub.calls("POST", r"^/api/validate-yaml$")  # README.md was validated
    assert str(result) == f"{loophub.url}/datasets/{unique_repo_id}/commit/{result.oid}"
    assert loophub.commits("dataset", unique_repo_id)[0] == result.oid
    got = hub.download(unique_repo_id, "vectors.bin", repo_type="dataset", revision=result.oid)
    assert Path(got).read_bytes() == b"\x01\x02\x03"
    assert hub.dataset_info(unique_repo_id).card_data["license"] == "mit"
    # pushing again to the existing repo: create_repo(exist_ok) accepts the 409, one more commit
    again = hub.push_files(unique_repo_id, {"notes.txt": b"v2"}, token=hub_token)
    assert loophub.commits("dataset", unique_repo_id)[:2] == [again.oid, result.oid]


def test_push_files_requires_token_and_existing_local_files(unique_repo_id, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        hub.push_files(unique_repo_id, {"x.bin": str(tmp_path / "missing.bin")})
    with pytest.raises(hub.HubError):
        hub.push_files(unique_repo_id, {"x.bin": b"x"}, token=False)


def test_revision_pinning_keeps_old_content(loophub, hub_token, unique_repo_id):
    first = hub.push_files(unique_repo_id, {"table.csv": b"v1"}, token=hub_token)
    second = hub.push_files(unique_repo_id, {"table.csv": b"v2"}, token=hub_token)
    assert first.oid != second.oid
    assert Path(hub.download(unique_repo_id, "table.csv", repo_type="dataset")).read_bytes() == b"v2"
    old = hub.download(unique_repo_id, "table.csv", repo_type="dataset", revision=first.oid)
    assert Path(old).read_bytes() == b"v1"
    assert hub.snapshot(unique_repo_id, revision=first.oid)[1] == first.oid
    assert hub.dataset_info(unique_repo_id, revision=first.oid).sha == first.oid


# ---------------------------------------------------------------------------- retries
def test_with_retries_honours_retry_after_on_429(loophub):
    loophub.add_model_repo("retry-test/vit", config=VIT_CONFIG)
    loophub.fail_next(r"^/api/models/retry-test/vit$", status=429, times=2,
                      headers={"Retry-After": "7"}, body={"error": "rate limited"})
    waits: list[float] = []
    info = hub.with_retries(lambda: hub.model_info("retry-test/vit"), attempts=3, sleep=waits.append)
    assert info.id == "retry-test/vit"
    assert waits == [7.0, 7.0]
    assert len(loophub.calls("GET", r"^/api/models/retry-test/vit$")) == 3


def test_with_retries_gives_up_and_does_not_retry_client_errors(loophub):
    loophub.add_model_repo("retry-test/flaky", config=VIT_CONFIG)
    loophub.fail_next(r"^/api/models/retry-test/flaky$", status=503, times=5)
    waits: list[float] = []
    with pytest.raises(hub.HubError) as err:
        hub.with_retries(lambda: hub.model_info("retry-test/flaky"), attempts=3, backoff=0.5, jitter=0,
                         sleep=waits.append)
    assert err.value.status_code == 503 and waits == [0.5, 1.0]
    waits.clear()
    with pytest.raises(hub.RepoNotFound):
        hub.with_retries(lambda: hub.model_info("retry-test/absent"), attempts=3, sleep=waits.append)
    assert waits == []


def test_dropped_connection_is_retried(loophub):
    loophub.add_model_repo("retry-test/dropped", config=VIT_CONFIG)
    loophub.drop_next(r"^/api/models/retry-test/dropped$")
    waits: list[float] = []
    info = hub.with_retries(lambda: hub.model_info("retry-test/dropped"), attempts=3, sleep=waits.append)
    assert info.id == "retry-test/dropped"
    assert len(waits) == 1
    assert len(loophub.calls("GET", r"^/api/models/retry-test/dropped$")) == 2


# ---------------------------------------------------------------------------- datasets
def _image(i: int):
    import numpy as np

    rng = np.random.default_rng(i)
    return rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)


def test_load_dataset_reads_pushed_image_dataset(loophub, hub_token, unique_repo_id, tmp_path):
    import datasets

    images = [_image(i) for i in range(6)]
    loophub.add_image_dataset(unique_repo_id, images, [0, 1, 2, 0, 1, 2], ["daisy", "rose", "tulip"])
    ds = datasets.load_dataset(unique_repo_id, split="train", cache_dir=str(tmp_path))
    assert len(ds) == 6
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["label"].names == ["daisy", "rose", "tulip"]
    assert ds[1]["label"] == 1 and ds[1]["image"].size == (8, 8)
    assert (ds[2]["image"].getpixel((0, 0)) == tuple(int(v) for v in images[2][0, 0]))


# ---------------------------------------------------------------------------- fixtures
def test_fixture_dir_loads_realistic_model_repos(hub_fixture_repos):
    ids = hub_fixture_repos
    assert len(ids) == len(list(FIXTURES.rglob("info.json")))
    assert {"google/vit-base-patch16-224", "microsoft/resnet-50", "facebook/convnext-tiny-224",
            "timm/resnet50.a1_in1k"} <= set(ids)
    vit = hub.model_info("google/vit-base-patch16-224", expand=["safetensors", "config", "cardData"])
    assert vit.safetensors.total == 86_567_656 and vit.config["model_type"] == "vit"
    timm_cfg = json.loads(Path(hub.download("timm/resnet50.a1_in1k", "config.json")).read_text())
    assert timm_cfg["architecture"] == "resnet50" and timm_cfg["pretrained_cfg"]["tag"] == "a1_in1k"
    bin_only = hub.model_info("fennec-fixtures/vit-base-beans-bin", expand=["safetensors", "siblings"])
    assert bin_only.safetensors is None and "pytorch_model.bin" in {s.rfilename for s in bin_only.siblings}
    broken = hub.model_info("fennec-fixtures/convnext-broken-model-index", expand=["cardData"])
    assert broken.card_data.license == "mit" and not broken.card_data.eval_results
    with pytest.raises(hub.GatedRepo):
        hub.download("fennec-fixtures/gated-vit-large", "config.json")


def test_push_files_retries_a_dropped_commit_with_fresh_operations(loophub, hub_token, unique_repo_id):
    hub.push_files(unique_repo_id, {"a.txt": b"first"}, token=hub_token)
    loophub.drop_next(r"/commit/main$")
    loophub.clear_log()
    result = hub.push_files(unique_repo_id, {"a.txt": b"second", "b.bin": b"\x00" * 600}, token=hub_token)
    assert len(loophub.calls("POST", r"/commit/main$")) == 2  # dropped once, then committed
    assert loophub.files("dataset", unique_repo_id, result.oid) == {
        ".gitattributes": loophub.files("dataset", unique_repo_id)[".gitattributes"],
        "a.txt": b"second", "b.bin": b"\x00" * 600}
    assert len(loophub.commits("dataset", unique_repo_id)) == 3  # initial + first + second


def test_dataset_info_at_parquet_conversion_ref(loophub):
    repo_id = "refs-test/imagefolder"
    loophub.add_repo("dataset", repo_id, {"train/cat/1.png": b"png", "README.md": "# images"})
    conv = loophub.set_ref("dataset", repo_id, "refs/convert/parquet",
                           {"default/train/0000.parquet": b"PAR1"})
    info = hub.dataset_info(repo_id, revision="refs/convert/parquet")
    assert info.sha == conv and [s.rfilename for s in info.siblings] == ["default/train/0000.parquet"]
    path = hub.download(repo_id, "default/train/0000.parquet", repo_type="dataset", revision=conv)
    assert Path(path).read_bytes() == b"PAR1"
    refs = hub.api().list_repo_refs(repo_id, repo_type="dataset")
    assert [b.name for b in refs.branches] == ["main"] and refs.converts[0].ref == "refs/convert/parquet"


def test_whoami_accepts_only_known_tokens(hub_token, hub_user):
    assert hub.whoami(token=hub_token)["name"] == hub_user
    with pytest.raises(hub.HubError):
        hub.whoami(token="hf_not_a_valid_token")


def test_network_guard_blocks_everything_but_loopback():
    import socket

    with pytest.raises(OSError, match="network"):
        socket.getaddrinfo("huggingface.co", 443)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError, match="must not reach the network"):
            sock.connect(("93.184.216.34", 443))
    finally:
        sock.close()
    with pytest.raises(hub.HubOffline):  # the real Hub is never reached, even by explicit endpoint
        hub.model_info("google/vit-base-patch16-224", endpoint="https://huggingface.co")


def test_slow_fault_delays_only_matching_requests(loophub):
    import time

    loophub.add_model_repo("slow-test/vit", config=VIT_CONFIG)
    loophub.slow(r"^/api/models/slow-test/vit$", seconds=0.4)
    start = time.perf_counter()
    hub.model_info("slow-test/vit")
    assert time.perf_counter() - start >= 0.4
    assert loophub.pending_faults() == 0  # used up: later requests are answered at once


def test_push_files_retry_after_lost_answer_makes_no_duplicate_commit(loophub, hub_token, unique_repo_id):
    first = hub.push_files(unique_repo_id, {"a.txt": b"v1"}, token=hub_token)
    loophub.lose_response_next(r"/commit/main$")  # the commit lands, its answer is lost
    result = hub.push_files(unique_repo_id, {"a.txt": b"v2"}, token=hub_token)
    history = loophub.commits("dataset", unique_repo_id)
    assert len(history) == 3 and history[1] == first.oid  # initial, v1, v2: no duplicate v2 commit
    assert result.oid == history[0]
    assert loophub.files("dataset", unique_repo_id)["a.txt"] == b"v2"
