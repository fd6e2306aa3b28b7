"""Benchmark archi2vec: architectures per second (cold build vs cached), peak memory, and how well
the vectors describe the network rather than the library that wrote it (``--twins``).

Run:  python benchmarks/bench_archi2vec.py [--timm N] [--twins] [--json out.json]

"cold" = first encoding in this process (module tree built on the meta device), "cached" = the
same ids again (in-process LRU), "disk" = a fresh in-process cache reading the on-disk .npy cache.
Library import time (torch, timm, transformers) is measured separately and not in the rates.

``--twins``: for each pair of one network written by timm and by transformers (``TWINS``), is the
twin the cosine nearest neighbour among all encodings of a realistic pool (every timm
architecture of the twins' families, every shipped transformers config), and among the other
library's encodings only?  Encodings of the *same* architecture (equal parameter shapes, see
:func:`same_architecture`) are not counted as competitors.  A pair counts when both directions
hold (timm -> transformers and transformers -> timm).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# One network, written by timm (left) and by transformers (right): same depth, widths, patch
# size, window, resolution.  (tf_efficientnet_bN: Google's EfficientNet with its own padding and
# resolutions, which the transformers port follows.)
TWINS: list[tuple[str, str]] = (
    [(f"convnext_{s}", f"facebook/convnext-{s}-224") for s in ("tiny", "small", "base", "large")]
    + [(f"resnet{d}", f"microsoft/resnet-{d}") for d in (18, 34, 50, 101, 152)]
    + [("levit_128s", "facebook/levit-128S")] + [(f"levit_{d}", f"facebook/levit-{d}") for d in (128, 192, 256, 384)]
    + [("vit_base_patch16_224", "google/vit-base-patch16-224"), ("vit_base_patch16_384", "google/vit-base-patch16-384"),
       ("vit_base_patch32_384", "google/vit-base-patch32-384"),
       ("vit_large_patch16_224", "google/vit-large-patch16-224"),
       ("vit_large_patch16_384", "google/vit-large-patch16-384"),
       ("vit_large_patch32_384", "google/vit-large-patch32-384"),
       ("vit_huge_patch14_224", "google/vit-huge-patch14-224-in21k")]
    + [(f"deit_{s}_patch16_224", f"facebook/deit-{s}-patch16-224") for s in ("tiny", "small", "base")]
    + [(f"deit_{s}_distilled_patch16_224", f"facebook/deit-{s}-distilled-patch16-224")
       for s in ("tiny", "small", "base")]
    + [("deit_base_patch16_384", "facebook/deit-base-patch16-384")]
    + [(f"swin_{s}_patch4_window7_224", f"microsoft/swin-{s}-patch4-window7-224") for s in ("tiny", "small", "base", "large")]
    + [(f"swin_{s}_patch4_window12_384", f"microsoft/swin-{s}-patch4-window12-384") for s in ("base", "large")]
    + [(f"swinv2_{s}_window8_256", f"microsoft/swinv2-{s}-patch4-window8-256") for s in ("tiny", "small", "base")]
    + [("beit_base_patch16_224", "microsoft/beit-base-patch16-224"), ("beit_base_patch16_384", "microsoft/beit-base-patch16-384"),
       ("beit_large_patch16_224", "microsoft/beit-large-patch16-224")]
    + [("regnety_040", "facebook/regnet-y-040"), ("mobilenetv2_100", "google/mobilenet_v2_1.0_224"),
       ("mobilenetv2_140", "google/mobilenet_v2_1.4_224"), ("mobilenetv1_100", "google/mobilenet_v1_1.0_224"),
       ("resnetv2_50x1_bit", "google/bit-50")]
    + [(f"tf_efficientnet_b{i}", f"google/efficientnet-b{i}") for i in range(8)]
    + [(f"poolformer_{s}", f"sail/poolformer_{s}") for s in ("s12", "s24", "s36", "m36", "m48")]
    + [("convnextv2_atto", "facebook/convnextv2-atto-1k-224"), ("convnextv2_nano", "facebook/convnextv2-nano-1k-224"),
       ("convnextv2_tiny", "facebook/convnextv2-tiny-1k-224"), ("convnextv2_base", "facebook/convnextv2-base-1k-224")]
    + [(f"vit_{s}_patch14_dinov2", f"facebook/dinov2-{s}") for s in ("small", "base", "large", "giant")]
    + [("mobilevit_s", "apple/mobilevit-small"), ("mobilevit_xs", "apple/mobilevit-x-small"),
       ("mobilevit_xxs", "apple/mobilevit-xx-small"), ("mobilevitv2_100", "apple/mobilevitv2-1.0-imagenet1k-256")]
    + [(f"pvt_v2_b{i}", f"OpenGVLab/pvt_v2_b{i}") for i in range(6)]
    + [(f"focalnet_{s}_srf", f"microsoft/focalnet-{s}") for s in ("tiny", "small", "base")]
    + [("vit_base_patch16_clip_quickgelu_224", "openai/clip-vit-base-patch16"),
       ("vit_base_patch32_clip_quickgelu_224", "openai/clip-vit-base-patch32"),
       ("vit_large_patch14_clip_quickgelu_224", "openai/clip-vit-large-patch14"),
       ("vit_large_patch14_clip_quickgelu_336", "openai/clip-vit-large-patch14-336")]
    + [("vit_base_patch16_siglip_224", "google/siglip-base-patch16-224"),
       ("vit_base_patch16_siglip_384", "google/siglip-base-patch16-384")]
    + [("vit_small_patch16_224", "facebook/dino-vits16"), ("vit_small_patch8_224", "facebook/dino-vits8"),
       ("vit_base_patch8_224", "facebook/dino-vitb8")]
)


def twin_pool() -> list[str]:
    """Every timm architecture of the twins' families (the size neighbours and variants a twin
    must beat: convnext_tiny vs convnext_small, vit_base_patch16_224 vs its CLIP / MIIL / DINOv2
    variants, ...) plus every shipped transformers config."""
    import timm

    a2v = importlib.import_module("fennec_hub.architecture")
    fams = {a2v.timm_family(t) for t, _ in TWINS}
    names = {n for n in timm.list_models() if a2v.timm_family(n) in fams and not n.startswith("test_")}
    return sorted(names | {t for t, _ in TWINS}) + sorted(a2v.list_shipped_configs())


_SIG: dict[str, tuple] = {}


def _signature(model_id: str) -> tuple:
    """The network's parameter tensors: sorted shapes, singleton dimensions dropped as archi2vec
    drops them (a 1x1 conv kernel and a linear weight agree), without transformers' pooled-output
    head (``pooler``: the image classifiers build the backbone without it) and mask tokens (masked
    pre-training only)."""
    if model_id not in _SIG:
        a2v = importlib.import_module("fennec_hub.architecture")
        model, _ = a2v._build(a2v._to_spec(model_id, None))
        _SIG[model_id] = tuple(sorted(a2v._squeezed(p.shape) for n, p in model.named_parameters()
                                      if not n.startswith("pooler.") and "mask_token" not in n))
    return _SIG[model_id]


def same_architecture(a: str, b: str) -> bool:
    """Two encodings of one library are the same architecture when their parameter tensors are
    equal (count and shapes), e.g. timm's deit_base_patch16_224 and vit_base_patch16_224, or
    transformers' google/vit-base-patch16-224 and facebook/dino-vitb16."""
    return a == b or (("/" in a) == ("/" in b) and _signature(a) == _signature(b))


