"""Hypothesis strategies for random valid programs, built from the function table.

Every statement is drawn from ``dsl.functions.FUNCTIONS`` (a new row is drawn without any change
here) with type-valid arguments: scalar-only arguments get scalars, every variable read is
defined before. Use them from any test package::

    from tests.strategies import programs
    @hypothesis.given(programs())
    def test_something(program): ...
"""

from __future__ import annotations

import keyword

from hypothesis import strategies as st

from dsl import functions as fns
from dsl.program import Program, Statement, Type, param_types, statement_type

STATE_NAMES = ("m", "v", "s2", "s3")

# Every float the text can carry: signed zeros, subnormals, huge magnitudes and infinities
# (written 1e999). NaN has no literal, so it cannot be part of a program's text.
constants = st.floats(allow_nan=False, allow_infinity=True)

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name))


@st.composite
def parameter_lists(draw, num_states: int | None = None, names=identifiers) -> tuple[str, ...]:
  """``(weights, gradient, *states, lr)``: distinct names, 0 to 4 states."""
  if num_states is None:
    num_states = draw(st.integers(0, 4))
  return tuple(draw(st.lists(names, min_size=num_states + 3, max_size=num_states + 3,
                             unique=True)))


@st.composite
def statements(draw, env: dict[str, Type], names=identifiers,
               function_list: tuple[fns.Function, ...] | None = None) -> Statement:
  """One type-valid statement over the variables of ``env`` (name -> type)."""
  function = draw(st.sampled_from(function_list or fns.FUNCTIONS))
  scalars = sorted(name for name, type_ in env.items() if type_ == Type.SCALAR)
  args = []
  for position in range(function.arity):
    readable = scalars if position in function.scalar_args else sorted(env)
    choices = [constants] + ([st.sampled_from(readable)] if readable else [])
    args.append(draw(st.one_of(*choices)))
  target = draw(st.one_of(st.sampled_from(sorted(env)), names))
  return Statement(target, function.name, tuple(args))


@st.composite
def programs_over(draw, params: tuple[str, ...], max_statements: int = 12, names=identifiers,
                  function_list: tuple[fns.Function, ...] | None = None) -> Program:
  """A random valid program with the parameters ``params``; returns are any defined variables
  (so the update may be a scalar, or the gradient itself)."""
  program = Program(params, (), ())
  env = param_types(program)
  body = []
  for _ in range(draw(st.integers(0, max_statements))):
    statement = draw(statements(env, names, function_list))
    env[statement.target] = statement_type(statement, env)
    body.append(statement)
  returns = tuple(draw(st.sampled_from(sorted(env))) for _ in range(len(params) - 2))
  return Program(params, tuple(body), returns)


@st.composite
def programs(draw, num_states: int | None = None, max_statements: int = 12, names=identifiers,
             function_list: tuple[fns.Function, ...] | None = None) -> Program:
  """A random valid program with random (distinct, non-keyword) identifiers everywhere."""
  params = draw(parameter_lists(num_states, names))
  return draw(programs_over(params, max_statements, names, function_list))


@st.composite
def simple_programs(draw, num_states: int | None = None, max_statements: int = 12,
                    function_list: tuple[fns.Function, ...] | None = None) -> Program:
  """A random valid program over the paper's names ``(w, g, m, v, s2, s3, lr)`` and a few
  temporaries: readable in failure reports, and never shadowing a function name."""
  if num_states is None:
    num_states = draw(st.integers(0, 4))
  params = ("w", "g", *STATE_NAMES[:num_states], "lr")
  names = st.sampled_from(["update", "v0", "v1", "v2", "v3"])
  return draw(programs_over(params, max_statements, names, function_list))
