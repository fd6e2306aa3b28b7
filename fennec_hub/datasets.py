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
import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DatasetEntry",
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

