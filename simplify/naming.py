"""Descriptive variable names for a simplified program, from what each value does.

A name written by a person (``update``, ``wd``, ``sqrt_v``) is kept. A name that carries no
meaning is replaced by the value's role:

* meaningless: the search's generated names (``v845``, ``search.mutation``) and the pruner's
  renames (``m_1``, ``dsl.analysis``);
* roles, in the program's own style (short when the weights are called ``w``, long when they
  are called ``weight``): the chain of values that ends in the update is ``update``; ``w``
  times a constant is the weight decay (``wd`` / ``weight_decay``); a scalar computed from the
  schedule value alone is ``lr``; an exponential moving average of a square kept as a state is
  the second moment (``v`` / ``second_moment``), of anything else the momentum (``m`` /
  ``momentum``); anything else is named after its function and input (``sqrt_v``).

A state is also renamed when its name says the opposite of its role (a ``v`` that holds a
momentum, as in the paper's Program 8 after its two interpolations are merged).
"""

from __future__ import annotations

import re
from typing import Mapping, Protocol, Sequence

from dsl import functions as fns
from dsl.program import Type
from simplify.nodes import LR, STATE, WEIGHTS, Node, Operand, Param


class GraphView(Protocol):
  """What naming reads of a ``simplify.expression.Graph`` (which imports this module)."""
  names: Mapping[Param, str]
  update: Operand
  states: Sequence[Operand]
  hints: Mapping[Node, str]


_MEANINGLESS = re.compile(r"^v\d+$|^.+_\d+$")
_FIRST_MOMENT_NAMES = frozenset({"m", "momentum", "mom", "m1", "exp_avg", "ema", "mu"})
_SECOND_MOMENT_NAMES = frozenset({"v", "second_moment", "m2", "nu", "exp_avg_sq", "v2"})
_WORDS = {"+": "sum", "-": "difference", "*": "product", "/": "ratio"}


def meaningless(name: str) -> bool:
  """Whether ``name`` was generated (``v845``, ``m_1``) rather than chosen."""
  return bool(_MEANINGLESS.match(name))


def long_style(graph: GraphView) -> bool:
  return len(graph.names[Param(WEIGHTS)]) > 2


def _role_names(long: bool) -> dict[str, str]:
  if long:
    return {"update": "update", "weight_decay": "weight_decay", "lr": "lr",
            "first": "momentum", "second": "second_moment", "state": "state"}
  return {"update": "update", "weight_decay": "wd", "lr": "lr", "first": "m",
          "second": "v", "state": "s"}


def state_role(graph: GraphView, index: int) -> str | None:
  """``first`` or ``second`` (moment) when state ``index`` is an EMA ``interp(x, s, beta)``
  of ``x``, second when ``x`` is a square; None otherwise."""
  out = graph.states[index]
  if not (isinstance(out, Node) and out.function == "interp"
          and out.args[1] == Param(STATE, index) and isinstance(out.args[2], float)):
    return None
  source = out.args[0]
  squared = isinstance(source, Node) and (
      source.function == "square" or (source.function == "*" and source.args[0] == source.args[1]))
  return "second" if squared else "first"


def param_names(graph: GraphView, live: tuple[int, ...]) -> dict[Param, str]:
  """Names of the parameters the written program keeps (states: ``live``)."""
  roles = _role_names(long_style(graph))
  names = {p: n for p, n in graph.names.items() if p.role != STATE or p.index in live}
  taken = set(names.values())
  for index in live:
    param = Param(STATE, index)
    name = names[param]
    role = state_role(graph, index)
    wrong = ((role == "first" and name in _SECOND_MOMENT_NAMES)
             or (role == "second" and name in _FIRST_MOMENT_NAMES))
    if meaningless(name) or wrong:
      wanted = roles[role] if role else roles["state"]
      if wanted not in taken:
        taken.discard(name)
        taken.add(wanted)
        names[param] = wanted
  return names


def preferred_names(graph: GraphView, order: list[Node], live: tuple[int, ...],
                    params: dict[Param, str]) -> dict[Node, str]:
  """The name each node of ``order`` should get (``expression`` makes it unique)."""
  roles = _role_names(long_style(graph))
  readers: dict[Node, list[Node]] = {n: [] for n in order}
  for node in order:
    for a in node.args:
      if isinstance(a, Node) and node not in readers[a]:
        readers[a].append(node)
  state_of = {}
  for index in live:
    out = graph.states[index]
    if isinstance(out, Node):
      state_of.setdefault(out, params[Param(STATE, index)])

  def scalar_of_lr(node: Node) -> bool:
    return node.type == Type.SCALAR and any(a == Param(LR) for a in node.args) and all(
        isinstance(a, float) or a == Param(LR) for a in node.args)

  on_update_chain: set[Node] = set()
  for node in reversed(order):  # readers come later in the order
    if node == graph.update and node not in state_of:
      on_update_chain.add(node)
    elif (len(readers[node]) == 1 and readers[node][0] in on_update_chain
          and readers[node][0].args[0] == node and node not in state_of):
      on_update_chain.add(node)

  names: dict[Node, str] = {}

  def name_of(operand) -> str:
    if isinstance(operand, float):
      return "c"
    if isinstance(operand, Param):
      return params.get(operand, operand.key[1:])
    return names[operand]

  for node in order:
    hint = graph.hints.get(node)
    if node in state_of:
      names[node] = state_of[node]
    elif hint is not None and not meaningless(hint):
      names[node] = hint
    elif node in on_update_chain:
      names[node] = roles["update"]
    elif node.function == "*" and Param(WEIGHTS) in node.args and any(
        isinstance(a, float) for a in node.args):
      names[node] = roles["weight_decay"]
    elif scalar_of_lr(node):
      names[node] = roles["lr"]
    else:
      function = fns.BY_NAME[node.function]
      inputs = [name_of(a) for a in node.args if not isinstance(a, float)] or ["c"]
      if function.symbol:
        names[node] = f"{_WORDS[function.symbol]}_{'_'.join(inputs)}"
      else:
        names[node] = f"{node.function}_{inputs[0]}"
  return names
