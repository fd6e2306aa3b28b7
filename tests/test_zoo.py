"""Zoo: on-disk format, integrity checks, the Hub round trip (loopback Hub), and Zoo.build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fennec_hub import hub
from fennec_hub.build import _task_rows, history_table
from fennec_hub.zoo import (
    HISTORY_FILE,
    MANIFEST,
    MODELS_FILE,
    VECTORS_FILE,
    Zoo,
    ZooFormatError,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- a small real zoo
_SMALL: dict[str, Zoo] = {}


def make_small_zoo() -> Zoo:
    """A zoo fitted on the real TransferGraph records (40 history models) + 6 cold-start models.

    The space is a real TransferSpace fitted without features (fast); licenses, libraries and
    sizes vary so that the filters have something to do.
    """
    if "zoo" in _SMALL:
        return _SMALL["zoo"]
    from fennec_hub.records import load_model_metadata, load_records
    from fennec_hub.space import TransferSpace

    rec = load_records()
    rec = rec[rec["benchmark"] == "transfergraph_hf"]
    space = TransferSpace.fit(rec, shrink=0.5, temperature=0.1)
    meta = load_model_metadata()
    hist = sorted(rec["model"].unique())[:40]
    cold = ["timm/resnet50.a1_in1k", "timm/vit_base_patch16_224.augreg_in21k", "timm/convnext_tiny.fb_in1k",
            "timm/mobilenetv3_large_100.ra_in1k", "timm/efficientnet_b0.ra_in1k", "local/tiny-vit"]
    ids = hist + cold
    mv = space.model_vectors(ids, model_features=pd.DataFrame(index=ids))
    params = [float(meta.at[m, "params_m"]) * 1e6 if m in meta.index and pd.notna(meta.at[m, "params_m"]) else None
              for m in hist] + [25.6e6, 86.6e6, 28.6e6, 5.5e6, 5.3e6, None]
    models = pd.DataFrame({
        "model_id": ids,
        "library": ["transformers"] * len(hist) + ["timm"] * 5 + ["transformers"],
        "license": [("apache-2.0", "mit", None)[i % 3] for i in range(len(ids))],
        "pipeline_tag": "image-classification",
        "params": params,
        "input_size": 224,
        "family": [None] * len(hist) + ["resnet", "vit", "convnext", "mobilenetv3", "efficientnet", "vit"],
        "vector_source": ["history" if m in space.known_models else "cold_start" for m in ids],
        "nearest_history_model": [None] * len(hist) + [hist[0]] * len(cold),
    })
    tasks, tv = _task_rows(space)
    zoo = Zoo(models, mv, tasks, tv, history=history_table(rec, ids), space=space,
              info={"name": "test zoo", "records": ["transfergraph_hf"]})
    _SMALL["zoo"] = zoo
    return zoo


@pytest.fixture(scope="module")
def small_zoo() -> Zoo:
    return make_small_zoo()


@pytest.fixture
def zoo_dir(small_zoo: Zoo, tmp_path: Path) -> Path:
    return small_zoo.save(tmp_path / "zoo")


# ---------------------------------------------------------------------------- format
def test_save_load_round_trip(small_zoo: Zoo, zoo_dir: Path):
    z = Zoo.load(zoo_dir)
    assert z.model_ids == small_zoo.model_ids
    np.testing.assert_array_equal(z.model_vectors, small_zoo.model_vectors)
    np.testing.assert_array_equal(z.task_vectors, small_zoo.task_vectors)
    assert z.tasks["task_id"].tolist() == small_zoo.tasks["task_id"].tolist()
    assert len(z.history) == len(small_zoo.history) > 0
    assert z.models["vector_source"].tolist() == small_zoo.models["vector_source"].tolist()
    assert z.models["params"].isna().tolist() == small_zoo.models["params"].isna().tolist()
    # the space comes back too and gives the same task vectors
    np.testing.assert_allclose(z.space.task_vector("uoft-cs/cifar100"),
                               small_zoo.space.task_vector("uoft-cs/cifar100"), rtol=1e-6)


def test_layout_has_no_pickle_and_a_manifest_of_every_file(zoo_dir: Path):
    files = sorted(p.relative_to(zoo_dir).as_posix() for p in zoo_dir.rglob("*") if p.is_file())
    suffixes = {Path(f).suffix for f in files}
    assert suffixes <= {".parquet", ".safetensors", ".json", ".md"}, suffixes
    manifest = json.loads((zoo_dir / MANIFEST).read_text())
    assert manifest["schema_version"] == 1
    assert set(manifest["files"]) == set(files) - {MANIFEST}
    for rel, meta in manifest["files"].items():
        assert meta["size"] == (zoo_dir / rel).stat().st_size
    assert manifest["counts"]["models"] == 46
    assert manifest["dims"]["vector"] > 1


def test_parquet_rows_carry_vectors_in_safetensors_order(zoo_dir: Path, small_zoo: Zoo):
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    t = pq.read_table(zoo_dir / MODELS_FILE)
    vec = np.array(t.column("vector").to_pylist(), dtype=np.float32)
    arrays = load_file(str(zoo_dir / VECTORS_FILE))
    np.testing.assert_array_equal(vec, arrays["model_vectors"])
    assert t.column("model_id").to_pylist() == small_zoo.model_ids


def test_dataset_card_declares_configs(zoo_dir: Path):
    import yaml

    text = (zoo_dir / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    names = {c["config_name"]: c for c in front["configs"]}
    assert set(names) == {"models", "tasks", "history"}
    assert names["models"]["data_files"][0]["path"] == "data/models-*.parquet"
    assert "schema version: 1" in text and "archi2vec version" in text


def test_local_dir_reads_with_datasets(zoo_dir: Path, small_zoo: Zoo):
    import datasets

    ds = datasets.load_dataset(str(zoo_dir), "models", split="train")
    assert ds.num_rows == len(small_zoo.models)
    assert ds[0]["model_id"] == small_zoo.model_ids[0]
    assert len(ds[0]["vector"]) == small_zoo.dim
    tasks = datasets.load_dataset(str(zoo_dir), "tasks", split="train")
    assert tasks.num_rows == len(small_zoo.tasks)


# ---------------------------------------------------------------------------- integrity
def _flip_byte(path: Path, offset: int = -20) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip_vectors", "truncate_models", "delete_history", "bad_manifest",
                                    "future_schema", "escaping_path"])
def test_corrupt_zoo_is_rejected_with_a_clear_error(zoo_dir: Path, damage: str):
    manifest_path = zoo_dir / MANIFEST
    if damage == "flip_vectors":
        _flip_byte(zoo_dir / VECTORS_FILE)
        expect = "vectors.safetensors is corrupt"
    elif damage == "truncate_models":
        p = zoo_dir / MODELS_FILE
        p.write_bytes(p.read_bytes()[:100])
        expect = "truncated"
    elif damage == "delete_history":
        (zoo_dir / HISTORY_FILE).unlink()
        expect = "missing"
    elif damage == "bad_manifest":
        manifest_path.write_text(manifest_path.read_text()[:50])
        expect = "corrupt or truncated"
    elif damage == "future_schema":
        m = json.loads(manifest_path.read_text())
        m["schema_version"] = 99
        manifest_path.write_text(json.dumps(m))
        expect = "not supported"
    else:
        m = json.loads(manifest_path.read_text())
        m["files"]["../outside.txt"] = {"sha256": "0" * 64, "size": 1}
        manifest_path.write_text(json.dumps(m))
        expect = "unsafe"
    with pytest.raises(ZooFormatError, match=expect):
        Zoo.load(zoo_dir)


def test_zoo_written_with_an_archi2vec_pca_still_loads(zoo_dir: Path, small_zoo: Zoo):
    """Older zoos stored an archi2vec PCA (a2v_pca_mean, a2v_pca_components) beside the vectors;
    nothing reads it any more, and such a zoo loads with its vectors intact."""
    import hashlib

    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(zoo_dir / VECTORS_FILE))
    arrays["a2v_pca_mean"] = np.zeros((1, 4), np.float64)
    arrays["a2v_pca_components"] = np.eye(2, 4, dtype=np.float64)
    save_file(arrays, str(zoo_dir / VECTORS_FILE), metadata={"format": "fennec-hub-zoo"})
    manifest = json.loads((zoo_dir / MANIFEST).read_text())
    data = (zoo_dir / VECTORS_FILE).read_bytes()
    manifest["files"][VECTORS_FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (zoo_dir / MANIFEST).write_text(json.dumps(manifest))
    back = Zoo.load(zoo_dir)
    np.testing.assert_array_equal(back.model_vectors, small_zoo.model_vectors)
    np.testing.assert_array_equal(back.task_vectors, small_zoo.task_vectors)
    assert back.model_ids == small_zoo.model_ids


def test_not_a_zoo(tmp_path: Path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ZooFormatError, match="zoo.json is missing"):
        Zoo.load(tmp_path)


def test_save_refuses_to_clobber_a_foreign_directory(small_zoo: Zoo, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        small_zoo.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_save_is_deterministic(small_zoo: Zoo, tmp_path: Path):
    a = small_zoo.save(tmp_path / "a")
    b = Zoo.load(a).save(tmp_path / "b")
    ma = json.loads((a / MANIFEST).read_text())["files"]
    mb = json.loads((b / MANIFEST).read_text())["files"]
    assert ma == mb


# ---------------------------------------------------------------------------- the Hub
def test_push_and_read_back(loophub, small_zoo: Zoo, unique_repo_id: str, hub_token: str):
    url = small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    commits = loophub.commits("dataset", unique_repo_id)
    assert len(commits) >= 1 and commits[0] in str(url)
    files = loophub.files("dataset", unique_repo_id)
    assert {MANIFEST, MODELS_FILE, VECTORS_FILE, "README.md"} <= set(files)
    # exactly one commit carried the zoo (the repo's creation does not add one)
    assert len(loophub.calls("POST", rf"/api/datasets/{unique_repo_id}/commit/")) == 1

    z = Zoo.from_hub(unique_repo_id, token=hub_token)
    assert z.revision == commits[0]
    assert z.model_ids == small_zoo.model_ids
    np.testing.assert_array_equal(z.model_vectors, small_zoo.model_vectors)


def test_read_with_datasets_load_dataset(loophub, small_zoo: Zoo, unique_repo_id: str, hub_token: str):
    import datasets

    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    ds = datasets.load_dataset(unique_repo_id, "models", split="train", token=hub_token)
    assert ds.num_rows == len(small_zoo.models)
    assert set(ds.column_names) >= {"model_id", "vector", "license", "params", "vector_source"}
    assert ds["model_id"] == small_zoo.model_ids
    tasks = datasets.load_dataset(unique_repo_id, "tasks", split="train", token=hub_token)
    assert tasks["task_id"] == small_zoo.tasks["task_id"].tolist()


def test_revision_pinning(loophub, small_zoo: Zoo, unique_repo_id: str, hub_token: str):
    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    first = loophub.commits("dataset", unique_repo_id)[0]
    smaller = Zoo(small_zoo.models.iloc[:10], small_zoo.model_vectors[:10], small_zoo.tasks,
                  small_zoo.task_vectors, history=small_zoo.history, space=small_zoo.space)
    smaller.push_to_hub(unique_repo_id, token=hub_token)
    second = loophub.commits("dataset", unique_repo_id)[0]
    assert first != second
    assert len(Zoo.from_hub(unique_repo_id, token=hub_token)) == 10
    old = Zoo.from_hub(unique_repo_id, revision=first, token=hub_token)
    assert old.revision == first and len(old) == len(small_zoo)


def test_offline_reuse_from_cache(loophub, small_zoo: Zoo, unique_repo_id: str, hub_token: str, offline):
    # `offline` is active for the whole test: push and first read must happen with it lifted
    import huggingface_hub.constants as c

    c.HF_HUB_OFFLINE = False
    small_zoo.push_to_hub(unique_repo_id, token=hub_token)
    online = Zoo.from_hub(unique_repo_id, token=hub_token)
    c.HF_HUB_OFFLINE = True
    loophub.clear_log()
    again = Zoo.from_hub(unique_repo_id, token=hub_token)
    assert loophub.calls() == []  # no request at all while offline
    assert again.revision == online.revision
    assert again.model_ids == small_zoo.model_ids


def test_offline_without_cache_fails_fast(loophub, offline):
    import time

    t = time.perf_counter()
    with pytest.raises(hub.HubError):
        Zoo.from_hub("nobody/never-downloaded-zoo")
    assert time.perf_counter() - t < 5


def test_private_repo_needs_a_token(loophub, small_zoo: Zoo, unique_repo_id: str, hub_token: str):
    small_zoo.push_to_hub(unique_repo_id, private=True, token=hub_token)
    with pytest.raises(hub.RepoNotFound) as err:
        Zoo.from_hub(unique_repo_id, token=False)
    assert unique_repo_id in str(err.value)
    z = Zoo.from_hub(unique_repo_id, token=hub_token)
    assert len(z) == len(small_zoo)


def test_repo_not_found_message(loophub):
    with pytest.raises(hub.RepoNotFound) as err:
        Zoo.from_hub("nobody/no-such-zoo")
    assert "nobody/no-such-zoo" in str(err.value)


def test_gated_repo_message(loophub, zoo_dir: Path, unique_repo_id: str):
    files = {p.relative_to(zoo_dir).as_posix(): p.read_bytes() for p in zoo_dir.rglob("*") if p.is_file()}
    loophub.add_repo("dataset", unique_repo_id, files, gated=True)
    with pytest.raises(hub.GatedRepo) as err:
        Zoo.from_hub(unique_repo_id)
    assert unique_repo_id in str(err.value)


def test_corrupt_zoo_on_the_hub_is_rejected(loophub, zoo_dir: Path, unique_repo_id: str):
    files = {p.relative_to(zoo_dir).as_posix(): p.read_bytes() for p in zoo_dir.rglob("*") if p.is_file()}
    vec = bytearray(files[VECTORS_FILE])
    vec[-8] ^= 0xFF
    files[VECTORS_FILE] = bytes(vec)
    loophub.add_repo("dataset", unique_repo_id, files)
    with pytest.raises(ZooFormatError, match="corrupt"):
        Zoo.from_hub(unique_repo_id)


def test_repo_that_is_not_a_zoo(loophub, unique_repo_id: str):
    loophub.add_repo("dataset", unique_repo_id, {"README.md": "# just a dataset\n", "data/x.csv": "a,b\n1,2\n"})
    with pytest.raises(ZooFormatError, match="not a fennec_hub zoo"):
        Zoo.from_hub(unique_repo_id)


# ---------------------------------------------------------------------------- Zoo.build
def test_build_custom_zoo_with_private_and_local_models(loophub, small_zoo: Zoo, tmp_path: Path,
                                                        unique_repo_id: str, hub_token: str):
    private_id = unique_repo_id.replace("/", "/private-vit-")
    cfg = {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 192,
           "num_hidden_layers": 4, "num_attention_heads": 3, "intermediate_size": 768, "image_size": 224,
           "patch_size": 16, "num_channels": 3}
    loophub.add_repo("model", private_id, {"config.json": json.dumps(cfg)}, private=True)
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": 2}))
    history_model = small_zoo.model_ids[0]

    with pytest.raises(hub.RepoNotFound):
        Zoo.build([private_id], space=small_zoo, token=False)

    zoo = Zoo.build([history_model, private_id, str(local),
                     {"model_id": "me/with-meta", "config": cfg, "license": "mit", "params": 5_000_000}],
                    space=small_zoo, token=hub_token, name="my zoo")
    assert zoo.model_ids == [history_model, private_id, "local/my-model", "me/with-meta"]
    src = dict(zip(zoo.model_ids, zoo.models["vector_source"]))
    assert src[history_model] == "history" and src[private_id] == "cold_start"
    # a history model keeps exactly its vector from the base zoo
    np.testing.assert_array_equal(zoo.model_vectors[0], small_zoo.model_vectors[small_zoo.model_index(history_model)])
    assert zoo.models.set_index("model_id").at["me/with-meta", "license"] == "mit"
    assert zoo.dim == small_zoo.dim and len(zoo.tasks) == len(small_zoo.tasks)
    # the private config was fetched through the Hub with the token
    assert loophub.calls("GET", rf"/{private_id}/resolve/.*/config.json")
    # and the custom zoo round-trips through the Hub
    target = unique_repo_id + "-custom"
    zoo.push_to_hub(target, private=True, token=hub_token)
    back = Zoo.from_hub(target, token=hub_token)
    assert back.model_ids == zoo.model_ids


def test_build_custom_zoo_of_models_all_in_the_base_zoo(small_zoo: Zoo):
    """Every model already in the base zoo: each keeps its row's vectors, and nothing is encoded anew."""
    picked = [small_zoo.model_ids[0], "timm/resnet50.a1_in1k"]  # a history model and a cold start
    zoo = Zoo.build(picked, space=small_zoo)
    assert zoo.model_ids == picked
    rows = [small_zoo.model_index(m) for m in picked]
    np.testing.assert_array_equal(zoo.model_vectors, small_zoo.model_vectors[rows])
    assert zoo.models["vector_source"].tolist() == ["history", "cold_start"]
    assert zoo.models["twins"].isna().all()