def twin_rates(ids: list[str], mat, twins=TWINS) -> dict:
    """Share of twin pairs whose twin is the cosine nearest neighbour (both directions), among all
    encodings and among the other library's encodings; per-pair details for the misses."""
    import numpy as np

    m = np.asarray(mat, dtype=np.float64)
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    sims = m @ m.T
    pos = {i: k for k, i in enumerate(ids)}
    hf = np.array(["/" in i for i in ids])
    out = {"pairs": 0, "nn_all": 0, "nn_other_library": 0, "directions": 0, "dir_all": 0, "dir_other_library": 0,
           "misses": []}
    for t, h in twins:
        if t not in pos or h not in pos:
            continue
        out["pairs"] += 1
        ok_all = ok_other = True
        for q, tw in ((t, h), (h, t)):
            s = sims[pos[q]]
            twin_best = float(s[pos[tw]])
            comp_all = comp_other = -np.inf
            for j in np.flatnonzero(s >= s[pos[tw]]):     # only these can tie or beat the twin
                z = ids[j]
                if z in (q, tw) or same_architecture(z, q):
                    continue
                if same_architecture(z, tw):
                    twin_best = max(twin_best, float(s[j]))
                    continue
                comp_all = max(comp_all, float(s[j]))
                if hf[j] != hf[pos[q]]:
                    comp_other = max(comp_other, float(s[j]))
            hit_all, hit_other = twin_best > comp_all, twin_best > comp_other
            out["directions"] += 1
            out["dir_all"] += hit_all
            out["dir_other_library"] += hit_other
            ok_all &= hit_all
            ok_other &= hit_other
        out["nn_all"] += ok_all
        out["nn_other_library"] += ok_other
        if not ok_all:
            out["misses"].append((t, h))
    n, d = max(out["pairs"], 1), max(out["directions"], 1)
    out.update(rate_all=out["nn_all"] / n, rate_other_library=out["nn_other_library"] / n,
               dir_rate_all=out["dir_all"] / d, dir_rate_other_library=out["dir_other_library"] / d)
    return out


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rate(ids, fn) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    ok = 0
    for i in ids:
        try:
            fn(i)
            ok += 1
        except ValueError:
            pass
    dt = time.perf_counter() - t0
    return ok / dt if dt > 0 else float("inf"), dt, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timm", type=int, default=100, help="number of timm architectures (deterministic sample)")
    ap.add_argument("--twins", action="store_true", help="also measure the timm / transformers twin rates")
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args(argv)

    cache_dir = tempfile.mkdtemp(prefix="archi2vec-bench-")
    atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    os.environ["FENNEC_ARCHI2VEC_CACHE_DIR"] = cache_dir
    os.environ["FENNEC_ARCHI2VEC_DISK_CACHE"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    a2v = importlib.import_module("fennec_hub.architecture")
    import timm
    import torch  # noqa: F401
    import transformers  # noqa: F401

    t_import = time.perf_counter() - t0
    # warm lazy imports (first timm / transformers build) outside the timed loops
    a2v.archi2vec("resnet18")
    a2v.archi2vec("google/vit-base-patch16-224")
    a2v.clear_cache()
    warm_s = time.perf_counter() - t0 - t_import

    timm_ids = random.Random(1).sample(sorted(timm.list_models()), args.timm)
    hf_ids = sorted(a2v.list_shipped_configs())
    res = {"archi2vec_version": a2v.ARCHI2VEC_VERSION, "import_s": round(t_import, 2),
           "first_builds_s": round(warm_s, 2), "n_timm": len(timm_ids), "n_hf": len(hf_ids)}
    for label, ids in (("timm", timm_ids), ("transformers", hf_ids)):
        cold, cold_s, ok = _rate(ids, a2v.archi2vec)
        cached, cached_s, _ = _rate(ids, a2v.archi2vec)
        a2v.clear_cache()                      # in-process cache gone: the .npy disk cache serves
        disk, disk_s, _ = _rate(ids, a2v.archi2vec)
        res[label] = {"ok": ok, "cold_per_s": round(cold, 2), "cold_total_s": round(cold_s, 2),
                      "cached_per_s": round(cached, 1), "disk_per_s": round(disk, 1),
                      "disk_total_s": round(disk_s, 3)}
    res["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    res["rss_before_imports_mb"] = round(rss0, 1)
    if args.twins:
        pool = twin_pool()
        ids, mat, errors = a2v.encode_many(pool, progress=False)
        r = twin_rates(ids, mat)
        res["twins"] = {"pairs": r["pairs"], "pool": len(ids), "pool_errors": len(errors),
                        "nn_among_all": round(r["rate_all"], 3),
                        "nn_among_other_library": round(r["rate_other_library"], 3),
                        "directions_nn_among_all": round(r["dir_rate_all"], 3),
                        "directions_nn_among_other_library": round(r["dir_rate_other_library"], 3),
                        "misses": r["misses"]}
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
