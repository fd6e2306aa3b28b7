"""The `fennec-hub` command line.

Each sub-command lives in its own pair of functions, `_add_<name>` (arguments) and
`_run_<name>` (work); heavy imports happen inside `_run_<name>`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable, Sequence

EPILOG = """\
examples:
  fennec-hub recommend cifar100                       top-10 checkpoints to fine-tune on CIFAR-100
  fennec-hub recommend food101 --max-params 50M --license apache-2.0 --format csv
  fennec-hub recommend dtd --max-per-family 1         at most one checkpoint per architecture family
  fennec-hub recommend eurosat --protocol vtab1k_hf   rank for fine-tuning on 1,000 examples
  fennec-hub encode google/vit-base-patch16-224       archi2vec vector of an architecture
  fennec-hub bench --out benchmarks/RESULTS.md        ranking quality against the baselines
  fennec-hub crawl --out crawl/ --limit 1000          crawl Hub vision checkpoints (resumable)
  fennec-hub build-zoo --crawl crawl/ --out zoo/      build a zoo from records and a crawl
  fennec-hub push zoo/ my-org/my-zoo                  publish a zoo as a Hub dataset repo

Long commands (crawl, build-zoo, bench, encode) show progress on stderr when it is a terminal;
--progress / --no-progress force it on or off. `fennec-hub COMMAND --help` has more examples.
"""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; keeps the examples epilog line by line, as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _sub_parser(sub, name: str, *, help: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A sub-command parser whose --help ends with worked examples."""
    return sub.add_parser(name, help=help, description=description, epilog="examples:\n" + examples,
                          formatter_class=_HelpFormatter)


