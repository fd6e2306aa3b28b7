"""Hub I/O bounds: time to failure against a Hub that never answers, and cache growth of bounded reads.

    .venv/bin/python benchmarks/bench_hub_io.py [--timeout 1] [--junk-mib 300] [--json out.json]

1. A loopback server accepts TCP connections and never sends a byte (a stalled Hub). With
   FENNEC_HUB_TIMEOUT=--timeout, each call below runs in a fresh interpreter (import included)
   and must fail with fennec_hub.hub.HubTimeout; the wall time to that failure is reported.
2. A LoopHub (tests/loophub.py) serves a small zoo plus a --junk-mib file added to its repo by
   hand, and a plain dataset repo of the same size without zoo.json. Zoo.from_hub is timed on
   both with an empty HF cache, and the cache growth is reported (the junk is never fetched).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from loophub import DEFAULT_TOKEN, LoopHub, StallingServer  # noqa: E402  (stdlib + yaml only)

# Every cache and crawl folder of a run (the child processes' too, through TMPDIR) lives here and
# is removed at exit.
SCRATCH = tempfile.mkdtemp(prefix="bench-hub-io-")
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)

CALLS = {
    "recommend('someuser/some-dataset')": "fennec_hub.recommend('someuser/some-dataset')",
    "recommend('cifar100', zoo='someuser/some-zoo')": "fennec_hub.recommend('cifar100', zoo='someuser/some-zoo')",
    "Zoo.from_hub('someuser/some-zoo')": "fennec_hub.Zoo.from_hub('someuser/some-zoo')",
    "crawl (hub.list_models)": "fennec_hub.crawl(tempfile.mkdtemp(), limit=3, progress=False)",
    "datasets.resolve_hub_dataset('someuser/some-dataset')":
        "from fennec_hub import datasets; datasets.resolve_hub_dataset('someuser/some-dataset')",
    "hub.model_info('someuser/some-model')": "fennec_hub.hub.model_info('someuser/some-model')",
    "hub.download('someuser/some-model', 'config.json')":
        "fennec_hub.hub.download('someuser/some-model', 'config.json')",
}


def time_to_failure(timeout: float, limit: float) -> dict[str, dict]:
    server = StallingServer()
    url = server.url
    out = {}
    try:
        for label, stmt in CALLS.items():
            code = ("import sys, tempfile, time; import fennec_hub, fennec_hub.hub, huggingface_hub.hf_api\n"
                    "t = time.perf_counter()\n"
                    f"try:\n    {stmt}\n    print('NO ERROR')\n"
                    "except BaseException as e:\n"
                    "    c = e if isinstance(e, fennec_hub.hub.HubTimeout) else (e.__cause__ or e)\n"
                    "    print(f'{time.perf_counter() - t:.3f}', type(c).__name__, str(c)[:160])\n")
            env = {**os.environ, "HF_ENDPOINT": url, "FENNEC_HUB_TIMEOUT": str(timeout),
                   "HF_HOME": tempfile.mkdtemp(dir=SCRATCH), "TMPDIR": SCRATCH, "HF_HUB_DISABLE_XET": "1"}
            env.pop("HF_HUB_OFFLINE", None)
            t = time.perf_counter()
            try:
                run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                     cwd=ROOT, timeout=limit)
                line = (run.stdout.strip().splitlines() or [run.stderr.strip()[-200:]])[-1]
            except subprocess.TimeoutExpired:
                line = f"still blocked after {limit:.0f} s"
            wall = time.perf_counter() - t
            parts = line.split(" ", 2)
            call_s = float(parts[0]) if parts[0].replace(".", "", 1).isdigit() else None
            out[label] = {"call_s": call_s, "process_s": round(wall, 3),
                          "error": parts[1] if call_s is not None else line, "message": parts[2] if len(parts) > 2 else ""}
            print(f"{label:55s} call {call_s if call_s is not None else '-':>7} s  process {wall:6.2f} s  "
                  f"{out[label]['error']}")
    finally:
        server.close()
    return out


def cache_growth(junk_mib: int) -> dict[str, dict]:
    hub_srv = LoopHub().start()
    home = tempfile.mkdtemp(prefix="cache-", dir=SCRATCH)
    script = f"""
import json, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from test_zoo import make_small_zoo
from fennec_hub import Zoo
def size():
    return sum(p.stat().st_size for p in Path({home!r}).rglob('*') if p.is_file() and not p.is_symlink())
zoo = make_small_zoo()
zoo.push_to_hub("bench/zoo", token={DEFAULT_TOKEN!r})
print("PUSHED", flush=True)
input()
out = {{}}
for repo in ("bench/zoo", "bench/not-a-zoo"):
    before, t = size(), time.perf_counter()
    try:
        Zoo.from_hub(repo)
        result = "loaded"
    except Exception as e:
        result = type(e).__name__
    out[repo] = {{"seconds": round(time.perf_counter() - t, 3), "cache_growth_bytes": size() - before,
                 "result": result}}
print(json.dumps(out))
"""
    env = {**os.environ, "HF_ENDPOINT": hub_srv.url, "HF_HOME": home, "HF_HUB_DISABLE_XET": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "PUSHED"
        junk = b"\0" * (junk_mib << 20)
        hub_srv.commit_files("dataset", "bench/zoo", {"junk/big.bin": junk})
        hub_srv.add_repo("dataset", "bench/not-a-zoo", {"README.md": "# data\n", "data/train.parquet": junk})
        out, _ = proc.communicate("\n", timeout=600)
    finally:
        proc.kill()
        hub_srv.stop()
    result = json.loads(out.strip().splitlines()[-1])
    for repo, r in result.items():
        print(f"Zoo.from_hub({repo!r}) with {junk_mib} MiB unlisted: {r['result']} in {r['seconds']} s, "
              f"HF cache grew {r['cache_growth_bytes'] / 2**20:.2f} MiB")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=1.0, help="FENNEC_HUB_TIMEOUT for the stalled-Hub calls")
    p.add_argument("--limit", type=float, default=120.0, help="give up on a call after this many seconds")
    p.add_argument("--junk-mib", type=int, default=300)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    figures = {"timeout_s": args.timeout, "time_to_failure": time_to_failure(args.timeout, args.limit),
               "junk_mib": args.junk_mib, "cache_growth": cache_growth(args.junk_mib)}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
