"""The parser: round trips, the subset it accepts, and where its errors point."""

import pathlib

import hypothesis
import pytest
from hypothesis import strategies as st

import dsl
from dsl.parser import parse, parse_file
from dsl.program import Program, ProgramError, Statement
from tests.strategies import programs, simple_programs

HEADER = "def train(w, g, m, lr):\n"


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(programs())
def test_parse_inverts_to_text_for_random_programs(program):
  text = program.to_text()
  parsed = parse(text)
  assert parsed == program
  assert parsed.to_text() == text
  assert hash(parsed) == hash(program)


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(simple_programs(), st.data())
def test_comments_blank_lines_and_spacing_do_not_change_the_program(program, data):
  """Layout is not part of the value; the recorded lines are those of the source."""
  source = []
  lines = program.to_text().splitlines()
  for line in lines:
    if data.draw(st.booleans()):
      source.append("  # a comment")
    if data.draw(st.booleans()):
      source.append("")
    source.append(line.replace(" = ", "=").replace(", ", ",") + "  # trailing")
  parsed = parse("\n".join(source) + "\n")
  assert parsed == program
  for index, statement in enumerate(program.statements):
    line = source[parsed.line_of(index) - 1]
    assert line.lstrip().startswith(statement.target + "=")


def test_statement_lines_are_source_lines():
  program = parse("# header\n\ndef train(w, g, lr):\n  # c\n  u = g * lr\n\n  u = u * 2\n"
                  "  return u\n")
  assert [program.line_of(i) for i in range(2)] == [5, 7]


def test_aliases_parse_to_the_canonical_function():
  aliased = parse("def train(w, g, m, lr):\n  a = add(g, m)\n  b = multiply(a, 2)\n"
                  "  c = max(b, g)\n  m = interpolate(g, m, 0.5)\n  d = clip_by_global_norm(c, lr)\n"
                  "  e = divide(d, 3)\n  u = subtract(e, m)\n  return u, m\n")
  canonical = parse("def train(w, g, m, lr):\n  a = g + m\n  b = a * 2.0\n  c = maximum(b, g)\n"
                    "  m = interp(g, m, 0.5)\n  d = clip(c, lr)\n  e = d / 3.0\n  u = e - m\n"
                    "  return u, m\n")
  assert aliased == canonical
  assert "maximum(b, g)" in aliased.to_text() and "add" not in aliased.to_text()


@pytest.mark.parametrize("literal, value", [("3", 3.0), ("-2", -2.0), ("+0.5", 0.5), ("1e-3", 1e-3),
                                            ("-1e999", float("-inf")), ("0.1", 0.1)])
def test_numeric_constants(literal, value):
  program = parse(f"def train(w, g, lr):\n  u = g * {literal}\n  return u\n")
  assert program.statements[0].args == ("g", value)
  assert isinstance(program.statements[0].args[1], float)


def test_a_one_element_return_may_be_a_bare_name_or_a_tuple():
  assert parse("def train(w, g, lr):\n  return g,\n") == parse("def train(w, g, lr):\n  return g\n")


def test_program_text_is_never_executed(tmp_path):
  marker = tmp_path / "executed"
  attempts = [
      f"import os\ndef train(w, g, lr):\n  return g\nos.mkdir({str(marker)!r})\n",
      "def train(w, g, lr):\n  u = __import__('os')\n  return g\n",
      f"def train(w, g, lr=open({str(marker)!r}, 'w')):\n  return g\n",
      "@print\ndef train(w, g, lr):\n  return g\n",
  ]
  for text in attempts:
    with pytest.raises(ProgramError):
      parse(text)
  assert not marker.exists()


