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

The vector describes the network, not the library that wrote it: everything is computed from a
canonical *layer sequence* (:func:`_units`), in which module classes, container nesting and
parameter-free wrappers (dropout, identity, padding, reshapes, global pooling, transformers'
pooled-output head) do not appear; attention and squeeze-excitation modules are one unit each,
keyed by parameter counts (a fused qkv projection and three separate ones are the same); 1x1
convolutions are linear layers; gated-MLP projections of one input are one layer; parameters
held by containers (tokens, position embeddings, layer scales) are units keyed by shape.  Blocks
are the repeats found in that sequence (:func:`_find_runs`), not the library's containers.  So
``timm/convnext_tiny`` and ``facebook/convnext-tiny-224`` (or ``resnet50`` and
``microsoft/resnet-50``) give the same vector.

=========  ======  ======  ===================================================================
slice      block   weight  contents
=========  ======  ======  ===================================================================
[0:16)     size    0.30    log10 params; log2 #units; log2 #units outside repeated blocks;
                           log2 #weight units (conv, linear, attention, SE); log2 #blocks;
                           #stages; log2 input resolution; log2 stem stride (= patch size for
                           ViTs); stem kernel; log2 max / median / min layer width; log2 tokens
                           after the stem ((res/stride)^2); log10 params per block; log2(max
                           width x blocks); log2 #strided convs and pools
[16:40)    compo   0.60    parameter shares: dense kxk conv, strided 1x1 conv, grouped conv,
                           depthwise conv, linear (incl. 1x1 conv and attention projections),
                           norm, other (tokens, position tables, layer scale); share inside
                           attention; share in convs; conv / linear share of weight units;
                           unit-count shares of conv, linear, norm, activation, attention,
                           squeeze-excitation and pooling units; conv kernel-size histogram
                           (1, 3, 5, >=7); share of strided convs; (pad)
[40:64)    kinds   0.20    normalisation kinds (batch, layer, group, RMS, other) and activation
                           kinds (ReLU, ReLU6, Leaky/PReLU, GELU, SiLU/Swish, Hardswish,
                           sigmoid gates, tanh, other) as shares; flags: attention, SE, layer
                           scale, class token, convolutions, no activation units; (pad)
[64:80)    stages  0.20    stage layout (a stage = a run of >= 2 identical consecutive blocks
                           in the layer sequence): log2 #stages; log2 blocks in 4 stage slots
                           (stages resampled to 4); log2 width of those slots; log2 width ratio
                           last/first stage; share of blocks in the deepest stage; isotropic
                           flag (one stage); log2 #distinct stage widths; (pad)
[80:256)   wl      0.90    Weisfeiler-Lehman subtree fingerprint of the canonical tree (root ->
                           units outside repeats, repeats -> blocks -> units): unit labels are
                           kinds without absolute widths (``conv3/s2/dw/r0``: kernel, stride,
                           grouping, log2 width change; ``linear/r2``; ``bn``; ``act:gelu``;
                           ``attn+nobias``; ``param2d``); 3 iterations (label <- hash(label,
                           sorted children labels)); every label of every iteration is hashed
                           with blake2b into 176 signed bins, counts log1p-scaled
=========  ======  ======  ===================================================================

Families (:attr:`ArchitectureInfo.family`): the transformers ``model_type`` (vision towers:
``clip_vision_model`` -> ``clip``), or the timm architecture prefix of :func:`timm_family`.

The vector is deterministic across processes and machines (no Python ``hash()``, sorted
traversals, fixed constants).  Results are cached in-process by a hash of the normalised config
and, unless ``FENNEC_ARCHI2VEC_DISK_CACHE=0``, on disk under
``huggingface_hub.cached_assets_path("fennec_hub", "archi2vec")`` (or the assets directory
``FENNEC_ARCHI2VEC_CACHE_DIR``) as ``.npy`` + ``.json`` (never pickle).

Untrusted input: ``trust_remote_code`` is never used.  A config is read through an allow-list:
only the keys its transformers config class declares as architecture reach the builder (for a
composite model, only its vision tower's), and every number kept is range-checked against an
explicit table (:data:`_RANGES`).  Anything naming code at any depth (``auto_map``,
``custom_pipelines``, ``trust_remote_code``, an attention implementation naming a Hub kernel, a
``*_class`` key holding a dotted path), unknown or non-vision model types, oversized files and
deep nesting are rejected with :class:`ArchitectureError` before anything is built, and the build
itself is guarded by a module, parameter and time budget.  A bare name (no slash) that is also a
local file or folder is rejected as ambiguous: pass ``./name`` or a ``Path`` to read the local
config, or ``library="timm"`` for the timm architecture.

Long on purpose (the one module that knows how networks are built and described): id
resolution, the config allow-list and range checks, the bounded meta-device build and the
canonical layer sequence belong together; each is its own section below.
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
    "describe_many",
    "encode_many",
    "family_of",
    "list_shipped_configs",
    "resolve_architecture",
    "timm_family",
]

ARCHI2VEC_VERSION = "2.0"
ARCHI2VEC_DIM = 256

# (name, start, stop, weight); the weights' squares sum to 1.
_BLOCKS_RAW = (("size", 0, 16, 0.30), ("compo", 16, 40, 0.60), ("kinds", 40, 64, 0.20),
               ("stages", 64, 80, 0.20), ("wl", 80, 256, 0.90))
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
        if self.library == "pytorchcv":  # encodings that keep the dense layers of an output block
            payload["head"] = "last layer"
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

