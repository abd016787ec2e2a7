"""A program as an expression DAG, and back: the form the simplifier's rewrites work on.

A ``dsl.Program`` names values with (re-assignable) variables; an algebraic rewrite is easier
on the values themselves. ``Graph.of(program)`` runs the program symbolically: every live
statement becomes a ``Node(function, args)`` whose arguments are ``Node``s, ``Param``s (the
incoming weights, gradient, states and lr) or float constants. Structurally equal
expressions are one node (the key is a digest of the function and the arguments' keys, so
equality and hashing cost O(1) however deep the DAG).

``Graph.to_program()`` writes the DAG back as a program:

* **states**: only live states are kept (cross-step liveness, ``dsl.analysis``); a dead state
  never influences an update, so dropping it from the signature keeps every update;
* **order** (the canonical statement order): a topological order of the live nodes; among the
  nodes ready to be written, the one whose *position* is smallest goes first. A node read from
  a program keeps its statement index as position; a node a rewrite creates takes the position
  of the node it replaces (its new sub-expressions just before it). So an untouched program is
  written in its own order, and a rewritten one keeps the reader's layout around the change;
* **names**: a node keeps the variable name it had (``hint``), unless that name carries no
  meaning (``v845``: the search's generated names; ``m_1``: the pruner's renames) or is
  still needed for another value; then it gets a descriptive name from its role
  (``simplify.naming``). A variable is reassigned only once nothing reads its old value.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools

import dsl
from dsl.program import Program, Statement
from simplify import naming
from simplify.nodes import GRADIENT, LR, STATE, WEIGHTS, Node, Operand, Param, walk


@dataclasses.dataclass
class Graph:
  """A program as a DAG: the update's and each state's outgoing expression, and layout hints.

  Attributes:
    names: the original parameter names, by ``Param``.
    update: the update's expression.
    states: per original state (index into the signature), its outgoing expression.
    hints: the variable name each node had (or inherits from the node it replaced).
    positions: each node's place in the statement order (see the module docstring).
  """
  names: dict[Param, str]
  update: Operand
  states: tuple[Operand, ...]
  hints: dict[Node, str] = dataclasses.field(default_factory=dict)
  positions: dict[Node, tuple[float, int]] = dataclasses.field(default_factory=dict)
  _counter: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1))

  @classmethod
  def of(cls, program: Program) -> "Graph":
    """The DAG of ``program``'s statements (raises ``ProgramError`` for an invalid one)."""
    dsl.check(program)
    names: dict[Param, str] = {Param(WEIGHTS): program.weights, Param(GRADIENT): program.gradient,
                               Param(LR): program.lr}
    names.update({Param(STATE, i): name for i, name in enumerate(program.states)})
    env: dict[str, Operand] = {name: param for param, name in names.items()}
    graph = cls(names, 0.0, ())
    for index, statement in enumerate(program.statements):
      node = Node(statement.function,
                  [env[a] if isinstance(a, str) else a for a in statement.args])
      env[statement.target] = node
      graph.hints.setdefault(node, statement.target)
      graph.positions.setdefault(node, (float(index), 0))
    graph.update = env[program.returns[0]]
    graph.states = tuple(env[name] for name in program.returns[1:])
    for i, name in enumerate(program.states):  # a state's value is best named after it
      if isinstance(graph.states[i], Node):
        graph.hints[graph.states[i]] = name
    return graph

  # Liveness.
  def live_states(self) -> tuple[int, ...]:
    """States whose value some update depends on (least fixed point, ``dsl.analysis``)."""
    live: set[int] = set()
    pending = [self.update]
    seen: set[Node] = set()
    while pending:
      operand = pending.pop()
      if isinstance(operand, Param) and operand.role == STATE and operand.index not in live:
        live.add(operand.index)
        pending.append(self.states[operand.index])
      elif isinstance(operand, Node) and operand not in seen:
        seen.add(operand)
        pending.extend(operand.args)
    return tuple(sorted(live))

  def outputs(self) -> list[Operand]:
    return [self.update] + [self.states[i] for i in self.live_states()]

  def nodes(self) -> list[Node]:
    """The live nodes, each after its arguments."""
    return walk(self.outputs())

  # Rewriting.
  def replace(self, old: Node, new: Operand) -> "Graph":
    """A copy where every use of ``old`` reads ``new``; ``new``'s fresh nodes take ``old``'s
    position and ``new`` its name."""
    graph = Graph(dict(self.names), self.update, self.states, dict(self.hints),
                  dict(self.positions), self._counter)
    position = self.positions.get(old, (float("inf"), 0))[0]
    for node in walk([new]):
      if node not in graph.positions:
        graph.positions[node] = (position, next(self._counter))
    if isinstance(new, Node) and old in self.hints and new not in self.positions:
      graph.hints[new] = self.hints[old]
    memo: dict[Node, Operand] = {old: new}

    def rebuild(root: Operand) -> Operand:
      # Arguments first, with an explicit stack: a chain of thousands of statements is a DAG
      # that deep, far past Python's recursion limit.
      stack = [root]
      while stack:
        operand = stack[-1]
        if not isinstance(operand, Node) or operand in memo:
          stack.pop()
          continue
        waiting = [a for a in operand.args if isinstance(a, Node) and a not in memo]
        if waiting:
          stack.extend(waiting)
          continue
        stack.pop()
        args = tuple(memo.get(a, a) if isinstance(a, Node) else a for a in operand.args)
        if args == operand.args:
          memo[operand] = operand
        else:
          node = Node(operand.function, args)
          graph.positions.setdefault(node, self.positions.get(operand, (position, 0)))
          if operand in self.hints:
            graph.hints.setdefault(node, self.hints[operand])
          memo[operand] = node
      return memo.get(root, root) if isinstance(root, Node) else root

    graph.update = rebuild(self.update)
    graph.states = tuple(rebuild(s) for s in self.states)
    return graph

  # Writing back.
  def order(self) -> list[Node]:
    """The canonical statement order (module docstring): a topological order by position,
    in which a state's new value comes after every read of its old one when it can (so the
    state's variable can be reassigned in place, as in ``m = interp(g, m, 0.9)``)."""
    nodes = self.nodes()
    inputs = {n: {a for a in n.args if isinstance(a, Node)} for n in nodes}
    waits = {n: set(inputs[n]) for n in nodes}
    for index in self.live_states():
      out = self.states[index]
      if not isinstance(out, Node):
        continue
      before_out = set(walk([out]))
      for node in nodes:
        if Param(STATE, index) in node.args and node not in before_out:
          waits[out].add(node)
    return _topological(nodes, waits, self._sort_key) or _topological(nodes, inputs,
                                                                      self._sort_key)

  def _sort_key(self, node: Node) -> tuple:
    return self.positions.get(node, (float("inf"), 0)) + (node.key,)

  def to_program(self) -> Program:
    """The DAG as a valid program (live states only; see the module docstring)."""
    live = self.live_states()
    order = self.order()
    param_names = naming.param_names(self, live)
    index = {node: i for i, node in enumerate(order)}
    end = len(order)
    last_use: dict[object, int] = {}
    for node in order:
      for a in node.args:
        if not isinstance(a, float):
          last_use[a] = index[node]
    outputs = [self.update] + [self.states[i] for i in live]
    for output in outputs:
      if not isinstance(output, float):
        last_use[output] = end
    bound: dict[str, object] = {name: param for param, name in param_names.items()}
    name_of: dict[object, str] = {param: name for param, name in param_names.items()}
    preferred = naming.preferred_names(self, order, live, param_names)
    statements = []
    for i, node in enumerate(order):
      name = _free_name(preferred[node], bound, last_use, i)
      bound[name] = node
      name_of[node] = name
      statements.append(Statement(name, node.function,
                                  tuple(a if isinstance(a, float) else name_of[a]
                                        for a in node.args)))
    params = ((param_names[Param(WEIGHTS)], param_names[Param(GRADIENT)])
              + tuple(param_names[Param(STATE, i)] for i in live) + (param_names[Param(LR)],))
    returns = tuple(name_of[o] for o in outputs)
    return dsl.check(Program(params, tuple(statements), returns))


