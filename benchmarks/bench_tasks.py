"""Benchmarks of the task encoders (fennec_hub.tasks).

``speed``: ranking M candidate models for a new dataset of 64 images (224 px), side by side in one
run with the same randomly initialised architectures (compute is identical to real weights):

* ours (Fennec image proxy): ONE CLIP ViT-B/32 forward over the images + mean embedding + ridge
  regressor + one [M, d] @ [d] product;
* classic: a forward pass of EVERY candidate (timm, random init) over the same images, then LogME
  on its penultimate features with the images' labels.

Both start from the same preprocessed [64, 3, 224, 224] tensor (decoding/resizing excluded from
both), models are built and warmed up (one 2-image forward) before the clock starts. Classic times
for M = 5, 10, 20 are cumulative sums over the first M candidates of the list (each candidate timed
once). Ours = the median of its M-independent part (CLIP forward + mean + regressor), re-timed
before the first candidate and after every ``--interleave`` candidates so that both arms run
under the same machine load, plus the M-row mat-vec and sort (timed over 1000 repetitions). Run:

    .venv/bin/python benchmarks/bench_tasks.py speed [--models 5 10 20] [--images 64] [--device cpu]

``quality``: leave-one-dataset-out on the shared benchmarks (fennec_hub.records.BENCHMARKS). For
each held-out target t, the transfer space is the z-scored ground-truth accuracy columns of the
other targets (model vectors = identity, task vector = a column); the held-out task's column is
predicted from its proxy embedding by a ridge regressor fitted on the other targets only, and
scored by weighted Kendall tau against t's ground truth. Rows: global prior (mean of the other
columns), metadata only, text only (real all-MiniLM-L6-v2), metadata + text mixed as
``task_vector_from_proxies`` does (weights = nested-CV gains on the training targets). Run:

    .venv/bin/python benchmarks/bench_tasks.py quality [--json out.json]

``quality-space``: the same question on the product path: SPACE's TransferSpace refitted without
each held-out dataset, the task placed by the space's own cold start, by the text regressor, or by
both mixed (``task_vector_from_proxies``). Slow (one space fit per held-out dataset). Run:

    .venv/bin/python benchmarks/bench_tasks.py quality-space [--benchmarks transfergraph_hf ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fennec_hub import features, tasks, transferability  # noqa: E402

# Typical zoo architectures (timm names), ordered: the first 10 are the M = 10 set.
CANDIDATES = (
    "resnet50", "vit_base_patch16_224", "convnext_tiny", "efficientnet_b0", "swin_tiny_patch4_window7_224",
    "deit_small_patch16_224", "resnet18", "mobilenetv3_large_100", "densenet121", "regnety_016",
    "vit_small_patch16_224", "resnet101", "convnext_small", "beit_base_patch16_224", "efficientnet_b2",
    "resnet34", "deit_tiny_patch16_224", "mobilevit_s", "regnety_032", "swin_small_patch4_window7_224",
)


# ------------------------------------------------------------------------------------------ speed


def _images(n: int, seed: int = 0):
    """n class-balanced scikit-learn digits upscaled to 224 px RGB (real images), with labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    idx = tasks.balanced_indices(d.target, n, seed=seed)
    imgs = [Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).resize((224, 224)).convert("RGB")
            for i in idx]
    return imgs, d.target[idx]


def _timed(fn, device: str):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, (time.perf_counter() - t, time.process_time() - c)


