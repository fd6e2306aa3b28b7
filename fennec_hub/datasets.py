"""Dataset registry: every spelling of a dataset name -> one canonical id plus metadata.

Records, task vectors and recommendations must agree on what "cifar100", "CIFAR-100" and
"uoft-cs/cifar100" mean, so every dataset name in the project goes through `resolve_dataset`.
The canonical id is the Hugging Face Hub dataset id where a well-known copy exists (e.g.
``uoft-cs/cifar100``) and a short namespaced id otherwise (``vtab/dmlab``, ``fennec/yoga``,
``public/stanford_dogs``). The registry ships as ``fennec_hub/data/datasets.json``; it is read
lazily on first use and cached.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import hub

__all__ = [
    "DOMAIN_KEYWORDS",
    "DatasetEntry",
    "HubImageSchema",
    "hub_image_schema",
    "infer_domain",
    "resolve_hub_dataset",
    "UnknownDatasetError",
    "dataset_key",
    "find_dataset",
    "list_datasets",
    "register_dataset",
    "resolve_dataset",
]

_REGISTRY_PATH = Path(__file__).parent / "data" / "datasets.json"
_HUB_URL_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?huggingface\.co/datasets/", re.IGNORECASE)
_KEY_DROP = re.compile(r"[\s\-_.]+")
_MAX_NAME_LEN = 512


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: canonical id, display name, accepted spellings and task metadata.

    ``num_classes``/``train_size`` are None where unknown; ``class_names`` is None unless the
    names are known exactly. ``hub_id`` is the Hub dataset repo holding a copy, if any.
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    num_classes: int | None = None
    train_size: int | None = None
    domain: str = "unknown"
    description: str = ""
    class_names: tuple[str, ...] | None = None
    hub_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError("DatasetEntry.id must be a non-empty string")
        # Accept lists from JSON / callers but store tuples so entries stay hashable.
        object.__setattr__(self, "aliases", tuple(self.aliases or ()))
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(self.class_names))
            if self.num_classes is not None and len(self.class_names) != self.num_classes:
                raise ValueError(
                    f"DatasetEntry {self.id!r}: {len(self.class_names)} class names "
                    f"but num_classes={self.num_classes}"
                )

    def keys(self) -> tuple[str, ...]:
        """Every normalised spelling that resolves to this entry (id, name, hub id, aliases)."""
        names = [self.id, self.name, *self.aliases]
        if self.hub_id:
            names.append(self.hub_id)
        return tuple(dict.fromkeys(k for k in (dataset_key(n) for n in names) if k))

    @property
    def short_name(self) -> str:
        """The first alias (e.g. ``cifar100``), used in messages; falls back to the id."""
        return self.aliases[0] if self.aliases else self.id

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        d["class_names"] = list(self.class_names) if self.class_names is not None else None
        return d


class UnknownDatasetError(KeyError, ValueError):
    """Raised for a dataset name the registry does not know; ``.suggestions`` holds close ids."""

    def __init__(self, name: str, suggestions: list[str] | None = None, message: str | None = None):
        self.name = name
        self.suggestions = list(suggestions or [])
        self.message = message or f"Unknown dataset {name!r}."
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return self.message

    def __reduce__(self):  # keep name, suggestions and message through pickling (e.g. worker processes)
        return (type(self), (self.name, self.suggestions, self.message))


def dataset_key(name: str) -> str:
    """Normalise a dataset name for lookup: lower case, no spaces, '-', '_' or '.'."""
    name = _HUB_URL_PREFIX.sub("", str(name).strip())
    if name.lower().startswith("datasets/"):
        name = name[len("datasets/"):]
    return _KEY_DROP.sub("", name.lower()).strip("/")


class _Registry:
    """Lazily loaded, thread-safe registry (id -> entry, key -> id)."""

    def __init__(self, path: Path):
        self._path = path
        self._lock = threading.Lock()
        self._entries: dict[str, DatasetEntry] | None = None
        self._keys: dict[str, str] = {}

    def _load(self) -> dict[str, DatasetEntry]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    raw = json.loads(self._path.read_text(encoding="utf-8"))
                    entries: dict[str, DatasetEntry] = {}
                    keys: dict[str, str] = {}
                    for item in raw["datasets"]:
                        entry = DatasetEntry(**item)
                        _add(entries, keys, entry, replace=False)
                    self._keys = keys
                    self._entries = entries
        return self._entries

    def entries(self) -> dict[str, DatasetEntry]:
        return self._load()

    def keys(self) -> dict[str, str]:
        self._load()
        return self._keys

    def add(self, entry: DatasetEntry, replace: bool) -> None:
        entries = self._load()
        with self._lock:
            _add(entries, self._keys, entry, replace=replace)


def _add(entries: dict[str, DatasetEntry], keys: dict[str, str], entry: DatasetEntry, *, replace: bool) -> None:
    clashes = sorted({keys[k] for k in entry.keys() if k in keys and keys[k] != entry.id})
    if entry.id in entries and not replace:
        raise ValueError(f"Dataset {entry.id!r} is already registered; pass replace=True to overwrite it.")
    if clashes and not replace:
        raise ValueError(
            f"Dataset {entry.id!r}: its names/aliases already resolve to {', '.join(clashes)}; "
            "rename the aliases or pass replace=True."
        )
    old = entries.get(entry.id)
    if old is not None:
        for k in old.keys():
            if keys.get(k) == entry.id:
                del keys[k]
    entries[entry.id] = entry
    for k in entry.keys():
        keys[k] = entry.id


_REGISTRY = _Registry(_REGISTRY_PATH)


def resolve_dataset(name: str | DatasetEntry) -> DatasetEntry:
    """Return the registry entry for any accepted spelling of a dataset name.

    Matching ignores case, spaces, '-', '_' and '.', and accepts the canonical id, the Hub id,
    the display name, any alias and a ``https://huggingface.co/datasets/...`` URL. Raises
    `UnknownDatasetError` (a KeyError and a ValueError) with close matches otherwise.
    """
    if isinstance(name, DatasetEntry):
        return name
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    if len(name) > _MAX_NAME_LEN:
        raise UnknownDatasetError(name[:40] + "...", [], f"Dataset name too long ({len(name)} characters).")
    key = dataset_key(name)
    keys = _REGISTRY.keys()
    if key in keys:
        return _REGISTRY.entries()[keys[key]]
    raise _unknown(name, key)


def find_dataset(name: str) -> DatasetEntry | None:
    """Like `resolve_dataset` but returns None for an unknown name (cheap: no suggestions)."""
    if not isinstance(name, str) or len(name) > _MAX_NAME_LEN:
        return None
    entry_id = _REGISTRY.keys().get(dataset_key(name))
    return _REGISTRY.entries()[entry_id] if entry_id is not None else None


def _unknown(name: str, key: str) -> UnknownDatasetError:
    keys = _REGISTRY.keys()
    entries = _REGISTRY.entries()
    suggestions: list[str] = []
    if key:
        for match in difflib.get_close_matches(key, list(keys), n=12, cutoff=0.6):
            if keys[match] not in suggestions:
                suggestions.append(keys[match])
        # A Hub-style id whose repo part is known ("someone/cifar100") suggests that dataset too.
        tail = key.rsplit("/", 1)[-1]
        if tail != key and tail in keys and keys[tail] not in suggestions:
            suggestions.insert(0, keys[tail])
    suggestions = suggestions[:5]
    if suggestions:
        shown = ", ".join(
            f"{entries[s].short_name} ({s})" if entries[s].short_name != s else s for s in suggestions
        )
        msg = f"Unknown dataset {name!r}. Did you mean: {shown}?"
    else:
        msg = (
            f"Unknown dataset {name!r}: no similar name among the {len(entries)} registered datasets "
            "(see fennec_hub.datasets.list_datasets(); add one with register_dataset())."
        )
    return UnknownDatasetError(name, suggestions, msg)


def list_datasets(domain: str | None = None) -> list[DatasetEntry]:
    """All registered datasets sorted by id, optionally only one domain (e.g. "fine-grained")."""
    entries = sorted(_REGISTRY.entries().values(), key=lambda e: e.id.lower())
    if domain is not None:
        entries = [e for e in entries if e.domain == domain]
    return entries


def register_dataset(entry: DatasetEntry, *, replace: bool = False) -> DatasetEntry:
    """Add a dataset to the in-process registry (e.g. a private dataset) and return it.

    Raises ValueError when the id or one of its names already belongs to another entry,
    unless ``replace=True``.
    """
    if not isinstance(entry, DatasetEntry):
        raise TypeError(f"register_dataset expects a DatasetEntry, got {type(entry).__name__}")
    _REGISTRY.add(entry, replace=replace)
    return entry


# Bounds for untrusted cards, configs and parquet metadata.
_MAX_CLASSES = 100_000
_MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2_000
MAX_SHARD_BYTES = 2 * 1024**3  # the most one parquet shard may weigh before it is downloaded

# Keywords of Hub card tags / ids / descriptions -> registry domain names.
DOMAIN_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("medical", ("medical", "x-ray", "xray", "radiolog", "patholog", "retina", "skin lesion", "ct scan",
                 "mri", "histolog", "tumor", "tumour", "cancer", "chest", "derma", "cell")),
    ("remote-sensing", ("satellite", "aerial", "remote sensing", "remote-sensing", "eurosat", "resisc",
                        "land use", "landcover", "land cover")),
    ("digits", ("mnist", "digit", "svhn", "handwrit")),
    ("faces", ("face", "facial", "celeb")),
    ("texture", ("texture", "dtd", "material")),
    ("food", ("food", "dish", "recipe")),
    ("fashion", ("fashion", "clothing", "garment")),
    ("agriculture", ("plant", "leaf", "crop", "agricultur", "bean", "disease")),
    ("traffic-signs", ("traffic sign", "gtsrb")),
    ("scene", ("scene", "indoor", "sun397", "places")),
    ("synthetic", ("synthetic", "render", "clevr", "dsprites", "smallnorb")),
    ("fine-grained", ("fine-grained", "species", "bird", "breed", "aircraft", "cars", "flower", "dog")),
)


# --------------------------------------------------------------------------------------------
# Hub datasets outside the registry: their card or parquet schema, read within bounds


@dataclass(frozen=True)
class HubImageSchema:
    """What sampling needs to know about a Hub image dataset (from its card or parquet schema)."""

    repo_id: str
    image_column: str
    label_column: str | None
    class_names: tuple[str, ...] | None
    split_sizes: Mapping[str, int] = field(default_factory=dict)
    parquet_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # split -> paths
    revision: str | None = None


_SCHEMAS: dict[tuple[str, str | None], HubImageSchema] = {}


def resolve_hub_dataset(repo_id: str, *, token: str | bool | None = None,
                        endpoint: str | None = None) -> Any:
    """Return the ``DatasetEntry`` for a dataset name or Hub dataset id.

    The registry is tried first (no network). Otherwise the Hub's dataset info, card YAML
    (``dataset_info.features`` ClassLabel names, ``splits`` sizes) or, failing those, one parquet
    shard's embedded HF features give classes and sizes. Raises ``ValueError`` for a dataset with
    no image column, and ``fennec_hub.hub`` errors (``RepoNotFound``, ``GatedRepo``,
    ``HubOffline``) when the Hub cannot serve it.
    """
    try:
        return resolve_dataset(repo_id)
    except (KeyError, ValueError, NotImplementedError):
        pass
    repo_id = hub.parse_repo_id(repo_id, repo_type="dataset", argument="dataset", require_namespace=False)
    schema, card = _hub_schema(repo_id, token=token, endpoint=endpoint)
    names = schema.class_names
    text = " ".join([repo_id, card.get("pretty_name") or "", " ".join(card.get("tags") or []),
                     " ".join(card.get("task_categories") or []), card.get("description") or ""])
    entry = DatasetEntry(
        id=repo_id,
        name=one_line(card.get("pretty_name") or repo_id.split("/")[-1], _MAX_NAME_CHARS),
        aliases=(),
        num_classes=len(names) if names else None,
        train_size=schema.split_sizes.get("train"),
        domain=infer_domain(text),
        description=one_line(card.get("description") or card.get("_info_description") or "", MAX_DESCRIPTION_CHARS),
        class_names=names,
        hub_id=repo_id,
    )
    return entry


def infer_domain(text: str) -> str:
    """Guess the registry domain (medical, remote-sensing, digits, ...) from free text; 'natural' if none."""
    low = text.lower()
    for domain, words in DOMAIN_KEYWORDS:
        if any(re.search(r"(?<![a-z])" + re.escape(w), low) for w in words):
            return domain
    return "natural"


def hub_image_schema(repo_id: str, *, token: str | bool | None = None,
                     endpoint: str | None = None) -> HubImageSchema:
    """Image/label columns, class names, split sizes and parquet shards of a Hub image dataset."""
    repo_id = hub.parse_repo_id(repo_id, repo_type="dataset", argument="repo_id", require_namespace=False)
    return _hub_schema(repo_id, token=token, endpoint=endpoint)[0]


def _hub_schema(repo_id: str, *, token, endpoint) -> tuple[HubImageSchema, dict]:
    key = (repo_id, endpoint)
    info = hub.dataset_info(repo_id, token=token, endpoint=endpoint)
    if key in _SCHEMAS and _SCHEMAS[key].revision == getattr(info, "sha", None):
        return _SCHEMAS[key], _card_dict(info)
    card = _card_dict(info)
    files = [s.rfilename for s in (info.siblings or [])]
    revision = getattr(info, "sha", None)
    parquet = _parquet_by_split(files, card)
    if not parquet:
        # Datasets stored as image folders / scripts: the Hub's parquet conversion branch.
        try:
            conv = hub.dataset_info(repo_id, revision="refs/convert/parquet", token=token, endpoint=endpoint)
            parquet = _parquet_by_split([s.rfilename for s in (conv.siblings or [])], {})
            revision = getattr(conv, "sha", None) or "refs/convert/parquet"
        except (hub.RepoNotFound, hub.HubError, TypeError):
            parquet = {}

    features, splits = _card_features(card)
    if features is None and parquet:
        split = "train" if "train" in parquet else sorted(parquet)[0]
        path = hub.download(repo_id, parquet[split][0], repo_type="dataset", revision=revision,
                            max_bytes=MAX_SHARD_BYTES, token=token, endpoint=endpoint)
        features, rows = _parquet_features(path)
        if len(parquet[split]) == 1 and rows is not None:
            splits.setdefault(split, rows)
    if features is None:
        raise ValueError(
            f"Cannot tell whether {repo_id!r} is an image dataset: its card has no `dataset_info.features` "
            "and it has no parquet files with Hugging Face feature metadata.")
    image_col, label_col, names = _pick_columns(features)
    if image_col is None:
        kinds = ", ".join(f"{k}: {_feature_kind(v)}" for k, v in list(features.items())[:10])
        raise ValueError(f"{repo_id!r} is not an image dataset: no column has an Image feature ({kinds}). "
                         "fennec_hub recommends vision checkpoints for image classification datasets.")
    schema = HubImageSchema(repo_id=repo_id, image_column=image_col, label_column=label_col,
                            class_names=names, split_sizes=dict(splits), parquet_files=parquet,
                            revision=revision)
    _SCHEMAS[key] = schema
    return schema, card


def _card_dict(info: Any) -> dict:
    out = hub.card_data_dict(getattr(info, "card_data", None))
    desc = getattr(info, "description", None)
    if isinstance(desc, str) and desc:
        out["_info_description"] = desc[:MAX_DESCRIPTION_CHARS * 2]
    return out


def _card_features(card: Mapping) -> tuple[Any | None, dict[str, int]]:
    """Features (``datasets.Features``) and split sizes from a card's ``dataset_info`` YAML.

    Parsed by ``datasets`` itself, as ``load_dataset`` reads the card; one config only ('default',
    else the first), at most 1000 columns. A card ``datasets`` cannot read gives no features
    (the parquet schema is tried next).
    """
    from datasets.info import DatasetInfosDict

    di = card.get("dataset_info")
    if isinstance(di, list):  # several configs: prefer 'default', else the first
        di = next((c for c in di if isinstance(c, Mapping) and c.get("config_name") == "default"),
                  di[0] if di else None)
    if not isinstance(di, Mapping):
        return None, {}
    di = dict(di)
    if isinstance(di.get("features"), list):
        di["features"] = di["features"][:1000]
    try:
        info = next(iter(DatasetInfosDict.from_dataset_card_data({"dataset_info": di}).values()))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, StopIteration):
        return None, {}
    splits = {name: s.num_examples for name, s in (info.splits or {}).items()
              if isinstance(s.num_examples, int) and s.num_examples > 0}
    return info.features, splits


def _parquet_features(path: str) -> tuple[Any | None, int | None]:
    """Features of a parquet shard from its schema (``datasets.Features.from_arrow_schema``, which
    reads the Hugging Face features stored in the schema metadata) and its row count."""
    import pyarrow.parquet as pq
    from datasets import Features

    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    raw = (pf.schema_arrow.metadata or {}).get(b"huggingface")
    if raw is None or len(raw) > 10_000_000:
        return None, rows
    try:
        return Features.from_arrow_schema(pf.schema_arrow), rows
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, rows


def _feature_kind(spec: Any) -> str:
    """'image', 'class_label', a value dtype ('string', 'int64') or the feature type ('List')."""
    from datasets import ClassLabel, Image, Value

    if isinstance(spec, Image):
        return "image"
    if isinstance(spec, ClassLabel):
        return "class_label"
    if isinstance(spec, Value):
        return str(spec.dtype)
    return type(spec).__name__ if not isinstance(spec, Mapping) else "struct"


def _class_names(spec: Any) -> tuple[str, ...] | None:
    """Class names of a ClassLabel feature (None for any other feature or an empty label set)."""
    from datasets import ClassLabel

    if not isinstance(spec, ClassLabel) or not spec.names:
        return None
    if len(spec.names) > _MAX_CLASSES:
        raise ValueError(f"Dataset declares {len(spec.names)} classes; more than the {_MAX_CLASSES} accepted.")
    return tuple(one_line(str(n), _MAX_NAME_CHARS) for n in spec.names)


def _pick_columns(features: Mapping[str, Any]) -> tuple[str | None, str | None, tuple[str, ...] | None]:
    images = [k for k, v in features.items() if _feature_kind(v) == "image"]
    labels = [k for k, v in features.items() if _feature_kind(v) == "class_label"]
    preferred = ("label", "labels", "fine_label", "class", "category")
    label = next((p for p in preferred if p in labels), labels[0] if labels else None)
    names = _class_names(features[label]) if label else None
    return (images[0] if images else None), label, names


def _parquet_by_split(files: Iterable[str], card: Mapping) -> dict[str, tuple[str, ...]]:
    """Parquet shards per split, from the card's ``configs`` data_files or the usual file layouts."""
    parquet = sorted(f for f in files if f.endswith(".parquet"))
    out: dict[str, list[str]] = {}
    configs = card.get("configs")
    if isinstance(configs, list) and configs:
        cfg = next((c for c in configs if isinstance(c, Mapping) and c.get("config_name") == "default"),
                   configs[0])
        data_files = cfg.get("data_files") if isinstance(cfg, Mapping) else None
        for df in data_files if isinstance(data_files, list) else []:
            if not isinstance(df, Mapping) or not isinstance(df.get("split"), str):
                continue
            pats = df.get("path")
            pats = [pats] if isinstance(pats, str) else [p for p in pats or [] if isinstance(p, str)]
            hits = [f for f in parquet if any(fnmatch.fnmatch(f, p) for p in pats)]
            if hits:
                out[df["split"]] = hits
    if not out:
        for f in parquet:
            parts = f.split("/")
            stem = parts[-1][: -len(".parquet")]
            split = None
            for cand in ("train", "validation", "valid", "test"):
                if cand in parts[:-1] or stem == cand or re.match(rf"(^|.*[-_]){cand}([-_.].*|$)", stem):
                    split = cand
                    break
            out.setdefault(split or "train", []).append(f)
    return {k: tuple(v) for k, v in out.items()}


def one_line(text: str, n: int) -> str:
    """``text`` on one line, cut to at most ``n`` characters (an ellipsis marks the cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
