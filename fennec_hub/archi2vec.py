"""archi2vec: a fixed-length vector that describes a vision architecture, built without weights.

Why: models without fine-tuning history still need a point in the transfer space (cold start).
Two checkpoints with similar architectures transfer similarly, so we describe the *architecture*:
the module tree is instantiated on PyTorch's ``meta`` device (shapes only, no memory, no weights,
no network) and summarised into numbers.

Accepted inputs (see :func:`resolve_architecture` for the id mapping):

* a transformers ``PretrainedConfig``, a config ``dict`` or a ``config.json`` path;
* a shipped Hub model id (``google/vit-base-patch16-224``, configs in ``fennec_hub/data/hf_configs``);
* a timm name (``resnet50``), a timm Hub id (``timm/resnet50.a1_in1k``) or a timm Hub config dict
  (``architecture`` + ``pretrained_cfg``);
* ``pytorchcv/<name>`` (needs the ``pytorchcv`` package), ``keras/<name>``, ``parc/<arch>-<src>``,
  ``torchvision/<arch>`` and ``vtab/<method>`` (mapped to an equivalent timm / pytorchcv model).

Vector layout (``ARCHI2VEC_DIM`` = 256 float32).  Each block is first standardised with fixed
constants (magnitudes are log-scaled and centred on typical values, shares are offset, so signs
carry information), then L2-normalised, then multiplied by its weight.  The weights' squares sum
to 1, so the vector has unit norm and cosine similarity (= dot product) is a weighted sum of the
per-block cosines.  Weights below are before normalisation (``BLOCKS`` holds the exact ones).

=========  ======  ======  ===================================================================
slice      block   weight  contents
=========  ======  ======  ===================================================================
[0:16)     size    0.40    log10 params; log2 #modules; module-tree depth; log2 #conv+linear
                           layers; log2 #blocks; #stages; log2 input resolution; log2 stem
                           stride (= patch size for ViTs); stem kernel; log2 max / median / min
                           layer width; log2 tokens after the stem ((res/stride)^2); log10
                           params per block; log2(max width x blocks); log2 #strided convs
[16:40)    compo   0.40    parameter shares: dense kxk conv, 1x1 conv, grouped conv, depthwise
                           conv, linear, norm, other (tokens, position embeddings, layer scale);
                           share inside attention modules; share in convs; conv / linear share
                           of weight layers; module-count shares of conv, linear, norm,
                           activation, attention, squeeze-excitation and pooling modules; conv
                           kernel-size histogram (1, 3, 5, >=7); share of strided convs; (pad)
[40:64)    kinds   0.30    normalisation kinds (batch, layer, group, RMS, other) and activation
                           kinds (ReLU, ReLU6, Leaky/PReLU, GELU, SiLU/Swish, Hardswish,
                           sigmoid gates, tanh, other) as shares; flags: attention, SE, layer
                           scale, class token, convolutions, no activation modules; (pad)
[64:80)    stages  0.40    stage layout (a stage = the leaf-most container of >= 2 repeated
                           blocks of one class): log2 #stages; log2 blocks in 4 stage slots
                           (stages resampled to 4); log2 width of those slots; log2 width ratio
                           last/first stage; share of blocks in the deepest stage; isotropic
                           flag (one stage); log2 #distinct stage widths; (pad)
[80:256)   wl      0.65    Weisfeiler-Lehman subtree fingerprint of the module tree: node labels
                           are canonical leaf kinds (``conv3/s2/dw``, ``bn``, ``act:gelu``,
                           ``linear``, ``pool``) or the module's class name (dropout / identity
                           nodes dropped); 3 iterations (label <- hash(label, sorted children
                           labels)); every label of every iteration is hashed with blake2b into
                           176 signed bins, counts log1p-scaled
=========  ======  ======  ===================================================================

Families (:attr:`ArchitectureInfo.family`): the transformers ``model_type`` (vision towers:
``clip_vision_model`` -> ``clip``), or the timm architecture prefix of :func:`timm_family`.

The vector is deterministic across processes and machines (no Python ``hash()``, sorted
traversals, fixed constants).  Results are cached in-process by a hash of the normalised config
and, unless ``FENNEC_ARCHI2VEC_DISK_CACHE=0``, on disk under
``huggingface_hub.cached_assets_path("fennec_hub", "archi2vec")`` (or the assets directory
``FENNEC_ARCHI2VEC_CACHE_DIR``) as ``.npy`` + ``.json`` (never pickle).

Untrusted input: ``trust_remote_code`` is never used; configs with ``auto_map``, unknown or
non-vision model types, oversized files, deep nesting or out-of-range sizes are rejected with
:class:`ArchitectureError` before anything is built, and the build itself is guarded by a module,
parameter and time budget.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ._extras import needs

__all__ = [
    "ARCHI2VEC_DIM",
    "ARCHI2VEC_VERSION",
    "ArchitectureError",
    "ArchitectureInfo",
    "ArchitectureSpec",
    "archi2vec",
    "config_from_metadata",
    "describe_architecture",
    "encode_many",
    "family_of",
    "list_shipped_configs",
    "resolve_architecture",
    "timm_family",
]

ARCHI2VEC_VERSION = "1.1"
ARCHI2VEC_DIM = 256

# (name, start, stop, weight); the weights' squares sum to 1.
_BLOCKS_RAW = (("size", 0, 16, 0.40), ("compo", 16, 40, 0.40), ("kinds", 40, 64, 0.30),
               ("stages", 64, 80, 0.40), ("wl", 80, 256, 0.65))
_WNORM = math.sqrt(sum(w * w for *_, w in _BLOCKS_RAW))
BLOCKS: tuple[tuple[str, int, int, float], ...] = tuple((n, a, b, w / _WNORM) for n, a, b, w in _BLOCKS_RAW)
_WL_DIM = 176
_WL_ITERATIONS = 3

# Safety bounds for untrusted configs.
MAX_CONFIG_BYTES = 2_000_000
MAX_NESTING = 12
MAX_LIST_LEN = 4096
MAX_INT = 10**6
MAX_MODULES = 10_000
MAX_PARAMS = 60_000_000_000
MAX_BUILD_SECONDS = float(os.environ.get("FENNEC_ARCHI2VEC_BUILD_TIMEOUT", "4.5"))   # untrusted configs
TRUSTED_BUILD_SECONDS = 120.0   # registry names (timm / pytorchcv without overrides): code we ship against
_DIM_CAP = 16_384          # hidden sizes, channels, embedding dims
_DEPTH_CAP = 128           # layers per stage / number of layers
_TOTAL_DEPTH_CAP = 192
_IMAGE_CAP = 2048
_DEPTH_KEYS = re.compile(r"^(num_)?(hidden_)?(encoder_)?(layers|depths?|blocks|stages)$|^num_\w*(layers|blocks)$|_depths?$")
_SCALE_KEYS = re.compile(r"(_coefficient|_multiplier|^width_factor|^mlp_ratios?|_ratio)$")
_SCALE_CAP = 16.0
_DIM_KEYS = re.compile(r"(hidden_size|hidden_sizes|hidden_dim|embed_dim|embedding_size|intermediate_size|"
                       r"channels|_dim$|^dim$|dims$|width|neck_hidden_sizes|projection_dim|decoder_hidden_size)")
_IMAGE_KEYS = re.compile(r"(image_size|img_size|input_size|resolution)")
_DROP_KEYS = {"id2label", "label2id", "num_labels", "architectures", "transformers_version", "_name_or_path",
              "torch_dtype", "dtype", "_commit_hash", "problem_type", "finetuning_task", "task_specific_params",
              "return_dict", "output_hidden_states", "output_attentions", "use_cache", "_attn_implementation",
              "_attn_implementation_autoset", "tokenizer_class", "prefix", "bos_token_id", "eos_token_id",
              "pad_token_id", "sep_token_id", "decoder_start_token_id", "label_names", "label_descriptions"}
_REMOVED_TYPES = {
    "van": "VAN was removed from transformers 5",
    "vit_hybrid": "ViT-hybrid was removed from transformers 5",
    "efficientformer": "EfficientFormer was removed from transformers 5",
    "dinat": "DiNAT needs the natten package, which is not available",
    "nat": "NAT needs the natten package, which is not available",
}
# Composite configs whose vision tower is what we encode.
_TOWER_TYPES = {"clip", "siglip", "siglip2", "metaclip_2", "aimv2", "chinese_clip", "altclip", "owlvit",
                "owlv2", "x_clip", "blip", "blip-2", "git", "clipseg", "groupvit", "align"}
_EXTRA_VISION_TYPES = {"vit_mae", "vitdet", "yolos", "glpn", "clip_vision_model", "siglip_vision_model",
                       "siglip2_vision_model", "aimv2_vision_model", "mlcd", "dinov3_vit", "dinov3_convnext",
                       "chinese_clip_vision_model", "metaclip_2_vision_model", "mlcd_vision_model", "segformer", "ijepa", "vit_msn",
                       "swiftformer", "hiera", "textnet", "hgnet_v2", "pp_lcnet", "maskformer-swin"}
_NOT_BUILDABLE = {"imagegpt", "perceiver", "shieldgemma2", "timm_wrapper", "timm_backbone"}

_DATA_DIR = Path(__file__).parent / "data" / "hf_configs"


class ArchitectureError(ValueError):
    """An input that cannot (or must not) be turned into an architecture vector."""


@dataclasses.dataclass(frozen=True)
class ArchitectureSpec:
    """What to build: a library, an architecture name or config, and the input resolution.

    ``note`` says when the architecture is an approximation of the named model (e.g. a Keras model
    mapped to the closest timm architecture).
    """

    library: str                       # "transformers" | "timm" | "pytorchcv"
    name: str                          # timm / pytorchcv architecture, or transformers model_type
    config: Mapping[str, Any] | None = None   # transformers config dict, or timm model_args
    input_size: int | None = None
    source: str | None = None          # the id or path the spec came from
    note: str | None = None

    def key(self) -> str:
        """A stable hash of the normalised spec (the cache key)."""
        payload = {"v": ARCHI2VEC_VERSION, "lib": self.library, "name": self.name,
                   "config": _normalise_config(self.config or {}), "input": self.input_size}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


@dataclasses.dataclass(frozen=True)
class ArchitectureInfo:
    """A summary of an architecture plus its archi2vec vector."""

    family: str            # transformers model_type or timm architecture prefix (see timm_family)
    library: str
    params: int            # parameters of the backbone (no classifier head)
    num_modules: int
    input_size: int | None
    vector: np.ndarray
    name: str = ""
    note: str | None = None


# ------------------------------------------------------------------------------------------------
# Families

_VARIANT_PREFIXES = ("tf_", "legacy_", "gluon_", "tv_", "tv2_", "dm_")


def timm_family(name: str) -> str:
    """The family of a timm architecture: its name up to the first digit / underscore group.

    The tag (``.a1_in1k``) and implementation prefixes (``tf_``, ``legacy_``, ``gluon_``, ``tv_``) are
    dropped (``dm_`` too: DeepMind's NFNets); a version suffix ``v<N>`` stays part of the family (``resnetv2``, ``mobilenetv3``,
    ``convnextv2``).  Examples: ``resnet50d`` -> ``resnet``, ``vit_base_patch16_224`` -> ``vit``,
    ``tf_efficientnet_b3`` -> ``efficientnet``, ``deit3_small_patch16_224`` -> ``deit``.
    """
    base = name.split("/")[-1].split(".")[0].lower()
    for p in _VARIANT_PREFIXES:
        if base.startswith(p):
            base = base[len(p):]
    m = re.match(r"[a-z]+?(?:v\d+)?(?=\d|_|$)", base)
    return m.group(0) if m else base.split("_")[0]


def family_of(model_or_config: Any, *, library: str | None = None) -> str:
    """The family of anything :func:`archi2vec` accepts, without building it."""
    spec = _to_spec(model_or_config, library)
    return _spec_family(spec)


def _spec_family(spec: ArchitectureSpec) -> str:
    if spec.library == "transformers":
        t = str(spec.name)
        return t[: -len("_vision_model")] if t.endswith("_vision_model") else t
    return timm_family(spec.name)


# ------------------------------------------------------------------------------------------------
# Validation of untrusted configs

def _check_tree(obj: Any, path: str = "", depth: int = 0) -> None:
    """Bound nesting, list lengths and numeric ranges of a JSON-like config (iteratively safe)."""
    stack = [(obj, path, depth)]
    seen = 0
    while stack:
        o, p, d = stack.pop()
        seen += 1
        if seen > 200_000:
            raise ArchitectureError("config has too many entries")
        if d > MAX_NESTING:
            raise ArchitectureError(f"config nested deeper than {MAX_NESTING} levels at {p or '<root>'}")
        key = p.rsplit(".", 1)[-1]
        if isinstance(o, Mapping):
            if len(o) > MAX_LIST_LEN:
                raise ArchitectureError(f"config object {p or '<root>'} has {len(o)} keys (limit {MAX_LIST_LEN})")
            for k, v in o.items():
                if not isinstance(k, str):
                    raise ArchitectureError(f"config key {k!r} at {p or '<root>'} is not a string")
                if k in ("id2label", "label2id", "label_names", "label_descriptions"):
                    continue
                stack.append((v, f"{p}.{k}" if p else k, d + 1))
        elif isinstance(o, (list, tuple)):
            if len(o) > MAX_LIST_LEN:
                raise ArchitectureError(f"config list {p} has {len(o)} entries (limit {MAX_LIST_LEN})")
            if o and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in o) \
                    and _DEPTH_KEYS.search(key) and sum(o) > _TOTAL_DEPTH_CAP:
                raise ArchitectureError(f"config field {p} sums to {sum(o)} layers (limit {_TOTAL_DEPTH_CAP})")
            stack.extend((v, p, d + 1) for v in o)      # elements are checked under the list's key
        elif isinstance(o, bool) or o is None:
            continue
        elif isinstance(o, int):
            _check_number(key, o, p)
        elif isinstance(o, float):
            if not math.isfinite(o):
                raise ArchitectureError(f"config field {p} is not finite ({o})")
            _check_number(key, o, p)
        elif isinstance(o, str):
            if len(o) > 10_000:
                raise ArchitectureError(f"config string {p} is {len(o)} characters long")
        else:
            raise ArchitectureError(f"config field {p} has unsupported type {type(o).__name__}")


def _check_number(key: str, value: float, path: str) -> None:
    if abs(value) > MAX_INT:
        raise ArchitectureError(f"config field {path}={value} is out of range (|x| <= {MAX_INT})")
    if value < 0 and (_DEPTH_KEYS.search(key) or _DIM_KEYS.search(key) or _IMAGE_KEYS.search(key)):
        raise ArchitectureError(f"config field {path}={value} must not be negative")
    if _SCALE_KEYS.search(key) and value > _SCALE_CAP:
        raise ArchitectureError(f"config field {path}={value} exceeds the scale-factor limit {_SCALE_CAP}")
    if _IMAGE_KEYS.search(key) and value > _IMAGE_CAP:
        raise ArchitectureError(f"config field {path}={value} exceeds the image size limit {_IMAGE_CAP}")
    elif _DEPTH_KEYS.search(key) and value > _DEPTH_CAP:
        raise ArchitectureError(f"config field {path}={value} exceeds the depth limit {_DEPTH_CAP}")
    elif _DIM_KEYS.search(key) and value > _DIM_CAP:
        raise ArchitectureError(f"config field {path}={value} exceeds the width limit {_DIM_CAP}")


def _normalise_config(cfg: Mapping[str, Any]) -> dict:
    """The architecture-defining part of a config (labels, versions, dtypes dropped)."""
    out = {}
    for k, v in cfg.items():
        if k in _DROP_KEYS:
            continue
        if isinstance(v, Mapping):
            v = _normalise_config(v)
        out[k] = v
    return out


def _load_json_file(path: Path) -> dict:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArchitectureError(f"cannot read {path}: {exc}") from None
    if size > MAX_CONFIG_BYTES:
        raise ArchitectureError(f"config file {path} is {size} bytes (limit {MAX_CONFIG_BYTES})")
    with open(path, "rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ArchitectureError(f"config file {path} is larger than {MAX_CONFIG_BYTES} bytes")
    return _parse_json(raw, str(path))


def _parse_json(raw: bytes | str, where: str) -> dict:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    # Cheap nesting pre-scan (brackets outside strings) so deep nesting fails before json.loads.
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_NESTING + 1:
                raise ArchitectureError(f"{where}: JSON nested deeper than {MAX_NESTING} levels")
        elif ch in "]}":
            depth -= 1
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ArchitectureError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchitectureError(f"{where}: a config must be a JSON object")
    return data


# ------------------------------------------------------------------------------------------------
# Shipped Hub configs

_INDEX_LOCK = threading.Lock()
_INDEX: dict[str, dict] | None = None


def _shipped_index() -> dict[str, dict]:
    global _INDEX
    with _INDEX_LOCK:
        if _INDEX is None:
            path = _DATA_DIR / "index.json"
            _INDEX = json.loads(path.read_text()) if path.exists() else {}
        return _INDEX


def _shipped_lookup(repo_id: str) -> str | None:
    idx = _shipped_index()
    if repo_id in idx:
        return repo_id
    low = {k.lower(): k for k in idx}
    return low.get(repo_id.lower())


def list_shipped_configs() -> dict[str, dict]:
    """The shipped Hub configs' index: repo id -> {library, pipeline_tag, license, ...}."""
    return {k: dict(v) for k, v in _shipped_index().items()}


