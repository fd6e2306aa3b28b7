"""Zoo <-> Hub against the loopback Hub: bounded reads (zoo.json first, then only the listed files,
sizes checked before any download), exact replacement on push, revisions and pull requests, the card."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from fennec_hub import hub
from fennec_hub.zoo import MANIFEST, MODELS_FILE, VECTORS_FILE, Zoo, ZooFormatError

from test_zoo import make_small_zoo

JUNK_BYTES = 32 << 20  # a large file someone added to a zoo repo by hand


@pytest.fixture(scope="module")
def small_zoo() -> Zoo:
    return make_small_zoo()


@pytest.fixture(scope="module")
def zoo_with_proxies(small_zoo: Zoo) -> Zoo:
    """The small zoo plus a task-proxy regressor: its repo holds proxies/* files."""
    from fennec_hub.tasks import ProxyRegressor

    rng = np.random.default_rng(0)
    reg = ProxyRegressor.fit(rng.normal(size=(6, 5)), rng.normal(size=(6, small_zoo.dim)), name="metadata")
    zoo = Zoo(small_zoo.models, small_zoo.model_vectors, small_zoo.tasks, small_zoo.task_vectors,
              history=small_zoo.history, space=small_zoo.space, info=dict(small_zoo.info))
    zoo.proxies = {"metadata": reg}
    return zoo


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _cache_dir(hf_home: Path, repo_id: str) -> Path:
    return hf_home / "hub" / ("datasets--" + repo_id.replace("/", "--"))


def _blob_bytes(cache: Path) -> int:
    blobs = cache / "blobs"
    return sum(p.stat().st_size for p in blobs.iterdir()) if blobs.is_dir() else 0


def _downloads(loophub, repo_id: str) -> list[str]:
    """Files of the repo that were fetched (GET) from the loopback Hub."""
    prefix = f"/datasets/{repo_id}/resolve/"
    return [r.path.split("/", 6)[-1] for r in loophub.calls("GET") if r.path.startswith(prefix)]


# ---------------------------------------------------------------------------- bounded reads
def test_unlisted_files_are_ignored_and_never_downloaded(loophub, small_zoo, unique_repo_id, hub_token, hf_home):
    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    loophub.commit_files("dataset", unique_repo_id, {"junk/big.bin": b"\0" * JUNK_BYTES, "notes.txt": b"hand-added"})
    cache = _cache_dir(hf_home, unique_repo_id)
    before = _blob_bytes(cache)
    loophub.clear_log()

    with pytest.warns(UserWarning, match=r"ignoring 2 file\(s\) that zoo.json does not list.*junk/big.bin"):
        zoo = Zoo.from_hub(unique_repo_id, token=hub_token)

    assert zoo.model_ids == small_zoo.model_ids and zoo.revision == loophub.commits("dataset", unique_repo_id)[0]
    manifest = json.loads((cache / "snapshots" / zoo.revision / MANIFEST).read_text())
    fetched = _downloads(loophub, unique_repo_id)
    assert sorted(fetched) == sorted([MANIFEST, *manifest["files"]])  # exactly the listed files, once each
    assert not loophub.calls(path_regex=r"junk/big\.bin|notes\.txt")  # not even a HEAD
    snapshot = cache / "snapshots" / zoo.revision
    assert not (snapshot / "junk").exists() and not (snapshot / "notes.txt").exists()
    listed_bytes = sum(m["size"] for m in manifest["files"].values()) + (snapshot / MANIFEST).stat().st_size
    assert _blob_bytes(cache) - before <= listed_bytes < JUNK_BYTES


def test_a_dataset_repo_that_is_not_a_zoo_is_refused_without_downloading(loophub, unique_repo_id):
    loophub.add_repo("dataset", unique_repo_id, {"README.md": "# just a dataset\n",
                                                 "data/train-00000-of-00001.parquet": b"\1" * JUNK_BYTES})
    loophub.clear_log()
    with pytest.raises(ZooFormatError, match="is not a fennec_hub zoo: it has no zoo.json"):
        Zoo.from_hub(unique_repo_id)
    assert _downloads(loophub, unique_repo_id) == []
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in loophub.calls()] == [("HEAD", MANIFEST)]


def test_listed_files_over_the_bounds_are_refused_before_download(loophub, small_zoo, unique_repo_id, hub_token):
    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    loophub.clear_log()
    too_big = r"refusing to download \S+ of dataset repo .*over the 10,000-byte bound \(max_file_bytes\)"
    with pytest.raises(hub.DownloadTooLarge, match=too_big):
        Zoo.from_hub(unique_repo_id, token=hub_token, max_file_bytes=10_000)
    with pytest.raises(hub.DownloadTooLarge, match=r"bytes together, over the 50,000-byte bound \(max_bytes\)"):
        Zoo.from_hub(unique_repo_id, token=hub_token, max_bytes=50_000)
    assert set(_downloads(loophub, unique_repo_id)) == {MANIFEST}  # only the manifest moved
    assert isinstance(pytest.raises(ValueError, Zoo.from_hub, unique_repo_id, token=hub_token,
                                    max_bytes=1).value, hub.DownloadTooLarge)


def test_a_listed_file_whose_repo_size_differs_is_refused_before_download(loophub, small_zoo, tmp_path,
                                                                          unique_repo_id):
    files = _files(small_zoo.save(tmp_path / "zoo"))
    files[MODELS_FILE] = files[MODELS_FILE][:1000]  # truncated on the Hub, zoo.json unchanged
    loophub.add_repo("dataset", unique_repo_id, files)
    loophub.clear_log()
    with pytest.raises(ZooFormatError, match=rf"{MODELS_FILE} is 1000 bytes on the Hub, zoo.json says"):
        Zoo.from_hub(unique_repo_id)
    assert _downloads(loophub, unique_repo_id) == [MANIFEST]


@pytest.mark.parametrize("rel", [VECTORS_FILE, MODELS_FILE, "data/tasks-00000-of-00001.parquet",
                                 "data/history-00000-of-00001.parquet", "space/space.json",
                                 "space/space.safetensors", "README.md"])
def test_a_flipped_byte_in_any_listed_file_is_rejected(loophub, small_zoo, tmp_path, unique_repo_id, rel):
    files = _files(small_zoo.save(tmp_path / "zoo"))
    data = bytearray(files[rel])
    data[len(data) // 2] ^= 0x01
    files[rel] = bytes(data)
    loophub.add_repo("dataset", unique_repo_id, files)
    with pytest.raises(ZooFormatError, match=rf"zoo file {rel} is corrupt: its sha256 does not match zoo.json"):
        Zoo.from_hub(unique_repo_id)


def test_repo_ids_as_uri_and_url(loophub, small_zoo, unique_repo_id, hub_token):
    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    for name in (f"hf://datasets/{unique_repo_id}", f"{loophub.url}/datasets/{unique_repo_id}"):
        zoo = Zoo.from_hub(name, token=hub_token)
        assert zoo.model_ids == small_zoo.model_ids and zoo.info["repo_id"] == unique_repo_id


# ---------------------------------------------------------------------------- publishing
def test_push_replaces_the_zoo_exactly(loophub, small_zoo, zoo_with_proxies, tmp_path, unique_repo_id, hub_token):
    zoo_with_proxies.push_to_hub(unique_repo_id, token=hub_token)
    assert any(f.startswith("proxies/") for f in hub.list_files(unique_repo_id, repo_type="dataset"))
    smaller = Zoo(small_zoo.models.iloc[:10], small_zoo.model_vectors[:10], small_zoo.tasks,
                  small_zoo.task_vectors, history=small_zoo.history, space=small_zoo.space)
    info = smaller.push_to_hub(unique_repo_id, token=hub_token, commit_message="zoo B",
                               commit_description="ten models")

    expected = sorted(_files(smaller.save(tmp_path / "b", repo_id=unique_repo_id)))
    assert sorted(hub.list_files(unique_repo_id, repo_type="dataset")) == sorted([*expected, ".gitattributes"])
    assert info.oid == loophub.commits("dataset", unique_repo_id)[0] and str(info) == info.commit_url
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing unlisted is left on the repo
        back = Zoo.from_hub(unique_repo_id, token=hub_token)
    assert back.model_ids == smaller.model_ids and back.proxies == {}


def test_push_to_a_branch_and_as_a_pull_request(loophub, small_zoo, unique_repo_id, hub_token):
    from fennec_hub import recommend

    def first(n: int) -> Zoo:
        return Zoo(small_zoo.models.iloc[:n], small_zoo.model_vectors[:n], small_zoo.tasks,
                   small_zoo.task_vectors, history=small_zoo.history, space=small_zoo.space)

    main = small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    dev = first(12).push_to_hub(unique_repo_id, token=hub_token, revision="dev")
    pr = first(8).push_to_hub(unique_repo_id, token=hub_token, create_pr=True)

    assert loophub.commits("dataset", unique_repo_id)[0] == main.oid  # main is untouched
    assert len(Zoo.from_hub(unique_repo_id, token=hub_token)) == len(small_zoo)
    from_dev = Zoo.from_hub(unique_repo_id, revision="dev", token=hub_token)
    assert len(from_dev) == 12 and from_dev.revision == dev.oid
    assert pr.pr_revision == "refs/pr/1" and pr.pr_url.endswith(f"datasets/{unique_repo_id}/discussions/1")
    assert len(Zoo.from_hub(unique_repo_id, revision=pr.pr_revision, token=hub_token)) == 8
    ranked = recommend("cifar100", zoo=unique_repo_id, revision="dev", token=hub_token, top_k=3)
    assert ranked.attrs["zoo_revision"] == dev.oid and set(ranked["model_id"]) <= set(from_dev.model_ids)
    with pytest.raises(ValueError, match="revision="):
        recommend("cifar100", revision="dev")  # the embedded zoo has no revisions
    with pytest.raises(ValueError, match="create_pr"):
        small_zoo.push_to_hub(unique_repo_id, token=hub_token, revision="dev", create_pr=True)


def test_cli_push_to_a_branch_and_as_a_pull_request(loophub, small_zoo, tmp_path, unique_repo_id, hub_token,
                                                    capsys):
    from fennec_hub.cli import main

    zoo_dir = small_zoo.save(tmp_path / "zoo")
    assert main(["push", str(zoo_dir), unique_repo_id, "--token", hub_token, "--revision", "staging",
                 "--commit-message", "staging zoo"]) == 0
    staging = hub.dataset_info(unique_repo_id, revision="staging", token=hub_token).sha
    assert capsys.readouterr().out.strip().endswith(f"/commit/{staging}")
    assert staging not in loophub.commits("dataset", unique_repo_id)  # main did not move
    assert main(["push", str(zoo_dir), unique_repo_id, "--token", hub_token, "--create-pr"]) == 0
    assert capsys.readouterr().out.strip().endswith("/discussions/1")
    assert Zoo.from_hub(unique_repo_id, revision="staging", token=hub_token).revision == staging


def test_card_names_the_repo_and_declares_the_tables(loophub, small_zoo, unique_repo_id, hub_token):
    from huggingface_hub import DatasetCard

    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    text = loophub.files("dataset", unique_repo_id)["README.md"].decode()
    assert "<repo id>" not in text and f'Zoo.from_hub("{unique_repo_id}")' in text
    assert f"--zoo {unique_repo_id}" in text
    card = DatasetCard(text)
    assert card.data.task_categories == ["image-classification"]
    assert card.data.size_categories == ["n<1K"] and card.data.license == "other"
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in card.data.configs}
    assert configs == {"models": "data/models-*.parquet", "tasks": "data/tasks-*.parquet",
                       "history": "data/history-*.parquet"}
    assert hub.dataset_info(unique_repo_id, token=hub_token).card_data.task_categories == ["image-classification"]


# ---------------------------------------------------------------------------- custom builds
def test_custom_build_refuses_an_oversized_config_before_download(loophub, small_zoo, unique_repo_id):
    from fennec_hub.build import MAX_CONFIG_BYTES

    model_id = unique_repo_id.replace("/", "/huge-config-")
    loophub.add_repo("model", model_id, {"config.json": b" " * (MAX_CONFIG_BYTES + 1)})
    loophub.clear_log()
    with pytest.raises(hub.DownloadTooLarge, match="config.json"):
        Zoo.build([model_id], space=small_zoo)
    assert not loophub.calls("GET", rf"/{model_id}/resolve/")