def _add_progress(p: argparse.ArgumentParser) -> None:
    """The one progress switch of every long command."""
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress on stderr (default: only when stderr is a terminal)")


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _status(args: argparse.Namespace):
    """print() to stderr when progress is on, else nothing."""
    if _progress(args):
        return lambda *a, **k: print(*a, **{**k, "file": sys.stderr})
    return lambda *a, **k: None


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _params_arg(text: str) -> str:
    from .ranking import parse_params

    try:
        parse_params(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# --- encode -------------------------------------------------------------------------------------

def _add_encode(sub) -> None:
    p = _sub_parser(
        sub, "encode",
        help="encode an architecture into its archi2vec vector",
        description="Build an architecture on the meta device (no weights, no network) and print its "
        "archi2vec vector. Accepts a transformers config.json path, a shipped Hub model id, or a timm "
        "model name.",
        examples="""\
  fennec-hub encode google/vit-base-patch16-224          a transformers checkpoint (shipped config)
  fennec-hub encode resnet50 --library timm              a timm architecture name
  fennec-hub encode ./my-model/config.json --format json the vector as JSON, for scripts
  fennec-hub encode pytorchcv/resnet18                   a benchmark model that is not on the Hub
""",
    )
    p.add_argument("model", help="config.json path, Hub model id (e.g. google/vit-base-patch16-224), timm name, "
                   "or a benchmark id (keras/resnet50, pytorchcv/resnet18, vtab/Sup-100%%)")
    p.add_argument("--library", choices=["transformers", "timm", "pytorchcv"], default=None,
                   help="force how a bare name is read (default: guess)")
    p.add_argument("--format", choices=["summary", "json"], default="summary",
                   help="summary: one line about the network and the vector's first values; json: the vector")
    _add_progress(p)


def _run_encode(args) -> int:
    import json

    from .architecture import describe_architecture

    _status(args)(f"encoding {args.model} on the meta device (no weights are downloaded)...")
    info = describe_architecture(args.model, library=args.library)
    vec = info.vector
    if args.format == "json":
        print(json.dumps([round(float(v), 6) for v in vec]))
    else:
        head = ", ".join(f"{v:.3f}" for v in vec[:8])
        print(f"{args.model}: {info.library} {info.family}, {info.params / 1e6:.2f}M params, "
              f"{info.num_modules} modules, input {info.input_size}px" + (f" ({info.note})" if info.note else ""))
        print(f"{vec.shape[0]}-d archi2vec vector [{head}, ...]")
    return 0


# --- recommend (ZOO) ----------------------------------------------------------------------------

def _add_recommend(sub) -> None:
    from .records import BENCHMARKS  # light: already imported by the package

    p = _sub_parser(
        sub, "recommend",
        help="rank Hub checkpoints to fine-tune on a dataset",
        description="Rank the zoo's checkpoints for fine-tuning on DATASET (an alias such as cifar100, a "
        "Hub dataset id, or a registered name). Uses the zoo embedded in the package unless --zoo "
        "names a Hub dataset repo or a local zoo directory; needs no network by default. csv and json "
        "add a Hub link (url), the name timm.create_model takes (timm_name) and whether a checkpoint is "
        "already fine-tuned on DATASET (fine_tuned_on_query).",
        examples="""\
  fennec-hub recommend cifar100                          the 10 best checkpoints for CIFAR-100
  fennec-hub recommend food101 --max-params 50M --license apache-2.0,mit
  fennec-hub recommend dtd --library timm --max-per-family 1   one timm model per architecture family
  fennec-hub recommend eurosat --protocol vtab1k_hf      rank for fine-tuning on 1,000 examples
  fennec-hub recommend uoft-cs/cifar100 --format csv --top-k 50 > ranking.csv
  fennec-hub recommend cifar100 --zoo my-org/my-zoo --revision v1   a zoo published on the Hub
""",
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset alias, Hub dataset id or registered name")
    p.add_argument("--top-k", type=_positive_int, default=10, metavar="N", help="how many models to list (default 10)")
    p.add_argument("--max-params", type=_params_arg, metavar="N",
                   help="only models with at most N parameters, e.g. 50M, 1.5B, 800k or 25000000")
    p.add_argument("--license", action="append", metavar="ID",
                   help="only these licenses (repeat or comma-separate), e.g. apache-2.0; an id that no model of "
                   "the zoo has is refused with the list of the zoo's licenses")
    p.add_argument("--library", action="append", metavar="LIB",
                   help="only this library: timm or transformers (repeat or comma-separate)")
    p.add_argument("--zoo", metavar="REPO", help="a zoo dataset repo on the Hub, or a local zoo directory")
    p.add_argument("--revision", help="with --zoo REPO: the branch, tag or commit to read")
    p.add_argument("--token", help="Hub token for a private zoo or dataset (default: your HF login)")
    p.add_argument("--max-per-family", type=_positive_int, metavar="N",
                   help="at most N models of one architecture family (e.g. 1: one per family)")
    p.add_argument("--protocol", metavar="NAME", choices=list(BENCHMARKS),
                   help="rank as under one fine-tuning protocol of the records: transfergraph_hf (full "
                   "fine-tuning, 30 epochs), vtab1k_hf (1,000 training examples), keras, parc, fennec; "
                   "default: a dataset with records follows its full-data fine-tuning records, one "
                   "without is placed under every fine-tuning protocol, and records count only as far "
                   "as a standing carries from one protocol to another (about half); named, in full")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="table (default): for reading; csv / json: every column, for scripts")


def _filter_values(values: list[str] | None) -> list[str] | None:
    """Repeated / comma-separated option values; an option given empty stays an (empty) filter."""
    if values is None:
        return None
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def _run_recommend(args) -> int:
    import json
    from pathlib import Path

    from .ranking import format_table, recommend
    from .zoo import Zoo

    licenses, library = _filter_values(args.license), _filter_values(args.library)
    for flag, values in (("--license", licenses), ("--library", library)):
        if values == []:
            raise ValueError(f"{flag} was given without a value; name at least one, e.g. "
                             f"{'--license apache-2.0' if flag == '--license' else '--library timm'}")
    zoo = None
    if args.zoo:
        if Path(args.zoo).is_dir():
            zoo = Zoo.load(args.zoo)
        else:
            zoo = Zoo.from_hub(args.zoo, revision=args.revision, token=args.token)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = recommend(args.dataset, top_k=args.top_k, zoo=zoo, max_params=args.max_params, licenses=licenses,
                       library=library, token=args.token, max_per_family=args.max_per_family,
                       protocol=args.protocol)
    for w in caught:
        print(f"fennec-hub recommend: warning: {w.message}", file=sys.stderr)
    if args.format == "table":
        text = format_table(df)
    elif args.format == "csv":
        text = df.to_csv(index=False).rstrip("\n")
    else:
        meta = {k: v for k, v in df.attrs.items()}
        rows = json.loads(df.to_json(orient="records"))
        text = json.dumps({**meta, "results": rows}, indent=1, default=str)
    print(text)
    return 0


# --- build-zoo (ZOO) ----------------------------------------------------------------------------

def _add_build_zoo(sub) -> None:
    p = _sub_parser(
        sub, "build-zoo",
        help="build the default zoo (or a custom one from your checkpoints)",
        description="Without --models: rebuild the default zoo from the bundled records, timm's "
        "catalogue and the shipped transformers configs (deterministic; several CPU minutes). With "
        "--models: encode your own checkpoints (Hub ids, private repos with --token, config.json "
        "paths) into a custom zoo placed in the default zoo's transfer space.",
        examples="""\
  fennec-hub build-zoo --out my-zoo/                     rebuild the default zoo into my-zoo/
  fennec-hub build-zoo --crawl crawl/ --out my-zoo/      ... plus the checkpoints of a crawl
  fennec-hub build-zoo --limit 50 --out /tmp/zoo --no-progress   a quick, quiet check
  fennec-hub build-zoo --models my-org/private-vit ./config.json --out my-zoo/ --token hf_...
  fennec-hub build-zoo --models models.txt --out my-zoo/   one model id or config path per line
""",
    )
    p.add_argument("--out", help="output directory (default: the package's embedded zoo for the default build)")
    p.add_argument("--models", nargs="+", metavar="ID_OR_FILE",
                   help="model ids / config.json paths, or a text file with one per line")
    p.add_argument("--limit", type=int, help="default build only: keep the first N timm checkpoints (quick check)")
    p.add_argument("--crawl", metavar="DIR", help="default build only: add a `fennec-hub crawl` directory's "
                   "encoded models as candidates and its model-card records to the fit")
    p.add_argument("--token", help="Hub token for private checkpoints")
    _add_progress(p)
    p.add_argument("--quiet", dest="progress", action="store_false", default=None,
                   help=argparse.SUPPRESS)  # older spelling of --no-progress


def _run_build_zoo(args) -> int:
    from pathlib import Path

    from .build import build_default_zoo
    from .zoo import DEFAULT_ZOO_DIR, Zoo

    if not args.models:
        zoo = build_default_zoo(Path(args.out) if args.out else DEFAULT_ZOO_DIR, limit=args.limit,
                                progress=_progress(args), log=_status(args), crawl=args.crawl)
        print(f"{zoo}: {len(zoo.models)} models, {len(zoo.tasks)} tasks -> {args.out or DEFAULT_ZOO_DIR}")
        return 0
    if not args.out:
        raise ValueError("--out is required with --models")
    models: list[str] = []
    for m in args.models:
        p = Path(m)
        if p.is_file() and p.suffix in (".txt", ".lst", ""):
            models += [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        else:
            models.append(m)
    zoo = Zoo.build(models, token=args.token)
    zoo.save(args.out)
    print(f"{zoo}: {len(zoo.models)} models -> {args.out}")
    return 0


# --- push (ZOO) ---------------------------------------------------------------------------------

def _add_push(sub) -> None:
    p = _sub_parser(
        sub, "push",
        help="publish a zoo directory as a Hub dataset repo (one commit)",
        description="Upload a zoo directory (written by build-zoo or Zoo.save) to a Hub dataset repo in one "
        "atomic commit, creating the repo if needed; the repo then holds exactly this zoo (files of an "
        "earlier zoo are deleted in the same commit). Prints the commit URL (or the pull request's).",
        examples="""\
  fennec-hub push my-zoo/ my-org/my-zoo                  publish (or update) a zoo
  fennec-hub push my-zoo/ my-org/my-zoo --private --message "zoo of 2026-11"
  fennec-hub push my-zoo/ my-org/my-zoo --create-pr      propose the update as a pull request
  fennec-hub push default my-org/fennec-default-zoo      the zoo embedded in the package
""",
    )
    p.add_argument("zoo_dir", metavar="ZOO_DIR", help="zoo directory (use 'default' for the embedded zoo)")
    p.add_argument("repo_id", metavar="REPO_ID", help="target dataset repo, e.g. my-org/my-zoo")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--token", help="Hub token with write access (default: your HF login)")
    p.add_argument("--revision", help="branch to push to (created if needed; default: main)")
    p.add_argument("--create-pr", action="store_true", help="open a pull request against main instead of committing")
    p.add_argument("--commit-message", "--message", dest="message", help="commit message")


def _run_push(args) -> int:
    from .zoo import Zoo

    zoo = Zoo.default() if args.zoo_dir == "default" else Zoo.load(args.zoo_dir)
    info = zoo.push_to_hub(args.repo_id, private=True if args.private else None, token=args.token,
                           revision=args.revision, create_pr=args.create_pr, commit_message=args.message)
    print(getattr(info, "pr_url", None) or str(info))
    return 0


# --- crawl --------------------------------------------------------------------------------------

def _add_crawl(sub) -> None:
    p = _sub_parser(
        sub, "crawl",
        help="crawl Hub vision checkpoints into model rows and fine-tuning records (resumable)",
        description="List image-classification checkpoints and vision backbones on the Hub, encode "
        "each config with archi2vec (never running Hub code) and mine fine-tuning results from the "
        "model cards, attributed to the base checkpoint. Writes models.jsonl, records.jsonl and an "
        "atomic state.json checkpoint to --out: a killed crawl resumes exactly where it stopped, and "
        "a later run only re-reads repos whose commit changed.",
        examples="""\
  fennec-hub crawl --out crawl/ --limit 1000             the 1,000 most downloaded vision checkpoints
  fennec-hub crawl --out crawl/                          run again: resumes, then refreshes changed repos
  fennec-hub crawl --out crawl/ --library timm --since 2025-01-01 --no-progress
""",
    )
    p.add_argument("--out", required=True, help="output directory (created; resumed if it holds a crawl)")
    p.add_argument("--limit", type=int, help="crawl at most N listed models")
    p.add_argument("--library", help="comma-separated libraries to list, e.g. timm,transformers (default: all)")
    p.add_argument("--pipeline-tag", default="image-classification,image-feature-extraction",
                   help="comma-separated pipeline tags to list (default: %(default)s)")
    p.add_argument("--sort", default="downloads", help="listing order (default: %(default)s)")
    p.add_argument("--since", help="only repos modified on or after this ISO date (e.g. 2024-01-01)")
    p.add_argument("--token", help="Hub token for gated/private repos (default: your Hub login)")
    p.add_argument("--endpoint", help="Hub endpoint URL (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--workers", type=int, default=8, help="concurrent downloads (default: %(default)s)")
    p.add_argument("--checkpoint-every", type=int, default=25, help="rows between checkpoints (default: %(default)s)")
    _add_progress(p)


def _run_crawl(args) -> int:
    from .crawler import crawl

    summary = crawl(
        args.out, limit=args.limit, libraries=args.library, pipeline_tags=args.pipeline_tag, sort=args.sort,
        since=args.since, token=args.token, endpoint=args.endpoint, workers=args.workers,
        checkpoint_every=args.checkpoint_every, progress=_progress(args),
    )
    print(summary)
    return 1 if summary.errors else 0


# --- bench --------------------------------------------------------------------------------------

def _add_bench(sub) -> None:
    p = _sub_parser(
        sub, "bench",
        help="measure ranking quality against the baselines (held-out datasets, models and banks)",
        description="Evaluate the transfer space and every baseline on the bundled public ground truth: "
        "leave-one-dataset-out (cold-start tasks), 5-fold leave-models-out (cold-start models, scored alone "
        "and ranked among the recorded models) and leave-one-bank-out (every model of a record bank held out "
        "and ranked from its catalogue metadata and architecture twins, as most checkpoints of a zoo are, "
        "against ImageNet top-1 and parameter count on the same models, and placed in the embedded zoo); "
        "writes a markdown report and, optionally, a JSON file of every figure.",
        examples="""\
  fennec-hub bench --out benchmarks/RESULTS.md           every benchmark, every protocol (CPU minutes)
  fennec-hub bench --protocol lobo                       the cold-start situation of the zoo only
  fennec-hub bench --benchmarks parc keras --protocol lodo   two benchmarks, held-out datasets only
  fennec-hub bench --no-text --json figures.json         metadata-only task features; every figure as JSON
""",
    )
    p.add_argument("--benchmarks", nargs="+", default=None, metavar="NAME",
                   help="transfergraph_hf vtab1k_hf parc keras fennec (default: all five)")
    p.add_argument("--protocol", choices=["lodo", "lomo", "lobo", "all"], default="all",
                   help="lodo: leave-one-dataset-out; lomo: leave-models-out (with the mixed ranking); lobo: "
                        "leave-one-bank-out (cold start as in the zoo); all (default)")
    p.add_argument("--out", default=None, help="markdown report path (e.g. benchmarks/RESULTS.md)")
    p.add_argument("--json", default=None, dest="json_path", help="JSON path for every figure")
    p.add_argument("--no-text", action="store_true", help="task features from registry metadata only")
    _add_progress(p)


def _run_bench(args) -> int:
    import shlex

    from . import bench, report

    benchmarks = tuple(args.benchmarks or bench.DEFAULT_BENCHMARKS)
    unknown = [b for b in benchmarks if b not in bench.DEFAULT_BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {list(bench.DEFAULT_BENCHMARKS)}")
    command = "fennec-hub bench"
    if args.benchmarks:
        command += " --benchmarks " + " ".join(shlex.quote(b) for b in args.benchmarks)
    command += f" --protocol {args.protocol}" + (" --no-text" if args.no_text else "")
    if args.out:
        command += f" --out {shlex.quote(args.out)}"
    if args.json_path:
        command += f" --json {shlex.quote(args.json_path)}"
    inputs = bench.load_inputs(text=not args.no_text)
    result = bench.run(benchmarks, args.protocol, inputs=inputs, progress=_progress(args))
    md = report.write_outputs(result, args.out, args.json_path, command, benchmarks)
    if not args.out:
        print(md)
    else:
        print(report.headline(result, benchmarks))
        print(f"report written to {args.out}")
    return 0


# --- deploy-space -------------------------------------------------------------------------------

def _add_deploy_space(sub) -> None:
    p = _sub_parser(
        sub, "deploy-space",
        help="deploy the Gradio Space (with the package and its default zoo) to a Hub Space repo",
        description="Assemble the Space (spaces_app/ plus a copy of the fennec_hub package with its embedded "
        "default zoo, so the Space installs without fennec_hub on the package index and without torch) and "
        "upload it in one commit to the Space repo REPO_ID, creating it (Gradio SDK) if needed.",
        examples="""\
  fennec-hub deploy-space my-org/fennec-hub              build the Space and upload it
  fennec-hub deploy-space my-org/fennec-hub --out space/  only assemble the folder, to look at it
""",
    )
    p.add_argument("repo_id", metavar="REPO_ID", help="the Space repo, e.g. my-org/fennec-hub")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--app-dir", help="folder with app.py, README.md and requirements.txt (default: spaces_app/)")
    p.add_argument("--out", help="only assemble the Space folder here; upload nothing")
    p.add_argument("--token", help="Hub token with write access (default: HF_TOKEN or the stored login)")


def _run_deploy_space(args) -> int:
    from .deploy import assemble_space, deploy_space

    if args.out:
        print(f"Space folder assembled in {assemble_space(args.out, app_dir=args.app_dir)}")
        return 0
    commit = deploy_space(args.repo_id, private=args.private or None, app_dir=args.app_dir, token=args.token)
    print(f"deployed {args.repo_id}: {commit}")
    return 0


# --- registry -----------------------------------------------------------------------------------

COMMANDS: dict[str, tuple[Callable, Callable]] = {
    "encode": (_add_encode, _run_encode),
    "recommend": (_add_recommend, _run_recommend),
    "build-zoo": (_add_build_zoo, _run_build_zoo),
    "push": (_add_push, _run_push),
    "crawl": (_add_crawl, _run_crawl),
    "bench": (_add_bench, _run_bench),
    "deploy-space": (_add_deploy_space, _run_deploy_space),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `fennec-hub` (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="fennec-hub",
        description="Which pre-trained vision checkpoint on the Hugging Face Hub should you fine-tune? "
        "fennec-hub ranks a zoo of Hub checkpoints for a dataset in milliseconds, from a learned "
        "transfer space (after the Fennec paper, arXiv 2403.06382).",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
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
        code = int(run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, while BrokenPipeError can still be caught
        return code
    except BrokenPipeError:  # the reader went away (e.g. `| head -3`): what it wanted was written
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as exc:  # library errors carry readable messages
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fennec-hub {args.command}: error: {msg}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail on the closed pipe."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured by a test)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
