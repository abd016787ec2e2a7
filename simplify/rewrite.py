"""Applies the exact rules (``simplify.rules``) to a fixed point, one application at a time.

Each application is recorded (rule, the expression before and after, the program after), so
the report shows every step. Nodes are visited readers first (top-down): a rule that looks at
a whole expression (``factor_common_scale`` on ``a * S + b * S``) sees it before the rules
that tidy its parts rewrite them. Every rule makes the program strictly simpler in a
well-founded order (fewer nodes, shallower interpolations, or scalars moved outwards into
their canonical form, which they never leave), so the loop ends; its guard against a bug,
``MAX_APPLICATIONS`` plus ``APPLICATIONS_PER_NODE`` per node of the starting DAG, grows with
the program (a chain of 1,000 ``u = sign(u)`` takes 999 applications, one per node).
"""

from __future__ import annotations

from typing import NamedTuple

from dsl.program import Program
from simplify import rules as rules_lib
from simplify.expression import Graph
from simplify.nodes import Node, Operand, operand_type, render

MAX_APPLICATIONS = 500
APPLICATIONS_PER_NODE = 10


class Application(NamedTuple):
  """One rule applied at one node: ``before`` became ``after``; ``program`` is the result."""
  rule: str
  why: str
  before: str
  after: str
  graph: Graph
  program: Program


def _text(operand: Operand, graph: Graph) -> str:
  """The expression, its named sub-expressions by their (original) variable names."""
  names = {**graph.hints, **graph.names}
  names.pop(operand, None)
  return render(operand, names, depth=4)


def step(graph: Graph, rules: tuple[rules_lib.RuleInfo, ...] = rules_lib.RULES
         ) -> Application | None:
  """The first rule application found (readers first, rules in order), or None."""
  outputs = set(o for o in graph.outputs() if isinstance(o, Node))
  for node in reversed(graph.nodes()):
    for rule in rules:
      new = rule.apply(node, graph)
      if new is None or new == node or operand_type(new) != node.type:
        continue
      if isinstance(new, float) and node in outputs:
        continue  # a returned value must stay a variable
      before = _text(node, graph)
      after_graph = graph.replace(node, new)
      return Application(rule.name, rule.why, before, _text(new, after_graph), after_graph,
                         after_graph.to_program())
  return None


def rewrite(graph: Graph, rules: tuple[rules_lib.RuleInfo, ...] = rules_lib.RULES
            ) -> list[Application]:
  """Every application, in order, until no rule applies."""
  applications: list[Application] = []
  limit = MAX_APPLICATIONS + APPLICATIONS_PER_NODE * len(graph.nodes())
  while True:
    application = step(graph, rules)
    if application is None:
      return applications
    applications.append(application)
    graph = application.graph
    if len(applications) > limit:
      raise AssertionError(f"rewriting did not reach a fixed point in {limit} "
                           f"applications; last: {application.rule}: {application.before} "
                           f"-> {application.after}")
