"""``python -m dsl``: check, list, functions (the issue-3 lines are tested in test_cli_analysis)."""

import io
import os
import pathlib
import subprocess
import sys

import pytest

import dsl
from dsl.__main__ import functions_used, main

REPO = pathlib.Path(__file__).resolve().parents[2]
HEADER = "def train(w, g, m, lr):\n"


def run_main(*argv):
  stdout, stderr = io.StringIO(), io.StringIO()
  status = main(list(argv), stdout=stdout, stderr=stderr)
  return status, stdout.getvalue(), stderr.getvalue()


def write(directory: pathlib.Path, name: str, text: str) -> str:
  path = directory / name
  path.write_text(text)
  return str(path)


def test_check_prints_canonical_text_states_and_functions(tmp_path):
  # Aliases, spacing and comments in; the canonical text out.
  path = write(tmp_path, "mine.py", "# mine\ndef train(w, g, m, lr):\n  m=interpolate(g,m,0.9)\n"
               "  s = sign(m)  # direction\n  u = multiply(s, lr)\n  return u, m\n")
  status, out, err = run_main("check", path)
  assert (status, err) == (0, "")
  lines = out.splitlines()
  assert lines[0] == f"== {path}"
  assert "\n".join(lines[1:6]) + "\n" == (
      "def train(w, g, m, lr):\n  m = interp(g, m, 0.9)\n  s = sign(m)\n  u = s * lr\n"
      "  return u, m\n")
  assert "states: 1" in lines
  assert "functions: interp, sign, *" in lines


def test_check_all_builtin_programs():
  paths = [str(dsl.library.path(name)) for name in dsl.library.names()]
  status, out, err = run_main("check", *paths)
  assert (status, err) == (0, "")
  for name, path in zip(dsl.library.names(), paths):
    program = dsl.library.load(name)
    block = out.split(f"== {path}\n")[1]
    assert block.startswith(program.to_text())
    assert f"states: {program.num_states}" in block


def test_functions_used_in_order_of_first_use():
  assert functions_used(dsl.library.load("adamw")) == ["square", "interp", "sqrt", "/", "*", "+"]
  assert functions_used(dsl.parse("def train(w, g, lr):\n  return g\n")) == []


# One file per kind of error the brief lists: (name, body, line, column, message fragment).
CLI_ERRORS = [
    ("unknown function", "  m = frobnicate(g)\n  return g, m\n", 2, 7, "unknown function 'frobnicate'"),
    ("wrong arity", "  m = interp(g, m)\n  return g, m\n", 2, 7, "'interp' takes 3 arguments, got 2"),
    ("scalar-only argument given a tree", "  m = clip(g, m)\n  return g, m\n", 2, 15,
     "argument 2 of 'clip' must be a scalar, 'm' is tree"),
    ("undefined variable", "  m = g * velocity\n  return g, m\n", 2, 11, "undefined variable 'velocity'"),
    ("missing return", "  m = g * 2.0\n", 2, 3, "missing return"),
    ("malformed return", "  m = g * 2.0\n  return m\n", 3, 3, "return must give the update and the 1 state"),
    ("return of an expression", "  return g + m, m\n", 2, 10, "return must list variable names"),
    ("loop", "  for i in g:\n    m = g\n  return g, m\n", 2, 3, "loops are not part"),
    ("import", "  import numpy\n  return g, m\n", 2, 3, "imports are not part"),
    ("attribute", "  m = g.sum(g)\n  return g, m\n", 2, 7, "attributes are not part"),
    ("subscript", "  m = sign(g[1])\n  return g, m\n", 2, 12, "subscripts are not part"),
    ("python builtin", "  m = len(g)\n  return g, m\n", 2, 7, "Python builtin 'len'"),
    ("lambda", "  m = lambda: g\n  return g, m\n", 2, 7, "lambdas are not part"),
    ("string", "  m = interp(g, m, '0.9')\n  return g, m\n", 2, 20, "strings are not part"),
]


@pytest.mark.parametrize("body, line, col, fragment", [e[1:] for e in CLI_ERRORS],
                         ids=[e[0] for e in CLI_ERRORS])
