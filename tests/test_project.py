"""Project-level checks: packaging files agree, every module has __all__, notebooks are complete."""

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("4_*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env_lines = (ROOT / "environment.yml").read_text().splitlines()
    pip_items = [ln.strip()[2:] for ln in env_lines if re.match(r"^\s{4,}- ", ln)]
    named = {_name(r) for r in pip_items if not r.startswith("-e")}
    assert named == wanted
    assert any(r.startswith("-e .[dev]") for r in pip_items)
    assert "  - python=3.11" in env_lines


def test_every_module_declares_all():
    missing = []
    for path in (ROOT / "coursekit").rglob("*.py"):
        if path.name.startswith("_") and path.name != "__init__.py" or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text())
        names = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                 for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                 if isinstance(t, ast.Name)}
        if "__all__" not in names:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"modules without __all__: {missing}"


def test_no_hard_coded_cuda_in_library():
    """Only runtime.get_device may name cuda: everything else follows the inputs."""
    pattern = re.compile(r"""(device\s*=\s*|torch\.device\()\s*["']cuda""")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "coursekit").rglob("*.py")
                 if p.name != "runtime.py" and pattern.search(p.read_text())]
    assert not offenders


def test_eleven_notebooks():
    stems = [p.stem[:4] for p in NOTEBOOKS]
    assert stems == [f"4_{i:02d}" for i in range(1, 12)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "Objectives" in first
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert "seed_everything(" in code[0] and "get_device(" in code[0]
    assert "Summary" in "".join(cells[-1]["source"]) or any(
        "## Summary" in "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert path.stat().st_size < 3 * 2**20
    errors = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("package", ["data", "face", "style", "visualize", "conv", "exercises"])
def test_subpackage_reexports_are_unique(package):
    """Each subpackage re-exports its modules' __all__: no two modules may export one name."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(f"coursekit.{package}")
    owners: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"coursekit.{package}.{info.name}")
            for name in module.__all__:
                owners.setdefault(name, []).append(info.name)
    clashes = {name: mods for name, mods in owners.items() if len(mods) > 1}
    assert not clashes
    assert sorted(pkg.__all__) == sorted(owners)