# Anything naming code, at any depth, is rejected (never dropped): such a config is not one to trust.
_CODE_KEYS = frozenset({"auto_map", "custom_pipelines"})
_ATTN_IMPL = re.compile(r"^_*attn_implementation")
_CODE_VALUE_KEYS = re.compile(r"(_class|_module|_cls|_fn|_func|_factory|_callable)$")
_DOTTED_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_]\w*)+(:\w+)?$|^[\w.-]+:[A-Za-z_]\w*$|--")
_HUB_CODE_REF = re.compile(r"^[\w.-]+/[\w.-]+--[\w.]+$")            # "org/repo--module.Class" (auto_map style)
_LABEL_KEYS = ("id2label", "label2id", "label_names", "label_descriptions")


def _check_tree(obj: Any, path: str = "", depth: int = 0) -> None:
    """Bound nesting, sizes and magnitudes of a JSON-like config (iteratively safe), and reject
    anything naming code at any depth: ``auto_map``, ``custom_pipelines``, ``trust_remote_code``,
    an attention implementation that names a Hub kernel (``kernels-community/...``), a
    ``*_class`` / ``*_module`` / ``*_fn`` key whose value is a dotted path, an ``org/repo--module``
    reference.  Label maps are not looked into (their values are free text)."""
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
                kp = f"{p}.{k}" if p else k
                if k in _CODE_KEYS or (k == "trust_remote_code" and v not in (False, None)):
                    raise ArchitectureError(f"config field {kp} names custom code; remote code is never executed")
                if k in _LABEL_KEYS:
                    continue
                stack.append((v, kp, d + 1))
        elif isinstance(o, (list, tuple)):
            if len(o) > MAX_LIST_LEN:
                raise ArchitectureError(f"config list {p} has {len(o)} entries (limit {MAX_LIST_LEN})")
            if o and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in o) \
                    and _DEPTH_KEYS.search(key) and sum(o) > _TOTAL_DEPTH_CAP:
                raise ArchitectureError(f"config field {p} sums to {sum(o)} layers (limit {_TOTAL_DEPTH_CAP})")
            stack.extend((v, p, d + 1) for v in o)      # elements are checked under the list's key
        elif isinstance(o, bool) or o is None:
            continue
        elif isinstance(o, (int, float)):
            if isinstance(o, float) and not math.isfinite(o):
                raise ArchitectureError(f"config field {p} is not finite ({o})")
            if abs(o) > MAX_INT:
                raise ArchitectureError(f"config field {p}={o} is out of range: exceeds the magnitude limit "
                                        f"|x| <= {MAX_INT}")
        elif isinstance(o, str):
            if len(o) > 10_000:
                raise ArchitectureError(f"config string {p} is {len(o)} characters long")
            if any(_ATTN_IMPL.match(seg) for seg in p.split(".")) and ("/" in o or "kernel" in o.lower()):
                raise ArchitectureError(f"config field {p}={o[:80]!r} names a Hub kernel; kernels are never loaded")
            if (_CODE_VALUE_KEYS.search(key) and _DOTTED_PATH.search(o)) or _HUB_CODE_REF.match(o):
                raise ArchitectureError(f"config field {p}={o[:80]!r} names code; code from a config is never run")
        else:
            raise ArchitectureError(f"config field {p} has unsupported type {type(o).__name__}")


# Ranges of the numbers that reach a builder: the first pattern matching the key's name decides;
# keys no pattern names are sizes or counts (the conservative default: a whole number in [1, 16384]).
# (name, pattern, low, high, low excluded, high excluded, whole number)
_RANGES: tuple[tuple[str, re.Pattern, float, float, bool, bool, bool], ...] = tuple(
    (n, re.compile(rx), lo, hi, lo_x, hi_x, whole) for n, rx, lo, hi, lo_x, hi_x, whole in (
        ("a temperature", r"^assign_eps$", 0.0, 100.0, True, False, False),     # GroupViT's, not a guard
        ("an epsilon", r"(^|_)(eps|epsilon)$", 0.0, 1.0, True, True, False),
        ("a momentum", r"momentum", 0.0, 1.0, False, False, False),
        ("a loss weight", r"loss_weight|_weight$|_cost$|loss_coefficient", 0.0, 100.0, False, False, False),
        ("a probability", r"drop|_probs?$|^probs?$|label_smoothing|mask_ratio", 0.0, 1.0, False, False, False),
        ("an initial value", r"initializer|init_std|init_value|_init$|layerscale_value|temperature", 0.0, 100.0,
         False, False, False),
        ("a logit scale", r"logit_scale", 0.0, 1000.0, False, False, False),
        ("a rotary base", r"^rope_theta$", 1.0, 1e7, False, False, False),
        ("a token id or vocabulary size", r"token_id$|vocab_size$|max_position_embeddings$|ignore_index$",
         0.0, float(MAX_INT), False, False, True),
        ("an index", r"index$|indices$|_idx$", -64.0, 4096.0, False, False, True),
        ("a scale-factor", r"ratios?$|coefficient$|multiplier$|factor$|(^|_)scale$|rescale", 0.0, _SCALE_CAP,
         True, False, False),
        ("a count that may be zero", r"^num_\w*tokens$|pretrained_window_sizes|padding|(^|_)pad(_|$)",
         0.0, float(_DIM_CAP), False, False, True),
        ("an image size", _IMAGE_KEYS.pattern, 1.0, float(_IMAGE_CAP), False, False, True),
        ("a depth", _DEPTH_KEYS.pattern, 1.0, float(_DEPTH_CAP), False, False, True),
        ("a width", _DIM_KEYS.pattern, 1.0, float(_DIM_CAP), False, False, True),
    ))
_DEFAULT_RANGE = ("a size or count", None, 1.0, float(_DIM_CAP), False, False, True)
# model types where 0 is a meaningful value of a size key ("no windows")
_ZERO_ALLOWED = {("vitdet", "window_size")}


