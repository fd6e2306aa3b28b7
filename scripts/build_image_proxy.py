"""Build the zoo's image-proxy regressor (the Fennec proxy) from real CLIP weights and Hub datasets.

NEEDS THE HUB AND REAL WEIGHTS: it downloads the CLIP checkpoint (safetensors) and one parquet shard
of every historical dataset that has a Hub copy, so it cannot run on a machine without Hub access
(it was not run where fennec_hub was developed; the default zoo therefore ships the metadata and
text proxies only, and ``recommend(..., images=N)`` asks for a zoo built with this script).

For every task the zoo's transfer space knows (``space.known_tasks``) whose registry entry has a
``hub_id``, it streams N class-balanced images (default 100) from ONE parquet shard of the train
split (never the whole dataset), embeds them with the encoder (default CLIP ViT-B/32; the paper
used ViT-L/14: ``--encoder openai/clip-vit-large-patch14``), and keeps the mean of the
L2-normalised embeddings. A ridge regressor from these mean embeddings to the tasks' vectors
(``fennec_hub.tasks.fit_task_proxies``, nested leave-one-task-out quality recorded) is added to the
zoo's ``proxies/`` next to the existing ones, and the zoo is written to ``--out``. Embeddings are
cached in ``--cache`` (safetensors) so an interrupted run resumes.

    python scripts/build_image_proxy.py --out build/zoo-with-images \
        [--zoo DIR_OR_HUB_ID] [--encoder openai/clip-vit-base-patch32] [--images 100] [--token hf_...]

Then ``fennec-hub push`` (or ``Zoo.load(out).push_to_hub(...)``) publishes it; tests cover the same
code path offline with a tiny random CLIP and a loopback Hub (tests/test_tasks.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from safetensors.numpy import load_file, save_file

    from fennec_hub import Zoo, hub, tasks
    from fennec_hub.datasets import resolve_dataset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zoo", help="zoo directory or Hub dataset repo id (default: the embedded default zoo)")
    ap.add_argument("--out", required=True, type=Path, help="where to write the zoo with the image proxy")
    ap.add_argument("--encoder", default=tasks.DEFAULT_IMAGE_ENCODER)
    ap.add_argument("--images", type=int, default=tasks.DEFAULT_IMAGES)
    ap.add_argument("--split", default="train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("build/image_proxy_embeddings.safetensors"))
    ap.add_argument("--token", default=None)
    args = ap.parse_args(argv)

    if args.zoo is None:
        zoo = Zoo.default()
    elif Path(args.zoo).is_dir():
        zoo = Zoo.load(args.zoo)
    else:
        zoo = Zoo.from_hub(args.zoo, token=args.token)
    space = zoo.space
    cache: dict[str, np.ndarray] = {}
    if args.cache.is_file():
        raw = load_file(str(args.cache))
        cache = {k.replace("|", "/"): v for k, v in raw.items()}
    embeddings: dict[str, np.ndarray] = {}
    for task in space.known_tasks:
        try:
            entry = resolve_dataset(task)
        except (KeyError, ValueError):
            continue
        if not entry.hub_id:
            print(f"skip {task}: no Hub copy")
            continue
        if task in cache:
            embeddings[task] = cache[task]
            continue
        try:
            emb = tasks.image_proxy_embedding(entry.hub_id, n=args.images, encoder=args.encoder, split=args.split,
                                              seed=args.seed, token=args.token)
        except (hub.HubError, ValueError) as exc:
            print(f"skip {task} ({entry.hub_id}): {exc}")
            continue
        embeddings[task] = cache[task] = emb
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        save_file({k.replace("/", "|"): v for k, v in cache.items()}, str(args.cache))
        print(f"embedded {task} from {entry.hub_id}")
    regs = tasks.fit_task_proxies(space, proxies=("image",), tasks=list(embeddings), image_embeddings=embeddings,
                                  image_meta={"encoder": args.encoder, "images": args.images, "split": args.split})
    if "image" not in regs:
        print(f"only {len(embeddings)} tasks could be embedded; need at least 3", file=sys.stderr)
        return 1
    reg = regs["image"]
    print(f"image proxy: {len(embeddings)} tasks, alpha {reg.alpha:g}, nested-CV weighted tau {reg.quality:.3f} "
          f"(mean task vector {reg.baseline_quality:.3f})")
    zoo.proxies = {**zoo.proxies, "image": reg}
    zoo.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
