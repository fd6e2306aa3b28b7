"""Speed of recommend(): cold start in a fresh process, warm calls, and a 100,000-model zoo.

    python benchmarks/bench_recommend.py [--zoo DIR] [--runs 5]

Goals: `import fennec_hub` + the first recommend() under 1.5 s in a fresh process;
further calls under 20 ms; ranking 100,000 models under 50 ms. Everything runs offline
(HF_HUB_OFFLINE=1) on the embedded default zoo unless --zoo names another zoo directory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = ("cifar100", "food101", "dtd", "eurosat")


def fresh_process(zoo: str | None, runs: int) -> dict[str, list[float]]:
    """Wall time of `import fennec_hub` and of import + first recommend(), each in a new interpreter."""
    zoo_arg = "None" if zoo is None else f"Zoo.load({zoo!r})"
    code = (
        "import time; t0 = time.perf_counter(); import fennec_hub; t1 = time.perf_counter(); "
        "from fennec_hub import Zoo; "
        f"df = fennec_hub.recommend('cifar100', zoo={zoo_arg}); t2 = time.perf_counter(); "
        "assert len(df) == 10; print(t1 - t0, t2 - t0)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    imports, firsts, walls, cpus = [], [], [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        a, b = map(float, out.stdout.split()[-2:])
        imports.append(a)
        firsts.append(b)
    return {"import_s": imports, "import_plus_first_recommend_s": firsts, "process_wall_s": walls,
            "process_cpu_s": cpus}


def warm_calls(zoo, n: int = 200) -> tuple[list[float], list[float]]:
    """Milliseconds (wall, CPU) per recommend() once the zoo is loaded (cycling over four datasets)."""
    from fennec_hub import recommend

    for d in DATASETS:
        recommend(d, zoo=zoo)
    times, cpu = [], []
    for i in range(n):
        t, c = time.perf_counter(), time.process_time()
        recommend(DATASETS[i % len(DATASETS)], zoo=zoo)
        times.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return times, cpu


def big_zoo(base, n: int = 100_000, seed: int = 0):
    """A synthetic zoo of `n` models in `base`'s transfer space (random vectors, real tasks)."""
    import numpy as np
    import pandas as pd

    from fennec_hub.zoo import Zoo

    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(base), size=n)
    mv = base.model_vectors[rows] + rng.normal(0, 0.05, size=(n, base.dim)).astype(np.float32)
    src = base.models.iloc[rows].reset_index(drop=True)
    models = pd.DataFrame({
        "model_id": [f"synthetic/model-{i:06d}" for i in range(n)],
        "library": src["library"], "license": src["license"], "params": src["params"],
        "family": src["family"], "vector_source": "cold_start",
    })
    return Zoo(models, mv, base.tasks, base.task_vectors, space=None, info={"name": "synthetic"})


def rank_big(zoo, n_calls: int = 50) -> dict[str, list[float]]:
    import numpy as np

    from fennec_hub import recommend

    recommend("cifar100", zoo=zoo)  # caches the task vector and the column arrays
    full, full_cpu, matvec = [], [], []
    tv = zoo.task_vector("uoft-cs/cifar100")
    for i in range(n_calls):
        d = DATASETS[i % len(DATASETS)]
        t, c = time.perf_counter(), time.process_time()
        recommend(d, zoo=zoo)
        full.append((time.perf_counter() - t) * 1e3)
        full_cpu.append((time.process_time() - c) * 1e3)
        t = time.perf_counter()
        s = zoo.model_vectors @ tv
        top = np.argpartition(-s, 10)[:10]
        top[np.argsort(-s[top])]
        matvec.append((time.perf_counter() - t) * 1e3)
    return {"recommend_ms": full, "recommend_cpu_ms": full_cpu, "matvec_top10_ms": matvec}


def summary(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return f"median {statistics.median(xs):.3f}, min {xs[0]:.3f}, p95 {p95:.3f} (n={len(xs)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zoo", help="a zoo directory (default: the embedded default zoo)")
    p.add_argument("--runs", type=int, default=5, help="fresh-process repetitions")
    p.add_argument("--json", action="store_true", help="print raw numbers as JSON too")
    args = p.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"

    cold = fresh_process(args.zoo, args.runs)
    from fennec_hub.zoo import Zoo

    zoo = Zoo.load(args.zoo) if args.zoo else Zoo.default()
    warm, warm_cpu = warm_calls(zoo)
    big = big_zoo(zoo)
    big_t = rank_big(big)

    print(f"zoo: {zoo} ({sys.platform}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f})")
    print("wall-clock figures depend on how busy the machine is; CPU time is what the process itself used")
    print(f"fresh process, import fennec_hub               wall [s]: {summary(cold['import_s'])}")
    print(f"fresh process, import + first recommend        wall [s]: {summary(cold['import_plus_first_recommend_s'])}"
          "   goal < 1.5")
    print(f"fresh process (interpreter start included)      CPU [s]: {summary(cold['process_cpu_s'])}")
    print(f"warm recommend (top-10 of {len(zoo)} models)      wall [ms]: {summary(warm)}   goal < 20")
    print(f"warm recommend                                  CPU [ms]: {summary(warm_cpu)}")
    print(f"recommend over 100,000 models (top-10)        wall [ms]: {summary(big_t['recommend_ms'])}   goal < 50")
    print(f"recommend over 100,000 models                  CPU [ms]: {summary(big_t['recommend_cpu_ms'])}")
    print(f"  of which matvec + top-10 selection          wall [ms]: {summary(big_t['matvec_top10_ms'])}")
    if args.json:
        print(json.dumps({"fresh": cold, "warm_ms": warm, "warm_cpu_ms": warm_cpu, "big": big_t}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