def speed(models: list[int], n_images: int, device: str, batch: int, interleave: int = 5) -> dict:
    import timm
    import torch
    from transformers import CLIPVisionConfig

    torch.manual_seed(0)
    imgs, labels = _images(n_images)
    clip_model, proc = tasks.load_image_encoder(CLIPVisionConfig())  # ViT-B/32 sizes, random init
    clip_model = clip_model.to(device)
    pixels = proc(images=imgs, return_tensors="pt")["pixel_values"].to(device)
    max_m = max(models)
    d = 32
    rng = np.random.default_rng(0)
    proxy = tasks.ProxyRegressor(name="image", coef=rng.normal(size=(d, clip_model.config.projection_dim)).astype(
        np.float32), intercept=np.zeros(d, np.float32), alpha=1.0)
    model_vectors = rng.normal(size=(max_m, d)).astype(np.float32)

    def encode() -> np.ndarray:
        """The M-independent part: one CLIP forward, mean embedding, regressor -> task vector."""
        with torch.inference_mode():
            emb = torch.cat([clip_model(pixel_values=pixels[s: s + batch]).image_embeds
                             for s in range(0, len(pixels), batch)])
            emb = torch.nn.functional.normalize(emb, dim=-1).mean(0).float().cpu().numpy()
        return proxy.predict(emb)

    def rank(m: int, task_vector: np.ndarray) -> np.ndarray:
        return np.argsort(-(model_vectors[:m] @ task_vector))

    with torch.inference_mode():
        clip_model(pixel_values=pixels[:2])  # warm-up
    encode_runs = []

    def sample_ours() -> np.ndarray:
        vec, t = _timed(encode, device)
        encode_runs.append(t)
        print(f"  ours    encode {t[0]:7.2f} s wall {t[1]:7.2f} s cpu", flush=True)
        return vec

    vec = sample_ours()
    per_model = []
    for k, name in enumerate(CANDIDATES[:max_m], 1):
        net = timm.create_model(name, pretrained=False, num_classes=0).eval().to(device)
        with torch.inference_mode():
            net(pixels[:2])  # warm-up

            def classic(net=net):
                feats = torch.cat([net(pixels[s: s + batch]) for s in range(0, len(pixels), batch)])
                return transferability.logme(feats.float().cpu().numpy(), labels)

            score, (sec, cpu) = _timed(classic, device)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        per_model.append({"model": name, "seconds": sec, "cpu_seconds": cpu, "params_m": round(params, 1),
                          "logme": score})
        print(f"  classic {name:34s} {sec:7.2f} s wall {cpu:7.2f} s cpu ({params:.1f} M params)", flush=True)
        del net
        if k % interleave == 0:  # ours is re-timed across the run, so both arms see the same load
            sample_ours()
    enc = tuple(statistics.median(r[i] for r in encode_runs) for i in range(2))
    ours_t = {}
    for m in models:
        reps = 1000
        _, (w, c) = _timed(lambda: [rank(m, vec) for _ in range(reps)], "cpu")
        ours_t[m] = (enc[0] + w / reps, enc[1] + c / reps)
    rows = []
    for m in models:
        wall = sum(r["seconds"] for r in per_model[:m])
        cpu = sum(r["cpu_seconds"] for r in per_model[:m])
        rows.append({"M": m, "ours_s": ours_t[m][0], "classic_s": wall, "ratio": wall / ours_t[m][0],
                     "ours_cpu_s": ours_t[m][1], "classic_cpu_s": cpu, "cpu_ratio": cpu / max(ours_t[m][1], 1e-9)})
    return {"device": device, "torch_threads": torch.get_num_threads(), "images": n_images, "ours_encode_runs": encode_runs,
            "machine": platform.processor() or platform.machine(), "rows": rows, "per_model": per_model}


def speed_markdown(res: dict) -> str:
    lines = [f"Device `{res['device']}` ({res['machine']}, torch threads {res['torch_threads']}), "
             f"{res['images']} images at 224 px, random-init weights (same compute as real ones).", "",
             "Wall-clock seconds, and process CPU seconds (all threads; robust to other jobs sharing the machine).", "",
             "| M candidates | ours: 1 CLIP ViT-B/32 forward + regressor + matvec, wall s (CPU s) | "
             "classic: M forwards + LogME, wall s (CPU s) | speed-up wall (CPU) |", "|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['M']} | {r['ours_s']:.2f} ({r['ours_cpu_s']:.2f}) | {r['classic_s']:.2f} "
                     f"({r['classic_cpu_s']:.2f}) | {r['ratio']:.1f}x ({r['cpu_ratio']:.1f}x) |")
    lines += ["", "Per candidate (classic): " + ", ".join(
        f"{r['model']} {r['seconds']:.1f} s ({r['cpu_seconds']:.1f} CPU s)" for r in res["per_model"])]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- quality


def quality(benchmarks: list[str] | None = None) -> dict:
    from scipy.stats import weightedtau

    from fennec_hub.datasets import resolve_dataset
    from fennec_hub.records import BENCHMARKS, benchmark_records

    out = {}
    for b in benchmarks or list(BENCHMARKS):
        df = benchmark_records(b)
        A = df.pivot_table(index="model", columns="dataset", values="value", aggfunc="mean")
        Z = (A - A.mean()) / A.std(ddof=0).replace(0, 1)
        ids = list(Z.columns)
        entries = [resolve_dataset(i) for i in ids]
        X = {"metadata": np.stack([tasks.metadata_embedding(e) for e in entries]),
             "text": features.text_features(entries)}
        eye = np.eye(len(Z))
        taus: dict[str, list[float]] = {k: [] for k in ("global prior", "metadata", "text", "metadata + text")}
        text_w = []
        for t, tid in enumerate(ids):
            train = [j for j in range(len(ids)) if j != t]
            Y = Z.iloc[:, train].fillna(0.0).to_numpy().T  # [T-1, models]
            truth = Z.iloc[:, t]
            seen = truth.notna().to_numpy()
            preds = {"global prior": Y.mean(0)}
            regs = {}
            for k in ("metadata", "text"):
                regs[k] = tasks.ProxyRegressor.fit(X[k][train], Y, name=k, model_vectors=eye,
                                                   standardize=(k == "metadata"))
                preds[k] = regs[k].predict(X[k][t])
            w = tasks.mixing_weights(["metadata", "text"], [regs["metadata"].gain, regs["text"].gain])
            text_w.append(float(w[1]))
            preds["metadata + text"] = w[0] * preds["metadata"] + w[1] * preds["text"]
            for k, p in preds.items():
                taus[k].append(float(weightedtau(truth.to_numpy()[seen], p[seen])[0]))
        out[b] = {"targets": len(ids), "models": len(Z), "mean_text_weight": float(np.mean(text_w)),
                  **{k: float(np.mean(v)) for k, v in taus.items()},
                  "per_target": {tid: {k: taus[k][i] for k in taus} for i, tid in enumerate(ids)}}
        print(f"  {b}: " + ", ".join(f"{k} {out[b][k]:.3f}" for k in taus), flush=True)
    return out


