"""Optimizer programs: immutable values, their types, their canonical text.

A program is the paper's listing::

    def train(w, g, m, v, lr):
      m = interp(g, m, 0.9)
      ...
      return update, m, v

``params`` are ``(weights, gradient, *states, lr)``; ``returns`` are ``(update, *states)``
with the outgoing states in the order of the incoming ones. States start at zero. The caller
applies ``w = w - update``.

Every value has one of three types, ordered by how far they broadcast:
``SCALAR`` (a number) < ``PER_ARRAY`` (one number per array of the parameter tree) < ``TREE``
(shaped like the parameters). A binary function's result has the larger type of its operands.
The update and the outgoing states are broadcast to ``TREE``.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import NamedTuple

from dsl import functions as fns


class Type(enum.IntEnum):
  SCALAR = 0
  PER_ARRAY = 1
  TREE = 2


class ProgramError(ValueError):
  """An invalid program, with where it is: ``FILE:LINE:COL: message``."""

  def __init__(self, message: str, line: int | None = None, col: int | None = None,
               filename: str | None = None, statement: int | None = None):
    super().__init__(message)
    self.message = message
    self.line = line
    self.col = col
    self.filename = filename
    self.statement = statement  # index into Program.statements, when the error is in one

  def located(self, filename: str | None = None, line: int | None = None,
              col: int | None = None) -> "ProgramError":
    return ProgramError(self.message, self.line if line is None else line,
                        self.col if col is None else col,
                        self.filename if filename is None else filename, self.statement)

  def __str__(self) -> str:
    where = [str(x) for x in (self.filename, self.line, self.col) if x is not None]
    return ":".join(where + [" " + self.message]) if where else self.message


Arg = str | float  # a variable name or a constant


@dataclasses.dataclass(frozen=True)
class Statement:
  """``target = function(*args)``; ``function`` is the canonical name."""
  target: str
  function: str
  args: tuple[Arg, ...]

  def __post_init__(self):
    object.__setattr__(self, "args", tuple(
        float(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a
        for a in self.args))

  @property
  def reads(self) -> tuple[str, ...]:
    return tuple(a for a in self.args if isinstance(a, str))

  def to_text(self) -> str:
    function = fns.BY_NAME[self.function]
    args = [format_constant(a) if isinstance(a, float) else a for a in self.args]
    if function.symbol:
      return f"{self.target} = {args[0]} {function.symbol} {args[1]}"
    return f"{self.target} = {self.function}({', '.join(args)})"


def format_constant(value: float) -> str:
  """Shortest text that parses back to the same float (``repr``; infinities as ``1e999``,
  which Python reads as inf, where ``repr`` would write the variable name ``inf``)."""
  value = float(value)
  if abs(value) == float("inf"):
    return "1e999" if value > 0 else "-1e999"
  return repr(value)


@dataclasses.dataclass(frozen=True)
class Program:
  params: tuple[str, ...]
  statements: tuple[Statement, ...]
  returns: tuple[str, ...]
  # Source line of each statement (for error messages and reports); not part of the value.
  lines: tuple[int, ...] | None = dataclasses.field(default=None, compare=False, repr=False)

  @property
  def weights(self) -> str:
    return self.params[0]

  @property
  def gradient(self) -> str:
    return self.params[1]

  @property
  def lr(self) -> str:
    return self.params[-1]

  @property
  def states(self) -> tuple[str, ...]:
    return self.params[2:-1]

  @property
  def num_states(self) -> int:
    return len(self.params) - 3

  def line_of(self, index: int) -> int:
    """Source line of statement ``index`` (its canonical line when parsed from elsewhere)."""
    if self.lines is not None and index < len(self.lines):
      return self.lines[index]
    return index + 2

  def replace(self, **changes) -> "Program":
    changes.setdefault("lines", None)
    return dataclasses.replace(self, **changes)

  def to_text(self) -> str:
    body = [f"def train({', '.join(self.params)}):"]
    body += [f"  {s.to_text()}" for s in self.statements]
    body.append(f"  return {', '.join(self.returns)}")
    return "\n".join(body) + "\n"

  def __str__(self) -> str:
    return self.to_text()

  # A program is immutable, so what is derived from it (its abstract execution, its analysis)
  # is computed once and kept on the object: a search child is type-checked by its mutation,
  # then analysed for its cache key, its fingerprint and its redundant fraction. The memo is
  # not part of the value: not compared, not pickled (workers and checkpoints get the fields).

  def memo(self, name: str):
    """The derived value stored under ``name``, or None."""
    return self.__dict__.get(name)

  def remember(self, name: str, value):
    """Stores a derived value (``memo``); returns it."""
    self.__dict__[name] = value
    return value

  def __getstate__(self) -> dict:
    return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def param_types(program: Program) -> dict[str, Type]:
  types = {name: Type.TREE for name in program.params}
  types[program.lr] = Type.SCALAR
  return types


def result_type(function: fns.Function, arg_types: tuple[Type, ...]) -> Type:
  """The type ``function`` returns for arguments of ``arg_types`` (already checked)."""
  kind = function.kind
  if kind == fns.CONSTANT or kind == fns.GLOBAL:
    return Type.SCALAR
  if kind == fns.GLOBAL_SCALE:
    return arg_types[0]
  widest = max(arg_types)
  if kind == fns.PER_ARRAY and widest == Type.TREE:
    return Type.PER_ARRAY
  return widest


def infer_types(program: Program) -> tuple[Type, ...]:
  """Abstract execution over types: the type of each statement's result.

  Raises ``ProgramError`` (with the statement's line) for the first statement that would
  fail at run time: an unknown function, a wrong number of arguments, an undefined variable,
  a tree where a scalar is required; or for a malformed signature or return.
  """
  return abstract_execution(program).types


# A reference to a value during abstract execution: a statement index (>= 0), a parameter
# (``param_ref(i) = -1 - i`` for ``params[i]``), or a constant (the float itself).
Ref = int | float


def param_ref(index: int) -> int:
  """The reference to ``program.params[index]`` (negative, so it never meets a statement's)."""
  return -1 - index


def param_of(ref: int) -> int:
  """The parameter index a negative reference stands for (inverse of ``param_ref``)."""
  return -1 - ref


class AbstractExecution(NamedTuple):  # a NamedTuple: built once per analysed program, cheaply
  """What abstract execution over types finds in a valid program.

  ``types[i]`` is the type of statement ``i``'s result; ``sources[i][k]`` what its ``k``-th
  argument refers to (a ``Ref``: the statement that last assigned the variable, a parameter,
  or a constant); ``outputs[k]`` what the ``k``-th returned name refers to.
  """
  types: tuple[Type, ...]
  sources: tuple[tuple[Ref, ...], ...]
  outputs: tuple[int, ...]


_SCALAR = Type.SCALAR
_TREE = Type.TREE


def abstract_execution(program: Program) -> AbstractExecution:
  """Runs ``program`` over abstract values (a type and a reference, no arrays).

  One pass gives validity (the errors of ``infer_types``), each statement's type, and its
  def-use links (the dependency graph the analysis of ``dsl.analysis`` works on). The loop
  below only detects an error; ``statement_type`` then raises it with its message, so the
  messages live in one place. Memoised on the program (``Program.memo``).
  """
  known = program.memo("abstract_execution")
  if known is not None:
    return known
  check_signature(program)
  env: dict[str, tuple[Type, Ref]] = {name: (_TREE, param_ref(i))
                                      for i, name in enumerate(program.params)}
  env[program.lr] = (_SCALAR, param_ref(len(program.params) - 1))
  by_name = fns.BY_NAME  # looked up every time: rows may be added at run time
  types: list[Type] = []
  sources: list[tuple[Ref, ...]] = []
  for index, statement in enumerate(program.statements):
    args = statement.args
    function = by_name.get(statement.function)
    ok = function is not None and len(args) == function.arity
    if ok:
      scalar_args, kind = function.scalar_args, function.kind
      widest = _SCALAR
      refs = []
      for arg in args:
        if arg.__class__ is str:
          entry = env.get(arg)
          if entry is None:
            ok = False
            break
          if entry[0] > widest:
            widest = entry[0]
          refs.append(entry[1])
        else:
          refs.append(arg)
      if ok and scalar_args:
        ok = all(args[p].__class__ is not str or env[args[p]][0] is _SCALAR for p in scalar_args)
    if not ok:
      statement_type(statement, {name: entry[0] for name, entry in env.items()}, program, index)
      raise AssertionError(f"abstract execution rejected a statement that statement_type "
                           f"accepts: {statement.to_text()}")
    if kind == fns.ELEMENTWISE:
      out = widest
    elif kind == fns.CONSTANT or kind == fns.GLOBAL:
      out = _SCALAR
    elif kind == fns.GLOBAL_SCALE:
      out = env[args[0]][0] if args[0].__class__ is str else _SCALAR
    else:
      out = result_type(function, tuple(env[a][0] if a.__class__ is str else _SCALAR
                                        for a in args))
    types.append(out)
    sources.append(tuple(refs))
    env[statement.target] = (out, index)
  outputs = []
  for name in program.returns:
    entry = env.get(name)
    if entry is None:
      raise ProgramError(f"return of undefined variable '{name}'",
                         line=program.line_of(len(program.statements)))
    outputs.append(entry[1])
  return program.remember("abstract_execution",
                          AbstractExecution(tuple(types), tuple(sources), tuple(outputs)))


def statement_type(statement: Statement, env: dict[str, Type], program: Program | None = None,
                   index: int = 0) -> Type:
  def fail(message):
    line = program.line_of(index) if program is not None else None
    return ProgramError(message, line=line, statement=index)

  function = fns.BY_NAME.get(statement.function)
  if function is None:
    raise fail(f"unknown function '{statement.function}'")
  if len(statement.args) != function.arity:
    raise fail(f"'{statement.function}' takes {function.arity} argument"
               f"{'' if function.arity == 1 else 's'}, got {len(statement.args)}")
  arg_types = []
  for position, arg in enumerate(statement.args):
    if isinstance(arg, str):
      if arg not in env:
        raise fail(f"undefined variable '{arg}'")
      arg_type = env[arg]
    else:
      arg_type = Type.SCALAR
    if position in function.scalar_args and arg_type != Type.SCALAR:
      raise fail(f"argument {position + 1} of '{statement.function}' must be a scalar, "
                 f"'{arg}' is {arg_type.name.lower()}")
    arg_types.append(arg_type)
  return result_type(function, tuple(arg_types))


def check_params(params: tuple[str, ...]) -> None:
  if not 3 <= len(params) <= 7:
    raise ProgramError(f"train takes (weights, gradient, 0 to 4 states, lr): got {len(params)} "
                       "parameters", line=1)
  if len(set(params)) != len(params):
    raise ProgramError("duplicate parameter name", line=1)


def check_signature(program: Program) -> None:
  check_params(program.params)
  if len(program.returns) != 1 + program.num_states:
    raise ProgramError(
        f"return must give the update and the {program.num_states} state"
        f"{'' if program.num_states == 1 else 's'} ({', '.join(program.states) or 'none'}): "
        f"got {len(program.returns)} value{'' if len(program.returns) == 1 else 's'}",
        line=program.line_of(len(program.statements)))


def check(program: Program) -> Program:
  """Type-checks ``program`` and returns it; raises ``ProgramError`` if it is invalid."""
  infer_types(program)
  return program


def is_valid(program: Program) -> bool:
  try:
    infer_types(program)
  except ProgramError:
    return False
  return True
