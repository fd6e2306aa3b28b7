"""Dependencies by job: the light core ranks without the heavy extras, a missing extra is named in
the error, and pyproject.toml declares every third-party import where it is needed."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fennec_hub._extras import EXTRAS, MissingExtraError, needs

REPO_ROOT = Path(__file__).resolve().parents[1]

# What the core install does not have: every package of the extras (and what they pull in).
HEAVY = ("torch", "torchvision", "transformers", "timm", "pytorchcv", "scipy", "sklearn",
         "sentence_transformers", "gradio", "PIL")


# ---------------------------------------------------------------------------- the error
def test_needs_names_the_missing_module_and_the_extra():
    with pytest.raises(MissingExtraError, match=r"^archi2vec needs torch: pip install 'fennec_hub\[encode\]'$") as err:
        with needs("encode", "archi2vec"):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
    assert isinstance(err.value, ImportError) and err.value.name == "torch"  # `except ImportError` still catches it


def test_needs_leaves_other_import_errors_alone():
    with pytest.raises(ImportError, match="cannot import name 'Foo'") as err:
        with needs("fit", "TransferSpace.fit"):
            raise ImportError("cannot import name 'Foo' from 'scipy'")  # a broken install, not a missing extra
    assert not isinstance(err.value, MissingExtraError)
    with pytest.raises(ValueError, match="unknown extra"):
        with needs("gpu", "nothing"):
            pass


def _archi2vec_of_a_new_config():
    from fennec_hub import archi2vec

    # a config no other test encodes, so no cache answers before torch is imported
    return archi2vec({"model_type": "vit", "hidden_size": 56, "num_hidden_layers": 1, "num_attention_heads": 2,
                      "intermediate_size": 40, "image_size": 48, "patch_size": 8})


def _fit_a_space():
    from fennec_hub.records import load_records
    from fennec_hub.space import TransferSpace

    rec = load_records()
    return TransferSpace.fit(rec[rec["benchmark"] == "parc"])


def _rank_metrics():
    from fennec_hub.bench import ranking_metrics

    return ranking_metrics(np.arange(5.0), np.arange(5.0))


def _text_encoder():
    from fennec_hub import features

    return features.text_embedding("some images", model=str(REPO_ROOT / "no-such-model-dir"))


def _image_encoder():
    from fennec_hub import tasks

    return tasks.load_image_encoder(str(REPO_ROOT / "no-such-model-dir"))


def _clip_processor():
    from fennec_hub import tasks

    return tasks._clip_processor(224)


def _timm_catalogue():
    from fennec_hub.build import timm_catalogue

    return timm_catalogue()


@pytest.mark.parametrize("module, extra, feature, call", [
    ("torch", "encode", "archi2vec", _archi2vec_of_a_new_config),
    ("timm", "encode", "the timm catalogue", _timm_catalogue),
    ("scipy", "fit", "TransferSpace.fit", _fit_a_space),
    ("scipy", "fit", "fennec-hub bench", _rank_metrics),
    ("sentence_transformers", "text", "the text proxy", _text_encoder),
    ("torch", "images", "the image proxy", _image_encoder),
    ("transformers", "images", "the image proxy", _clip_processor),
])
def test_a_missing_extra_is_named_where_it_is_imported(monkeypatch, module, extra, feature, call):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, name, None)  # what `import module` sees when it is not installed
    with pytest.raises(MissingExtraError) as err:
        call()
    assert str(err.value) == f"{feature} needs {module}: pip install 'fennec_hub[{extra}]'"


# ---------------------------------------------------------------------------- the light core
_CORE_SCRIPT = """
import contextlib, csv, io, json, sys
for name in {heavy!r}:
    sys.modules[name] = None  # not installed
import fennec_hub
from fennec_hub import Zoo, recommend
from fennec_hub.cli import main
from fennec_hub.space import TransferSpace

