"""The packages' layering: a package imports only packages below it (README, "The pieces").

  dsl  ->  runlog  ->  proxy_tasks  ->  meta_validation, simplify  ->  search

Every import of every module counts, also one inside a function (``ast`` finds them all):
a lazy import still makes the lower package depend on the upper one.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# package -> the packages it may import (besides itself).
ALLOWED = {
    "dsl": set(),
    "runlog": {"dsl"},
    "proxy_tasks": {"dsl", "runlog"},
    "meta_validation": {"dsl", "runlog", "proxy_tasks"},
    "simplify": {"dsl", "runlog", "proxy_tasks"},
    "search": {"dsl", "runlog", "proxy_tasks", "meta_validation", "simplify"},
}


def imported_packages(path: pathlib.Path) -> set[tuple[str, int]]:
  """``(top-level package, line)`` of every absolute import in the module at ``path``."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
    if isinstance(node, ast.Import):
      found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      found.add((node.module.split(".")[0], node.lineno))
  return found


def violations(package: str) -> list[str]:
  ours = set(ALLOWED)
  return [f"{path.relative_to(ROOT)}:{line}: {package} imports {imported}"
          for path in sorted((ROOT / package).rglob("*.py"))
          for imported, line in sorted(imported_packages(path))
          if imported in ours and imported != package and imported not in ALLOWED[package]]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_one_above_it(package):
  assert (ROOT / package / "__init__.py").exists()
  assert violations(package) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
  module = tmp_path / "lazy.py"
  module.write_text("def f():\n  from search import driver\n  import meta_validation.funnel\n")
  assert imported_packages(module) == {("search", 2), ("meta_validation", 3)}


def test_every_package_is_in_the_layering():
  packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
  assert packages == set(ALLOWED)
