"""The command line: output, --out (atomic, never over the input), bad input (exit 2)."""

import io

import pytest

import dsl
from simplify.__main__ import main


def _run(*argv):
  stdout, stderr = io.StringIO(), io.StringIO()
  code = main(list(argv), stdout=stdout, stderr=stderr)
  return code, stdout.getvalue(), stderr.getvalue()


def test_exact_only_prints_report_and_program():
  code, out, err = _run(str(dsl.library.path("program8")), "--exact-only")
  assert code == 0, err
  assert "[1] prune: removed 9 redundant statements" in out
  assert "merge_interpolations" in out and "sign_of_ratio" in out
  assert "Result (21 -> 9 statements, 2 -> 1 states" in out
  assert out.rstrip().endswith("return update, m")


def test_out_writes_program_and_report(tmp_path):
  target = tmp_path / "lion_found.py"
  code, out, _ = _run(str(dsl.library.path("program8")), "--exact-only", "--out", str(target))
  assert code == 0
  written = dsl.parse_file(target)
  assert written.num_states == 1
  assert (tmp_path / "lion_found.py.report.txt").read_text() == out
  assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_out_never_overwrites_the_input(tmp_path):
  source = tmp_path / "p.py"
  text = dsl.library.text("program8")
  source.write_text(text)
  code, _, err = _run(str(source), "--exact-only", "--out", str(source))
  assert code == 2 and "overwrite the input" in err
  assert source.read_text() == text


@pytest.mark.parametrize("text,message", [
    ("def train(w, g, lr):\n  u = foo(g)\n  return u\n", ":2:7: unknown function 'foo'"),
    ("def train(w, g, lr)\n", ":1:"),
])
def test_bad_program_is_one_line_with_location(tmp_path, text, message):
  source = tmp_path / "bad.py"
  source.write_text(text)
  code, out, err = _run(str(source), "--exact-only")
  assert code == 2 and out == ""
  assert err.count("\n") == 1 and message in err and str(source) in err


def test_missing_file_and_bad_options(tmp_path):
  code, _, err = _run(str(tmp_path / "none.py"), "--exact-only")
  assert code == 2 and "none.py" in err and err.count("\n") == 1
  program = str(dsl.library.path("lion"))
  assert _run(program, "--tolerance", "-1")[0] == 2
  assert _run(program, "--seeds", "0")[0] == 2
  code, _, err = _run(program, "--task", "no_such_task")
  assert code == 2 and "unknown proxy task 'no_such_task'" in err
  code, _, err = _run(program, "--exact-only", "--out", str(tmp_path / "no" / "x.py"))
  assert code == 2 and "does not exist" in err


def test_well_written_program_comes_out_unchanged():
  code, out, _ = _run(str(dsl.library.path("adamw")), "--exact-only")
  assert code == 0
  assert out.strip().endswith(dsl.library.text("adamw").split("def train")[1].strip())
  assert "[1]" not in out  # no step besides the input


def test_with_a_toy_task_reports_fitness(tmp_path):
  code, out, err = _run(str(dsl.library.path("signum")), "--task", "quadratic", "--seeds", "1")
  assert code == 0, err
  assert "on task quadratic" in out and "step-size calibration" in out
  assert "fitness" in out.split("[0] input")[1]
  assert "Ablations tried" in out


def test_a_chain_of_1000_statements_simplifies(tmp_path):
  """Deeper than Python's recursion limit: the DAG is walked with explicit stacks."""
  lines = ["def train(w, g, m, lr):", "  m = interp(g, m, 0.9)", "  u = m + g"]
  lines += ["  u = u * 0.5"] * 1000 + ["  u = u * lr", "  return u, m"]
  path = tmp_path / "chain.py"
  path.write_text("\n".join(lines) + "\n")
  code, out, err = _run(str(path), "--exact-only")
  assert code == 0, err
  assert "Result (1003 -> 4 statements" in out
  result = dsl.parse(out[out.rindex("def train"):])
  assert result.statements[-2].to_text() == f"lr = lr * {0.5 ** 1000!r}"
