"""The package reads top-down in the order the data flows: every module imports only modules above it.

The order is that of the layout: the Hub client and the dataset registry first, then what describes
models (archi2vec, records, crawling, features), the transfer space and the task proxies, the zoo
artifact and its builder, ranking, evaluation and reports, and the command line on top. Imports inside
functions count too; the one documented exception is `Zoo.build`, a thin public wrapper that calls
the builder when it is called.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fennec_hub"

ORDER = ["_extras", "hub", "datasets", "architecture", "records", "crawler", "features", "space", "tasks",
         "transferability", "zoo", "build", "ranking", "bench", "report", "deploy", "cli", "__init__"]
ALLOWED_UPWARD = {("zoo", "build")}  # Zoo.build() -> build.build_custom_zoo(), at call time


def _internal_imports(path: Path) -> set[str]:
    """Names of fennec_hub modules a module imports, anywhere in its code."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # `from . import x`; `from . import __version__` reads the package's constant
                found.update(alias.name for alias in node.names if not alias.name.startswith("__"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fennec_hub."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("fennec_hub."))
    return found


def test_every_module_is_placed_in_the_layout():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(ORDER), f"place new modules in ORDER: {sorted(modules ^ set(ORDER))}"


@pytest.mark.parametrize("module", [m for m in ORDER if m != "__init__"])
def test_modules_import_only_modules_above_them(module):
    rank = {m: i for i, m in enumerate(ORDER)}
    for name in _internal_imports(PACKAGE / f"{module}.py"):
        assert name in rank, f"{module} imports unknown fennec_hub.{name}"
        if (module, name) in ALLOWED_UPWARD:
            continue
        assert rank[name] < rank[module], f"fennec_hub.{module} imports fennec_hub.{name}, which is below it"


@pytest.mark.parametrize("module", [m for m in ORDER if m != "__init__"])
def test_import_fennec_hub_dot_module_gives_a_module(module):
    assert isinstance(importlib.import_module(f"fennec_hub.{module}"), types.ModuleType)
    import fennec_hub

    public = getattr(fennec_hub, module, None)  # no public function shadows its module
    assert public is None or isinstance(public, types.ModuleType)