out = {{"default": recommend("cifar100")["model_id"].tolist()}}
hub_zoo = Zoo.from_hub({zoo_repo!r})
out["hub_zoo"] = recommend("cifar100", zoo={zoo_repo!r})["model_id"].tolist()
space = TransferSpace.load(Zoo.default().space.save({space_dir!r}))
out["score"] = space.score(["timm/resnet50.tv_in1k", "google/vit-base-patch16-224"], "uoft-cs/cifar100").tolist()
new = recommend({dataset_repo!r}, top_k=3)
out["hub_dataset"] = [new.attrs.get("task_vector_source"), len(new)]
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    out["cli_rc"] = main(["recommend", "cifar100", "--format", "csv"])
out["cli"] = [row["model_id"] for row in csv.DictReader(io.StringIO(buf.getvalue()))]
out["imported"] = sorted(m for m, mod in sys.modules.items() if m.split(".")[0] in {heavy!r} and mod is not None)
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_core_ranks_without_any_extra(loophub, hub_token, unique_repo_id, tmp_path):
    """recommend() on the embedded zoo, a Hub zoo and a new Hub dataset, TransferSpace.load + score and
    the CLI, in a process where torch, transformers, timm, scipy, scikit-learn, sentence-transformers,
    gradio and Pillow cannot be imported: same rankings as with everything installed."""
    from fennec_hub import Zoo, recommend

    from test_zoo import make_small_zoo

    zoo = make_small_zoo()
    zoo_repo = unique_repo_id + "-zoo"
    zoo.push_to_hub(zoo_repo, token=hub_token)
    dataset_repo = unique_repo_id.replace("/", "/leaf-disease-")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8) for _ in range(6)]
    loophub.add_image_dataset(dataset_repo, images, [0, 1, 2, 0, 1, 2], ["healthy", "rust", "blight"])

    code = _CORE_SCRIPT.format(heavy=HEAVY, zoo_repo=zoo_repo, dataset_repo=dataset_repo,
                               space_dir=str(tmp_path / "space"))
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.split("RESULT ", 1)[1])

    assert out["imported"] == []
    assert out["default"] == recommend("cifar100")["model_id"].tolist()
    assert out["cli_rc"] == 0 and out["cli"] == out["default"]
    assert out["hub_zoo"] == recommend("cifar100", zoo=zoo)["model_id"].tolist()
    expected = Zoo.default().space.score(["timm/resnet50.tv_in1k", "google/vit-base-patch16-224"], "uoft-cs/cifar100")
    np.testing.assert_allclose(out["score"], expected, rtol=1e-6)
    # a new Hub dataset: schema read, placed from its metadata; the text proxy names its extra
    assert out["hub_dataset"] == ["metadata", 3]
    assert "pip install 'fennec_hub[text]'" in run.stderr


# ---------------------------------------------------------------------------- pyproject.toml
def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def _name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ ;\[]", req.strip(), maxsplit=1)[0]).lower()


def test_extras_are_the_ones_errors_name_and_nest():
    project = _pyproject()
    opt = project["optional-dependencies"]
    assert set(opt) == set(EXTRAS) | {"all", "test"}
    for extra in EXTRAS:
        assert set(opt[extra]) <= set(opt["all"]), extra
    assert set(opt["all"]) <= set(opt["test"])
    core = {_name(r) for r in project["dependencies"]}
    assert core == {"numpy", "pandas", "pyarrow", "safetensors", "huggingface-hub", "datasets"}


def _third_party_imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    local = {"fennec_hub", "loophub", "conftest", "app"} | {p.stem for p in (REPO_ROOT / "tests").glob("*.py")}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distribution(module: str) -> str:
    dists = _packages_distributions().get(module)
    assert dists, f"{module} is imported but not installed here"
    return _name(dists[0])


def test_every_import_is_declared():
    """Third-party imports anywhere in the repo are declared (core or an extra); module-level imports
    of the package itself are core dependencies (importing fennec_hub must work on the core)."""
    project = _pyproject()
    core = {_name(r) for r in project["dependencies"]}
    declared = core | {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    files = [p for d in ("fennec_hub", "spaces_app", "scripts", "benchmarks", "tests")
             for p in (REPO_ROOT / d).rglob("*.py")]
    missing = {}
    for path in files:
        for module in _third_party_imports(path):
            if _distribution(module) not in declared:
                missing.setdefault(module, []).append(str(path.relative_to(REPO_ROOT)))
    assert missing == {}
    top = {m for p in (REPO_ROOT / "fennec_hub").glob("*.py") for m in _third_party_imports(p, top_level_only=True)}
    assert {_distribution(m) for m in top} <= core