def _shipped_config(repo_id: str) -> dict:
    name = repo_id.replace("/", "__") + ".json"
    return _load_json_file(_DATA_DIR / name)


def config_from_metadata(model_type: str, num_parameters: float | None = None, image_size: int | None = None,
                         hidden_size: int | None = None) -> dict:
    """A config for a community checkpoint known only by its metadata (e.g. TransferGraph's table).

    Picks the shipped canonical config of ``model_type`` closest in parameter count (preferring
    ones whose output width equals ``hidden_size``) and sets its ``image_size``. Types removed in
    transformers 5 (van, vit_hybrid, efficientformer) raise :class:`ArchitectureError`.
    """
    if num_parameters is not None and not (isinstance(num_parameters, (int, float)) and num_parameters > 0
                                           and math.isfinite(num_parameters)):
        num_parameters = None
    if image_size is not None and not (isinstance(image_size, (int, float)) and math.isfinite(image_size)):
        image_size = None
    if hidden_size is not None and not (isinstance(hidden_size, (int, float)) and math.isfinite(hidden_size)):
        hidden_size = None
    mt = str(model_type or "").strip().lower().replace("_", "-") if model_type else ""
    if not mt:
        raise ArchitectureError("no model_type given")
    for cand in (mt, mt.replace("-", "_")):
        if cand in _REMOVED_TYPES:
            raise ArchitectureError(f"model type {cand!r}: {_REMOVED_TYPES[cand]}; cannot be encoded")
    idx = _shipped_index()
    cands = [(k, v) for k, v in idx.items()
             if str(v.get("model_type", "")).replace("_", "-") == mt]
    if not cands:
        raise ArchitectureError(f"no shipped config of model type {model_type!r}")

    def dist(item):
        _, v = item
        d = 0.0
        if hidden_size and v.get("hidden_size") and int(v["hidden_size"]) != int(hidden_size):
            d += 10.0
        if num_parameters and v.get("num_parameters"):
            d += abs(math.log(float(num_parameters)) - math.log(float(v["num_parameters"])))
        if image_size and v.get("image_size") and int(v["image_size"]) != int(image_size):
            d += 0.01                                   # ties: prefer the template at that resolution
        return (d, item[0])

    repo, _ = min(cands, key=dist)
    cfg = _shipped_config(repo)
    if image_size and int(image_size) > 0:
        if int(image_size) > _IMAGE_CAP:
            raise ArchitectureError(f"image_size={image_size} exceeds {_IMAGE_CAP}")
        if isinstance(cfg.get("vision_config"), dict):
            cfg["vision_config"]["image_size"] = int(image_size)
        else:
            cfg["image_size"] = int(image_size)
    cfg["_fennec_template"] = repo
    return cfg


