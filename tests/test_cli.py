"""The `fennec-hub` command line: recommend's checks and output, closed pipes, progress switches, help."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fennec_hub.cli import COMMANDS, build_parser
from fennec_hub.cli import main as cli_main
from fennec_hub.zoo import MANIFEST, Zoo

from test_zoo import make_small_zoo

REPO_ROOT = Path(__file__).resolve().parents[1]
default_missing = not (REPO_ROOT / "fennec_hub" / "data" / "zoo" / MANIFEST).exists()


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory) -> Path:
    return make_small_zoo().save(tmp_path_factory.mktemp("cli") / "zoo")


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HF_ENDPOINT", None)
    return env


# ---------------------------------------------------------------------------- recommend: checks
def test_empty_license_is_refused_not_ignored(zoo_dir: Path, capsys):
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--license", ""]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fennec-hub recommend: error: --license was given without a value")
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--library", " , "]) == 1
    assert "--library was given without a value" in capsys.readouterr().err


def test_unknown_library_and_license_list_the_zoos_own(zoo_dir: Path, capsys):
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--library", "foo"]) == 1
    err = capsys.readouterr().err
    assert "no model in this zoo has library 'foo'" in err and "transformers, timm" in err
    assert "Traceback" not in err
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--license", "apache2"]) == 1
    err = capsys.readouterr().err
    assert "no model in this zoo has license 'apache2'" in err and "apache-2.0" in err
    # a known license beside an unknown one: ranked by the known one, warned about the other
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--license", "mit,apache2",
                     "--format", "csv", "--top-k", "40"]) == 0
    out, err = capsys.readouterr()
    assert set(pd.read_csv(io.StringIO(out))["license"]) == {"mit"}
    assert err.startswith("fennec-hub recommend: warning: license 'apache2' matches no model in this zoo")


@pytest.mark.parametrize("args,message", [
    (["--top-k", "0"], "argument --top-k: expected a positive integer, got '0'"),
    (["--top-k", "ten"], "argument --top-k: expected a positive integer, got 'ten'"),
    (["--max-per-family", "-1"], "argument --max-per-family: expected a positive integer"),
    (["--max-params", "0.5"], "argument --max-params: max_params must be at least 1 parameter"),
    (["--max-params", "inf"], "argument --max-params: max_params: cannot read a parameter count from 'inf'"),
    (["--max-params", "9" * 400], "argument --max-params: max_params '999"),
])
def test_bad_numbers_are_usage_errors(zoo_dir: Path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_filter_leaving_nothing_warns_on_stderr(zoo_dir: Path, capsys):
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--max-params", "1k"]) == 0
    out, err = capsys.readouterr()
    assert "No model passes the filters." in out
    assert "warning: no model of the zoo's 46 passes the filters (params <= 1.0k)" in err


# ---------------------------------------------------------------------------- recommend: output
def test_table_has_whole_ids_and_every_filter(zoo_dir: Path, capsys):
    zoo = Zoo.load(zoo_dir)
    models = zoo.models.copy()
    long_id = "an-organisation-with-a-long-name/vit-base-patch16-224-in21k-finetuned-on-cifar100-v2"
    models.loc[0, "model_id"] = long_id
    vectors = zoo.model_vectors.copy()
    vectors[0] = np.abs(vectors).max() * 10 * np.sign(zoo.task_vector("uoft-cs/cifar100"))  # ranks first
    d = Zoo(models, vectors, zoo.tasks, zoo.task_vectors, history=zoo.history, space=zoo.space).save(
        zoo_dir.parent / "long-ids")
    assert cli_main(["recommend", "cifar100", "--zoo", str(d), "--max-per-family", "1"]) == 0
    out = capsys.readouterr().out
    assert long_id in out
    assert "filters: at most 1 model per architecture family" in out.splitlines()


def test_csv_and_json_carry_the_actionable_columns(zoo_dir: Path, capsys):
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--format", "json", "--top-k", "46"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    by_id = {r["model_id"]: r for r in rows}
    assert by_id["timm/resnet50.a1_in1k"]["url"] == "https://huggingface.co/timm/resnet50.a1_in1k"
    assert by_id["timm/resnet50.a1_in1k"]["timm_name"] == "resnet50.a1_in1k"
    assert by_id["Ahmed9275/Vit-Cifar100"]["fine_tuned_on_query"] is True
    assert {"downloads", "likes", "gated"} <= set(rows[0])
    assert cli_main(["recommend", "cifar100", "--zoo", str(zoo_dir), "--format", "csv"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert {"url", "timm_name", "fine_tuned_on_query"} <= set(csv.columns) and len(csv) == 10


# ---------------------------------------------------------------------------- closed pipes
def test_closed_stdout_exits_quietly(zoo_dir: Path):
    """The reader of stdout goes away before anything is written (as `| head -0` would do)."""
    proc = subprocess.Popen([sys.executable, "-m", "fennec_hub.cli", "recommend", "cifar100", "--zoo", str(zoo_dir),
                             "--format", "csv", "--top-k", "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(), cwd=REPO_ROOT)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


@pytest.mark.skipif(default_missing, reason="the embedded default zoo has not been built yet")
def test_pipe_into_head_exits_quietly(tmp_path: Path):
    """`fennec-hub recommend cifar100 --format json --top-k 5000 | head -3`: head leaves while more than any
    pipe buffer (1.4 MB of JSON) is still to be written."""
    script = (f"set -o pipefail; {sys.executable} -m fennec_hub.cli recommend cifar100 --format json --top-k 5000 "
              f"2> {tmp_path / 'err'} | head -3")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_env(), cwd=REPO_ROOT,
                         timeout=120)
    assert out.returncode == 0, (tmp_path / "err").read_text()
    assert out.stdout.splitlines() == ["{", ' "dataset": "uoft-cs/cifar100",', ' "dataset_query": "cifar100",']
    assert (tmp_path / "err").read_text() == ""


# ---------------------------------------------------------------------------- progress
LONG_COMMANDS = {
    "crawl": ["crawl", "--out", "somewhere"],
    "build-zoo": ["build-zoo", "--out", "somewhere"],
    "bench": ["bench"],
    "encode": ["encode", "resnet50"],
}


@pytest.mark.parametrize("command", sorted(LONG_COMMANDS))
def test_every_long_command_has_one_progress_switch(command):
    parser = build_parser()
    argv = LONG_COMMANDS[command]
    assert parser.parse_args(argv).progress is None  # default: progress when stderr is a terminal
    assert parser.parse_args([*argv, "--progress"]).progress is True
    assert parser.parse_args([*argv, "--no-progress"]).progress is False


def test_old_spellings_still_work():
    parser = build_parser()
    assert parser.parse_args(["build-zoo", "--quiet"]).progress is False
    assert parser.parse_args(["crawl", "--out", "x", "--no-progress"]).progress is False


def test_progress_reaches_the_library(monkeypatch, tmp_path: Path, capsys):
    bench = importlib.import_module("fennec_hub.bench")
    report = importlib.import_module("fennec_hub.report")
    crawl = importlib.import_module("fennec_hub.crawler")
    build = importlib.import_module("fennec_hub.build")
    seen: dict[str, object] = {}

    def fake_crawl(out, **kw):
        seen["crawl"] = kw["progress"]
        return SimpleNamespace(errors=0)

    def fake_build(out, **kw):
        seen["build-zoo"] = kw["progress"]
        kw["log"]("[build-zoo] a step")
        return SimpleNamespace(models=[], tasks=[])

    def fake_run(benchmarks, protocol, **kw):
        seen["bench"] = kw["progress"]
        return None

    monkeypatch.setattr(crawl, "crawl", fake_crawl)
    monkeypatch.setattr(build, "build_default_zoo", fake_build)
    monkeypatch.setattr(bench, "load_inputs", lambda text=True: None)
    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(report, "write_outputs", lambda *a, **k: "report")
    for flag, expected in (("--progress", True), ("--no-progress", False)):
        assert cli_main(["crawl", "--out", str(tmp_path), flag]) == 0
        assert cli_main(["build-zoo", "--out", str(tmp_path / "zoo"), flag]) == 0
        assert cli_main(["bench", flag]) == 0
        assert seen == {"crawl": expected, "build-zoo": expected, "bench": expected}
        out, err = capsys.readouterr()
        # the build's step log is progress: on stderr, and only when progress is on
        assert ("[build-zoo] a step" in err) is expected and "[build-zoo] a step" not in out


def test_encode_progress_is_a_status_line_on_stderr(monkeypatch, capsys):
    archi2vec = importlib.import_module("fennec_hub.architecture")
    info = SimpleNamespace(vector=np.zeros(4), library="timm", family="resnet", params=25e6, num_modules=10,
                           input_size=224, note=None)
    monkeypatch.setattr(archi2vec, "describe_architecture", lambda model, library=None: info)
    assert cli_main(["encode", "resnet50", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert "encoding resnet50" in err and out.startswith("resnet50: timm resnet")
    assert cli_main(["encode", "resnet50", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_teaches_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    examples = out[out.index("examples:"):].splitlines()[1:]
    assert len(examples) >= 2 and all(line.strip().startswith(f"fennec-hub {command}") for line in examples if line)
