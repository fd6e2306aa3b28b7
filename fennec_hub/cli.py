"""The `fennec-hub` command line.

Each sub-command lives in its own pair of functions, `_add_<name>` (arguments) and
`_run_<name>` (work); heavy imports happen inside `_run_<name>`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

EPILOG = """\
examples:
  fennec-hub recommend cifar100                      top-10 checkpoints to fine-tune on CIFAR-100
  fennec-hub recommend food101 --max-params 50M --license apache-2.0 --format csv
  fennec-hub encode google/vit-base-patch16-224      archi2vec vector of an architecture
  fennec-hub bench --out benchmarks/RESULTS.md       ranking quality against the baselines
  fennec-hub crawl --out crawl/ --limit 1000         crawl Hub vision checkpoints (resumable)
  fennec-hub build-zoo --crawl crawl/ --out zoo/     build a zoo from records and a crawl
  fennec-hub push zoo/ my-org/my-zoo                 publish a zoo as a Hub dataset repo
"""


# --- encode -------------------------------------------------------------------------------------

def _add_encode(sub) -> None:
    p = sub.add_parser(
        "encode",
        help="encode an architecture into its archi2vec vector",
        description="Build an architecture on the meta device (no weights, no network) and print its "
        "archi2vec vector. Accepts a transformers config.json path, a shipped Hub model id, or a timm "
        "model name.",
    )
    p.add_argument("model", help="config.json path, Hub model id (e.g. google/vit-base-patch16-224) or timm name")
    p.add_argument("--format", choices=["summary", "json"], default="summary")


def _run_encode(args) -> int:
    import json

    from .archi2vec import archi2vec

    vec = archi2vec(args.model)
    if args.format == "json":
        print(json.dumps([round(float(v), 6) for v in vec]))
    else:
        head = ", ".join(f"{v:.3f}" for v in vec[:8])
        print(f"{args.model}: {vec.shape[0]}-d archi2vec vector [{head}, ...]")
    return 0


# --- registry -----------------------------------------------------------------------------------

COMMANDS: dict[str, tuple[Callable, Callable]] = {
    "encode": (_add_encode, _run_encode),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `fennec-hub` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="fennec-hub",
        description="Which pre-trained vision checkpoint on the Hugging Face Hub should you fine-tune? "
        "fennec-hub ranks a zoo of Hub checkpoints for a dataset in milliseconds, from a learned "
        "transfer space (after the Fennec paper, arXiv 2403.06382).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fennec-hub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fennec-hub` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    _, run = COMMANDS[args.command]
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as exc:  # library errors carry readable messages
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fennec-hub {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
