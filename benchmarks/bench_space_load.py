"""The Space under load: many concurrent visitors calling its `/rank` endpoint.

Starts `spaces_app/app.py` in its own process on 127.0.0.1 (offline, embedded default zoo),
opens N `gradio_client` clients, then has all of them call `/rank` at the same moment (one call
each per round) and records each call's wall time. Every answer is checked against
`fennec_hub.recommend()` for the same inputs: a fast wrong answer does not count.

    python benchmarks/bench_space_load.py [--clients 50] [--rounds 3] [--single 10]

Goal: p95 < 2 s with 50 concurrent clients on a 2-core machine. Clients and server share the
machine, as they would in any single-machine measurement; the clients do not download files
(`download_files=False`), so a call costs what the server computes and sends.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from spacetools import free_port, model_of_cell  # noqa: E402  (stdlib only)

# (dataset, top_k, max_params, protocol): registry datasets, several sizes and filters.
JOBS = [
    ("cifar100", 10, "any", "any"), ("food101", 5, "50M", "any"), ("dtd", 20, "any", "any"),
    ("eurosat", 8, "100M", "any"), ("pets", 10, "any", "vtab1k_hf"), ("flowers", 3, "any", "any"),
    ("svhn", 15, "25M", "any"), ("caltech101", 10, "any", "transfergraph_hf"), ("cifar10", 7, "any", "any"),
    ("resisc45", 12, "300M", "any"),
]


def start_app(port: int, log_path: Path) -> subprocess.Popen:
    """The Space as a visitor meets it: its own process, the default zoo, no Hub."""
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "FENNEC_DATASET_PICKER": "textbox",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "spaces_app" / "app.py")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"the app did not answer on {url} within 120 s; see {log_path}")


def make_client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False, ssl_verify=False)


def call(client, job) -> tuple[float, tuple]:
    dataset, k, max_params, protocol = job
    t0 = time.perf_counter()
    out = client.predict(dataset=dataset, top_k=k, max_params=max_params, licenses=[], library="any",
                         zoo_repo="", protocol=protocol, api_name="/rank")
    return time.perf_counter() - t0, out


def check(job, out) -> str | None:
    """None when the answer's table equals recommend() for the job, else what differs."""
    import fennec_hub

    dataset, k, max_params, protocol = job
    expected = fennec_hub.recommend(dataset, top_k=k, max_params=None if max_params == "any" else max_params,
                                    protocol=None if protocol == "any" else protocol)
    table = out[0]
    rows = table["data"] if isinstance(table, dict) else table
    got = [(int(r[0]), model_of_cell(str(r[1])), round(float(r[2]), 1)) for r in rows]
    want = [(int(r.rank), str(r.model_id), round(float(r.score), 1)) for r in expected.itertuples(index=False)]
    if got != want:
        return f"{job}: table differs from recommend() (first rows {got[:2]} vs {want[:2]})"
    message = str(out[-1])
    if str(expected.attrs["dataset_name"]) not in message:
        return f"{job}: message does not name the dataset: {message[:120]!r}"
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3, help="concurrent rounds (one call per client each)")
    p.add_argument("--single", type=int, default=10, help="sequential calls by one client, for reference")
    p.add_argument("--distinct", action="store_true",
                   help="give every call its own query (a unique size limit above any checkpoint's), so no "
                        "call reuses another's ranking; default: the 10 queries of JOBS in turn")
    args = p.parse_args()

    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="fennec-space-bench-")) / "app.log"
    t0 = time.perf_counter()
    proc = start_app(port, log_path)
    url = f"http://127.0.0.1:{port}/"
    print(f"app up in {time.perf_counter() - t0:.1f} s at {url} (log {log_path}); {os.cpu_count()} CPUs")
    try:
        solo = make_client(url)
        call(solo, JOBS[0])  # warm-up
        single = []
        for i in range(args.single):
            job = JOBS[i % len(JOBS)]
            dt, out = call(solo, job)
            problem = check(job, out)
            if problem:
                raise SystemExit(f"wrong answer: {problem}")
            single.append(dt)

        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            clients = list(pool.map(lambda _: make_client(url), range(args.clients)))
        latencies, problems = [], []
        server_cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        for r in range(args.rounds):
            barrier = threading.Barrier(args.clients)
            jobs = [JOBS[(i + r) % len(JOBS)] for i in range(args.clients)]
            if args.distinct:
                jobs = [(d, k, str(10**10 + r * args.clients + i), proto) for i, (d, k, _, proto) in enumerate(jobs)]

            def visitor(i: int):
                barrier.wait()
                return call(clients[i], jobs[i])

            t_round = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(visitor, range(args.clients)))
            wall = time.perf_counter() - t_round
            for job, (dt, out) in zip(jobs, results):
                latencies.append(dt)
                problem = check(job, out)
                if problem:
                    problems.append(problem)
            print(f"round {r + 1}: {args.clients} concurrent calls done in {wall:.2f} s")
        server_cpu = cpu_seconds(proc.pid) - server_cpu0
        busy = time.perf_counter() - wall0
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(f"single client, {len(single)} sequential calls: median {statistics.median(single):.3f} s, "
          f"max {max(single):.3f} s")
    print(f"queries: {'every call its own' if args.distinct else f'{len(JOBS)} in turn'}; "
          f"FENNEC_SPACE_CONCURRENCY={os.environ.get('FENNEC_SPACE_CONCURRENCY', '(default)')}, "
          f"FENNEC_SPACE_RANK_CACHE={os.environ.get('FENNEC_SPACE_RANK_CACHE', '(default)')}")
    print(f"{args.clients} concurrent clients x {args.rounds} rounds = {len(latencies)} calls: "
          f"p50 {pct(latencies, 50):.2f} s, p95 {pct(latencies, 95):.2f} s, max {max(latencies):.2f} s  "
          f"[goal p95 < 2 s]")
    print(f"server process CPU during the concurrent rounds: {server_cpu:.1f} s in {busy:.1f} s wall "
          f"({1e3 * server_cpu / len(latencies):.0f} ms per call)")
    print(f"answers equal to fennec_hub.recommend(): {len(latencies) - len(problems)}/{len(latencies)}")
    for problem in problems[:10]:
        print("  WRONG:", problem)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
