"""Dataset registry: aliases, canonical ids, suggestions, registration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import fennec_hub
from fennec_hub import datasets as ds
from fennec_hub.datasets import DatasetEntry, UnknownDatasetError, list_datasets, register_dataset, resolve_dataset

RECORDS_DIR = Path(ds.__file__).parent / "data" / "records"
RECORD_FILES = sorted(p for p in RECORDS_DIR.glob("*.csv") if not p.name.endswith("_metadata.csv"))


def test_public_names_are_exported():
    assert fennec_hub.resolve_dataset is resolve_dataset
    assert fennec_hub.UnknownDatasetError is UnknownDatasetError


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.name)
def test_every_dataset_in_every_record_file_resolves(path):
    names = pd.read_csv(path, usecols=["dataset"])["dataset"].astype(str).unique()
    assert len(names) > 0
    for name in names:
        entry = resolve_dataset(name)
        assert resolve_dataset(entry.id) is entry  # canonical ids resolve to themselves


@pytest.mark.parametrize(
    "spellings, expected",
    [
        (["cifar100", "CIFAR-100", "uoft-cs/cifar100", "Cifar_100", " cifar 100 "], "uoft-cs/cifar100"),
        (["cifar10", "CIFAR-10", "uoft-cs/cifar10"], "uoft-cs/cifar10"),
        (["pets", "oxford_pets", "oxford_iiit_pet", "oxford-iiit-pet", "Oxford-IIIT Pets", "Pets"], "timm/oxford-iiit-pet"),
        (["cars", "stanford_cars", "stanfordcars", "Stanford Cars"], "tanganke/stanford_cars"),
        (["aircraft", "fgvc_aircraft", "FGVC-Aircraft"], "HuggingFaceM4/FGVC-Aircraft"),
        (["flowers", "flowers102", "oxford_flowers102", "Flowers102"], "dpdl-benchmark/oxford_flowers102"),
        (["food", "food101", "Food-101", "ethz/food101"], "ethz/food101"),
        (["caltech_birds2011", "cub200", "cub", "CUB-200-2011"], "bentrevett/caltech-ucsd-birds-200-2011"),
        (["smallnorb_label_azimuth", "smallnorb_azi", "sNORB-Azim"], "vtab/smallnorb_azi"),
        (["smallnorb_label_elevation", "smallnorb_ele", "sNORB-Elev"], "vtab/smallnorb_ele"),
        (["diabetic_retinopathy_detection", "diabetic_retinopathy", "Retinopathy"], "vtab/diabetic_retinopathy"),
        (["patch_camelyon", "Camelyon", "pcam"], "1aurent/PatchCamelyon"),
        (["dtd", "DTD", "jxie/dtd", "tanganke/dtd"], "tanganke/dtd"),
        (["Clevr-Count", "clevr_count"], "vtab/clevr_count"),
        (["dSpr-Orient", "dsprites_ori"], "vtab/dsprites_ori"),
        (["KITTI-Dist", "kitti_dist", "kitti"], "vtab/kitti_dist"),
        (["imagenet", "ImageNet-1k", "ILSVRC/imagenet-1k"], "ILSVRC/imagenet-1k"),
        (["yoga", "fennec/yoga"], "fennec/yoga"),
        (["https://huggingface.co/datasets/uoft-cs/cifar100", "datasets/uoft-cs/cifar100"], "uoft-cs/cifar100"),
    ],
)
def test_common_spellings_resolve(spellings, expected):
    for name in spellings:
        assert resolve_dataset(name).id == expected, name


def test_fennec_targets_stay_separate_from_public_datasets():
    assert resolve_dataset("flower").id == "fennec/flower"
    assert resolve_dataset("flowers").id != resolve_dataset("flower").id
    for name, k in {"sport": 100, "yoga": 6, "flower": 102, "intel": 6, "weather": 11, "germ": 8, "nature": 8}.items():
        assert resolve_dataset(name).num_classes == k


def test_unknown_dataset_suggests_close_names():
    with pytest.raises(UnknownDatasetError) as info:
        resolve_dataset("cifar1000")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert err.suggestions[0] == "uoft-cs/cifar100"
    assert "uoft-cs/cifar10" in err.suggestions
    assert str(err).startswith("Unknown dataset 'cifar1000'. Did you mean: cifar100 (uoft-cs/cifar100)")
    with pytest.raises(KeyError):
        resolve_dataset("stanfrod dogs")
    with pytest.raises(ValueError) as info:
        resolve_dataset("stanfrod dogs")
    assert info.value.suggestions[0] == "public/stanford_dogs"


def test_find_dataset_returns_none_for_unknown():
    assert ds.find_dataset("CIFAR-100") is resolve_dataset("cifar100")
    assert ds.find_dataset("cifar1000") is None
    assert ds.find_dataset(None) is None  # type: ignore[arg-type]


def test_unknown_dataset_error_survives_pickling():
    import pickle

    with pytest.raises(UnknownDatasetError) as info:
        resolve_dataset("cifar1000")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)
    assert copy.suggestions == info.value.suggestions and copy.name == "cifar1000"


def test_unknown_hub_id_with_known_repo_name_suggests_it():
    with pytest.raises(UnknownDatasetError) as info:
        resolve_dataset("someone/cifar100")
    assert info.value.suggestions[0] == "uoft-cs/cifar100"


def test_unknown_dataset_without_close_match():
    with pytest.raises(UnknownDatasetError) as info:
        resolve_dataset("qqqqzzzz-xyz")
    assert info.value.suggestions == []
    assert "register_dataset" in str(info.value)
    with pytest.raises(UnknownDatasetError):
        resolve_dataset("")
    with pytest.raises(UnknownDatasetError):
        resolve_dataset("x" * 10_000)
    with pytest.raises(TypeError):
        resolve_dataset(None)  # type: ignore[arg-type]


def test_registry_entries_are_consistent():
    import json

    from fennec_hub.datasets import _REGISTRY_PATH

    shipped = {d["id"] for d in json.loads(_REGISTRY_PATH.read_text())["datasets"]}
    # the shipped registry (Hub datasets that recommend() looked up in this process may join it)
    entries = [e for e in list_datasets() if e.id in shipped]
    assert len(entries) >= 45
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))
    owner: dict[str, str] = {}
    for e in entries:
        assert e.name and e.description and e.domain
        assert resolve_dataset(e.id) is e
        if e.hub_id is not None:
            assert e.id == e.hub_id
            assert "/" in e.hub_id
        else:
            assert e.id.split("/")[0] in {"public", "vtab", "fennec"}
        if e.class_names is not None:
            assert len(e.class_names) == e.num_classes
        for key in e.keys():
            assert owner.setdefault(key, e.id) == e.id, f"alias {key!r} used twice"
    assert {e.id for e in list_datasets(domain="remote-sensing")} == {"tanganke/eurosat", "tanganke/resisc45"}


def test_well_known_sets_are_covered():
    for name in [
        "cifar10", "cifar100", "caltech101", "caltech256", "dtd", "flowers102", "pets", "cars", "aircraft",
        "food101", "sun397", "voc2007", "cub200", "nabirds", "stanford_dogs", "birdsnap", "svhn", "eurosat",
        "resisc45", "pcam", "diabetic_retinopathy", "country211", "gtsrb", "stl10", "mnist", "fashion_mnist",
        "imagenet", "imagenette", "clevr_count", "clevr_dist", "dsprites_loc", "dsprites_ori", "smallnorb_azi",
        "smallnorb_ele", "kitti_dist", "dmlab", "beans",
    ]:
        assert resolve_dataset(name).num_classes, name


def test_class_names_where_known():
    assert resolve_dataset("cifar10").class_names[:3] == ("airplane", "automobile", "bird")
    assert len(resolve_dataset("imagenet").class_names) == 1000
    assert "tiger lily" in resolve_dataset("flowers102").class_names
    assert resolve_dataset("stanford_cars").class_names is None


def test_register_dataset(monkeypatch):
    monkeypatch.setattr(ds, "_REGISTRY", ds._Registry(ds._REGISTRY_PATH))
    entry = DatasetEntry(id="acme/leaves", name="Acme Leaves", aliases=("leaves", "acme_leaf"), num_classes=2,
                         domain="agriculture", description="test", class_names=["ok", "sick"])
    assert register_dataset(entry) is entry
    assert resolve_dataset("Acme-Leaf").id == "acme/leaves"
    assert entry.class_names == ("ok", "sick")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(entry)
    clash = DatasetEntry(id="acme/other", name="Other", aliases=("cifar100",))
    with pytest.raises(ValueError, match="uoft-cs/cifar100"):
        register_dataset(clash)
    renamed = DatasetEntry(id="acme/leaves", name="Acme Leaves v2", aliases=("leaves2",))
    register_dataset(renamed, replace=True)
    assert resolve_dataset("leaves2").name == "Acme Leaves v2"
    with pytest.raises(UnknownDatasetError):
        resolve_dataset("acme_leaf")
    with pytest.raises(TypeError):
        register_dataset({"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DatasetEntry(id="acme/bad", name="Bad", num_classes=3, class_names=("a", "b"))


def test_registry_loads_lazily():
    code = (
        "import fennec_hub, fennec_hub.datasets as d; "
        "assert d._REGISTRY._entries is None; "
        "d.resolve_dataset('cifar10'); assert d._REGISTRY._entries is not None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
