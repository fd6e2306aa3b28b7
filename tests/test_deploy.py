"""Deploying the Space: `fennec-hub deploy-space` against the loopback Hub, then the deployed Space
installed into a fresh virtual environment, started, and asked to rank.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import SpaceCard

import fennec_hub
from fennec_hub import cli, deploy, hub

from test_app import assert_plot_matches, assert_table_matches, free_port, plot_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_SRC = REPO_ROOT / "spaces_app"


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_assembled_space_carries_the_package_and_its_default_zoo(tmp_path):
    folder = deploy.assemble_space(tmp_path / "space")
    files = _files(folder)
    assert set(deploy.SPACE_FILES) <= files
    package = REPO_ROOT / "fennec_hub"
    expected = {f"fennec_hub/{p}" for p in _files(package) if "__pycache__" not in p and not p.endswith(".pyc")}
    assert {f for f in files if f.startswith("fennec_hub/")} == expected
    assert "fennec_hub/data/zoo/zoo.json" in files and "fennec_hub/ranking.py" in files
    assert not any("__pycache__" in f for f in files)
    for name in deploy.SPACE_FILES:
        assert (folder / name).read_bytes() == (SPACE_SRC / name).read_bytes()


def test_assemble_refuses_requirements_that_install_fennec_hub_or_torch(tmp_path):
    for bad in ("fennec_hub>=0.1.0", "torch==2.13.0", "fennec-hub @ git+https://example.org/x"):
        app_dir = tmp_path / f"app-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(SPACE_SRC, app_dir)
        (app_dir / "requirements.txt").write_text(f"numpy\n{bad}\n")
        with pytest.raises(ValueError, match="must not install it"):
            deploy.assemble_space(tmp_path / "out", app_dir=app_dir)
    (app_dir / "app.py").unlink()
    with pytest.raises(FileNotFoundError, match="app.py"):
        deploy.assemble_space(tmp_path / "out", app_dir=app_dir)


def test_push_folder_creates_a_space_and_mirrors_the_folder(loophub, hub_token, unique_repo_id, tmp_path):
    folder = tmp_path / "site"
    (folder / "sub").mkdir(parents=True)
    (folder / "app.py").write_text("print('v1')\n")
    (folder / "sub" / "old.txt").write_text("old\n")
    hub.push_folder(unique_repo_id, folder, repo_type="space", space_sdk="gradio", token=hub_token)
    assert hub.api(token=hub_token).space_info(unique_repo_id).sdk == "gradio"
    (folder / "sub" / "old.txt").unlink()
    (folder / "app.py").write_text("print('v2')\n")
    commit = hub.push_folder(unique_repo_id, folder, repo_type="space", space_sdk="gradio", token=hub_token)
    files = loophub.files("space", unique_repo_id)
    assert files["app.py"] == b"print('v2')\n" and "sub/old.txt" not in files and ".gitattributes" in files
    history = loophub.commits("space", unique_repo_id)
    assert commit.oid == history[0] and len(history) == 3  # creation, first upload, second upload
    with pytest.raises(ValueError, match="space_sdk"):  # a new Space needs an SDK
        hub.push_folder(f"{unique_repo_id}-no-sdk", folder, repo_type="space", token=hub_token)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        hub.push_folder(unique_repo_id, folder / "app.py", repo_type="space", space_sdk="gradio", token=hub_token)


def test_loophub_requires_an_sdk_for_a_space(loophub, hub_token):
    def create(payload: dict) -> int:
        request = urllib.request.Request(f"{loophub.url}/api/repos/create", data=json.dumps(payload).encode(),
                                         headers={"Authorization": f"Bearer {hub_token}",
                                                  "Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code

    assert create({"name": "sdk-less-space", "type": "space"}) == 400
    assert create({"name": "sdk-less-space", "type": "space", "sdk": "gradio"}) == 200
    assert not loophub.has_repo("space", "fennec-tester/no-such") and loophub.has_repo(
        "space", "fennec-tester/sdk-less-space")


def _wait_for(url: str, proc: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the deployed Space exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the deployed Space did not answer on {url}:\n{log.read_text()[-4000:]}")


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_deployed_space_installs_in_a_fresh_venv_and_ranks(loophub, hub_token, unique_repo_id, tmp_path):
    """The whole path: deploy-space -> the Hub -> download -> fresh venv -> python app.py -> /rank."""
    assert cli.main(["deploy-space", unique_repo_id, "--token", hub_token]) == 0
    assert hub.api(token=hub_token).space_info(unique_repo_id).sdk == "gradio"

    # What a Space build gets: the repo's files (real copies, not cache links).
    snapshot, _ = hub.snapshot(unique_repo_id, repo_type="space", token=hub_token)
    space = tmp_path / "space"
    shutil.copytree(snapshot, space, symlinks=False, ignore=shutil.ignore_patterns(".cache"))
    assert _files(space) - {".gitattributes"} == _files(deploy.assemble_space(tmp_path / "assembled"))

    # A fresh environment that has never seen fennec_hub: gradio at the card's sdk_version (what a
    # Space provides), then the Space's requirements.txt.
    sdk_version = str(SpaceCard.load(space / "README.md").data.sdk_version)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", str(tmp_path)),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "LANG": "C.UTF-8"}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", f"gradio=={sdk_version}",
                              "-r", str(space / "requirements.txt")],
                             env=env, capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], env=env,
                               capture_output=True, text=True, check=True).stdout.lower()
    assert "fennec" not in installed and "torch" not in installed and "transformers" not in installed
    where = subprocess.run([str(python), "-c", "import fennec_hub; print(fennec_hub.__file__)"], cwd=space,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve() == (space / "fennec_hub" / "__init__.py").resolve()

    port = free_port()
    log = tmp_path / "space.log"
    run_env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
               "GRADIO_ANALYTICS_ENABLED": "False", "FENNEC_DATASET_PICKER": "textbox",
               "HF_ENDPOINT": loophub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(python), "app.py"], cwd=space, env=run_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, proc, log)
        from gradio_client import Client

        client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path / "downloads"),
                        ssl_verify=False)
        for dataset, k, max_params in (("cifar100", 5, "any"), ("eurosat", 8, "50M")):
            query = dict(dataset=dataset, top_k=k, max_params=max_params, licenses=[], library="any",
                         zoo_repo="", protocol="any")
            table, plot, message = client.predict(**query, api_name="/rank")
            limit = None if max_params == "any" else max_params
            assert_table_matches(table["data"], fennec_hub.recommend(dataset, top_k=k, max_params=limit))
            assert_plot_matches(plot_spec(plot), fennec_hub.recommend(dataset, top_k=None, max_params=limit), k)
            assert fennec_hub.resolve_dataset(dataset).name in message
            csv = pd.read_csv(client.predict(**query, api_name="/csv"))
            assert csv["model_id"].tolist() == fennec_hub.recommend(dataset, top_k=k, max_params=limit)[
                "model_id"].tolist()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