# ------------------------------------------------------------------------------------------------
# Id mapping

_TIMM_ARGS = {"img_size", "in_chans", "global_pool"}
_TIMM_IGNORED_ARGS = {"num_classes", "drop_rate", "drop_path_rate", "pretrained", "pretrained_cfg",
                      "pretrained_cfg_overlay", "checkpoint_path", "features_only", "label_names"}

_KERAS = {
    "resnet50": ("timm", "resnet50", None), "resnet101": ("timm", "resnet101", None),
    "resnet152": ("timm", "resnet152", None),
    "resnet50v2": ("timm", "resnetv2_50", None), "resnet101v2": ("timm", "resnetv2_101", None),
    "resnet152v2": ("timm", "resnetv2_152", None),
    "vgg16": ("timm", "vgg16", None), "vgg19": ("timm", "vgg19", None),
    "densenet121": ("timm", "densenet121", None), "densenet169": ("timm", "densenet169", None),
    "densenet201": ("timm", "densenet201", None),
    "xception": ("timm", "legacy_xception", None),
    "inceptionv3": ("timm", "inception_v3", None), "inceptionresnetv2": ("timm", "inception_resnet_v2", None),
    "mobilenet": ("timm", "mobilenetv1_100", None), "mobilenetv2": ("timm", "mobilenetv2_100", None),
    "mobilenetv3": ("timm", "mobilenetv3_large_100", "Keras MobileNetV3Large mapped to timm mobilenetv3_large_100"),
    "mobilenetv3large": ("timm", "mobilenetv3_large_100", None),
    "mobilenetv3small": ("timm", "mobilenetv3_small_100", None),
    "nasnetmobile": ("pytorchcv", "nasnet_4a1056", "NASNet-A Mobile (4@1056) from pytorchcv; "
                     "falls back to timm nasnetalarge (same cell family, larger) without pytorchcv"),
    "nasnetlarge": ("timm", "nasnetalarge", None),
    **{f"efficientnetb{i}": ("timm", f"efficientnet_b{i}", None) for i in range(8)},
}
_TORCHVISION = {"alexnet": ("pytorchcv", "alexnet", None),
                "googlenet": ("pytorchcv", "bninception", "GoogLeNet (Inception v1) is in neither timm nor pytorchcv; "
                              "BN-Inception, its batch-normalised successor, is the closest available"),
                "inception_v3": ("timm", "inception_v3", None)}
# When pytorchcv is not installed: the closest timm architecture.
_PYTORCHCV_FALLBACK = {"nasnet_4a1056": "nasnetalarge", "bninception": "inception_v3", "alexnet": "vgg11"}


def mapped_architecture(model_id: str) -> tuple[str, str] | None:
    """``(library, name)`` of the network a benchmark id is an instance of (``keras/vgg16`` ->
    ``("timm", "vgg16")``, ``torchvision/alexnet`` and ``parc/alexnet-cub200`` -> ``("pytorchcv",
    "alexnet")``), from the tables
    :func:`resolve_architecture` uses, without importing any model library; None for other ids."""
    ns, _, rest = str(model_id).partition("/")
    if ns == "keras":
        hit = _KERAS.get(re.sub(r"[^a-z0-9]", "", rest.lower()))
    elif ns in ("torchvision", "parc"):
        arch = rest.split("-")[0].lower()
        hit = _TORCHVISION.get(arch) or ("timm", arch, None)
        if hit[2] and "closest" in hit[2]:  # a stand-in for a network neither library has
            return None
    else:
        return None
    return (hit[0], hit[1]) if hit else None