def _check_ranges(cfg: Mapping[str, Any], model_type: str, path: str = "") -> None:
    """Range-check every number of an allow-listed config (nested sub-configs and lists too)."""
    for k, v in cfg.items():
        p = f"{path}.{k}" if path else k
        if isinstance(v, Mapping):
            _check_ranges(v, str(v.get("model_type") or model_type), p)
            continue
        stack = [v]
        while stack:
            x = stack.pop()
            if isinstance(x, (list, tuple)):
                stack.extend(x)
            elif isinstance(x, (int, float)) and not isinstance(x, bool):
                _check_number(k, x, p, model_type)


def _check_number(key: str, value: float, path: str, model_type: str = "") -> None:
    what, _, lo, hi, lo_x, hi_x, whole = next((r for r in _RANGES if r[1].search(key)), _DEFAULT_RANGE)
    if value == 0 and (model_type, key) in _ZERO_ALLOWED:
        return
    if lo >= 0 and value < 0:
        raise ArchitectureError(f"config field {path}={value} must not be negative ({what})")
    if value < lo or (lo_x and value == lo) or value > hi or (hi_x and value == hi):
        limit = f"{'(' if lo_x else '['}{lo:g}, {hi:g}{')' if hi_x else ']'}"
        if value > hi:
            raise ArchitectureError(f"config field {path}={value} exceeds the {what} limit {hi:g} (allowed {limit})")
        raise ArchitectureError(f"config field {path}={value} is out of range for {what} (allowed {limit})")
    if whole and value != int(value):
        raise ArchitectureError(f"config field {path}={value} must be a whole number ({what})")


# Keys that never reach a builder, whatever the config class declares: they name code, kernels,
# auto classes, attention implementations, quantisation, devices, paths, provenance or weights to
# download, not the architecture.
_NOT_ARCHITECTURE = re.compile(r"auto_map|remote_code|custom_pipelines|attn_implementation|kernel_config|use_kernels|"
                               r"quantiz|device_map|name_or_path|commit_hash|dtype|tokenizer|processor|"
                               r"feature_extractor|pretrained|^backbone$|backbone_kwargs|timm_backbone|"
                               r"transformers_version|^architectures$|^_")
_ALLOWED_CACHE: dict[type, tuple[frozenset, dict]] = {}


def _allowed_keys(config_cls: type) -> tuple[frozenset, dict]:
    """The keys of a transformers config class that describe the architecture: its own ``__init__``
    arguments (not those every config shares: labels, dtype, output flags...), less
    :data:`_NOT_ARCHITECTURE`; and its sub-config classes (``vision_config`` ...)."""
    import inspect

    hit = _ALLOWED_CACHE.get(config_cls)
    if hit is not None:
        return hit
    from transformers import PretrainedConfig

    base = set(inspect.signature(PretrainedConfig.__init__).parameters)
    params = inspect.signature(config_cls.__init__).parameters
    keys = {n for n, prm in params.items()
            if prm.kind not in (prm.VAR_POSITIONAL, prm.VAR_KEYWORD) and n != "self" and n not in base}
    if any(prm.kind == prm.VAR_KEYWORD for prm in params.values()):     # an older, **kwargs-style config
        keys |= set(config_cls().to_dict()) - set(PretrainedConfig().to_dict())
    subs = dict(getattr(config_cls, "sub_configs", None) or {})
    allowed = frozenset(k for k in keys if not _NOT_ARCHITECTURE.search(k)) - set(subs)
    _ALLOWED_CACHE[config_cls] = (allowed, subs)
    return allowed, subs


def _architecture_config(config_cls: type, d: Mapping[str, Any]) -> dict:
    """The allow-listed part of a transformers config dict (recursing into sub-configs)."""
    from transformers import PretrainedConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    allowed, subs = _allowed_keys(config_cls)
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in subs:
            if not isinstance(v, Mapping):
                continue
            sub_cls = subs[k]
            if not (isinstance(sub_cls, type) and issubclass(sub_cls, PretrainedConfig)
                    and getattr(sub_cls, "model_type", "")):
                sub_cls = CONFIG_MAPPING.get(v.get("model_type")) if isinstance(v.get("model_type"), str) else None
            if sub_cls is not None:
                out[k] = _architecture_config(sub_cls, v)
        elif k in allowed:
            out[k] = v
    return out


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
# Networks in neither timm nor pytorchcv: the table maps them to the closest available one.
_STAND_INS = frozenset({"googlenet"})
# When pytorchcv is not installed: the closest timm architecture.
_PYTORCHCV_FALLBACK = {"nasnet_4a1056": "nasnetalarge", "bninception": "inception_v3", "alexnet": "vgg11"}


def _table_entry(model_id: str) -> tuple[str, str, str, bool] | None:
    """``(library, name, note, stand_in)`` of a ``keras/<name>``, ``parc/<arch>-<source>`` or
    ``torchvision/<arch>`` id, from :data:`_KERAS` and :data:`_TORCHVISION` (other torchvision and
    PARC architectures: timm's of that name); ``stand_in`` when the named network is in neither
    library and ``name`` is only the closest available.  None for other ids and unknown Keras
    applications."""
    ns, _, rest = model_id.strip().partition("/")
    ns = ns.lower()
    if not rest:
        return None
    if ns == "keras":
        hit = _KERAS.get(re.sub(r"[^a-z0-9]", "", rest.lower()))
        if hit is None:
            return None
        lib, name, note = hit
        return lib, name, note or f"Keras {rest} mapped to {lib} {name}", False
    if ns in ("parc", "torchvision"):
        arch = (rest.split("-")[0].split("|")[0] if ns == "parc" else rest).lower()
        lib, name, note = _TORCHVISION.get(arch) or ("timm", arch, None)
        return lib, name, note or f"{arch} mapped to {lib} {name}", arch in _STAND_INS
    return None


