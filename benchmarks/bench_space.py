"""Speed of the transfer space: fit on all shared records, and ranking 100,000 models for one task.

Goals: fit < 60 s; scoring 100,000 models for one task < 50 ms (one matrix-vector
product over stored model vectors, plus building the task vector).

    python benchmarks/bench_space.py [--models 100000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    from fennec_hub.datasets import list_datasets
    from fennec_hub.features import model_features, task_features
    from fennec_hub.records import load_records
    from fennec_hub.space import TransferSpace

    t0 = time.perf_counter()
    records = load_records()
    mf = model_features(sorted(records["model"].unique()), compute=False)
    tf = task_features(sorted({e.id for e in list_datasets()} | set(records["dataset"])), text=None)
    t_inputs = time.perf_counter() - t0

    fits = []
    for _ in range(3):
        t0 = time.perf_counter()
        space = TransferSpace.fit(records, model_features=mf, task_features=tf)
        fits.append(time.perf_counter() - t0)
    print(f"inputs (records + features): {t_inputs:.2f} s")
    print(f"fit on {len(records)} records ({space!r}): median {np.median(fits):.2f} s, "
          f"min {min(fits):.2f} s over {len(fits)} fits  [goal < 60 s]")

    rng = np.random.default_rng(0)
    zoo = rng.normal(size=(args.models, space.dim)).astype(np.float32)
    for task in ("uoft-cs/cifar100", "beans"):
        tv_times, mv_times = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            tv = space.task_vector(task).astype(np.float32)
            t1 = time.perf_counter()
            scores = zoo @ tv
            top = np.argpartition(-scores, 10)[:10]
            t2 = time.perf_counter()
            tv_times.append(t1 - t0)
            mv_times.append(t2 - t1)
        assert scores.shape == (args.models,) and len(top) == 10
        total = np.array(tv_times) + np.array(mv_times)
        print(f"score {args.models} models (dim {space.dim}, float32) for {task!r}: median total "
              f"{1e3 * np.median(total):.2f} ms (task vector {1e3 * np.median(tv_times):.2f} ms, "
              f"matvec + top-10 {1e3 * np.median(mv_times):.2f} ms)  [goal < 50 ms]")


if __name__ == "__main__":
    main()