def resolve_architecture(model_id: str) -> ArchitectureSpec:
    """Map a model id (Hub id, timm name, or a namespaced benchmark id) to what to build.

    ``keras/<name>`` -> the equivalent timm / pytorchcv architecture (resnet50v2 -> resnetv2_50,
    xception -> legacy_xception, mobilenet -> mobilenetv1_100, nasnetmobile -> pytorchcv
    nasnet_4a1056 (NASNet-A Mobile itself), efficientnetbN -> efficientnet_bN, ...);
    ``parc/<arch>-<source>`` and ``torchvision/<arch>`` -> that architecture (alexnet from pytorchcv;
    googlenet -> pytorchcv bninception, the closest available; resnets from timm); ``vtab/<method>`` -> timm ``resnetv2_50`` (every VTAB leaderboard method is a ResNet-50 v2);
    ``timm/<arch>.<tag>`` -> timm ``<arch>``.
    """
    if not isinstance(model_id, str) or not model_id.strip():
        raise ArchitectureError(f"not a model id: {model_id!r}")
    mid = model_id.strip()
    if len(mid) > 300:
        raise ArchitectureError("model id is too long")
    shipped = _shipped_lookup(mid)
    if shipped:
        return _spec_from_dict(_shipped_config(shipped), source=shipped)
    ns, _, rest = mid.partition("/")
    nsl = ns.lower()
    if rest and nsl == "timm":
        return _timm_spec(rest, source=mid)
    if rest and nsl == "pytorchcv":
        return _pytorchcv_spec(rest, source=mid)
    if rest and nsl == "keras":
        key = re.sub(r"[^a-z0-9]", "", rest.lower())
        if key not in _KERAS:
            raise ArchitectureError(f"unknown Keras application {rest!r}; known: {', '.join(sorted(_KERAS))}")
        lib, name, note = _KERAS[key]
        return _mapped(lib, name, mid, note or f"Keras {rest} mapped to {lib} {name}")
    if rest and nsl in ("parc", "torchvision"):
        arch = rest.split("-")[0].split("|")[0].lower() if nsl == "parc" else rest.lower()
        if arch in _TORCHVISION:
            lib, name, note = _TORCHVISION[arch]
            return _mapped(lib, name, mid, note or f"{arch} mapped to {lib} {name}")
        return _mapped("timm", arch, mid, f"{arch} mapped to timm {arch}")
    if rest and nsl == "vtab":
        return _mapped("timm", "resnetv2_50", mid, "VTAB leaderboard methods are all ResNet-50 v2")
    if rest and nsl in ("hf", "huggingface"):
        return resolve_architecture(rest)
    if "/" not in mid:
        return _timm_spec(mid, source=mid)
    raise ArchitectureError(
        f"unknown model id {mid!r}: not a shipped Hub config, timm, pytorchcv, keras, parc, torchvision or "
        f"vtab id. Pass its config.json (or a config dict), or use config_from_metadata(). "
        f"Close shipped ids: {difflib.get_close_matches(mid, list(_shipped_index()), n=3, cutoff=0.5)}")


def _mapped(lib: str, name: str, source: str, note: str | None) -> ArchitectureSpec:
    if lib == "pytorchcv":
        try:
            return _pytorchcv_spec(name, source=source, note=note)
        except ArchitectureError:
            alt = _PYTORCHCV_FALLBACK.get(name, name)
            return _timm_spec(alt, source=source, note=f"{note or name} (pytorchcv missing: timm {alt} used "
                              "as the closest available)")
    return _timm_spec(name, source=source, note=note)


_TIMM_NAMES: tuple[list[str], frozenset[str]] | None = None


def _timm_names() -> tuple[list[str], frozenset[str]]:
    """timm's registered architectures (list and set), read once per process."""
    global _TIMM_NAMES
    if _TIMM_NAMES is None:
        try:
            import timm
        except ImportError:
            raise ArchitectureError("archi2vec of timm architectures needs timm: pip install 'fennec_hub[encode]'") from None
        names = timm.list_models()
        _TIMM_NAMES = (names, frozenset(names))
    return _TIMM_NAMES


def _timm_spec(name: str, *, source: str | None = None, note: str | None = None,
               pretrained_cfg: Mapping | None = None, model_args: Mapping | None = None) -> ArchitectureSpec:
    arch, _, tag = name.strip().partition(".")
    names, name_set = _timm_names()
    if arch not in name_set:
        close = difflib.get_close_matches(arch, names, n=4, cutoff=0.6)
        raise ArchitectureError(f"unknown timm architecture {arch!r}" + (f"; did you mean {close}?" if close else ""))
    input_size = None
    if pretrained_cfg and isinstance(pretrained_cfg, Mapping):
        input_size = _res_from(pretrained_cfg.get("input_size"))
    if input_size is None:
        try:
            import timm.models
            pc = timm.models.get_pretrained_cfg(f"{arch}.{tag}" if tag else arch)
            if pc is None and tag:
                pc = timm.models.get_pretrained_cfg(arch)
            input_size = _res_from(getattr(pc, "input_size", None)) if pc is not None else None
        except Exception:  # noqa: BLE001 - timm raises various errors for unknown tags
            input_size = None
    args = {k: v for k, v in dict(model_args or {}).items() if k not in _TIMM_IGNORED_ARGS}
    if args:
        _check_tree(args)
        for k, v in args.items():
            if k not in _TIMM_ARGS:
                raise ArchitectureError(f"timm model_args field {k!r} is not accepted "
                                        f"(accepted: {', '.join(sorted(_TIMM_ARGS))})")
            if k == "img_size" and (_res_from(v) is None or _res_from(v) > 1024):
                raise ArchitectureError(f"timm model_args img_size={v!r} is out of range (1..1024)")
            if k == "in_chans" and not (isinstance(v, int) and 1 <= v <= 16):
                raise ArchitectureError(f"timm model_args in_chans={v!r} is out of range (1..16)")
            if k == "global_pool" and not isinstance(v, str):
                raise ArchitectureError("timm model_args global_pool must be a string")
    return ArchitectureSpec("timm", arch, args or None, input_size, source or name, note)


def _res_from(x: Any) -> int | None:
    if isinstance(x, (list, tuple)) and x:
        x = x[-1]
    if isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= _IMAGE_CAP:
        return int(x)
    return None


_PYTORCHCV_LOCK = threading.Lock()


def _pytorchcv_models() -> dict:
    try:
        with _PYTORCHCV_LOCK:
            from pytorchcv.model_provider import _models
    except ImportError:
        raise ArchitectureError("archi2vec of pytorchcv models needs pytorchcv: pip install 'fennec_hub[encode]'") from None
    return _models


def _pytorchcv_spec(name: str, *, source: str | None = None, note: str | None = None) -> ArchitectureSpec:
    models = _pytorchcv_models()
    key = name.strip().lower()
    if key not in models:
        close = difflib.get_close_matches(key, list(models), n=4, cutoff=0.6)
        raise ArchitectureError(f"unknown pytorchcv model {name!r}" + (f"; did you mean {close}?" if close else ""))
    res = 32 if re.search(r"_(cifar10|cifar100|svhn)$", key) else None
    return ArchitectureSpec("pytorchcv", key, None, res, source or f"pytorchcv/{key}", note)


def _spec_from_dict(d: Mapping[str, Any], *, source: str | None = None) -> ArchitectureSpec:
    _check_tree(d)
    if "auto_map" in d or any(isinstance(v, Mapping) and "auto_map" in v for v in d.values()):
        raise ArchitectureError("config uses custom code (auto_map); remote code is never executed")
    if "architecture" in d and "model_type" not in d:        # timm Hub config.json
        arch = d.get("architecture")
        if not isinstance(arch, str):
            raise ArchitectureError("timm config: 'architecture' must be a string")
        return _timm_spec(arch, source=source or arch, pretrained_cfg=d.get("pretrained_cfg"),
                          model_args=d.get("model_args"))
    mt = d.get("model_type")
    if not isinstance(mt, str) or not mt:
        raise ArchitectureError("config has no 'model_type' (transformers) or 'architecture' (timm)")
    if mt == "timm_wrapper" and isinstance(d.get("architecture"), str):
        return _timm_spec(d["architecture"], source=source, pretrained_cfg=d.get("pretrained_cfg"),
                          model_args=d.get("model_args"))
    if mt in _REMOVED_TYPES:
        raise ArchitectureError(f"model type {mt!r}: {_REMOVED_TYPES[mt]}; cannot be encoded")
    cfg = {k: v for k, v in d.items() if k not in _DROP_KEYS and k != "_fennec_template"}
    _check_type_specific(mt, cfg)
    res = _res_from(cfg.get("image_size"))
    if res is None and isinstance(cfg.get("vision_config"), Mapping):
        res = _res_from(cfg["vision_config"].get("image_size"))
    return ArchitectureSpec("transformers", mt, cfg, res, source, None)


