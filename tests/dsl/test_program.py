"""Programs as values: immutability, equality, canonical text, and abstract execution over types."""

import dataclasses

import hypothesis
import pytest

import dsl
from dsl.program import (Program, ProgramError, Statement, Type, check, format_constant,
                         infer_types, is_valid)
from tests.strategies import programs

S, P, T = Type.SCALAR, Type.PER_ARRAY, Type.TREE


def make(body, params=("w", "g", "m", "lr"), returns=("u", "m")):
  return Program(params, tuple(Statement(*s) for s in body), returns)


def test_types_are_ordered_by_broadcast():
  assert S < P < T and max(S, T) == T


def test_statement_constants_are_floats():
  statement = Statement("u", "*", ("g", 2))
  assert statement.args == ("g", 2.0) and isinstance(statement.args[1], float)


def test_programs_are_immutable_hashable_values():
  a = make([("u", "*", ("g", 2))])
  b = make([("u", "*", ("g", 2.0))])
  assert a == b and hash(a) == hash(b) and len({a, b}) == 1
  with pytest.raises(dataclasses.FrozenInstanceError):
    a.params = ("x",)
  with pytest.raises(dataclasses.FrozenInstanceError):
    a.statements[0].target = "x"
  assert make([("u", "*", ("g", 3.0))]) != a


def test_source_lines_are_not_part_of_the_value():
  parsed = dsl.parse("\n\n# c\ndef train(w, g, m, lr):\n\n  u = g * 2.0\n  return u, m\n")
  built = make([("u", "*", ("g", 2.0))])
  assert parsed == built and hash(parsed) == hash(built)
  assert parsed.line_of(0) == 6 and built.line_of(0) == 2
  assert parsed.replace(returns=("g", "m")).lines is None


def test_roles_of_the_parameters():
  program = make([], params=("weight", "grad", "m", "v", "rate"), returns=("grad", "m", "v"))
  assert (program.weights, program.gradient, program.lr) == ("weight", "grad", "rate")
  assert program.states == ("m", "v") and program.num_states == 2


def test_canonical_text():
  program = make([("n", "norm", ("g",)), ("u", "/", ("g", "n")), ("u", "interp", ("u", "m", 0.9)),
                  ("u", "-", ("u", -0.5)), ("c", "get_pi", ()), ("u", "clip", ("u", float("inf")))])
  assert program.to_text() == (
      "def train(w, g, m, lr):\n"
      "  n = norm(g)\n"
      "  u = g / n\n"
      "  u = interp(u, m, 0.9)\n"
      "  u = u - -0.5\n"
      "  c = get_pi()\n"
      "  u = clip(u, 1e999)\n"
      "  return u, m\n")
  assert str(program) == program.to_text() == dsl.to_text(program)
  assert dsl.parse(program.to_text()) == program


@pytest.mark.parametrize("value", [0.1, 1e-300, 5e-324, -0.0, 1e300, 123456789.0, 0.8999999761581421,
                                   float("inf"), float("-inf")])
def test_constants_print_to_text_that_reads_back_exactly(value):
  text = format_constant(value)
  program = dsl.parse(f"def train(w, g, lr):\n  u = g * {text}\n  return u\n")
  assert program.statements[0].args[1] == value


def test_infer_types_broadcasts():
  program = make([
      ("a", "*", ("lr", 2.0)),          # scalar * scalar
      ("n", "norm", ("g",)),            # tree -> per-array
      ("b", "*", ("n", "a")),           # per-array * scalar
      ("c", "+", ("b", "g")),           # per-array + tree
      ("d", "norm", ("n",)),            # per-array stays per-array
      ("e", "global_norm", ("g",)),     # tree -> scalar
      ("f", "dot", ("n", "g")),         # scalar
      ("h", "clip", ("n", "e")),        # type of the first argument
      ("i", "clip", ("a", 1.0)),
      ("k", "get_eps", ()),
      ("u", "interp", ("g", "m", "k")),
  ])
  assert infer_types(program) == (S, P, P, T, P, S, S, P, S, S, T)


@pytest.mark.parametrize("body, returns, index, fragment", [
    ([("u", "nope", ("g",))], ("u", "m"), 0, "unknown function 'nope'"),
    ([("u", "sqrt", ("g", "g"))], ("u", "m"), 0, "'sqrt' takes 1 argument, got 2"),
    ([("u", "+", ("g",))], ("u", "m"), 0, "'+' takes 2 arguments, got 1"),
    ([("a", "*", ("g", 1.0)), ("u", "sqrt", ("b",))], ("u", "m"), 1, "undefined variable 'b'"),
    ([("u", "interp", ("g", "m", "g"))], ("u", "m"), 0, "argument 3 of 'interp' must be a scalar"),
    ([("n", "norm", ("g",)), ("u", "clip", ("g", "n"))], ("u", "m"), 1, "'n' is per_array"),
    ([], ("u", "m"), None, "return of undefined variable 'u'"),
    ([], ("g",), None, "return must give the update and the 1 state (m): got 1 value"),
])
def test_type_errors_name_the_statement(body, returns, index, fragment):
  program = make(body, returns=returns)
  with pytest.raises(ProgramError) as info:
    infer_types(program)
  assert fragment in info.value.message
  assert info.value.statement == index
  assert info.value.line == program.line_of(len(body) if index is None else index)
  assert not is_valid(program)


@pytest.mark.parametrize("params, fragment", [
    (("w", "lr"), "got 2 parameters"),
    (("w", "g", "a", "b", "c", "d", "e", "lr"), "got 8 parameters"),
    (("w", "g", "w", "lr"), "duplicate parameter name"),
])
def test_signature_errors(params, fragment):
  program = Program(params, (), params[1:-1])
  with pytest.raises(ProgramError, match=fragment):
    check(program)


def test_check_returns_the_program():
  program = dsl.library.load("lion")
  assert check(program) is program and is_valid(program)


def test_program_error_text():
  assert str(ProgramError("bad", 3, 5, "f.py")) == "f.py:3:5: bad"
  assert str(ProgramError("bad", 3)) == "3: bad"
  assert str(ProgramError("bad")) == "bad"
  assert str(ProgramError("bad", 2, 1).located(filename="x.py")) == "x.py:2:1: bad"


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(programs())
def test_random_programs_are_valid_and_equal_to_a_copy(program):
  """The strategy only makes valid programs, and value semantics hold for all of them."""
  assert is_valid(program)
  copy = Program(tuple(program.params), tuple(Statement(s.target, s.function, tuple(s.args))
                                              for s in program.statements), program.returns)
  assert copy == program and hash(copy) == hash(program)
