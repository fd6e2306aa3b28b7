"""Tests of fennec_hub.architecture (archi2vec): inputs, determinism, safety on hostile configs, and evidence that
the vectors carry architecture information (nearest neighbours share a family; size orders)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

os.environ["FENNEC_ARCHI2VEC_DISK_CACHE"] = "0"   # every test builds for real unless it says otherwise

from fennec_hub.architecture import (  # noqa: E402
    ARCHI2VEC_DIM,
    ARCHI2VEC_VERSION,
    ArchitectureError,
    archi2vec,
    config_from_metadata,
    describe_architecture,
    encode_many,
    list_shipped_configs,
    resolve_architecture,
    timm_family,
)

from fennec_hub import architecture as a2v_mod  # noqa: E402
timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

PY = sys.executable
REPO = Path(__file__).resolve().parents[1]
N_TIMM = 300


def _env(**extra):
    env = dict(os.environ)
    env.update({"FENNEC_ARCHI2VEC_DISK_CACHE": "0", "HF_HUB_OFFLINE": "1"}, **extra)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ----------------------------------------------------------------------------------------------
# Basic contract


def test_vector_contract():
    v = archi2vec("resnet18")
    assert v.dtype == np.float32 and v.shape == (ARCHI2VEC_DIM,)
    assert np.isfinite(v).all()
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4
    # each block has the documented weight (norm)
    for name, start, stop, weight in a2v_mod.BLOCKS:
        assert abs(float(np.linalg.norm(v[start:stop])) - weight) < 1e-4, name
    assert isinstance(ARCHI2VEC_VERSION, str)


def test_describe_architecture_fields():
    info = describe_architecture("resnet50")
    assert info.family == "resnet" and info.library == "timm"
    assert 23_000_000 < info.params < 26_000_000          # ResNet-50 backbone without its fc head
    assert info.num_modules > 100 and info.input_size == 224
    hf = describe_architecture("google/vit-base-patch16-224")
    assert hf.family == "vit" and hf.library == "transformers"
    assert 85_000_000 < hf.params < 88_000_000 and hf.input_size == 224


def test_timm_family_prefix():
    assert timm_family("resnet50d") == "resnet"
    assert timm_family("timm/resnetv2_50x1_bit.goog_in21k") == "resnetv2"
    assert timm_family("vit_base_patch16_224.augreg_in21k") == "vit"
    assert timm_family("tf_efficientnet_b3") == "efficientnet"
    assert timm_family("mobilenetv3_large_100") == "mobilenetv3"
    assert timm_family("convnextv2_atto") == "convnextv2"


# ----------------------------------------------------------------------------------------------
# Input forms


def test_all_input_forms_agree(tmp_path):
    from transformers import ViTConfig

    shipped = json.loads((a2v_mod._DATA_DIR / "google__vit-base-patch16-224.json").read_text())
    by_id = archi2vec("google/vit-base-patch16-224")
    by_dict = archi2vec(shipped)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(dict(shipped, id2label={str(i): f"c{i}" for i in range(1000)})))
    by_path = archi2vec(str(p))
    by_dir = archi2vec(tmp_path)
    obj = ViTConfig(**{k: v for k, v in shipped.items() if k != "model_type"})
    by_obj = archi2vec(obj)
    for other in (by_dict, by_path, by_dir, by_obj):
        np.testing.assert_allclose(other, by_id, atol=1e-6)

    t_name = archi2vec("resnet50")
    t_hub = archi2vec("timm/resnet50.a1_in1k")
    t_cfg = archi2vec({"architecture": "resnet50", "num_classes": 1000,
                       "pretrained_cfg": {"input_size": [3, 224, 224], "tag": "a1_in1k"}})
    np.testing.assert_allclose(t_hub, t_name, atol=1e-6)
    np.testing.assert_allclose(t_cfg, t_name, atol=1e-6)
    assert not np.allclose(archi2vec("vit_base_patch16_384"), archi2vec("vit_base_patch16_224"))


def test_namespaced_ids_resolve():
    assert resolve_architecture("keras/resnet50v2").name == "resnetv2_50"
    assert resolve_architecture("keras/efficientnetb2").name == "efficientnet_b2"
    assert resolve_architecture("keras/xception").name == "legacy_xception"
    assert resolve_architecture("keras/mobilenet").name == "mobilenetv1_100"
    assert resolve_architecture("vtab/Sup-100%").name == "resnetv2_50"
    assert resolve_architecture("parc/resnet101-faster-rcnn_c4_138204752").name == "resnet101"
    assert resolve_architecture("timm/resnet50.tv_in1k").name == "resnet50"
    spec = resolve_architecture("keras/nasnetmobile")
    assert spec.note  # an approximation says so
    # same architecture through different ids -> same vector
    np.testing.assert_allclose(archi2vec("keras/resnet50"), archi2vec("resnet50"), atol=1e-6)
    np.testing.assert_allclose(archi2vec("vtab/Rotation"), archi2vec("resnetv2_50"), atol=1e-6)
    np.testing.assert_allclose(archi2vec("parc/resnet18-cifar10"), archi2vec("torchvision/resnet18"), atol=1e-6)


def test_pytorchcv_ids():
    pytest.importorskip("pytorchcv")
    info = describe_architecture("pytorchcv/resnet50")
    assert info.library == "pytorchcv" and 23_000_000 < info.params < 26_000_000
    # Only the classifier is dropped: AlexNet's two 4096-wide dense layers are part of the network.
    assert 55_000_000 < describe_architecture("pytorchcv/alexnet").params < 62_000_000
    cifar = describe_architecture("pytorchcv/resnet20_cifar10")
    assert cifar.input_size == 32
    for mid in ("torchvision/alexnet", "torchvision/googlenet", "parc/alexnet-cub200", "keras/nasnetmobile"):
        assert archi2vec(mid).shape == (ARCHI2VEC_DIM,)
    # pytorchcv resnet50 and timm resnet50 are the same architecture: close vectors
    cos = float(archi2vec("pytorchcv/resnet50") @ archi2vec("resnet50"))
    assert cos > float(archi2vec("pytorchcv/resnet50") @ archi2vec("vit_base_patch16_224"))


def test_unknown_ids_raise_clear_errors():
    with pytest.raises(ArchitectureError, match="unknown timm architecture"):
        archi2vec("resnet5000")
    with pytest.raises(ArchitectureError, match="unknown model id"):
        archi2vec("someone/not-a-shipped-model")
    with pytest.raises(ArchitectureError, match="unknown transformers model type"):
        archi2vec({"model_type": "not_a_model"})
    with pytest.raises(ArchitectureError, match="not a vision model type"):
        archi2vec({"model_type": "bert"})
    with pytest.raises(ArchitectureError, match="removed"):
        archi2vec({"model_type": "van"})
    with pytest.raises(ArchitectureError):
        archi2vec(12345)


def test_config_from_metadata():
    small = config_from_metadata("vit", num_parameters=22_000_000, image_size=224, hidden_size=384)
    assert small["hidden_size"] == 384
    big = config_from_metadata("vit", num_parameters=304_000_000, image_size=384)
    assert big["hidden_size"] == 1024 and big["image_size"] == 384
    swin = config_from_metadata("swin", 28_288_354, 224, 768)
    assert describe_architecture(swin).family == "swin"
    assert abs(describe_architecture(swin).params - 28_000_000) < 2_000_000
    for removed in ("van", "vit_hybrid", "efficientformer"):
        with pytest.raises(ArchitectureError, match="removed"):
            config_from_metadata(removed, 26_000_000, 224, 512)


def test_every_shipped_config_encodes_and_index_is_complete():
    index = list_shipped_configs()
    assert len(index) >= 40
    ids, mat, errors = encode_many(sorted(index), progress=False)
    assert not errors, errors
    assert mat.shape == (len(index), ARCHI2VEC_DIM)
    for repo, meta in index.items():
        assert meta["library"] == "transformers" and meta["pipeline_tag"]
        assert "license" in meta and "pretraining" in meta
        assert meta["num_parameters"] == describe_architecture(repo).params
        cfg = json.loads((a2v_mod._DATA_DIR / meta["file"]).read_text())
        assert "id2label" not in cfg and cfg["model_type"] == meta["model_type"]


def test_encode_many_skips_failures():
    ids, mat, errors = encode_many(["resnet18", "nope_not_a_model", "keras/vgg16"], progress=False)
    assert ids == ["resnet18", "keras/vgg16"] and mat.shape == (2, ARCHI2VEC_DIM)
    assert list(errors) == ["nope_not_a_model"] and "unknown" in errors["nope_not_a_model"]


def test_cache_makes_reencoding_free(tmp_path, monkeypatch):
    a2v_mod.clear_cache()
    t0 = time.perf_counter()
    first = archi2vec("convnext_tiny")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = archi2vec("convnext_tiny")
    warm = time.perf_counter() - t0
    np.testing.assert_array_equal(first, again)
    assert warm < cold
    again[:] = 0                                    # callers get a copy, the cache is safe
    assert np.linalg.norm(archi2vec("convnext_tiny")) > 0.99
    # on-disk cache: .npy + .json, no pickle
    monkeypatch.setenv("FENNEC_ARCHI2VEC_DISK_CACHE", "1")
    monkeypatch.setenv("FENNEC_ARCHI2VEC_CACHE_DIR", str(tmp_path / "assets"))
    a2v_mod.clear_cache()
    v = archi2vec("resnet18")
    files = sorted(p.suffix for p in (tmp_path / "assets").rglob("*") if p.is_file())
    assert files == [".json", ".npy"]
    a2v_mod.clear_cache()
    np.testing.assert_array_equal(archi2vec("resnet18"), v)


def test_encode_cli(capsys):
    from fennec_hub.cli import main

    assert main(["encode", "keras/resnet50", "--format", "json"]) == 0
    vec = np.array(json.loads(capsys.readouterr().out), dtype=np.float32)
    np.testing.assert_allclose(vec, archi2vec("resnet50"), atol=1e-5)
    assert main(["encode", "google/vit-base-patch16-224"]) == 0
    out = capsys.readouterr().out
    assert "transformers vit" in out and "86.39M params" in out
    assert main(["encode", "no_such_model_xyz"]) == 1
    assert "unknown timm architecture" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Determinism and import hygiene


def test_deterministic_across_processes():
    code = textwrap.dedent("""
        import json, sys
        from fennec_hub.architecture import archi2vec
        ids = ["resnet50", "vit_small_patch16_224", "google/vit-base-patch16-224", "microsoft/swin-tiny-patch4-window7-224"]
        print(json.dumps([archi2vec(i).tolist() for i in ids]))
    """)
    outs = []
    for seed in ("0", "12345"):
        r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=240,
                           env=_env(PYTHONHASHSEED=seed))
        assert r.returncode == 0, r.stderr[-2000:]
        outs.append(np.array(json.loads(r.stdout.strip().splitlines()[-1]), dtype=np.float32))
    np.testing.assert_array_equal(outs[0], outs[1])
    here = np.stack([archi2vec(i) for i in ("resnet50", "vit_small_patch16_224", "google/vit-base-patch16-224",
                                             "microsoft/swin-tiny-patch4-window7-224")])
    np.testing.assert_array_equal(outs[0], here)


def test_import_fennec_hub_does_not_import_torch():
    code = ("import sys, fennec_hub, fennec_hub.architecture; "
            "print(sorted(m for m in ('torch','transformers','timm','pytorchcv','pandas','gradio','datasets') "
            "if m in sys.modules)); fennec_hub.TransferSpace; print('pandas' in sys.modules)")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 0, r.stderr
    # Nothing heavy on import; TransferSpace (which needs pandas) loads on first use.
    assert r.stdout.split() == ["[]", "True"]


# ----------------------------------------------------------------------------------------------
# Hostile input: rejected quickly, with bounded memory, before anything big is built

HOSTILE = {
    "layers": ({"model_type": "vit", "num_hidden_layers": 10**6}, "depth limit|out of range"),
    "width": ({"model_type": "vit", "hidden_size": 10**9}, "out of range"),
    "image": ({"model_type": "vit", "image_size": 10**7}, "out of range|image size"),
    "wide_and_deep": ({"model_type": "vit", "hidden_size": 16384, "num_hidden_layers": 128,
                       "num_attention_heads": 16, "intermediate_size": 16384}, "parameters|modules|longer"),
    "auto_map": ({"model_type": "vit", "auto_map": {"AutoModel": "evil.Model"}}, "custom code"),
    "depths_list": ({"model_type": "swin", "depths": [200] * 10}, "layers"),
    "negative": ({"model_type": "vit", "hidden_size": -5}, "negative"),
    "levit_grid": ({"model_type": "levit", "image_size": 2048}, "fourth power"),
    "depth_coefficient": ({"model_type": "efficientnet", "depth_coefficient": 1000.0}, "scale-factor limit"),
    "timm_args": ({"architecture": "resnet50", "model_args": {"img_size": 10**5}}, "out of range|image size"),
    "timm_kwarg": ({"architecture": "resnet50", "model_args": {"act_layer": "os.system"}}, "not accepted"),
    "nested": (None, "nested"),
}

# Config validation is an allow-list: what a config class declares as architecture, range-checked.
HOSTILE.update({
    "heads_negative": ({"model_type": "vit", "num_attention_heads": -12}, "negative"),
    "window_zero": ({"model_type": "swin", "window_size": 0}, "out of range"),
    "eps_negative": ({"model_type": "vit", "layer_norm_eps": -1}, "negative"),
    "eps_one": ({"model_type": "vit", "layer_norm_eps": 1.0}, "out of range"),
    "dropout_above_one": ({"model_type": "vit", "hidden_dropout_prob": 1.5}, "probability"),
    "heads_fraction": ({"model_type": "vit", "num_attention_heads": 12.5}, "whole number"),
    "patch_zero": ({"model_type": "vit", "patch_size": 0}, "out of range"),
    "tower_heads_negative": ({"model_type": "clip", "vision_config": {"num_attention_heads": -1}}, "negative"),
    "auto_map_deep": ({"model_type": "clip", "vision_config": {"extra": {"more": {"auto_map": {"AutoModel": "x.Y"}}}}},
                      r"vision_config\.extra\.more\.auto_map.*custom code"),
    "auto_map_in_list": ({"model_type": "vit", "extra": [{"auto_map": {"AutoModel": "x.Y"}}]}, "custom code"),
    "hub_kernel": ({"model_type": "vit", "attn_implementation": "kernels-community/flash-attn"}, "attn_implementation.*kernel"),
    "hub_kernel_private": ({"model_type": "vit", "_attn_implementation": "someone/evil-kernel"}, "kernel"),
    "hub_kernel_per_tower": ({"model_type": "clip", "attn_implementation": {"vision_config": "kernels-community/x"}},
                             r"attn_implementation\.vision_config.*kernel"),
    "custom_pipelines": ({"model_type": "vit", "custom_pipelines": {"x": {"impl": "m.P"}}}, "custom_pipelines.*custom code"),
    "trust_remote_code_deep": ({"model_type": "vit", "vision_config": {"trust_remote_code": True}}, "custom code"),
    "class_dotted_path": ({"model_type": "vit", "extra": {"layer_class": "evil_pkg.layers.Backdoor"}},
                          "extra.layer_class.*names code"),
    "hub_code_reference": ({"model_type": "vit", "whatever": "someone/repo--modeling_evil.Model"}, "names code"),
})

def _nested(n):
    d = {"model_type": "vit"}
    cur = d
    for _ in range(n):
        cur["x"] = {}
        cur = cur["x"]
    return d


@pytest.fixture(scope="module")
def warm_libraries():
    """Import-time costs (torch, transformers' lazy model modules) are not part of the bound."""
    for mid in ("google/vit-base-patch16-224", "microsoft/swin-tiny-patch4-window7-224", "facebook/levit-128S",
                "google/efficientnet-b0", "resnet50"):
        archi2vec(mid)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_configs_rejected_quickly(name, warm_libraries):
    cfg, pattern = HOSTILE[name]
    if cfg is None:
        cfg = _nested(5000)
    t0 = time.perf_counter()
    with pytest.raises(ArchitectureError, match=pattern):
        archi2vec(cfg)
    assert time.perf_counter() - t0 < 5.0




def test_only_architecture_keys_reach_the_builder():
    """Keys a config class does not declare as architecture (labels, dtype, quantisation, device
    maps, attention implementation, paths...) are dropped before anything is built, and do not
    change the vector."""
    noisy = {"model_type": "vit", "hidden_size": 192, "num_hidden_layers": 2, "num_attention_heads": 3,
             "intermediate_size": 384, "attn_implementation": "sdpa", "quantization_config": {"bits": 4},
             "device_map": "auto", "_name_or_path": "/home/x/model", "torch_dtype": "float16", "use_kernels": True,
             "tokenizer_class": "BertTokenizer", "num_labels": 21843, "not_a_vit_key": 12345,
             "id2label": {"0": "a"}}
    spec = a2v_mod._to_spec(noisy, None)
    assert set(spec.config) == {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"}
    clean = {k: noisy[k] for k in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                   "intermediate_size")}
    np.testing.assert_array_equal(archi2vec(noisy), archi2vec(clean))
    tower = a2v_mod._to_spec({"model_type": "clip", "text_config": {"vocab_size": 10**6}, "projection_dim": 5,
                              "vision_config": {"hidden_size": 96, "model_type": "clip_vision_model",
                                                "attn_implementation": "eager"}}, None)
    assert tower.config == {"vision_config": {"hidden_size": 96}}      # only the vision tower's architecture


def test_every_vision_config_class_default_passes_validation():
    """The range table accepts what transformers itself ships: every vision model type's default
    config (the allow-list drops nothing that changes the network: same parameter count)."""
    from transformers.models.auto import modeling_auto as ma
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    types = (set(ma.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES) | set(ma.MODEL_FOR_BACKBONE_MAPPING_NAMES)
             | a2v_mod._EXTRA_VISION_TYPES | a2v_mod._TOWER_TYPES) - a2v_mod._NOT_BUILDABLE - set(a2v_mod._REMOVED_TYPES)
    checked = 0
    for mt in sorted(t for t in types if t in CONFIG_MAPPING):
        default = CONFIG_MAPPING[mt]().to_dict()
        spec = a2v_mod._to_spec(default, None)
        assert spec.library == "transformers" and spec.name == default["model_type"]
        checked += 1
    assert checked >= 60
    for mt in ("vit", "swin", "efficientnet", "beit", "convnextv2", "levit", "regnet"):
        full = CONFIG_MAPPING[mt]().to_dict()
        spec = a2v_mod._to_spec(full, None)
        unfiltered = a2v_mod.ArchitectureSpec("transformers", mt, {k: v for k, v in full.items() if k != "model_type"},
                                              spec.input_size)
        counts = [sum(p.numel() for p in a2v_mod._build(s)[0].parameters()) for s in (spec, unfiltered)]
        assert counts[0] == counts[1], mt


def test_kernel_loader_is_never_reached(monkeypatch):
    """A config naming a Hub kernel is rejected before transformers sees it."""
    import transformers as tf

    built = []
    orig = a2v_mod._prepare_transformers
    monkeypatch.setattr(a2v_mod, "_prepare_transformers", lambda spec: built.append(spec) or orig(spec))
    monkeypatch.setattr(tf.PretrainedConfig, "__init__", lambda *a, **k: pytest.fail("config class reached"))
    with pytest.raises(ArchitectureError, match="kernel"):
        archi2vec({"model_type": "vit", "attn_implementation": "kernels-community/vllm-flash-attn3"})
    assert built == []


def test_bare_name_that_is_also_a_local_folder_is_not_read_as_timm(tmp_path, monkeypatch):
    """``resnet50`` with a folder ``resnet50/`` here is ambiguous: rejected with a clear error; a
    ``./`` path or a Path reads the folder, ``library="timm"`` the timm architecture."""
    folder = tmp_path / "resnet50"
    folder.mkdir()
    vit_cfg = json.loads((a2v_mod._DATA_DIR / "google__vit-base-patch16-224.json").read_text())
    (folder / "config.json").write_text(json.dumps(vit_cfg))
    (tmp_path / "convnext_tiny").write_text("{}")            # a file of a timm name, too
    monkeypatch.chdir(tmp_path)
    a2v_mod.clear_cache()
    with pytest.raises(ArchitectureError, match="resnet50.*ambiguous.*folder"):
        archi2vec("resnet50")
    with pytest.raises(ArchitectureError, match="ambiguous.*file"):
        archi2vec("convnext_tiny")
    vit = archi2vec("google/vit-base-patch16-224")
    np.testing.assert_allclose(archi2vec("./resnet50"), vit, atol=1e-6)
    np.testing.assert_allclose(archi2vec(Path("resnet50")), vit, atol=1e-6)
    assert describe_architecture("resnet50", library="timm").library == "timm"
    monkeypatch.chdir(REPO)
    assert describe_architecture("resnet50").library == "timm"      # no such folder: the timm name


# Peak resident memory of a child process. ru_maxrss can carry the parent's peak across fork+exec,
# so reset the kernel's high-water mark (VmHWM) first where Linux allows it, and read that.
_PEAK_RSS_SNIPPET = """
import resource
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    pass
def peak_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def test_hostile_files_rejected_in_bounded_time_and_memory(tmp_path):
    big = tmp_path / "big" / "config.json"
    big.parent.mkdir()
    with open(big, "w") as fh:      # ~100 MB config file
        fh.write('{"model_type": "vit", "pad": "')
        chunk = "a" * (1 << 20)
        for _ in range(100):
            fh.write(chunk)
        fh.write('"}')
    deep = tmp_path / "deep.json"
    deep.write_text('{"model_type": "vit", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    code = _PEAK_RSS_SNIPPET + textwrap.dedent(f"""
        import time, json
        from fennec_hub.architecture import archi2vec, ArchitectureError
        out = []
        for p in [{str(big)!r}, {str(deep)!r}]:
            t = time.perf_counter()
            try:
                archi2vec(p)
                out.append(("accepted", 0))
            except ArchitectureError as e:
                out.append((str(e), time.perf_counter() - t))
        print(json.dumps({{"out": out, "rss_kb": peak_kb()}}))
    """)
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    (msg_big, t_big), (msg_deep, t_deep) = res["out"]
    assert "bytes" in msg_big and t_big < 5.0
    assert "nested" in msg_deep and t_deep < 5.0
    assert res["rss_kb"] < 1024 * 1024            # < 1 GiB peak for the whole process


def test_hostile_builds_stay_within_memory_bounds():
    """Configs that pass validation but are huge are stopped by the build guards; peak memory stays
    bounded (measured in a fresh process, after the library imports that any encoding needs)."""
    code = _PEAK_RSS_SNIPPET + textwrap.dedent("""
        import json, time
        from fennec_hub.architecture import archi2vec, ArchitectureError
        archi2vec("google/vit-base-patch16-224"); archi2vec("microsoft/swin-tiny-patch4-window7-224")
        base = peak_kb()
        hostile = [
            {"model_type": "vit", "hidden_size": 16384, "num_hidden_layers": 128, "num_attention_heads": 16,
             "intermediate_size": 16384, "image_size": 2048, "patch_size": 1},
            {"model_type": "swin", "depths": [64, 64, 64], "num_heads": [1, 1, 1], "embed_dim": 16384,
             "image_size": 2048, "window_size": 2048},
        ]
        out = []
        for cfg in hostile:
            t = time.perf_counter()
            try:
                archi2vec(cfg)
                out.append(["accepted", time.perf_counter() - t])
            except ArchitectureError as e:
                out.append([str(e), time.perf_counter() - t])
        peak = peak_kb()
        print(json.dumps({"out": out, "base_kb": base, "peak_kb": peak}))
    """)
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=300, env=_env())
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for msg, seconds in res["out"]:
        assert msg != "accepted" and seconds < 5.0, res
    assert res["peak_kb"] - res["base_kb"] < 256 * 1024, res      # < 256 MiB above the imports
    assert res["peak_kb"] < 1536 * 1024, res


def test_build_watchdog_stops_slow_builds(monkeypatch, warm_libraries):
    monkeypatch.setattr(a2v_mod, "MAX_BUILD_SECONDS", 0.01)
    t0 = time.perf_counter()
    with pytest.raises(ArchitectureError, match="took longer"):
        archi2vec({"model_type": "vit", "num_hidden_layers": 24, "hidden_size": 64, "num_attention_heads": 2,
                   "intermediate_size": 128})
    assert time.perf_counter() - t0 < 5.0
    monkeypatch.undo()
    assert archi2vec({"model_type": "vit", "num_hidden_layers": 24, "hidden_size": 64, "num_attention_heads": 2,
                      "intermediate_size": 128}).shape == (ARCHI2VEC_DIM,)


def test_build_watchdog_timeout_holds_when_the_injected_exception_is_swallowed(monkeypatch, warm_libraries):
    """The watchdog's exception can land where Python ignores exceptions (a gc callback): the build
    then returns, and still counts as timed out."""
    def fired_silently(self):
        self.fired = True
        return self

    monkeypatch.setattr(a2v_mod._Watchdog, "__enter__", fired_silently)
    with pytest.raises(ArchitectureError, match="took longer"):
        archi2vec({"model_type": "vit", "num_hidden_layers": 3, "hidden_size": 48, "num_attention_heads": 2,
                   "intermediate_size": 96})


def test_never_trusts_remote_code(monkeypatch):
    import transformers as tf

    calls = []
    orig = tf.AutoConfig.from_pretrained
    monkeypatch.setattr(tf.AutoConfig, "from_pretrained", lambda *a, **k: calls.append(k) or orig(*a, **k))
    with pytest.raises(ArchitectureError, match="custom code"):
        archi2vec({"model_type": "vit", "auto_map": {"AutoConfig": "x.Y"}, "trust_remote_code": True})
    assert calls == []


# ----------------------------------------------------------------------------------------------
# Evidence: nearest neighbours share a family, and size orders within a family


def _sample_timm(n: int) -> list[str]:
    """A deterministic sample of timm architectures (timm's ``test_*`` fixture nets excluded)."""
    names = sorted(m for m in timm.list_models() if not m.startswith("test_"))
    return random.Random(0).sample(names, n)


# One architecture family under two names: transformers' model types for a ViT trained one way
# (CLIP, SigLIP, DINOv2, MAE, DeiT) are timm ``vit_*`` architectures; Data2Vec-vision is BEiT's
# network; SegFormer's MiT encoder is PVTv2's; BiT is timm's resnetv2; SAM2's encoder is Hiera; and
# spelling (mobilenet_v2 / mobilenetv2).  An encoder that describes the network puts these next to
# each other (the twin test below requires it), so the family test must not count that as a miss.
FAMILY_ALIASES = {"clip": "vit", "siglip": "vit", "dinov2": "vit", "vit_mae": "vit", "deit": "vit",
                  "data2vec-vision": "beit", "segformer": "pvt_v2", "mobilenet_v1": "mobilenetv1",
                  "mobilenet_v2": "mobilenetv2", "bit": "resnetv2", "sam": "hiera"}


def _architecture_family(model_id: str, family: str) -> str:
    if "/" not in model_id and model_id.startswith("pvt_v2"):     # timm_family("pvt_v2_b0") is "pvt"
        return "pvt_v2"                                          # (PVT v1 is transformers' "pvt")
    return FAMILY_ALIASES.get(family, family)


@pytest.fixture(scope="module")
def evidence():
    timm_names = _sample_timm(N_TIMM)
    hf_ids = sorted(list_shipped_configs())
    ids, mat, errors = encode_many(timm_names + hf_ids, progress=False)
    assert len(errors) <= 3, errors                        # timm's whole list builds on meta
    fams, params, libs = [], [], []
    for i in ids:
        info = describe_architecture(i)
        fams.append(info.family)
        params.append(info.params)
        libs.append(info.library)
    return ids, mat, fams, np.array(params, dtype=np.float64), libs


@pytest.mark.slow
def test_nearest_neighbour_is_same_family(evidence):
    ids, mat, fams, _, _ = evidence
    fams = [_architecture_family(i, f) for i, f in zip(ids, fams)]
    n_timm = sum(1 for i in ids if "/" not in i)
    assert n_timm >= 300 and len(ids) - n_timm >= 40
    sims = mat @ mat.T
    np.fill_diagonal(sims, -np.inf)
    counts = Counter(fams)
    hits = total = 0
    misses = []
    for k in range(len(ids)):
        if counts[fams[k]] < 2:
            continue
        nn = int(np.argmax(sims[k]))
        total += 1
        if fams[nn] == fams[k]:
            hits += 1
        else:
            misses.append((ids[k], ids[nn]))
    acc = hits / total
    print(f"\narchi2vec family NN accuracy: {hits}/{total} = {acc:.3f} (misses: {misses[:15]})")
    assert acc >= 0.90


@pytest.mark.slow
def test_size_orders_within_family(evidence):
    from scipy.stats import spearmanr

    ids, mat, fams, params, libs = evidence
    groups = [f"{lib}:{fam}" for lib, fam in zip(libs, fams)]     # one library's implementation at a time
    size_block = next((a, b) for name, a, b, _ in a2v_mod.BLOCKS if name == "size")
    rho_full, rho_size, counts = [], [], []
    for fam, n in Counter(groups).items():
        idx = [k for k, f in enumerate(groups) if f == fam]
        if n < 4 or len(set(params[idx])) < 4:
            continue
        counts.append(n)
        for out, sub in ((rho_full, mat[idx]), (rho_size, mat[idx][:, size_block[0]:size_block[1]])):
            X = sub - sub.mean(axis=0)
            pc1 = np.linalg.svd(X, full_matrices=False)[2][0]
            out.append(abs(spearmanr(X @ pc1, params[idx]).statistic))
    mean_full, median_full = float(np.mean(rho_full)), float(np.median(rho_full))
    size_weighted = float(np.average(rho_size, weights=counts))
    print(f"\narchi2vec |Spearman(PC1, params)| over {len(counts)} families (>= 4 members): whole vector "
          f"mean {mean_full:.3f} / median {median_full:.3f}; size block, member-weighted mean {size_weighted:.3f}")
    assert len(counts) >= 15
    assert mean_full >= 0.8 and median_full >= 0.9
    assert size_weighted >= 0.85
    # the canonical ladder along the family's first principal direction
    ladder = ["vit_tiny_patch16_224", "vit_small_patch16_224", "vit_base_patch16_224", "vit_large_patch16_224"]
    V = np.stack([archi2vec(n) for n in ladder])
    proj = (V - V.mean(axis=0)) @ np.linalg.svd(V - V.mean(axis=0), full_matrices=False)[2][0]
    assert abs(spearmanr(proj, [1, 2, 3, 4]).statistic) == 1.0


# ----------------------------------------------------------------------------------------------
# The network, not the library: one architecture written by timm and by transformers


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_archi2vec", REPO / "benchmarks" / "bench_archi2vec.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("timm_name,hub_id", [
    ("resnet50", "microsoft/resnet-50"),                       # nesting, shortcut defined first / last
    ("vit_base_patch16_224", "google/vit-base-patch16-224"),   # fused qkv, pooler, norms defined last
    ("convnextv2_atto", "facebook/convnextv2-atto-1k-224"),    # 1x1 conv vs linear MLP, GRN
    ("tf_efficientnet_b0", "google/efficientnet-b0"),          # one flat list of blocks vs stages
    ("levit_128", "facebook/levit-128"),                       # residual wrapper per sub-layer
    ("beit_base_patch16_224", "microsoft/beit-base-patch16-224"),  # bias tables beside / inside attention
    ("vit_giant_patch14_dinov2", "facebook/dinov2-giant"),     # fused vs split SwiGLU, mask token
    ("resnetv2_50x1_bit", "google/bit-50"),                    # StdConv2d vs WeightStandardizedConv2d
])
def test_one_network_from_two_libraries_gives_one_vector(timm_name, hub_id):
    a, b = describe_architecture(timm_name), describe_architecture(hub_id)
    assert (a.library, b.library) == ("timm", "transformers")
    np.testing.assert_allclose(a.vector, b.vector, atol=1e-6)


@pytest.mark.slow
def test_twins_are_nearest_to_each_other():
    """timm's and transformers' implementations of one network are nearer each other than to any
    other architecture, among every timm architecture of their families (size neighbours, CLIP /
    MIIL / register variants...) and every shipped transformers config.  Same architecture under
    another name (equal parameter tensors, e.g. deit_base_patch16_224 and vit_base_patch16_224) is
    not a competitor; see benchmarks/bench_archi2vec.py for the definitions."""
    bench = _bench_module()
    ids, mat, errors = encode_many(bench.twin_pool(), progress=False)
    assert len(errors) <= 3, errors
    r = bench.twin_rates(ids, mat)
    print(f"\narchi2vec twins: {r['pairs']} pairs, pool {len(ids)}; twin is the nearest neighbour (both "
          f"directions) among all encodings {r['rate_all']:.3f}, among the other library's "
          f"{r['rate_other_library']:.3f}; misses {r['misses']}")
    assert r["pairs"] >= 25 and len(ids) >= 300
    assert r["rate_all"] >= 0.90
    assert r["rate_other_library"] >= 0.90


def test_same_architecture_definition_of_the_twin_test():
    """The twin test's notion of 'same architecture' is structural (parameter tensors), not names."""
    bench = _bench_module()
    assert bench.same_architecture("deit_base_patch16_224", "vit_base_patch16_224")
    assert bench.same_architecture("google/vit-base-patch16-224", "facebook/dino-vitb16")
    assert not bench.same_architecture("vit_base_patch16_224", "vit_base_patch16_224_miil")   # no qkv bias
    assert not bench.same_architecture("convnext_tiny", "convnext_small")
    assert not bench.same_architecture("resnet50", "microsoft/resnet-50")     # libraries: declared twins only


# ----------------------------------------------------------------------------------------------
# The benchmark ids of the bundled ground truth


RECORDS = REPO / "fennec_hub" / "data" / "records"


def _ids(csv_name: str) -> list[str]:
    import pandas as pd

    path = RECORDS / csv_name
    if not path.exists():
        pytest.skip(f"{csv_name} not bundled")
    return sorted(pd.read_csv(path, usecols=["model"])["model"].astype(str).unique())


def test_transfergraph_metadata_rows_encode():
    import pandas as pd

    path = RECORDS / "transfergraph_hf_model_metadata.csv"
    if not path.exists():
        pytest.skip("TransferGraph metadata not bundled")
    meta = pd.read_csv(path).dropna(subset=["model_type"])
    ratios, removed = [], 0
    for row in meta.itertuples():
        try:
            cfg = config_from_metadata(row.model_type, row.number_of_parameters, row.input_shape, row.output_shape)
        except ArchitectureError as exc:
            assert "removed" in str(exc) and row.model_type == "van", (row.model, exc)
            removed += 1
            continue
        info = describe_architecture(cfg)
        assert info.family == row.model_type
        if row.number_of_parameters > 0:
            ratios.append(info.params / row.number_of_parameters)    # theirs include the classifier head
    assert removed == int((meta.model_type == "van").sum())
    err = np.abs(np.log(np.array(ratios)))
    # Exact for most; 21k-class heads (~+20%) and two tiny random test models (hidden 32) differ.
    assert len(err) >= 150 and np.median(err) < 0.02 and np.mean(err < 0.3) >= 0.95


@pytest.mark.slow
def test_benchmark_ids_encode():
    """Every model id of the Keras, PARC, VTAB and Fennec (pytorchcv) ground truth maps to an architecture."""
    pytest.importorskip("pytorchcv")

    raw = {"keras": [f"keras/{m}" for m in _ids("stable_transfer_keras_accuracy.csv")],
           "vtab": [f"vtab/{m}" for m in _ids("vtab_leaderboard_resnet50.csv")],
           "fennec": _ids("fennec_benchmark_finetune.csv")}
    parc = []
    for m in _ids("parc_oracles.csv"):
        arch, _, src = m.partition("|")
        parc.append(f"parc/{arch}-{src}")
    raw["parc"] = parc
    for bench, ids in raw.items():
        ok, mat, errors = encode_many(ids, progress=False)
        print(f"\n{bench}: {len(ok)}/{len(ids)} encoded; failures: {errors}")
        assert len(ok) >= 0.95 * len(ids), (bench, errors)
