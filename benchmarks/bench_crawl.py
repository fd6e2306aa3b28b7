"""Crawl + encode throughput against a loopback Hub of generated repos, and peak memory.

    .venv/bin/python benchmarks/bench_crawl.py [--repos 1000] [--workers 4] [--json out.json]

Starts a LoopHub (tests/loophub.py) in this process, fills it with `--repos` generated
image-classification repos (config.json + model card with a model-index + placeholder weights),
then runs `fennec-hub crawl` as a subprocess against it with an empty HF cache, and reports
wall time, models per second and the crawler's peak RSS. A second run over the finished output
measures the "nothing changed" re-crawl. The repos mimic the Hub's mix: most are fine-tunes of
a few popular bases (same architecture, different label sets, so archi2vec's cache hits), the
rest are distinct architecture variants (depth/width/resolution), a few are hostile (custom code,
malformed config). The loopback Hub has no network latency: the projection for the real Hub adds
a measured-per-request latency assumption, printed separately.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from loophub import LoopHub  # noqa: E402

BASES = {
    "vit": lambda r: {"model_type": "vit", "architectures": ["ViTForImageClassification"],
                      "hidden_size": r.choice([192, 384, 768, 1024]), "num_hidden_layers": r.choice([6, 8, 12, 24]),
                      "num_attention_heads": 12, "intermediate_size": 3072, "image_size": r.choice([224, 384]),
                      "patch_size": r.choice([16, 32]), "qkv_bias": True},
    "convnext": lambda r: {"model_type": "convnext", "architectures": ["ConvNextForImageClassification"],
                           "depths": r.choice([[3, 3, 9, 3], [3, 3, 27, 3], [2, 2, 6, 2]]),
                           "hidden_sizes": r.choice([[96, 192, 384, 768], [128, 256, 512, 1024], [64, 128, 256, 512]]),
                           "image_size": 224, "num_stages": 4, "patch_size": 4},
    "resnet": lambda r: {"model_type": "resnet", "architectures": ["ResNetForImageClassification"],
                         "depths": r.choice([[2, 2, 2, 2], [3, 4, 6, 3], [3, 4, 23, 3]]),
                         "hidden_sizes": r.choice([[64, 128, 256, 512], [256, 512, 1024, 2048]]),
                         "layer_type": r.choice(["basic", "bottleneck"]), "embedding_size": 64},
    "swin": lambda r: {"model_type": "swin", "architectures": ["SwinForImageClassification"],
                       "embed_dim": r.choice([96, 128]), "depths": r.choice([[2, 2, 6, 2], [2, 2, 18, 2]]),
                       "num_heads": [3, 6, 12, 24], "window_size": 7, "image_size": 224, "patch_size": 4},
    "timm": lambda r: {"architecture": r.choice(["resnet18", "resnet34", "resnet50", "efficientnet_b0",
                                                 "mobilenetv3_large_100", "convnext_tiny", "vit_small_patch16_224",
                                                 "deit_tiny_patch16_224", "regnety_008", "densenet121"]),
                       "num_classes": 1000, "pretrained_cfg": {"input_size": [3, 224, 224], "crop_pct": 0.875}},
}
DATASETS = ["cifar10", "cifar100", "food101", "beans", "eurosat", "imagefolder", "oxford_flowers102"]


def make_repos(hub: LoopHub, n: int, seed: int = 0) -> None:
    """Add `n` generated repos to `hub` (deterministic for a seed)."""
    r = random.Random(seed)
    popular = [(fam, BASES[fam](r)) for fam in ("vit", "vit", "convnext", "resnet", "swin", "vit")]
    for i in range(n):
        kind = r.random()
        if kind < 0.02:
            cfg = {"model_type": "custom-net", "auto_map": {"AutoModel": "modeling_x.X"}}
            lib = "transformers"
        elif kind < 0.03:
            cfg = None
            lib = "transformers"
        elif kind < 0.63:
            fam, base = r.choice(popular)
            cfg = dict(base)
            lib = "transformers"
        else:
            fam = r.choice(list(BASES))
            cfg = BASES[fam](r)
            lib = "timm" if fam == "timm" else "transformers"
        if cfg is not None and lib == "transformers":
            k = r.choice([2, 3, 10, 101, 100, 1000])
            cfg["id2label"] = {str(j): f"label_{j}" for j in range(k)}
        ds = r.choice(DATASETS)
        acc = round(r.uniform(0.6, 0.99), 4)
        base_id = f"base-org/base-{r.randrange(20)}"
        card = (f"---\nlicense: apache-2.0\nbase_model: {base_id}\ndatasets:\n- {ds}\nmodel-index:\n- name: m{i}\n"
                f"  results:\n  - task:\n      type: image-classification\n    dataset:\n      name: {ds}\n"
                f"      type: {ds}\n      split: validation\n    metrics:\n    - type: accuracy\n      value: {acc}\n"
                f"---\n\n# m{i}\n\nThis model is a fine-tuned version of [{base_id}](https://huggingface.co/{base_id}).\n")
        files = {"README.md": card, "model.safetensors": b"placeholder"}
        if cfg is not None:
            files["config.json"] = json.dumps(cfg) if r.random() > 0.005 else '{"model_type": "vit",,}'
        tags = [lib, "safetensors", "image-classification", "region:us"]
        if cfg is not None and "auto_map" in cfg:
            tags.append("custom_code")
        info = {"library_name": lib, "pipeline_tag": "image-classification", "downloads": n - i, "likes": i % 7,
                "tags": tags, "safetensors": {"parameters": {"F32": 1_000_000 + i}, "total": 1_000_000 + i}}
        hub.add_repo("model", f"gen-user-{i % 97}/model-{i:05d}", files, info)


def run_crawl(url: str, out: Path, cache: Path, workers: int) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB of the crawler process, stdout) of one CLI crawl."""
    env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_XET="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c",
           "import resource, sys; from fennec_hub.cli import main; rc = main(sys.argv[1:]); "
           "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)",
           "crawl", "--out", str(out), "--endpoint", url, "--workers", str(workers), "--no-progress",
           "--pipeline-tag", "image-classification"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise RuntimeError(p.stderr[-3000:])
    peak_kb = int(p.stdout.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    return wall, peak_kb / 1024, p.stdout.rsplit("PEAK_RSS_KB", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--target", type=int, default=50_000, help="models in the projection")
    ap.add_argument("--latency", type=float, default=0.15,
                    help="assumed seconds per real-Hub request for the network-bound projection")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    hub = LoopHub().start()
    t0 = time.perf_counter()
    make_repos(hub, args.repos)
    gen_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bench-crawl-") as tmp:
        tmp = Path(tmp)
        hub.clear_log()
        wall, peak, summary = run_crawl(hub.url, tmp / "out", tmp / "cache", args.workers)
        n_req = len(hub.requests)
        wall2, peak2, _ = run_crawl(hub.url, tmp / "out", tmp / "cache", args.workers)
        rows = (tmp / "out" / "models.jsonl").read_text().splitlines()
        n_enc = sum('"status":"encoded"' in r for r in rows)
        n_rec = len((tmp / "out" / "records.jsonl").read_text().splitlines())
        uniq = len({json.loads(r).get("family") for r in rows})
    hub.stop()

    rate = args.repos / wall
    req_per_model = n_req / args.repos
    net_s = args.target * req_per_model * args.latency / args.workers
    fig = {
        "repos": args.repos, "workers": args.workers, "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "crawl_wall_s": round(wall, 1), "models_per_s": round(rate, 1),
        "peak_rss_mib": round(peak, 1), "encoded": n_enc, "records": n_rec, "families": uniq,
        "requests_per_model": round(req_per_model, 2),
        "recrawl_unchanged_wall_s": round(wall2, 1), "recrawl_peak_rss_mib": round(peak2, 1),
        "projection_models": args.target,
        "projection_cpu_bound_min": round(args.target / rate / 60, 1),
        "projection_network_bound_min": round(net_s / 60, 1),
        "assumed_latency_s": args.latency,
        "generate_s": round(gen_s, 1),
    }
    print(summary.strip())
    print(json.dumps(fig, indent=1))
    print(f"\n{args.repos} repos crawled + encoded in {wall:.1f} s = {rate:.1f} models/s "
          f"(peak RSS {peak:.0f} MiB, {req_per_model:.2f} HTTP requests/model); unchanged re-crawl {wall2:.1f} s.")
    print(f"Projection for {args.target:,} models: CPU-bound {fig['projection_cpu_bound_min']} min at this rate; "
          f"with {args.latency * 1000:.0f} ms per real-Hub request and {args.workers} workers, network-bound "
          f"~{fig['projection_network_bound_min']} min; the larger of the two applies.")
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1) + "\n")


if __name__ == "__main__":
    main()