def _topological(nodes: list[Node], waits: dict[Node, set[Node]], sort_key) -> list[Node]:
  """``nodes`` with each after those it ``waits`` for, the ready one with the smallest
  ``sort_key`` first; empty if the waits have a cycle."""
  readers: dict[Node, list[Node]] = {n: [] for n in nodes}
  for node, before in waits.items():
    for other in before:
      readers[other].append(node)
  count = {n: len(waits[n]) for n in nodes}
  ready = [sort_key(n) + (n,) for n in nodes if count[n] == 0]
  heapq.heapify(ready)
  order: list[Node] = []
  while ready:
    node = heapq.heappop(ready)[-1]
    order.append(node)
    for reader in readers[node]:
      count[reader] -= 1
      if count[reader] == 0:
        heapq.heappush(ready, sort_key(reader) + (reader,))
  return order if len(order) == len(nodes) else []


def _free_name(wanted: str, bound: dict[str, object], last_use: dict[object, int],
               position: int) -> str:
  """``wanted`` if nothing at or after ``position`` still reads its current value, else
  ``wanted_2``, ``wanted_3``...; ``last_use`` of a value is where it is read last."""
  for suffix in itertools.count(1):
    name = wanted if suffix == 1 else f"{wanted}_{suffix}"
    holder = bound.get(name)
    if holder is None or last_use.get(holder, -1) <= position:
      return name
  raise AssertionError("unreachable")