def _check_type_specific(mt: str, cfg: Mapping[str, Any]) -> None:
    """Bounds for model types whose construction is super-linear in a config value."""
    if mt == "levit":      # attention-bias tables: Python loops over (resolution^2)^2 point pairs
        img = cfg.get("image_size", 224)
        patch = cfg.get("patch_size", 16)
        img = img[0] if isinstance(img, (list, tuple)) and img else img
        if not (isinstance(img, int) and isinstance(patch, int) and patch > 0 and img // patch <= 32):
            raise ArchitectureError(f"levit: image_size // patch_size must be <= 32 (got {img!r} // {patch!r}); "
                                    "the attention-bias tables grow with its fourth power")


def _to_spec(x: Any, library: str | None) -> ArchitectureSpec:
    if isinstance(x, ArchitectureSpec):
        return x
    lib = library.lower() if isinstance(library, str) else None
    if lib not in (None, "transformers", "timm", "pytorchcv"):
        raise ArchitectureError(f"unknown library {library!r} (transformers, timm or pytorchcv)")
    if hasattr(x, "to_dict") and hasattr(x, "model_type"):            # PretrainedConfig
        try:
            d = x.to_dict()
        except Exception as exc:  # noqa: BLE001
            raise ArchitectureError(f"cannot read config object: {exc}") from None
        return _spec_from_dict(d, source=getattr(x, "_name_or_path", None) or None)
    if isinstance(x, Mapping):
        return _spec_from_dict(x)
    if isinstance(x, os.PathLike):
        x = os.fspath(x)
    if isinstance(x, bytes):
        x = x.decode("utf-8", errors="replace")
    if not isinstance(x, str):
        raise ArchitectureError(f"cannot encode an object of type {type(x).__name__}")
    if lib == "timm":
        return _timm_spec(x.split("/", 1)[1] if x.lower().startswith("timm/") else x, source=x)
    if lib == "pytorchcv":
        return _pytorchcv_spec(x.split("/", 1)[1] if x.lower().startswith("pytorchcv/") else x, source=x)
    if _shipped_lookup(x.strip()) is None and (x.endswith(".json") or os.sep in x or x.startswith(".")):
        p = Path(x)
        if p.is_dir():
            p = p / "config.json"
        if p.is_file():
            return _spec_from_dict(_load_json_file(p), source=str(p))
        if x.endswith(".json"):
            raise ArchitectureError(f"config file not found: {x}")
    return resolve_architecture(x)


# ------------------------------------------------------------------------------------------------
# Building on the meta device

_BUILD_LOCK = threading.RLock()


class _BuildTimeout(BaseException):
    """Injected into a build that overruns its time budget (BaseException: libraries' broad
    ``except Exception`` clauses must not swallow it)."""


class _Watchdog:
    """Raises :class:`_BuildTimeout` in the building thread after ``seconds`` (Python-level loops
    in a model's ``__init__``, e.g. attention-bias tables for a huge input, cannot run forever)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.tid = threading.get_ident()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.fired = False
        self.thread = threading.Thread(target=self._run, name="archi2vec-watchdog", daemon=True)

    def _run(self) -> None:
        if self.done.wait(self.seconds):
            return
        import ctypes

        with self.lock:
            if not self.done.is_set():
                self.fired = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.tid), ctypes.py_object(_BuildTimeout))

    def __enter__(self) -> "_Watchdog":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.done.set()


class _BuildBudget:
    """Aborts a model build that registers too many modules or parameters."""

    def __init__(self) -> None:
        self.modules = 0
        self.params = 0

    def on_module(self, module, name, submodule):
        self.modules += 1
        if self.modules > MAX_MODULES:
            raise ArchitectureError(f"architecture has more than {MAX_MODULES} modules")
        return None

    def on_param(self, module, name, param):
        if param is not None:
            self.params += int(param.numel())
            if self.params > MAX_PARAMS:
                raise ArchitectureError(f"architecture has more than {MAX_PARAMS:,} parameters")
        return None


_SHAPE_CHANGING = frozenset({"resize_", "resize_as_", "set_", "unsqueeze_", "squeeze_", "t_", "transpose_",
                             "as_strided_", "swapdims_", "swapaxes_", "requires_grad_", "share_memory_"})


def _skip_init_mode():
    """A torch-function mode that skips in-place value ops (weight init) on meta tensors.

    Meta tensors hold no values, so ``uniform_``/``clamp_``/``normal_``... change nothing, but
    running them through PyTorch's meta decompositions is most of a build's time.
    """
    with needs("encode", "archi2vec"):
        import torch
        from torch.overrides import TorchFunctionMode

    class _SkipInplaceOnMeta(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if (name.endswith("_") and not name.endswith("__") and name not in _SHAPE_CHANGING and args
                    and isinstance(args[0], torch.Tensor) and args[0].is_meta):
                return args[0]
            return func(*args, **(kwargs or {}))

    return _SkipInplaceOnMeta()


def _build(spec: ArchitectureSpec):
    """Instantiate the backbone of ``spec`` on the meta device. Returns (module, input_size).

    Library imports and config parsing happen first; only the construction itself runs under the
    module / parameter budget and the watchdog.
    """
    with needs("encode", "archi2vec"):
        import torch
        from torch.nn.modules import module as tmod

    try:
        if spec.library == "timm":
            construct = _prepare_timm(spec)
        elif spec.library == "pytorchcv":
            construct = _prepare_pytorchcv(spec)
        else:
            construct = _prepare_transformers(spec)
    except ArchitectureError:
        raise
    except Exception as exc:  # noqa: BLE001 - config classes reject bad values in many ways
        msg = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise ArchitectureError(f"invalid {spec.library} config for {spec.name!r}: {type(exc).__name__}: {msg}") from None
    budget = _BuildBudget()
    trusted = spec.library in ("timm", "pytorchcv") and not spec.config
    seconds = TRUSTED_BUILD_SECONDS if trusted else MAX_BUILD_SECONDS
    timeout = ArchitectureError(f"building {spec.library} {spec.name!r} took longer than {seconds} s"
                                + ("" if trusted else " (limit for untrusted configs)"))
    with _BUILD_LOCK:
        h1 = tmod.register_module_module_registration_hook(budget.on_module)
        h2 = tmod.register_module_parameter_registration_hook(budget.on_param)
        try:
            try:
                with _Watchdog(seconds), torch.device("meta"), _skip_init_mode():
                    return construct()
            except _BuildTimeout:
                raise timeout from None
        except _BuildTimeout:
            raise timeout from None
        except ArchitectureError:
            raise
        except (MemoryError, RecursionError) as exc:
            raise ArchitectureError(f"cannot build {spec.name}: {type(exc).__name__}") from None
        except Exception as exc:  # noqa: BLE001 - library errors on bad configs are many and varied
            msg = str(exc).splitlines()[0][:300] if str(exc) else ""
            raise ArchitectureError(f"cannot build {spec.library} {spec.name!r}: {type(exc).__name__}: {msg}") from None
        finally:
            h1.remove()
            h2.remove()


def _prepare_timm(spec: ArchitectureSpec):
    with needs("encode", "archi2vec"):
        import timm

    kwargs = dict(spec.config or {})

    def construct():
        model = timm.create_model(spec.name, pretrained=False, num_classes=0, **kwargs)
        res = spec.input_size
        if res is None:
            res = _res_from((getattr(model, "pretrained_cfg", None) or {}).get("input_size"))
        return model, res

    return construct


def _prepare_pytorchcv(spec: ArchitectureSpec):
    with _PYTORCHCV_LOCK:
        from pytorchcv.model_provider import get_model
    import torch.nn as nn

    def construct():
        model = get_model(spec.name, pretrained=False)
        if getattr(model, "output", None) is not None:    # drop the classifier head, like timm num_classes=0
            model.output = nn.Identity()
        res = spec.input_size or _res_from(getattr(model, "in_size", None)) or 224
        return model, res

    return construct


def _prepare_transformers(spec: ArchitectureSpec):
    with needs("encode", "archi2vec"):
        import transformers
        from transformers.models.auto import modeling_auto as ma
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        from transformers.utils import logging as tlog

    mt = spec.name
    if mt not in CONFIG_MAPPING:
        close = difflib.get_close_matches(mt, list(CONFIG_MAPPING.keys()), n=3, cutoff=0.6)
        raise ArchitectureError(f"unknown transformers model type {mt!r}" + (f"; did you mean {close}?" if close else ""))
    if mt in _NOT_BUILDABLE:
        raise ArchitectureError(f"model type {mt!r} is not supported by archi2vec")
    vision = set(ma.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES) | set(ma.MODEL_FOR_BACKBONE_MAPPING_NAMES) \
        | _EXTRA_VISION_TYPES | _TOWER_TYPES
    if mt not in vision:
        raise ArchitectureError(f"model type {mt!r} is not a vision model type")
    cfg_dict = {k: v for k, v in (spec.config or {}).items() if k != "model_type"}
    prev = tlog.get_verbosity()
    tlog.set_verbosity_error()          # defaults of unused sub-configs (e.g. CLIP's text tower) warn loudly
    try:
        cfg = CONFIG_MAPPING[mt](**cfg_dict)
    finally:
        tlog.set_verbosity(prev)
    tower_guess = None
    if mt in _TOWER_TYPES or (getattr(cfg, "vision_config", None) is not None and mt not in ma.MODEL_MAPPING_NAMES):
        top = type(cfg).__name__
        tower_guess = (top[: -len("Config")] if top.endswith("Config") else top) + "VisionModel"
        cfg = getattr(cfg, "vision_config", None)
        if cfg is None:
            raise ArchitectureError(f"{mt} config has no vision_config")
    vt = cfg.model_type
    cls_name = ma.MODEL_MAPPING_NAMES.get(vt) or ma.MODEL_FOR_BACKBONE_MAPPING_NAMES.get(vt) \
        or ma.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES.get(vt) or tower_guess
    if isinstance(cls_name, (list, tuple)):
        cls_name = cls_name[0]
    cls = getattr(transformers, cls_name, None) if cls_name else None     # (lazy import happens here)
    if cls is None:
        raise ArchitectureError(f"transformers has no model class for {vt!r}")
    res = _res_from(getattr(cfg, "image_size", None)) or spec.input_size

    def construct():
        prev = tlog.get_verbosity()
        tlog.set_verbosity_error()
        try:
            return cls(cfg), res
        finally:
            tlog.set_verbosity(prev)

    return construct


# ------------------------------------------------------------------------------------------------
# Features

_ACT_KINDS = ("relu", "relu6", "leaky", "gelu", "silu", "hardswish", "gate", "tanh", "other")
_NORM_KINDS = ("bn", "ln", "gn", "rms", "other")
_SKIP = re.compile(r"^(Dropout\d?d?|Identity|DropPath|DropBlock2d|AlphaDropout|StochasticDepth.*|.*DropPath)$")


def _act_kind(lname: str) -> str | None:
    if "relu6" in lname:
        return "relu6"
    if "leaky" in lname or "prelu" in lname:
        return "leaky"
    if "hardswish" in lname or "hswish" in lname or "hard_swish" in lname:
        return "hardswish"
    if "hardsigmoid" in lname or "hsigmoid" in lname or "hard_sigmoid" in lname or lname in ("sigmoid", "gatelayer"):
        return "gate"
    if "gelu" in lname:
        return "gelu"
    if "silu" in lname or "swish" in lname:
        return "silu"
    if "relu" in lname:
        return "relu"
    if lname == "tanh":
        return "tanh"
    if lname in ("mish", "elu", "selu", "celu", "softplus", "starrelu", "squaredrelu", "quickgeluactivation",
                 "hardtanh", "logsigmoid", "softsign", "tanhshrink"):
        return "other"
    if lname.endswith("activation") or lname.endswith("act"):
        return "other"
    return None


def _norm_kind(m, cname: str) -> str | None:
    import torch.nn as nn

    low = cname.lower()
    if isinstance(m, nn.modules.batchnorm._BatchNorm) or "batchnorm" in low or low.startswith("bn"):
        return "bn"
    if isinstance(m, nn.GroupNorm) or "groupnorm" in low:
        return "gn"
    if "rmsnorm" in low:
        return "rms"
    if isinstance(m, nn.LayerNorm) or "layernorm" in low:
        return "ln"
    if isinstance(m, (nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)) or low.endswith("norm") \
            or low.endswith("norm2d") or low.endswith("norm1d"):
        return "other"
    return None


def _is_attention(cname: str) -> bool:
    low = cname.lower()
    return ("attention" in low or "attn" in low or low == "multiheadattention") and "pool" not in low


def _is_se(cname: str) -> bool:
    low = cname.lower()
    return ("squeeze" in low or "excit" in low or low in ("se", "semodule", "selayer", "seblock", "ecamodule",
                                                          "cecamodule", "effectivesemodule", "seunit")
            or bool(re.fullmatch(r".*(se|eca)(module|layer|block|unit)\d*", low)))


def _wl_hash(s: str) -> str:
    return hashlib.blake2b(s.encode(), digest_size=8).hexdigest()


class _Node:
    __slots__ = ("label", "children", "kind", "cname", "width")

    def __init__(self, label: str, kind: str, cname: str, width: int = 0) -> None:
        self.label = label
        self.kind = kind
        self.cname = cname
        self.width = width
        self.children: list[_Node] = []


def _analyse(model, input_size: int | None) -> tuple[np.ndarray, dict]:
    """Compute the archi2vec vector and summary numbers of a built module."""
    import torch.nn as nn

    norm_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
    stats = {k: 0.0 for k in ("p_conv_dense", "p_conv_pw", "p_conv_group", "p_conv_dw", "p_linear", "p_norm",
                              "p_other", "n_conv", "n_linear", "n_norm", "n_act", "n_attn", "n_se", "n_pool",
                              "k1", "k3", "k5", "k7", "n_strided", "layer_scale", "cls_token")}
    norm_counts = dict.fromkeys(_NORM_KINDS, 0)
    act_counts = dict.fromkeys(_ACT_KINDS, 0)
    widths: list[int] = []
    norm_widths: list[int] = []
    stem: tuple[int, int] | None = None
    attn_params = 0
    total = 0

    root: _Node | None = None
    num_modules = 0
    max_depth = 0

    # Iterative DFS over the module tree (definition order), deduplicating shared modules.
    stack: list[tuple[str, Any, _Node | None, int, bool]] = [("", model, None, 0, False)]
    seen: set[int] = set()
    while stack:
        name, m, parent, depth, in_attn = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        num_modules += 1
        max_depth = max(max_depth, depth)
        cname = type(m).__name__
        children = list(m.named_children())
        own = [p for _, p in m.named_parameters(recurse=False) if p is not None]
        own_n = int(sum(p.numel() for p in own))
        total += own_n
        is_attn = _is_attention(cname) and bool(children or own)
        if in_attn:
            attn_params += own_n
        if is_attn:
            stats["n_attn"] += 1
            if not in_attn:
                attn_params += own_n
        now_attn = in_attn or is_attn
        label, kind, width = cname, "module", 0
        # norm layers: childless ones by name, and torch norm subclasses that wrap an activation
        # (e.g. timm's BatchNormAct2d)
        nk = _norm_kind(m, cname) if (not children or isinstance(m, norm_types)) else None
        if isinstance(m, nn.modules.conv._ConvNd):
            k = tuple(m.kernel_size)
            kk = max(k) if k else 1
            s = max(tuple(m.stride)) if m.stride else 1
            g = m.groups
            if g > 1 and g == m.in_channels:
                sub, key = "dw", "p_conv_dw"
            elif g > 1:
                sub, key = "g", "p_conv_group"
            elif kk == 1:
                sub, key = "pw", "p_conv_pw"
            else:
                sub, key = "dense", "p_conv_dense"
            stats[key] += own_n
            stats["n_conv"] += 1
            stats["k1" if kk == 1 else "k3" if kk <= 3 else "k5" if kk <= 5 else "k7"] += 1
            if s > 1:
                stats["n_strided"] += 1
            widths.append(int(m.out_channels))
            width = int(m.out_channels)
            if stem is None:
                stem = (int(s), int(kk))
            label, kind = f"conv{kk}/s{min(s, 4)}/{sub}", "conv"
        elif isinstance(m, nn.Linear):
            stats["p_linear"] += own_n
            stats["n_linear"] += 1
            widths.append(int(m.out_features))
            width = int(m.out_features)
            if stem is None and depth <= 3 and not now_attn:
                stem = (1, 1)
            label, kind = "linear", "linear"
        elif nk is not None:
            stats["p_norm"] += own_n
            stats["n_norm"] += 1
            norm_counts[nk] += 1
            w = None
            for p in own:
                if p.ndim >= 1:
                    w = int(p.shape[0])
                    break
            if w is None:
                w = getattr(m, "num_features", None) or getattr(m, "num_channels", None)
                ns = getattr(m, "normalized_shape", None)
                if w is None and ns:
                    w = int(ns[0])
            if w:
                norm_widths.append(int(w))
                width = int(w)
            label, kind = nk, "norm"
        elif not children and _act_kind(cname.lower()) is not None:
            ak = _act_kind(cname.lower())
            act_counts[ak] += 1
            stats["n_act"] += 1
            stats["p_other"] += own_n
            label, kind = f"act:{ak}", "act"
        else:
            stats["p_other"] += own_n
            low = cname.lower()
            if "pool" in low and not children:
                stats["n_pool"] += 1
                label, kind = "pool", "pool"
            if _is_se(cname):
                stats["n_se"] += 1
                kind = "se"
            if "scale" in low or any("gamma" in n or "layer_scale" in n or "lambda" in n
                                     for n, _ in m.named_parameters(recurse=False)):
                stats["layer_scale"] += 1
            if any(("cls_token" in n or "class_embedding" in n) for n, _ in m.named_parameters(recurse=False)):
                stats["cls_token"] += 1
        if isinstance(m, nn.Embedding):
            label, kind = "embedding", "embedding"
        node = _Node(label, kind, cname, width)
        if parent is None:
            root = node
        elif not _SKIP.match(cname):
            parent.children.append(node)
        for cn, c in reversed(children):
            stack.append((cn, c, node, depth + 1, now_attn))

    assert root is not None
    params = int(total)
    if params <= 0:
        raise ArchitectureError("architecture has no parameters")

    # Stages: leaf-most containers whose children are all non-leaf modules of one class.
    stage_nodes: list[_Node] = []
    _visit_iter(root, stage_nodes)
    # Width of a stage: the widest norm layer inside it (feature width), else widest weight layer.
    stage_info = []
    for sn in stage_nodes:
        stage_info.append((len(sn.children), _node_width(sn)))
    stages = [(b, w) for b, w in stage_info if b >= 1]
    # The vector
    res = int(input_size) if input_size else 224
    stem_s, stem_k = stem if stem else (1, 1)
    all_w = widths or [1]
    feat_w = norm_widths or all_w
    n_weight = stats["n_conv"] + stats["n_linear"]
    n_blocks = sum(b for b, _ in stages) or 1
    n_stages = len(stages) or 1
    l2 = lambda v: math.log2(max(float(v), 1.0))  # noqa: E731
    # Fixed (centre, scale) pairs: roughly the median and spread over timm's model list, so that a
    # typical model sits near 0 and each coordinate varies on a comparable scale.
    size = [
        (math.log10(params) - 7.3) / 0.7,
        (l2(num_modules) - 8.3) / 1.0,
        (max_depth - 6.0) / 2.0,
        (l2(n_weight) - 6.5) / 1.0,
        (l2(n_blocks) - 3.8) / 0.9,
        (n_stages - 3.5) / 1.5,
        (l2(res) - 7.9) / 0.4,
        (l2(stem_s) - 2.0) / 1.2,
        (stem_k - 5.0) / 4.0,
        (l2(max(feat_w)) - 10.3) / 0.8,
        (l2(float(np.median(all_w))) - 8.5) / 1.0,
        (l2(min(all_w)) - 4.5) / 1.2,
        (l2((res / max(stem_s, 1)) ** 2) - 10.0) / 2.0,
        (math.log10(params / n_blocks) - 6.0) / 0.8,
        (l2(max(feat_w) * n_blocks) - 14.0) / 1.5,
        (l2(stats["n_strided"] + 1) - 2.5) / 1.0,
    ]
    P = float(params)
    conv_p = stats["p_conv_dense"] + stats["p_conv_pw"] + stats["p_conv_group"] + stats["p_conv_dw"]
    nk_conv = max(stats["n_conv"], 1.0)
    nm = float(num_modules)
    compo = [
        stats["p_conv_dense"] / P, stats["p_conv_pw"] / P, stats["p_conv_group"] / P, stats["p_conv_dw"] / P,
        stats["p_linear"] / P, stats["p_norm"] / P * 10.0, stats["p_other"] / P * 3.0,
        attn_params / P, conv_p / P,
        stats["n_conv"] / max(n_weight, 1), stats["n_linear"] / max(n_weight, 1),
        stats["n_conv"] / nm, stats["n_linear"] / nm, stats["n_norm"] / nm, stats["n_act"] / nm,
        stats["n_attn"] / nm * 3.0, stats["n_se"] / nm * 5.0, stats["n_pool"] / nm * 5.0,
        stats["k1"] / nk_conv, stats["k3"] / nk_conv, stats["k5"] / nk_conv, stats["k7"] / nk_conv,
        stats["n_strided"] / nk_conv, 0.0,
    ]
    # small shares (norm / other params, attention, SE, pooling modules) are up-weighted above
    compo = [c - 0.15 for c in compo[:-1]] + [0.0]
    n_norm = max(sum(norm_counts.values()), 1)
    n_act = max(sum(act_counts.values()), 1)
    kinds = [norm_counts[k] / n_norm for k in _NORM_KINDS] + [act_counts[k] / n_act for k in _ACT_KINDS]
    kinds += [1.0 if stats["n_attn"] else 0.0, 1.0 if stats["n_se"] else 0.0,
              1.0 if stats["layer_scale"] else 0.0, 1.0 if stats["cls_token"] else 0.0,
              1.0 if stats["n_conv"] > 2 else 0.0, 1.0 if not sum(act_counts.values()) else 0.0]
    kinds += [0.0] * (24 - len(kinds))
    kinds = [k - 0.2 for k in kinds]
    if stages:
        sb = [b for b, _ in stages]
        sw = [w or max(feat_w) for _, w in stages]
    else:
        sb, sw = [1], [max(feat_w)]
    slots_b = _resample(sb, 4)
    slots_w = _resample(sw, 4)
    stage_vec = [(l2(n_stages) - 1.5) / 0.8]
    stage_vec += [(math.log2(1 + b) - 2.3) / 0.9 for b in slots_b]
    stage_vec += [(l2(w) - 8.8) / 1.2 for w in slots_w]
    stage_vec += [(math.log2(max(sw[-1], 1) / max(sw[0], 1)) - 2.0) / 1.5,
                  max(sb) / max(sum(sb), 1) - 0.5,
                  1.0 if n_stages == 1 else -1.0,
                  (l2(len(set(sw))) - 1.5) / 0.8]
    stage_vec += [0.0] * (16 - len(stage_vec))
    wl = _wl_features(root)

    vec = np.zeros(ARCHI2VEC_DIM, dtype=np.float64)
    for (name, a, b, w), part in zip(BLOCKS, (size, compo, kinds, stage_vec, wl)):
        arr = np.asarray(part, dtype=np.float64)
        assert arr.shape[0] == b - a, (name, arr.shape)
        nrm = float(np.linalg.norm(arr))
        if nrm > 0:
            vec[a:b] = arr / nrm * w
    summary = {"params": params, "num_modules": num_modules, "input_size": res,
               "stages": [b for b, _ in stages], "stage_widths": [w for _, w in stages]}
    return vec.astype(np.float32), summary


def _block_like(n: _Node) -> bool:
    return n.kind == "module" and len(n.children) >= 2


def _preorder(root: _Node) -> list[_Node]:
    """Every node of the tree, parents before their children (iterative: no recursion limit)."""
    order: list[_Node] = []
    stack = [root]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(n.children)
    return order


def _visit_iter(root: _Node, out: list) -> None:
    """Find stage containers bottom-up: repeated blocks of one class, leaf-most only."""
    order = _preorder(root)
    found: dict[int, bool] = {}
    for n in reversed(order):           # children before parents
        below = any(found.get(id(c), False) for c in n.children)
        if below:
            found[id(n)] = True
            continue
        kids = n.children
        is_stage = (len(kids) >= 2 and all(c.kind in ("module", "se") and c.children for c in kids)
                    and len({c.cname for c in kids}) == 1 and _block_like(kids[0]))
        if is_stage:
            found[id(n)] = True
        else:
            found[id(n)] = False
    # Collect in definition order: nodes flagged whose flagged status does not come from below.
    res = []
    stack = [root]
    while stack:
        n = stack.pop()
        if not found.get(id(n)):
            continue
        if any(found.get(id(c), False) for c in n.children):
            stack.extend(reversed(n.children))
        else:
            res.append(n)
    out.extend(res)


def _node_width(n: _Node) -> int:
    """Feature width of a subtree: its widest norm layer, else its widest conv / linear output."""
    best_norm = best_any = 0
    stack = [n]
    while stack:
        x = stack.pop()
        if x.kind == "norm":
            best_norm = max(best_norm, x.width)
        best_any = max(best_any, x.width)
        stack.extend(x.children)
    return best_norm or best_any


def _resample(seq: list, k: int) -> list[float]:
    if not seq:
        return [0.0] * k
    if len(seq) == 1:
        return [float(seq[0])] * k
    xs = np.linspace(0, len(seq) - 1, k)
    return [float(np.interp(x, np.arange(len(seq)), np.asarray(seq, dtype=np.float64))) for x in xs]


def _wl_features(root: _Node) -> np.ndarray:
    """Weisfeiler-Lehman subtree labels of the module tree (children as neighbours), hashed."""
    order = _preorder(root)
    labels = {id(n): n.label for n in order}
    counts: dict[str, int] = {}
    for it in range(_WL_ITERATIONS + 1):
        for n in order:
            key = f"{it}:{labels[id(n)]}"
            counts[key] = counts.get(key, 0) + 1
        if it == _WL_ITERATIONS:
            break
        new = {}
        for n in order:
            kids = sorted(labels[id(c)] for c in n.children)
            new[id(n)] = _wl_hash(labels[id(n)] + "(" + ",".join(kids) + ")")
        labels = new
    vec = np.zeros(_WL_DIM, dtype=np.float64)
    for key in sorted(counts):
        h = hashlib.blake2b(key.encode(), digest_size=8).digest()
        idx = int.from_bytes(h[:4], "little") % _WL_DIM
        sign = 1.0 if h[4] & 1 else -1.0
        vec[idx] += sign * math.log1p(counts[key])
    return vec


# ------------------------------------------------------------------------------------------------
# Caching and public API

_CACHE: "OrderedDict[str, ArchitectureInfo]" = OrderedDict()
_ID_CACHE: "OrderedDict[tuple, str]" = OrderedDict()
_CACHE_SIZE = 8192
_CACHE_LOCK = threading.Lock()


def _disk_dir() -> Path | None:
    if os.environ.get("FENNEC_ARCHI2VEC_DISK_CACHE", "1").lower() in ("0", "false", "no", "off"):
        return None
    try:
        from huggingface_hub import cached_assets_path

        return Path(cached_assets_path("fennec_hub", namespace="archi2vec", subfolder=f"v{ARCHI2VEC_VERSION}",
                                       assets_dir=os.environ.get("FENNEC_ARCHI2VEC_CACHE_DIR") or None))
    except Exception:  # noqa: BLE001 - a read-only cache dir must not break encoding
        return None


def _disk_get(key: str) -> ArchitectureInfo | None:
    d = _disk_dir()
    if d is None:
        return None
    vp, mp = d / f"{key}.npy", d / f"{key}.json"
    if not (vp.is_file() and mp.is_file()):
        return None
    try:
        vec = np.load(vp, allow_pickle=False)
        meta = json.loads(mp.read_text())
        if vec.shape != (ARCHI2VEC_DIM,) or vec.dtype != np.float32:
            return None
        vec.setflags(write=False)
        return ArchitectureInfo(vector=vec, **meta)
    except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed
        return None


def _disk_put(key: str, info: ArchitectureInfo) -> None:
    d = _disk_dir()
    if d is None:
        return
    try:
        pid = os.getpid()
        tmp_v, tmp_m = d / f".{key}.{pid}.npy", d / f".{key}.{pid}.json"
        np.save(tmp_v, np.asarray(info.vector, dtype=np.float32), allow_pickle=False)
        meta = {f.name: getattr(info, f.name) for f in dataclasses.fields(info) if f.name != "vector"}
        tmp_m.write_text(json.dumps(meta))
        os.replace(tmp_m, d / f"{key}.json")
        os.replace(tmp_v, d / f"{key}.npy")
    except OSError:
        pass


def clear_cache() -> None:
    """Empty the in-process cache (the disk cache is left alone)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _ID_CACHE.clear()


def _remember(key: str, info: ArchitectureInfo) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = info
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


def describe_architecture(model_or_config: Any, *, library: str | None = None) -> ArchitectureInfo:
    """Build the architecture on the meta device and summarise it (family, params, vector...)."""
    id_key = None
    if isinstance(model_or_config, str):
        id_key = (model_or_config, library)
        with _CACHE_LOCK:
            k = _ID_CACHE.get(id_key)
            if k is not None and k in _CACHE:
                _CACHE.move_to_end(k)
                return _CACHE[k]
    spec = _to_spec(model_or_config, library)
    key = spec.key()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is None:
        hit = _disk_get(key)
        if hit is None:
            model, res = _build(spec)
            vec, summary = _analyse(model, res)
            del model
            vec.setflags(write=False)
            hit = ArchitectureInfo(family=_spec_family(spec), library=spec.library, params=summary["params"],
                                   num_modules=summary["num_modules"], input_size=summary["input_size"],
                                   vector=vec, name=spec.name, note=spec.note)
            _disk_put(key, hit)
        _remember(key, hit)
    if id_key is not None:
        with _CACHE_LOCK:
            _ID_CACHE[id_key] = key
            while len(_ID_CACHE) > _CACHE_SIZE:
                _ID_CACHE.popitem(last=False)
    return hit


def archi2vec(model_or_config: Any, *, library: str | None = None) -> np.ndarray:
    """The archi2vec vector (float32, length ``ARCHI2VEC_DIM``, unit norm) of an architecture.

    See the module docstring for the accepted inputs and the meaning of each slice. Raises
    :class:`ArchitectureError` for unknown, unsupported or hostile input.
    """
    return np.array(describe_architecture(model_or_config, library=library).vector, dtype=np.float32)


def encode_many(items: Iterable[Any], progress: bool = True, *, library: str | None = None
                ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Encode many models, skipping failures. Returns (ids, matrix [n, DIM], {id: reason})."""
    from huggingface_hub.utils import tqdm

    items = list(items)
    ids: list[str] = []
    rows: list[np.ndarray] = []
    errors: dict[str, str] = {}
    for i, item in enumerate(tqdm(items, desc="archi2vec", disable=not progress)):
        ident = item if isinstance(item, str) else str(
            (item.get("_name_or_path") or item.get("architecture") or f"item{i}") if isinstance(item, Mapping)
            else getattr(item, "_name_or_path", None) or f"item{i}")
        try:
            rows.append(archi2vec(item, library=library))
            ids.append(ident)
        except ArchitectureError as exc:
            errors[ident] = str(exc)
    mat = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, ARCHI2VEC_DIM), dtype=np.float32)
    return ids, mat, errors