def quality_space(benchmarks: list[str]) -> dict:
    """Product path, leave-one-dataset-out: SPACE's TransferSpace refitted without the held-out
    dataset; the held-out task placed by (a) the space's own cold-start map, (b) the text-proxy
    ridge regressor fitted on the space's historical tasks (``fit_task_proxies``), (c) both mixed by
    ``task_vector_from_proxies``; weighted tau of the induced scores of the benchmark's models."""
    from types import SimpleNamespace

    from scipy.stats import weightedtau

    from fennec_hub.bench import _fit_space, load_inputs, lodo_training_records
    from fennec_hub.datasets import resolve_dataset

    inputs = load_inputs(text=True)
    out: dict = {}
    for b in benchmarks:
        truth_tab = inputs.truth(b)
        rows = {}
        for d in truth_tab.columns:
            truth = truth_tab[d].dropna()
            if len(truth) < 5:
                continue
            t0 = time.perf_counter()
            space = _fit_space(lodo_training_records(inputs.records, d), inputs, inputs.task_features)
            cands = list(truth.index)
            mv = space.model_vectors(cands, model_features=inputs.model_features)
            entry = resolve_dataset(d)
            regs = tasks.fit_task_proxies(space, proxies=("text",))
            holder = SimpleNamespace(space=space, proxies=regs)
            vecs = {"space cold start": tasks._space_task_vector(space, entry)}
            if "text" in regs:
                vecs["text regressor"] = regs["text"].predict(features.text_embedding(entry))
            vecs["mixed"], info = tasks.task_vector_from_proxies(entry, holder, details=True, progress=False)
            y = truth.to_numpy(float)
            rows[d] = {k: float(weightedtau(y, mv @ v)[0]) for k, v in vecs.items()}
            rows[d]["text weight"] = float(dict(zip(info["proxies"], info["weights"])).get("text", 0.0))
            print(f"  {b} {d}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[d].items())
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
        keys = sorted({k for r in rows.values() for k in r})
        out[b] = {"targets": len(rows), **{k: float(np.mean([r[k] for r in rows.values() if k in r])) for k in keys},
                  "per_target": rows}
    return out


def quality_markdown(res: dict) -> str:
    cols = ("global prior", "metadata", "text", "metadata + text")
    lines = ["| benchmark | targets | models | " + " | ".join(cols) + " | mean text weight |",
             "|---|---:|---:|" + "---:|" * (len(cols) + 1)]
    for b, r in res.items():
        lines.append(f"| {b} | {r['targets']} | {r['models']} | " + " | ".join(f"{r[c]:.3f}" for c in cols)
                     + f" | {r['mean_text_weight']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--models", type=int, nargs="+", default=[5, 10, 20])
    sp.add_argument("--images", type=int, default=64)
    sp.add_argument("--device", default="cpu")
    sp.add_argument("--batch", type=int, default=16)
    sp.add_argument("--interleave", type=int, default=5, help="re-time ours after every N candidates")
    sp.add_argument("--json", type=Path)
    qp = sub.add_parser("quality")
    qp.add_argument("--benchmarks", nargs="*")
    qp.add_argument("--json", type=Path)
    qs = sub.add_parser("quality-space")
    qs.add_argument("--benchmarks", nargs="*", default=["transfergraph_hf"])
    qs.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "speed":
        if max(args.models) > len(CANDIDATES):
            ap.error(f"at most {len(CANDIDATES)} candidates")
        res = speed(sorted(args.models), args.images, args.device, args.batch, args.interleave)
        print(speed_markdown(res))
    elif args.cmd == "quality-space":
        res = quality_space(args.benchmarks)
        for b, r in res.items():
            print(b, {k: round(v, 3) for k, v in r.items() if k != "per_target"})
    else:
        res = quality(args.benchmarks)
        print(quality_markdown(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
