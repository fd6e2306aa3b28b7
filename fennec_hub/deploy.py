"""Deploying the Gradio Space: assemble a self-contained Space folder and upload it to the Hub.

fennec_hub is not on the package index, and a Space installs its ``requirements.txt`` before the
rest of its repository is in place (the build sees only that one file), so the package can come
neither from the index nor from a wheel stored in the Space repo. The Space therefore carries the
package itself, vendored next to ``app.py``:

    app.py  README.md (the Space card)  requirements.txt  fennec_hub/ (modules + data/, with the
                                                                        embedded default zoo)

Python puts a script's folder first on ``sys.path``, so ``python app.py`` imports that copy.
The vendored package brings none of the project's heavy dependencies: ``requirements.txt`` names
only what ``recommend()`` needs on the embedded zoo (numpy, pandas, pyarrow, safetensors,
huggingface_hub) plus the page's extras; gradio itself comes from the card's ``sdk_version``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import hub

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import CommitInfo

__all__ = ["SPACE_FILES", "assemble_space", "deploy_space", "space_app_dir"]

#: The files of ``spaces_app/`` that make the Space (with the vendored package beside them).
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
PACKAGE_DIR = Path(__file__).resolve().parent
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")
_FORBIDDEN_REQUIREMENTS = ("fennec_hub", "fennec-hub", "torch")


def space_app_dir() -> Path:
    """``spaces_app/`` of the checkout this package was imported from."""
    return PACKAGE_DIR.parent / "spaces_app"


def assemble_space(out_dir: str | Path, *, app_dir: str | Path | None = None) -> Path:
    """Write a deployable Space folder to ``out_dir`` (created; must be empty or absent); returns it.

    ``app_dir`` holds ``app.py``, ``README.md`` and ``requirements.txt`` (default: the checkout's
    ``spaces_app/``). The package is copied from where it was imported, data included. Raises
    ``FileNotFoundError`` for a missing Space file and ``ValueError`` for requirements that would
    install fennec_hub or torch.
    """
    src = Path(app_dir) if app_dir is not None else space_app_dir()
    missing = [name for name in SPACE_FILES if not (src / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{src} lacks the Space's {', '.join(missing)}; pass the folder that holds "
                                f"{', '.join(SPACE_FILES)} (spaces_app/ of a fennec_hub checkout)")
    for line in (src / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = re.split(r"[<>=!~\[;@ ]", line.split("#", 1)[0].strip(), maxsplit=1)[0].lower()
        if name in _FORBIDDEN_REQUIREMENTS:
            raise ValueError(f"{src / 'requirements.txt'} asks for {name!r}: the Space vendors fennec_hub and "
                             "must not install it (or torch) from the package index")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name in SPACE_FILES:
        shutil.copy2(src / name, out / name)
    shutil.copytree(PACKAGE_DIR, out / PACKAGE_DIR.name, ignore=_SKIP)
    if not (out / PACKAGE_DIR.name / "data" / "zoo" / "zoo.json").is_file():
        raise FileNotFoundError(f"the embedded default zoo is missing from {PACKAGE_DIR / 'data' / 'zoo'}; "
                                "build it first (python scripts/build_default_zoo.py)")
    return out


def deploy_space(repo_id: str, *, private: bool | None = None, app_dir: str | Path | None = None,
                 commit_message: str | None = None, endpoint: str | None = None,
                 token: str | bool | None = None) -> "CommitInfo":
    """Assemble the Space (:func:`assemble_space`) and upload it to the Space repo ``repo_id``.

    Creates the repo (``space_sdk="gradio"``) if needed and makes it mirror the folder in one
    commit: files the new folder no longer has are deleted. Returns the commit's ``CommitInfo``
    (a ``str`` equal to the commit URL, with ``.oid``).
    """
    from . import __version__

    with tempfile.TemporaryDirectory(prefix="fennec-space-") as tmp:
        folder = assemble_space(Path(tmp) / "space", app_dir=app_dir)
        return hub.push_folder(repo_id, folder, repo_type="space", space_sdk="gradio", private=private,
                               commit_message=commit_message or f"Deploy the fennec_hub {__version__} Space",
                               endpoint=endpoint, token=token)