def mapped_architecture(model_id: str) -> tuple[str, str] | None:
    """``(library, name)`` of the network a benchmark id is an instance of (``keras/vgg16`` ->
    ``("timm", "vgg16")``, ``torchvision/alexnet`` and ``parc/alexnet-cub200`` -> ``("pytorchcv",
    "alexnet")``), from the tables
    :func:`resolve_architecture` uses, without importing any model library; None for other ids and
    for a stand-in (``torchvision/googlenet``: a network neither library has)."""
    hit = _table_entry(str(model_id))
    if hit is None or hit[3]:
        return None
    return hit[0], hit[1]


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
    entry = _table_entry(mid)
    if entry is not None:
        lib, name, note, _ = entry
        return _mapped(lib, name, mid, note)
    if rest and nsl == "keras":
        raise ArchitectureError(f"unknown Keras application {rest!r}; known: {', '.join(sorted(_KERAS))}")
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
    config_cls = _config_class(mt)
    # An allow-list: only what the config class declares as architecture reaches the builder (for a
    # composite model, only its vision tower's config).
    src = {"vision_config": d.get("vision_config") or {}} if mt in _TOWER_TYPES else d
    cfg = _architecture_config(config_cls, src)
    _check_ranges(cfg, mt)
    _check_type_specific(mt, cfg)
    res = _res_from(cfg.get("image_size"))
    if res is None and isinstance(cfg.get("vision_config"), Mapping):
        res = _res_from(cfg["vision_config"].get("image_size"))
    return ArchitectureSpec("transformers", mt, cfg, res, source, None)