# (name, body after the header "def train(w, g, m, lr):", line, column, message fragment).
ERRORS = [
    ("unknown function", "  m = frobnicate(g)\n  return g, m\n", 2, 7, "unknown function 'frobnicate'"),
    ("wrong arity", "  m = interp(g, m)\n  return g, m\n", 2, 7, "'interp' takes 3 arguments, got 2"),
    ("wrong arity of a unary", "  m = sqrt(g, m)\n  return g, m\n", 2, 7, "'sqrt' takes 1 argument, got 2"),
    ("scalar-only argument given a tree", "  m = interp(g, m, g)\n  return g, m\n", 2, 20,
     "argument 3 of 'interp' must be a scalar, 'g' is tree"),
    ("scalar-only argument given per-array", "  n = norm(g)\n  m = clip(g, n)\n  return g, m\n",
     3, 15, "argument 2 of 'clip' must be a scalar, 'n' is per_array"),
    ("undefined variable", "  m = g * velocity\n  return g, m\n", 2, 11, "undefined variable 'velocity'"),
    ("undefined before assignment", "  m = interp(g, later, 0.9)\n  later = g * 2\n  return g, m\n",
     2, 17, "undefined variable 'later'"),
    ("undefined variable in return", "  m = g * 2.0\n  return m, update\n", 3, 13,
     "return of undefined variable 'update'"),
    ("missing return", "  m = g * 2.0\n", 2, 3, "missing return"),
    ("return not last", "  return g, m\n  m = g * 2.0\n  return g, m\n", 2, 3, "return must be the last"),
    ("return of too few values", "  m = g * 2.0\n  return m\n", 3, 3,
     "return must give the update and the 1 state (m): got 1 value"),
    ("return of too many values", "  return g, m, m\n", 2, 3, "got 3 values"),
    ("return of an expression", "  return g * 2.0, m\n", 2, 10, "return must list variable names"),
    ("empty return", "  return\n", 2, 3, "return must give the update"),
    ("for loop", "  for i in g:\n    m = g * 2.0\n  return g, m\n", 2, 3, "loops are not part"),
    ("while loop", "  while m:\n    m = g * 2.0\n  return g, m\n", 2, 3, "loops are not part"),
    ("import", "  import os\n  return g, m\n", 2, 3, "imports are not part"),
    ("from import", "  from os import path\n  return g, m\n", 2, 3, "imports are not part"),
    ("attribute call", "  m = jnp.sign(g)\n  return g, m\n", 2, 7, "attributes are not part"),
    ("attribute argument", "  m = sign(g.T)\n  return g, m\n", 2, 12, "attributes are not part"),
    ("subscript", "  m = g[0]\n  return g, m\n", 2, 7, "subscripts are not part"),
    ("subscript argument", "  m = sign(g[0])\n  return g, m\n", 2, 12, "subscripts are not part"),
    ("python builtin", "  m = print(g)\n  return g, m\n", 2, 7, "Python builtin 'print'"),
    ("python builtin eval", "  m = eval(g)\n  return g, m\n", 2, 7, "Python builtin 'eval'"),
    ("lambda", "  f = lambda x: x\n  return g, m\n", 2, 7, "lambdas are not part"),
    ("string argument", "  m = interp(g, m, 'a')\n  return g, m\n", 2, 20, "strings are not part"),
    ("docstring", '  """Adam."""\n  return g, m\n', 2, 3, "strings are not part"),
    ("string value", "  m = 'abc'\n  return g, m\n", 2, 7, "strings are not part"),
    ("nested call", "  m = sqrt(g * 2.0)\n  return g, m\n", 2, 12, "nested expressions"),
    ("power operator", "  m = g ** 2.0\n  return g, m\n", 2, 7, "operator 'g ** 2.0'"),
    ("augmented assignment", "  m += g\n  return g, m\n", 2, 3, "augmented assignments"),
    ("conditional", "  if m:\n    m = g * 2.0\n  return g, m\n", 2, 3, "conditionals"),
    ("keyword argument", "  m = interp(g, m, a=0.9)\n  return g, m\n", 2, 20, "keyword arguments"),
    ("tuple assignment", "  m, v = g, g\n  return g, m\n", 2, 3, "assign to a single variable"),
    ("bare name", "  m = g\n  return g, m\n", 2, 7, "'g' alone is not allowed"),
    ("boolean", "  m = g * True\n  return g, m\n", 2, 11, "booleans are not part"),
    ("comparison", "  m = sign(g > 0)\n  return g, m\n", 2, 12, "comparisons"),
    ("syntax error", "  m = = g\n  return g, m\n", 2, 7, "syntax error"),
]


@pytest.mark.parametrize("body, line, col, fragment", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors_name_file_line_and_column(body, line, col, fragment):
  with pytest.raises(ProgramError) as info:
    parse(HEADER + body, filename="prog.py")
  error = info.value
  assert fragment in error.message
  assert (error.filename, error.line, error.col) == ("prog.py", line, col)
  assert str(error) == f"prog.py:{line}:{col}: {error.message}"


@pytest.mark.parametrize("text, fragment", [
    ("", "no 'def train(...)' found"),
    ("x = 1\n", "expected 'def train"),
    ("def step(w, g, lr):\n  return g\n", "must be named 'train'"),
    ("def train(w, lr):\n  return w\n", "got 2 parameters"),
    ("def train(w, g, a, b, c, d, e, lr):\n  return g, a, b, c, d, e\n", "got 8 parameters"),
    ("def train(w, g, g, lr):\n  return g, g\n", "duplicate parameter"),
    ("def train(w, g, *s, lr):\n  return g\n", "plain names"),
])
def test_signature_errors(text, fragment):
  with pytest.raises(ProgramError, match="^prog.py:1:1: ") as info:
    parse(text, filename="prog.py")
  assert fragment in info.value.message


def test_a_second_definition_is_an_error_at_its_line():
  with pytest.raises(ProgramError, match="^p.py:3:1: only one function definition"):
    parse("def train(w, g, lr):\n  return g\ndef train(w, g, lr):\n  return g\n", "p.py")


def test_parse_file_names_the_file(tmp_path):
  path = tmp_path / "p.py"
  path.write_text(HEADER + "  m = nope(g)\n  return g, m\n")
  with pytest.raises(ProgramError, match=rf"^{path}:2:7: unknown function 'nope'$"):
    parse_file(path)
  with pytest.raises(ProgramError, match=r"missing\.py: cannot read program file"):
    parse_file(tmp_path / "missing.py")
  binary = tmp_path / "b.py"
  binary.write_bytes(b"\xff\xfe\x00")
  with pytest.raises(ProgramError, match="not a UTF-8 text file"):
    parse_file(binary)


def test_parse_file_reads_a_valid_file(tmp_path):
  path = tmp_path / "sgd.py"
  path.write_text(dsl.library.text("sgd"))
  assert parse_file(pathlib.Path(path)) == dsl.library.load("sgd")


def test_parsed_programs_are_values():
  program = parse("def train(w, g, lr):\n  u = g * lr\n  return u\n")
  assert program == Program(("w", "g", "lr"), (Statement("u", "*", ("g", "lr")),), ("u",))
