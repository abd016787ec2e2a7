"""The values of an expression DAG: ``Param`` (an input of the step), ``Node`` (a function of
operands) and float constants, with their keys, types and infix text.

``simplify.expression.Graph`` builds programs out of them and ``simplify.naming`` names them;
both import this module, neither imports the other's user.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterable, Union

from dsl import functions as fns
from dsl.program import Type, format_constant, result_type

WEIGHTS, GRADIENT, STATE, LR = "weights", "gradient", "state", "lr"


@dataclasses.dataclass(frozen=True)
class Param:
  """An input of the step: ``role`` is weights, gradient, state or lr; ``index`` the state's
  index in the original signature (0 for the others)."""
  role: str
  index: int = 0

  @property
  def key(self) -> str:
    return f"@{self.role}{self.index if self.role == STATE else ''}"

  @property
  def type(self) -> Type:
    return Type.SCALAR if self.role == LR else Type.TREE


class Node:
  """``function(*args)``; immutable; equal when the expressions are structurally equal."""

  __slots__ = ("function", "args", "key", "type", "_hash")

  def __init__(self, function: str, args: Iterable["Operand"]):
    function = fns.BY_NAME[function].name  # canonical spelling
    args = tuple(float(a) if isinstance(a, (int, float)) else a for a in args)
    text = f"{function}({','.join(operand_key(a) for a in args)})"
    self.function = function
    self.args = args
    self.key = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    self.type = result_type(fns.BY_NAME[function], tuple(operand_type(a) for a in args))
    self._hash = hash(self.key)

  def __eq__(self, other) -> bool:
    return isinstance(other, Node) and other.key == self.key

  def __hash__(self) -> int:
    return self._hash

  def __repr__(self) -> str:
    return f"Node({self.function}, {self.args!r})"

  def __setattr__(self, name, value):
    if hasattr(self, "_hash"):
      raise AttributeError("Node is immutable")
    object.__setattr__(self, name, value)


Operand = Union[Node, Param, float]


def operand_key(operand: Operand) -> str:
  if isinstance(operand, float):
    return "#" + repr(operand + 0.0)
  return operand.key


def operand_type(operand: Operand) -> Type:
  return Type.SCALAR if isinstance(operand, float) else operand.type


def is_constant(operand: Operand) -> bool:
  return isinstance(operand, float)


def walk(roots: Iterable[Operand]) -> list[Node]:
  """The nodes ``roots`` depend on, each once, every node after its arguments."""
  seen: set[Node] = set()
  order: list[Node] = []
  stack = [(root, False) for root in reversed(list(roots))]
  while stack:
    operand, expanded = stack.pop()
    if not isinstance(operand, Node):
      continue
    if expanded:
      if operand not in seen:
        seen.add(operand)
        order.append(operand)
      continue
    if operand in seen:
      continue
    stack.append((operand, True))
    stack.extend((a, False) for a in reversed(operand.args) if isinstance(a, Node))
  return order


def render(operand: Operand, names: dict | None = None, depth: int = 4) -> str:
  """Infix text of an expression, for reports (``m / abs(m)``); an operand in ``names`` is
  written as its name, and below ``depth`` levels an unnamed one as ``...``."""
  names = names or {}
  if isinstance(operand, float):
    return format_constant(operand)
  if operand in names:
    return names[operand]
  if isinstance(operand, Param):
    return operand.key[1:]
  if depth == 0:
    return "..."
  function = fns.BY_NAME[operand.function]
  args = [render(a, names, depth - 1) for a in operand.args]
  if not function.symbol:
    return f"{operand.function}({', '.join(args)})"

  def wrap(arg: Operand, text: str) -> str:
    inner = fns.BY_NAME[arg.function].symbol if isinstance(arg, Node) and arg not in names else None
    return f"({text})" if inner in ("+", "-") or (inner and function.symbol == "/") else text

  return f"{wrap(operand.args[0], args[0])} {function.symbol} {wrap(operand.args[1], args[1])}"