def test_check_error_is_one_located_line_and_status_2(tmp_path, body, line, col, fragment):
  path = write(tmp_path, "bad.py", HEADER + body)
  status, out, err = run_main("check", path)
  assert status == 2
  assert out == ""
  assert err.count("\n") == 1
  prefix = f"{path}:{line}:{col}: "
  assert err.startswith(prefix), err
  assert fragment in err


def test_several_files_report_every_error_and_check_the_good_ones(tmp_path):
  good = write(tmp_path, "good.py", dsl.library.text("lion"))
  bad1 = write(tmp_path, "bad1.py", HEADER + "  m = nope(g)\n  return g, m\n")
  bad2 = write(tmp_path, "bad2.py", HEADER + "  m = g * q\n  return g, m\n")
  status, out, err = run_main("check", bad1, good, bad2)
  assert status == 2
  assert err.splitlines() == [f"{bad1}:2:7: unknown function 'nope'",
                              f"{bad2}:2:11: undefined variable 'q'"]
  assert f"== {good}" in out and "states: 1" in out
  assert "bad1" not in out and "bad2" not in out


def test_unreadable_files_are_one_line_errors(tmp_path):
  missing = str(tmp_path / "missing.py")
  binary = tmp_path / "binary.py"
  binary.write_bytes(b"\x80\x81\x82")
  status, out, err = run_main("check", missing, str(tmp_path), str(binary))
  assert status == 2 and out == ""
  lines = err.splitlines()
  assert len(lines) == 3
  assert lines[0] == f"{missing}: cannot read program file: No such file or directory"
  assert lines[1].startswith(f"{tmp_path}: cannot read program file")
  assert lines[2] == f"{binary}: not a UTF-8 text file"


def test_graph_needs_exactly_one_file(tmp_path):
  good = write(tmp_path, "good.py", dsl.library.text("sgd"))
  out_dot = tmp_path / "g.dot"
  status, out, err = run_main("check", good, good, "--graph", str(out_dot))
  assert status == 2 and "exactly one FILE" in err and out == ""
  assert not out_dot.exists()


def test_usage_errors_exit_2():
  with pytest.raises(SystemExit) as info:
    run_main()
  assert info.value.code == 2
  with pytest.raises(SystemExit) as info:
    run_main("check")
  assert info.value.code == 2
  with pytest.raises(SystemExit) as info:
    run_main("frobnicate")
  assert info.value.code == 2


def test_list_prints_every_builtin_with_states_and_description():
  status, out, err = run_main("list")
  assert (status, err) == (0, "")
  rows = out.splitlines()
  assert rows[0].split() == ["name", "states", "description"]
  assert len(rows) == 1 + len(dsl.library.names())
  for row, name in zip(rows[1:], dsl.library.names()):
    first_comment = dsl.library.text(name).splitlines()[0].lstrip("# ").strip()
    assert row.split()[:2] == [name, str(dsl.library.load(name).num_states)]
    assert row.endswith(first_comment)
  assert any(r.split()[:2] == ["adamw", "2"] and "Program 3" in r for r in rows)


def test_functions_prints_one_row_per_function():
  status, out, _ = run_main("functions")
  assert status == 0
  rows = [r for r in out.splitlines() if r.startswith("| `")]
  assert len(rows) == len(dsl.functions.FUNCTIONS)
  assert any("`interp(x, y, a)`" in r and "`interpolate`" in r for r in rows)


def _python_m_dsl(*args):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "dsl", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=120)


def test_python_m_dsl_end_to_end(tmp_path):
  """The real entry point: exit statuses and streams (one process each for check and list)."""
  bad = write(tmp_path, "bad.py", HEADER + "  m = sqrt(g, g)\n  return g, m\n")
  result = _python_m_dsl("check", "dsl/library/adamw.py", bad)
  assert result.returncode == 2
  assert result.stderr == f"{bad}:2:7: 'sqrt' takes 1 argument, got 2\n"
  assert "== dsl/library/adamw.py\n" in result.stdout and "states: 2" in result.stdout
  result = _python_m_dsl("list")
  assert result.returncode == 0 and "lion" in result.stdout
