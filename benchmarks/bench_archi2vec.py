"""Benchmark archi2vec: architectures per second (cold build vs cached) and peak memory.

Run:  python benchmarks/bench_archi2vec.py [--timm N] [--json out.json]

"cold" = first encoding in this process (module tree built on the meta device), "cached" = the
same ids again (in-process LRU), "disk" = a fresh in-process cache reading the on-disk .npy cache.
Library import time (torch, timm, transformers) is measured separately and not in the rates.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


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
    ap.add_argument("--json", help="write the figures as JSON here")
    args = ap.parse_args(argv)

    cache_dir = tempfile.mkdtemp(prefix="archi2vec-bench-")
    os.environ["FENNEC_ARCHI2VEC_CACHE_DIR"] = cache_dir
    os.environ["FENNEC_ARCHI2VEC_DISK_CACHE"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    a2v = importlib.import_module("fennec_hub.archi2vec")
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
    res = {"import_s": round(t_import, 2), "first_builds_s": round(warm_s, 2),
           "n_timm": len(timm_ids), "n_hf": len(hf_ids)}
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
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