def _config_class(model_type: str) -> type:
    """The transformers config class of ``model_type``; :class:`ArchitectureError` (naming close
    types) when transformers has none."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        close = difflib.get_close_matches(model_type, list(CONFIG_MAPPING.keys()), n=3, cutoff=0.6)
        raise ArchitectureError(f"unknown transformers model type {model_type!r}"
                                + (f"; did you mean {close}?" if close else ""))
    return CONFIG_MAPPING[model_type]


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
    if isinstance(x, os.PathLike):                 # a path object is always a path
        return _spec_from_path(Path(os.fspath(x)))
    if isinstance(x, bytes):
        x = x.decode("utf-8", errors="replace")
    if not isinstance(x, str):
        raise ArchitectureError(f"cannot encode an object of type {type(x).__name__}")
    if lib == "timm":
        return _timm_spec(x.split("/", 1)[1] if x.lower().startswith("timm/") else x, source=x)
    if lib == "pytorchcv":
        return _pytorchcv_spec(x.split("/", 1)[1] if x.lower().startswith("pytorchcv/") else x, source=x)
    name = x.strip()
    if _shipped_lookup(name) is None and (name.endswith(".json") or os.sep in name or "/" in name
                                          or name.startswith(".")):
        p = Path(name)
        if p.is_dir() or p.is_file():
            return _spec_from_path(p)
        if name.endswith(".json") or name.startswith("."):
            raise ArchitectureError(f"config file not found: {x}")
    elif "/" not in name and os.path.lexists(name):
        # A bare name is a model name (timm, ...), but a file or folder of that name is here too:
        # say so rather than guess which one was meant.
        raise ArchitectureError(f"{name!r} is ambiguous: it is a model name and also a local "
                                f"{'folder' if os.path.isdir(name) else 'file'} ({os.path.abspath(name)}); pass "
                                f"'./{name}' (or a Path) to read the local config, or library='timm' for the "
                                f"timm architecture")
    return resolve_architecture(x)


def _spec_from_path(p: Path) -> ArchitectureSpec:
    """A local config: a ``config.json`` file or a folder holding one."""
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise ArchitectureError(f"config file not found: {p}")
    return _spec_from_dict(_load_json_file(p), source=str(p))


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
            if self.fired:  # cancel the exception if still pending, so it cannot land after the build
                import ctypes

                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.tid), None)


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
                with _Watchdog(seconds) as watchdog, torch.device("meta"), _skip_init_mode():
                    model = construct()
            except _BuildTimeout:
                raise timeout from None
            if watchdog.fired:  # the injected exception was swallowed where exceptions are ignored (a gc callback)
                raise timeout
            return model
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


def _drop_pytorchcv_classifier(model) -> None:
    """Drop a pytorchcv network's classifier, like timm's ``num_classes=0``: the last layer with
    weights of its ``output`` block, or the whole block when that is the classifier itself (AlexNet's
    and VGG's ``output`` blocks also hold their two 4096-wide dense layers, part of the network)."""
    import torch.nn as nn

    out = getattr(model, "output", None)
    if out is None:
        return
    layers = [(n, c) for n, c in out.named_children() if any(True for _ in c.parameters())]
    if layers and isinstance(layers[-1][1], (nn.Linear, nn.modules.conv._ConvNd)):
        setattr(out, layers[-1][0], nn.Identity())
    else:
        model.output = nn.Identity()


def _prepare_pytorchcv(spec: ArchitectureSpec):
    with _PYTORCHCV_LOCK:
        from pytorchcv.model_provider import get_model

    def construct():
        model = get_model(spec.name, pretrained=False)
        _drop_pytorchcv_classifier(model)
        res = spec.input_size or _res_from(getattr(model, "in_size", None)) or 224
        return model, res

    return construct


def _prepare_transformers(spec: ArchitectureSpec):
    with needs("encode", "archi2vec"):
        import transformers
        from transformers.models.auto import modeling_auto as ma
        from transformers.utils import logging as tlog

    mt = spec.name
    config_cls = _config_class(mt)
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
        cfg = config_cls(**cfg_dict)
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
    if isinstance(m, (nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)) or low.endswith(("norm", "grn")) \
            or low.endswith("norm2d") or low.endswith("norm1d"):
        return "other"
    return None


def _is_attention(cname: str) -> bool:
    low = cname.lower()
    return ("attention" in low or "attn" in low) and not low.endswith(("block", "stage", "encoder", "layers"))


def _is_se(cname: str) -> bool:
    low = cname.lower()
    # SE / ECA as a CamelCase word ("RegNetSELayer", "EcaModule"), not letters inside a word
    # ("DepthwiseLayer")
    return ("squeeze" in low or "excit" in low or low in ("se", "semodule", "selayer", "seblock", "ecamodule",
                                                          "cecamodule", "effectivesemodule", "seunit")
            or bool(re.search(r"(?:^|[a-z0-9_])(?:SE|Se|ECA|Eca|CECA|Ceca)(?:Module|Layer|Block|Unit)\d*$", cname)))


def _wl_hash(s: str) -> str:
    return hashlib.blake2b(s.encode(), digest_size=8).hexdigest()


# Parameter-free modules that say nothing about the network (regularisers, reshapes, padding),
# and global pooling, which belongs to the classifier head.
_GLOBAL_POOL = re.compile(r"^(Adaptive(Avg|Max|AvgMax|CatAvgMax)Pool\dd|SelectAdaptivePool\dd|FastAdaptiveAvgPool\dd?|"
                          r"GlobalAvgPool\dd?)$")
_MAX_PERIOD = 160          # longest block (in units) the repeat finder looks for


class _Unit:
    """One element of the canonical layer sequence: a weight layer, a norm, an activation, a local
    pool, a free parameter tensor, or a whole attention / squeeze-excitation module."""

    __slots__ = ("kind", "label", "fine", "params", "width", "stride", "kernel")

    def __init__(self, kind: str, label: str, fine: str, params: int = 0, width: int = 0,
                 stride: int = 1, kernel: int = 1) -> None:
        self.kind = kind          # conv | linear | norm | act | pool | param | attn | se
        self.label = label        # coarse label (the WL fingerprint's alphabet: no widths)
        self.fine = fine          # exact label (shapes included): finds repeated blocks
        self.params = params
        self.width = width
        self.stride = stride
        self.kernel = kernel


_WEIGHT_KINDS = frozenset({"conv", "linear", "attn", "se"})


class _Node:
    __slots__ = ("label", "children")

    def __init__(self, label: str, children: list | None = None) -> None:
        self.label = label
        self.children: list[_Node] = children or []


def _squeezed(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if int(d) != 1) or (1,)


def _is_bert_pooler(m) -> bool:
    """transformers' pooled-output head (dense + tanh on the first token): the image classifiers
    build their backbone without it, so it is not part of the network."""
    import torch.nn as nn

    kids = list(m.modules())
    return (type(m).__name__.endswith("Pooler") and any(isinstance(k, nn.Linear) for k in kids)
            and any(type(k).__name__.lower() == "tanh" for k in kids))


def _ratio(c_in: int, c_out: int) -> int:
    """Width change of a layer, log2 rounded and clipped to [-3, 3] (a bottleneck's -2 / +2)."""
    return max(-3, min(3, round(math.log2(max(int(c_out), 1) / max(int(c_in), 1)))))


def _linear_label(c_in: int, c_out: int) -> str:
    return f"linear/r{_ratio(c_in, c_out)}"


def _linear_unit(c_in: int, c_out: int, n: int, stats: dict) -> _Unit:
    """A linear layer (or 1x1 convolution) of ``n`` parameters, counted as linear parameters."""
    stats["p_linear"] += n
    return _Unit("linear", _linear_label(c_in, c_out), f"l:{c_in}>{c_out}", n, int(c_out))


def _param_unit(p, stats: dict) -> _Unit:
    """A free parameter tensor (token, position table, layer scale, embedding) keyed by its squeezed
    shape, counted as other parameters."""
    shape = _squeezed(p.shape)
    n = int(p.numel())
    stats["p_other"] += n
    return _Unit("param", f"param{len(shape)}d", f"p:{shape}", n)


def _act_unit(kind: str) -> _Unit:
    return _Unit("act", f"act:{kind}", f"a:{kind}")


def _conv_unit(m, stats: dict) -> _Unit:
    k = tuple(int(x) for x in m.kernel_size)
    kk = max(k) if k else 1
    s = max(int(x) for x in m.stride) if m.stride else 1
    g = int(m.groups)
    n = int(sum(p.numel() for p in m.parameters(recurse=False)))
    if kk == 1 and s == 1 and g == 1:
        # a 1x1 convolution is a linear layer applied at every position (ConvNeXt's MLP is one or
        # the other depending on the library)
        return _linear_unit(m.in_channels, m.out_channels, n, stats)
    if g > 1 and g == m.in_channels:
        sub, key = "dw", "p_conv_dw"
    elif g > 1:
        sub, key = "g", "p_conv_group"
    elif kk == 1:
        sub, key = "pw", "p_conv_pw"
    else:
        sub, key = "dense", "p_conv_dense"
    stats[key] += n
    low = type(m).__name__.lower()
    ws = "/ws" if "std" in low or "standardiz" in low else ""     # weight-standardised (BiT, NFNet)
    return _Unit("conv", f"conv{kk}/s{min(s, 4)}/{sub}/r{_ratio(m.in_channels, m.out_channels)}{ws}",
                 f"c{'x'.join(map(str, k))}/s{s}/g{g}:{m.in_channels}>{m.out_channels}",
                 n, int(m.out_channels), s, kk)


def _norm_width(m, own) -> int:
    for _, p in own:
        if p.ndim >= 1:
            return int(p.numel())
    w = getattr(m, "num_features", None) or getattr(m, "num_channels", None)
    ns = getattr(m, "normalized_shape", None)
    if w is None and ns:
        w = int(np.prod(ns))
    return int(w or 0)


def _collapse(m, kind: str, stats: dict) -> list[_Unit]:
    """An attention or squeeze-excitation module as one unit, keyed by its parameter count by layer
    kind (a fused qkv projection and three separate ones, or a bias held by the linear layer or
    beside it, count the same), followed by its position-bias tables as parameter units (one
    library keeps them inside the attention module, another beside it)."""
    import torch.nn as nn

    total = p_conv = p_norm = 0
    inner: set[str] = set()
    tables: list[_Unit] = []
    for sub in m.modules():
        own = [p for p in sub.parameters(recurse=False) if p is not None]
        n = int(sum(p.numel() for p in own))
        if not n:
            continue
        cname = type(sub).__name__
        if isinstance(sub, nn.modules.conv._ConvNd):
            if _conv_unit(sub, stats).kind == "conv":
                p_conv += n
                inner.add("conv")
        elif isinstance(sub, (nn.Linear, nn.MultiheadAttention)):
            stats["p_linear"] += n              # (MultiheadAttention's in_proj is a fused linear)
            if getattr(sub, "bias", 0) is None or getattr(sub, "in_proj_bias", 0) is None:
                inner.add("nobias")             # a projection without bias (its own, or beside it)
        elif _norm_kind(sub, cname) is not None:
            stats["p_norm"] += n
            p_norm += n
            inner.add("norm")
        else:
            for p in own:        # tables apart; vectors (biases held beside a linear layer) as linear
                if len(_squeezed(p.shape)) >= 2:
                    tables.append(_param_unit(p, stats))
                    n -= int(p.numel())
                else:
                    stats["p_linear"] += int(p.numel())
        total += n
    label = kind + "".join(f"+{x}" for x in sorted(inner))
    return [_Unit(kind, label, f"{kind}:{total}:{p_conv}:{p_norm}", total)] + tables


def _merge_gated(units: list[_Unit]) -> list[_Unit]:
    """Gated MLPs (SwiGLU, GeGLU): the projections of one input are one layer, whether a library
    fuses them or not."""
    out: list[_Unit] = []
    first: dict[str, _Unit] = {}
    for u in units:
        if u.kind != "linear":
            out.append(u)
            continue
        src = u.fine[2:].split(">")[0]
        if src in first:
            f = first[src]
            f.params += u.params
            f.width += u.width
            f.fine = f"l:{src}>{f.width}"
            f.label = _linear_label(int(src), f.width)
        else:
            f = _Unit("linear", u.label, u.fine, u.params, u.width)
            first[src] = f
            out.append(f)
    return out


def _pool_unit(m, cname: str) -> _Unit:
    k = getattr(m, "kernel_size", 0)
    k = max(k) if isinstance(k, (tuple, list)) else k
    s = getattr(m, "stride", None) or k
    s = max(s) if isinstance(s, (tuple, list)) else s
    k, s = (int(x) if isinstance(x, (int, float)) else 1 for x in (k or 1, s or 1))
    low = cname.lower()
    kind = "max" if "max" in low else "blur" if "blur" in low else "avg"
    return _Unit("pool", f"pool:{kind}", f"pool:{kind}:{k}/{s}", 0, 0, s, k)


def _units(model, stats: dict) -> list[_Unit]:
    """The canonical layer sequence of a module tree, in definition order.

    What a library wraps around the layers does not appear: containers (whatever their class or
    nesting), dropout / identity / padding / reshape modules, global pooling and transformers'
    pooled-output head are dropped; an attention or squeeze-excitation module becomes one unit
    (however its projections are split); parameters owned by a container (class tokens, position
    embeddings, layer scales) become parameter units keyed by their squeezed shape, as do
    ``nn.Embedding`` tables. Mask tokens (used only by masked pre-training) are left out.

    (Long on purpose: one branch per kind of layer, read together.)

    """
    import torch.nn as nn

    norm_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
    units: list[_Unit] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any, int]] = [("", model, 0)]
    while stack:
        name, m, depth = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        cname = type(m).__name__
        if _SKIP.match(cname) or _GLOBAL_POOL.match(cname):
            continue
        children = list(m.named_children())
        own = [(n, p) for n, p in m.named_parameters(recurse=False) if p is not None]
        if isinstance(m, nn.modules.conv._ConvNd):
            units.append(_conv_unit(m, stats))
            continue
        if isinstance(m, nn.Linear):
            units.append(_linear_unit(m.in_features, m.out_features, int(sum(p.numel() for _, p in own)), stats))
            continue
        nk = _norm_kind(m, cname) if (not children or isinstance(m, norm_types)) else None
        if nk is not None:
            n = int(sum(p.numel() for _, p in own))
            stats["p_norm"] += n
            w = _norm_width(m, own)
            units.append(_Unit("norm", nk, f"{nk}:{w}", n, w))
            for _, c in children:                   # a fused activation (BatchNormAct2d)
                ak = _act_kind(type(c).__name__.lower()) if not any(True for _ in c.children()) else None
                if ak is not None and id(c) not in seen:
                    seen.add(id(c))
                    units.append(_act_unit(ak))
            continue
        if name == "pooler" and depth == 1 and (_is_bert_pooler(m) or not any(True for _ in m.parameters())):
            continue
        if (_is_attention(cname) or _is_se(cname)) and any(True for _ in m.parameters()):
            units.extend(_collapse(m, "attn" if _is_attention(cname) else "se", stats))
            continue
        if "glu" in cname.lower() and children and m is not model and depth < 64:
            sub = _units(m, stats)
            seen.update(id(x) for x in m.modules())
            units.extend(_merge_gated(sub))
            continue
        if isinstance(m, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
            units.append(_pool_unit(m, cname))
            continue
        if isinstance(m, nn.Embedding):
            units.append(_param_unit(m.weight, stats))
            continue
        if not children and not own:
            ak = _act_kind(cname.lower())
            if ak is not None:
                units.append(_act_unit(ak))
            elif "pool" in cname.lower():
                units.append(_pool_unit(m, cname))
            continue
        for pn, p in own:
            if "mask_token" in pn:
                continue
            if p.ndim <= 1 or len(_squeezed(p.shape)) == 1:
                if re.search(r"gamma|scale|lambda", pn.lower()) or "scale" in cname.lower():
                    stats["layer_scale"] += 1
            if "cls" in pn.lower() or "class_emb" in pn.lower():
                stats["cls_token"] += 1
            units.append(_param_unit(p, stats))
        stack.extend((n, c, depth + 1) for n, c in reversed(children))
    return units


def _find_runs(fine: list[int], weighty: list[bool]) -> list[tuple[int, int, int]]:
    """Maximal runs of a repeated block in the unit sequence: ``(start, period, repeats)``.

    Greedy from the left; at each position the period covering the most units wins (the shortest
    on ties).  A block holds at least two weight layers (one conv repeated is no block, and a
    shortcut conv that happens to match the layer before it must not pass for one).  The order of
    layers inside a block is each library's own, but only a block's contents (a multiset) and the
    repeat count are used, and those do not depend on where the repeat is cut.
    """
    n = len(fine)
    where: dict[int, list[int]] = {}
    for i, f in enumerate(fine):
        where.setdefault(f, []).append(i)
    pos_in = {}
    for f, idx in where.items():
        for r, i in enumerate(idx):
            pos_in[i] = r
    wcum = [0]
    for w in weighty:
        wcum.append(wcum[-1] + (1 if w else 0))
    runs = []
    i = 0
    while i < n:
        best = None
        occ = where[fine[i]]
        for j in occ[pos_in[i] + 1:]:
            p = j - i
            if p > _MAX_PERIOD:
                break
            if wcum[j] - wcum[i] < 2:
                continue
            length = 0
            while j + length < n and fine[i + length] == fine[j + length]:
                length += 1
            k = (length + p) // p
            if k >= 2 and (best is None or k * p > best[1] * best[2]):
                best = (i, p, k)
        if best is not None:
            runs.append(best)
            i += best[1] * best[2]
        else:
            i += 1
    return runs


def _analyse(model, input_size: int | None) -> tuple[np.ndarray, dict]:
    """Compute the archi2vec vector and summary numbers of a built module.

    Everything is computed from the canonical layer sequence (:func:`_units`) and the repeated
    blocks found in it (:func:`_find_runs`), so two libraries' implementations of one network,
    which differ in module classes, nesting, fused projections and wrappers, give one vector.

    (Long on purpose: one pass over the canonical layer sequence fills every block of the vector, sharing its running tallies.)

    """
    stats = {k: 0.0 for k in ("p_conv_dense", "p_conv_pw", "p_conv_group", "p_conv_dw", "p_linear", "p_norm",
                              "p_other", "layer_scale", "cls_token")}
    num_modules = sum(1 for _ in model.modules())
    units = _units(model, stats)
    params = int(sum(u.params for u in units))
    if params <= 0:
        raise ArchitectureError("architecture has no parameters")
    fine_ids: dict[str, int] = {}
    fine = [fine_ids.setdefault(u.fine, len(fine_ids)) for u in units]
    runs = _find_runs(fine, [u.kind in _WEIGHT_KINDS for u in units])
    in_run = set()
    for s, p, k in runs:
        in_run.update(range(s, s + p * k))

    cnt = {k: 0 for k in ("conv", "linear", "norm", "act", "pool", "param", "attn", "se")}
    for u in units:
        cnt[u.kind] += 1
    convs = [u for u in units if u.kind == "conv"]
    kh = {"k1": 0, "k3": 0, "k5": 0, "k7": 0}
    for u in convs:
        kh["k1" if u.kernel == 1 else "k3" if u.kernel <= 3 else "k5" if u.kernel <= 5 else "k7"] += 1
    n_strided = sum(1 for u in units if u.kind in ("conv", "pool") and u.stride > 1)
    norm_counts = dict.fromkeys(_NORM_KINDS, 0)
    act_counts = dict.fromkeys(_ACT_KINDS, 0)
    for u in units:
        if u.kind == "norm":
            norm_counts[u.label] += 1
        elif u.kind == "act":
            act_counts[u.label[4:]] += 1
    attn_params = sum(u.params for u in units if u.kind == "attn")
    widths = [u.width for u in units if u.kind in ("conv", "linear") and u.width]
    norm_widths = [u.width for u in units if u.kind == "norm" and u.width]
    first = next((u for u in units if u.kind in ("conv", "linear")), None)
    stem = (first.stride, first.kernel) if first is not None and first.kind == "conv" else (1, 1)

    stages = [(k, max(units[x].width for x in range(s, s + p))) for s, p, k in runs]

    # The canonical tree: root -> (units outside repeats, repeats -> blocks -> units).
    def leaf(x: int) -> _Node:
        return _Node(units[x].label)

    root = _Node("net", [leaf(x) for x in range(len(units)) if x not in in_run])
    for s, p, k in runs:
        root.children.append(_Node("repeat", [_Node("block", [leaf(x) for x in range(s + b * p, s + (b + 1) * p)])
                                              for b in range(k)]))

    res = int(input_size) if input_size else 224
    stem_s, stem_k = stem
    all_w = widths or [1]
    feat_w = norm_widths or all_w
    n_weight = cnt["conv"] + cnt["linear"] + cnt["attn"] + cnt["se"]
    n_blocks = sum(b for b, _ in stages) or 1
    n_stages = len(stages) or 1
    n_units = max(len(units), 1)
    l2 = lambda v: math.log2(max(float(v), 1.0))  # noqa: E731
    # Fixed (centre, scale) pairs: roughly the median and spread over timm's model list, so that a
    # typical model sits near 0 and each coordinate varies on a comparable scale.
    size = [
        (math.log10(params) - 7.3) / 0.7,
        (l2(n_units) - 7.8) / 1.0,
        (l2(len(units) - len(in_run) + 1) - 4.5) / 1.2,
        (l2(n_weight) - 6.0) / 1.0,
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
        (l2(n_strided + 1) - 2.5) / 1.0,
    ]
    P = float(params)
    conv_p = stats["p_conv_dense"] + stats["p_conv_pw"] + stats["p_conv_group"] + stats["p_conv_dw"]
    nk_conv = max(cnt["conv"], 1)
    nu = float(n_units)
    compo = [
        stats["p_conv_dense"] / P, stats["p_conv_pw"] / P, stats["p_conv_group"] / P, stats["p_conv_dw"] / P,
        stats["p_linear"] / P, stats["p_norm"] / P * 10.0, stats["p_other"] / P * 3.0,
        attn_params / P, conv_p / P,
        cnt["conv"] / max(n_weight, 1), cnt["linear"] / max(n_weight, 1),
        cnt["conv"] / nu, cnt["linear"] / nu, cnt["norm"] / nu, cnt["act"] / nu,
        cnt["attn"] / nu * 3.0, cnt["se"] / nu * 5.0, cnt["pool"] / nu * 5.0,
        kh["k1"] / nk_conv, kh["k3"] / nk_conv, kh["k5"] / nk_conv, kh["k7"] / nk_conv,
        sum(1 for u in convs if u.stride > 1) / nk_conv, 0.0,
    ]
    # small shares (norm / other params, attention, SE, pooling units) are up-weighted above
    compo = [c - 0.15 for c in compo[:-1]] + [0.0]
    n_norm = max(sum(norm_counts.values()), 1)
    n_act = max(sum(act_counts.values()), 1)
    kinds = [norm_counts[k] / n_norm for k in _NORM_KINDS] + [act_counts[k] / n_act for k in _ACT_KINDS]
    kinds += [1.0 if cnt["attn"] else 0.0, 1.0 if cnt["se"] else 0.0,
              1.0 if stats["layer_scale"] else 0.0, 1.0 if stats["cls_token"] else 0.0,
              1.0 if cnt["conv"] > 2 else 0.0, 1.0 if not sum(act_counts.values()) else 0.0]
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
    # the reported count is every parameter of the built module (as the Hub and the shipped index
    # count them); the vector uses the network's own (``params``: no pooled-output head, no mask token)
    summary = {"params": int(sum(p.numel() for p in model.parameters())), "num_modules": num_modules,
               "input_size": res,
               "stages": [b for b, _ in stages], "stage_widths": [w for _, w in stages]}
    return vec.astype(np.float32), summary


def _preorder(root: _Node) -> list[_Node]:
    """Every node of the tree, parents before their children (iterative: no recursion limit)."""
    order: list[_Node] = []
    stack = [root]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(n.children)
    return order


def _resample(seq: list, k: int) -> list[float]:
    if not seq:
        return [0.0] * k
    if len(seq) == 1:
        return [float(seq[0])] * k
    xs = np.linspace(0, len(seq) - 1, k)
    return [float(np.interp(x, np.arange(len(seq)), np.asarray(seq, dtype=np.float64))) for x in xs]


def _wl_features(root: _Node) -> np.ndarray:
    """Weisfeiler-Lehman subtree labels of the canonical tree (children as neighbours), hashed."""
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


def describe_many(items: Iterable[Any], *, progress: bool = False, library: str | None = None,
                  metadata: Any = None, errors: dict[int, str] | None = None) -> dict[int, ArchitectureInfo]:
    """The one batch encoder: :func:`describe_architecture` of every item that can be built (item
    index -> info; the others are left out, with their reason in ``errors`` when given).

    ``metadata`` (a DataFrame indexed by model id with ``model_type``, ``number_of_parameters`` and
    ``input_shape``, as TransferGraph's table has): a Hub checkpoint known only by it is encoded from
    the closest shipped config of its type at its size and resolution (:func:`config_from_metadata`).
    """
    from huggingface_hub.utils import tqdm

    items = list(items)
    if metadata is not None:
        metadata = metadata[~metadata.index.duplicated(keep="first")]
    out: dict[int, ArchitectureInfo] = {}
    for i, item in enumerate(tqdm(items, desc="archi2vec", disable=not progress)):
        try:
            out[i] = describe_architecture(item, library=library)
            continue
        except Exception as exc:  # unknown, unsupported or rejected: maybe its metadata says more
            reason = str(exc)
        row = metadata.loc[item] if isinstance(item, str) and metadata is not None and item in metadata.index else None
        config = _metadata_config(row) if row is not None else None
        if config is not None:
            try:
                out[i] = describe_architecture(config)
                continue
            except Exception as exc:  # a removed or unknown model type
                reason = str(exc)
        if errors is not None:
            errors[i] = reason
    return out


def _metadata_config(row: Any) -> dict | None:
    """A config from a metadata row (model_type, number_of_parameters, input_shape), or None."""
    mt = row.get("model_type")
    if not isinstance(mt, str) or not mt:
        return None

    def number(key: str) -> float | None:
        try:
            value = float(row.get(key))
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    size = number("input_shape")
    try:
        return config_from_metadata(mt, number("number_of_parameters"), None if size is None else int(size))
    except (ArchitectureError, ValueError, TypeError):
        return None


def encode_many(items: Iterable[Any], progress: bool = True, *, library: str | None = None
                ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Encode many models, skipping failures. Returns (ids, matrix [n, DIM], {id: reason})."""
    items = list(items)

    def ident(i: int, item: Any) -> str:
        if isinstance(item, str):
            return item
        if isinstance(item, Mapping):
            return str(item.get("_name_or_path") or item.get("architecture") or f"item{i}")
        return str(getattr(item, "_name_or_path", None) or f"item{i}")

    errors: dict[int, str] = {}
    infos = describe_many(items, progress=progress, library=library, errors=errors)
    ids = [ident(i, items[i]) for i in sorted(infos)]
    rows = [np.asarray(infos[i].vector, dtype=np.float32) for i in sorted(infos)]
    mat = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, ARCHI2VEC_DIM), dtype=np.float32)
    return ids, mat, {ident(i, items[i]): reason for i, reason in errors.items()}