# ---------------------------------------------------------------------------- the default zoo
default_missing = not (REPO_ROOT / "fennec_hub" / "data" / "zoo" / MANIFEST).exists()


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_default_zoo_loads_offline_in_a_fresh_process(tmp_path: Path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    code = ("import time; t=time.perf_counter(); from fennec_hub import Zoo; z=Zoo.default(); "
            "print(len(z), len(z.tasks), z.models['vector_source'].nunique())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    n, m, kinds = map(int, out.stdout.split())
    assert n > 1000 and m > 20 and kinds == 2


def test_push_to_hub_leaves_the_zoo_reading_its_own_files(loophub, small_zoo: Zoo, tmp_path: Path,
                                                          unique_repo_id: str, hub_token: str):
    """Pushing saves to a temporary directory; the zoo must not start reading from it (its lazily
    loaded space and proxies would vanish with it: the default zoo lost its text proxy this way)."""
    from fennec_hub.tasks import fit_task_proxies

    z = Zoo(small_zoo.models, small_zoo.model_vectors, small_zoo.tasks, small_zoo.task_vectors,
            history=small_zoo.history, space=small_zoo.space)
    z.proxies = fit_task_proxies(small_zoo.space, proxies=("metadata",))
    loaded = Zoo.load(z.save(tmp_path / "zoo"))
    loaded.push_to_hub(unique_repo_id, token=hub_token)
    assert set(loaded.proxies) == {"metadata"}
    assert loaded.space.known_tasks == small_zoo.space.known_tasks


def test_task_proxies_travel_with_the_zoo(small_zoo: Zoo, tmp_path: Path):
    from fennec_hub.ranking import recommend
    from fennec_hub.tasks import fit_task_proxies

    z = Zoo(small_zoo.models, small_zoo.model_vectors, small_zoo.tasks, small_zoo.task_vectors,
            history=small_zoo.history, space=small_zoo.space)
    z.proxies = fit_task_proxies(small_zoo.space, proxies=("metadata",))
    assert set(z.proxies) == {"metadata"}
    back = Zoo.load(z.save(tmp_path / "zoo"))
    assert set(back.proxies) == {"metadata"}
    assert (tmp_path / "zoo" / "proxies" / "index.json").exists()
    # a dataset without a stored vector is placed by the proxies
    i = back.task_index("AI-Lab-Makerere/beans")
    lean = Zoo(back.models, back.model_vectors, back.tasks.drop(index=i), np.delete(back.task_vectors, i, axis=0),
               history=back.history, space=back.space)
    lean.proxies = back.proxies
    df = recommend("beans", zoo=lean)
    assert df.attrs["task_vector_source"] == "metadata" and len(df) == 10
    # the proxies placed it (not the space's own metadata encoder)
    from fennec_hub.datasets import resolve_dataset
    from fennec_hub.tasks import task_vector_from_proxies

    tv = task_vector_from_proxies(resolve_dataset("beans"), lean, progress=False)
    np.testing.assert_allclose(df["raw_score"].to_numpy(), (lean.model_vectors @ tv)[
        [lean.model_index(m) for m in df["model_id"]]], rtol=1e-4, atol=1e-5)


def test_build_from_a_crawl(tmp_path: Path, monkeypatch):
    """`build-zoo --crawl DIR`: crawled models become candidates with their own archi2vec vectors,
    and their model-card records join the fit (history vectors for the base models they name).

    Stand-ins keep it fast: no timm catalogue or shipped configs, and a deterministic fake encoder
    for the record models (the archi2vec encoder itself is tested in test_archi2vec.py).
    """
    import fennec_hub.build as build_mod
    from fennec_hub.architecture import ARCHI2VEC_DIM, ARCHI2VEC_VERSION

    from types import SimpleNamespace

    def fake_describe_many(keys, progress=False, metadata=None):
        out = {}
        for i, k in enumerate(keys):
            v = np.random.default_rng(__import__("zlib").crc32(str(k).encode())).normal(size=ARCHI2VEC_DIM).astype(np.float32)
            out[i] = SimpleNamespace(vector=v / np.linalg.norm(v), params=None, input_size=None, family=None)
        return out

    monkeypatch.setattr(build_mod, "describe_many", fake_describe_many)
    monkeypatch.setattr(build_mod, "timm_catalogue", lambda: pd.DataFrame(columns=["model_id", "library", "timm_name"]))
    monkeypatch.setattr(build_mod, "hf_catalogue", lambda: pd.DataFrame(columns=["model_id"]))

    crawl = tmp_path / "crawl"
    crawl.mkdir()
    vec = [0.0] * ARCHI2VEC_DIM
    vec[3] = 1.0
    models = [
        {"id": "acme/vit-small-birds", "sha": "a" * 40, "status": "encoded", "library": "transformers",
         "license": "apache-2.0", "pipeline_tag": "image-classification", "params": 22_000_000,
         "family": "vit", "architecture": "ViTForImageClassification", "archi2vec": vec,
         "archi2vec_version": ARCHI2VEC_VERSION},
        {"id": "acme/broken", "sha": "b" * 40, "status": "skipped", "reason": "no config.json"},
        {"id": "acme/base-convnet", "sha": "c" * 40, "status": "encoded", "library": "timm", "license": "mit",
         "params": 11_000_000, "family": "resnet", "architecture": "resnet18", "archi2vec": vec,
         "archi2vec_version": ARCHI2VEC_VERSION},
    ]
    records = [
        {"model": f"someone/ft-{d}", "base_model": "acme/base-convnet", "dataset": ds, "metric": "finetune_top1",
         "value": v, "source": f"hub:someone/ft-{d}@{'d' * 40}:README.md", "sha": "d" * 40}
        for d, ds, v in (("c100", "uoft-cs/cifar100", 81.0), ("dtd", "tanganke/dtd", 70.0),
                         ("pets", "timm/oxford-iiit-pet", 90.0))
    ]
    # the finetuned repos must be in models.jsonl at the sha their records carry
    models += [{"id": f"someone/ft-{d}", "sha": "d" * 40, "status": "skipped", "reason": "finetune"}
               for d in ("c100", "dtd", "pets")]
    (crawl / "models.jsonl").write_text("".join(json.dumps(m) + "\n" for m in models))
    (crawl / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    zoo = build_mod.build_default_zoo(tmp_path / "zoo", crawl=crawl, proxies=("metadata",), progress=False,
                                      log=lambda *a, **k: None)
    ids = set(zoo.model_ids)
    assert {"acme/vit-small-birds", "acme/base-convnet"} <= ids and "acme/broken" not in ids
    m = zoo.models.set_index("model_id")
    assert m.at["acme/base-convnet", "vector_source"] == "history"  # the card records name it as base
    assert m.at["acme/vit-small-birds", "vector_source"] == "cold_start"
    assert m.at["acme/vit-small-birds", "license"] == "apache-2.0" and m.at["acme/vit-small-birds", "params"] == 22_000_000
    np.testing.assert_array_equal(zoo.archi2vec_vectors[zoo.model_index("acme/vit-small-birds")], np.asarray(vec, np.float32))
    h = zoo.history
    assert set(h.loc[h["model_id"] == "acme/base-convnet", "benchmark"]) == {"hub_cards"}
    assert "hub_cards" in zoo.info["records"]
    assert set(zoo.proxies) == {"metadata"}
    from fennec_hub.ranking import recommend

    df = recommend("cifar100", zoo=zoo, top_k=None)
    row = df[df["model_id"] == "acme/base-convnet"].iloc[0]
    assert "81.0% fine-tuned on CIFAR-100" in row["why"]


def test_test_and_toy_repositories_are_not_candidates():
    from fennec_hub.build import _exclusion

    assert _exclusion("hf-internal-testing/tiny-random-vit", 1e5, 0) == "test repository (hf-internal-testing)"
    # a test organisation's upload of real network code is no candidate either, records or not
    assert _exclusion("nates-test-org/convit_base", 8.6e7, 6) == "test repository (nates-test-org)"
    for name in ("nateraw/test_model_a", "flyswot/test", "someone/vit_flyswot_test", "x/tiny-random-convnext",
                 "lysandre/tiny-vit-random"):
        assert _exclusion(name, 8e7, 3) == "test or toy repository (by its name)", name
    assert "under 1M parameters" in _exclusion("someone/micro-net", 4.4e4, 0)
    assert _exclusion("someone/micro-net", 4.4e4, 5) is None  # its records speak for it
    for name in ("timm/resnet50.tv_in1k", "google/vit-base-patch16-224", "microsoft/beit-large-patch16-384",
                 "timm/convnext_tiny.fb_in1k", "someone/contest-winner", "latest-org/vit-base",
                 "someone/vit-randaugment", "someone/randomized-smoothing-resnet"):
        assert _exclusion(name, 2.5e7, 0) is None, name


# ---------------------------------------------------------------------------- load-time validation
def _rewrite_manifest(root: Path) -> None:
    """Recompute every checksum in zoo.json: only content validation can then catch a damage."""
    import hashlib

    m = json.loads((root / MANIFEST).read_text())
    for rel in m["files"]:
        data = (root / rel).read_bytes()
        m["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (root / MANIFEST).write_text(json.dumps(m))


def _edit_json(root: Path, rel: str, **fields) -> None:
    data = json.loads((root / rel).read_text())
    data.update(fields)
    (root / rel).write_text(json.dumps(data))


def _edit_parquet(root: Path, rel: str, column: str, values) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(root / rel)
    i = table.schema.get_field_index(column)
    pq.write_table(table.set_column(i, column, pa.array(values)), root / rel)


def _edit_arrays(root: Path, rel: str, **arrays) -> None:
    from safetensors.numpy import load_file, save_file

    data = load_file(str(root / rel))
    data.update(arrays)
    save_file(data, str(root / rel))


def _add_proxy(zoo_dir: Path, dim: int) -> None:
    from fennec_hub.tasks import ProxyRegressor

    rng = np.random.default_rng(0)
    zoo = Zoo.load(zoo_dir)
    zoo.proxies = {"metadata": ProxyRegressor.fit(rng.normal(size=(6, 5)), rng.normal(size=(6, dim)), name="metadata")}
    zoo.save(zoo_dir)


_MALFORMED = {
    # name: (damage(root, zoo), file the error must name)
    "space models not a list": (lambda r, z: _edit_json(r, "space/space.json", models=5), "space/space.json"),
    "space models a string": (lambda r, z: _edit_json(r, "space/space.json", models="abc"), "space/space.json"),
    "space not an object": (lambda r, z: (r / "space/space.json").write_text("[1, 2]"), "space/space.json"),
    "space profile shape": (lambda r, z: _edit_arrays(r, "space/space.safetensors", profile=np.zeros((3, 2))),
                            "space/space.safetensors"),
    "history value as text": (lambda r, z: _edit_parquet(r, HISTORY_FILE, "value", [str(v) for v in z.history["value"]]),
                              HISTORY_FILE),
    "history value missing": (lambda r, z: _edit_parquet(r, HISTORY_FILE, "value",
                                                         [None] + z.history["value"].tolist()[1:]), HISTORY_FILE),
    "models params as text": (lambda r, z: _edit_parquet(r, MODELS_FILE, "params", ["big"] * len(z)), MODELS_FILE),
    "vectors of ints": (lambda r, z: _edit_arrays(r, VECTORS_FILE, model_vectors=np.ones((len(z), z.dim), np.int32)),
                        VECTORS_FILE),
    "vectors one row short": (lambda r, z: _edit_arrays(r, VECTORS_FILE, task_vectors=z.task_vectors[1:].copy()),
                              VECTORS_FILE),
    "vectors not finite": (lambda r, z: _edit_arrays(r, VECTORS_FILE, model_vectors=np.full((len(z), z.dim), np.inf,
                                                                                             np.float32)), VECTORS_FILE),
    "manifest dims a list": (lambda r, z: _edit_json(r, MANIFEST, dims=[1, 2]), MANIFEST),
    "manifest counts wrong": (lambda r, z: _edit_json(r, MANIFEST, counts={"models": 999}), MANIFEST),
    "proxy of another dimension": (lambda r, z: (_add_proxy(r, z.dim + 1)), "proxies/metadata.safetensors"),
}


@pytest.mark.parametrize("damage", sorted(_MALFORMED))
def test_malformed_zoo_fails_at_load_naming_the_file(small_zoo: Zoo, zoo_dir: Path, damage: str):
    change, rel = _MALFORMED[damage]
    change(zoo_dir, small_zoo)
    _rewrite_manifest(zoo_dir)
    with pytest.raises(ZooFormatError) as err:
        Zoo.load(zoo_dir)
    assert rel in str(err.value), str(err.value)


def test_a_well_formed_zoo_with_proxies_loads_them_eagerly(small_zoo: Zoo, zoo_dir: Path):
    _add_proxy(zoo_dir, small_zoo.dim)
    zoo = Zoo.load(zoo_dir)
    assert set(zoo.proxies) == {"metadata"} and zoo.proxies["metadata"].coef.shape[0] == small_zoo.dim
    assert zoo._space is not None and len(zoo.__dict__["_history"]) == len(small_zoo.history)


def test_files_the_manifest_does_not_list_are_not_read(small_zoo: Zoo, zoo_dir: Path):
    m = json.loads((zoo_dir / MANIFEST).read_text())
    for rel in [r for r in m["files"] if r.startswith("space/")]:
        del m["files"][rel]
    (zoo_dir / MANIFEST).write_text(json.dumps(m))
    (zoo_dir / "space" / "space.json").write_text("not even JSON")  # present, unlisted, never parsed
    zoo = Zoo.load(zoo_dir)
    assert not zoo.has_space
    with pytest.raises(ZooFormatError, match="carries no transfer space"):
        zoo.space
