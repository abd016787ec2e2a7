"""The dataflow graph of a program, with its live and dead parts, as networkx and DOT.

``graph(program)`` is a ``networkx.DiGraph`` whose edges run from a value to the statement or
output that reads it (a DAG: one step of the program). Nodes:

* ``in:<name>`` for each parameter (``kind="param"``, ``role`` one of ``weights``,
  ``gradient``, ``state``, ``lr``);
* ``s<i>`` for statement ``i`` (``kind="statement"``, ``index``, ``line``, ``type``, ``text``);
* ``out:<k>`` for the ``k``-th returned value (``kind="output"``, ``role`` ``update`` or
  ``state``; a state output has ``next="in:<state>"``, the node its value becomes at the next
  step).

Every node has ``label`` and ``live`` (``dsl.analysis``: a node is live when some update
depends on it, across steps). Constants are not nodes; they show in the statement's text. An
edge carries ``positions``, the argument indices it fills (``m * m``: ``(0, 1)``; outputs:
``(0,)``).

``to_dot`` writes Graphviz DOT: dead nodes dashed and grey, state outputs linked to the state
they become by a dotted "next step" edge. Render with ``dot -Tsvg program.dot``.
"""

from __future__ import annotations

import os

import networkx as nx

from dsl.analysis import analyze
from dsl.files import atomic_write
from dsl.program import Program, param_of


def graph(program: Program) -> nx.DiGraph:
  """The dataflow graph of ``program`` (see the module docstring).

  Raises ``ProgramError`` for an invalid program.
  """
  analysis = analyze(program)
  params = program.params
  g = nx.DiGraph(name=f"train({', '.join(params)})")
  roles = ["weights", "gradient"] + ["state"] * program.num_states + ["lr"]
  live_params = set()
  for index, is_live in enumerate(analysis.live):
    if is_live:
      live_params.update(param_of(r) for r in analysis.sources[index] if isinstance(r, int)
                         and r < 0)
  if analysis.outputs[0] < 0:
    live_params.add(param_of(analysis.outputs[0]))
  for state in analysis.live_states:
    live_params.add(2 + state)
    if analysis.outputs[1 + state] < 0:
      live_params.add(param_of(analysis.outputs[1 + state]))

  def node_of(ref: int) -> str:
    return f"s{ref}" if ref >= 0 else f"in:{params[param_of(ref)]}"

  for i, (name, role) in enumerate(zip(params, roles)):
    g.add_node(f"in:{name}", kind="param", role=role, label=name, live=i in live_params)
  for index, statement in enumerate(program.statements):
    node = f"s{index}"
    g.add_node(node, kind="statement", index=index, line=program.line_of(index),
               type=analysis.types[index].name.lower(), text=statement.to_text(),
               label=statement.to_text(), live=analysis.live[index])
    for position, ref in enumerate(analysis.sources[index]):
      if isinstance(ref, int):
        source = node_of(ref)
        earlier = g.edges[source, node]["positions"] if g.has_edge(source, node) else ()
        g.add_edge(source, node, positions=earlier + (position,))
  for k, (name, ref) in enumerate(zip(program.returns, analysis.outputs)):
    node = f"out:{k}"
    role = "update" if k == 0 else program.states[k - 1]
    label = f"return {role}" + ("" if name == role else f" ({name})")
    if k == 0:
      g.add_node(node, kind="output", role="update", label=label, live=True)
    else:
      g.add_node(node, kind="output", role="state", label=label,
                 live=(k - 1) in analysis.live_states, next=f"in:{role}")
    g.add_edge(node_of(ref), node, positions=(0,))
  return g


def _quote(text: str) -> str:
  """A DOT double-quoted string (backslashes, quotes and newlines escaped)."""
  escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
  return f'"{escaped}"'


def to_dot(g: nx.DiGraph) -> str:
  """Graphviz DOT text of a graph made by ``graph`` (any DiGraph works: nodes without
  ``label`` show their id, nodes without ``live`` show as live)."""
  lines = [f"digraph {_quote(g.graph.get('name', 'program'))} {{", "  rankdir=TB;",
           '  node [fontname="monospace"];']
  for node, data in g.nodes(data=True):
    attributes = {"label": str(data.get("label", node))}
    kind = data.get("kind")
    attributes["shape"] = {"param": "ellipse", "output": "doubleoctagon"}.get(kind, "box")
    if not data.get("live", True):
      attributes.update(style="dashed", color="grey60", fontcolor="grey60")
    lines.append(f"  {_quote(str(node))} [{_attributes(attributes)}];")
  for source, target, data in g.edges(data=True):
    attributes = {}
    positions = data.get("positions", ())
    if positions and (g.in_degree(target) > 1 or len(positions) > 1):
      attributes["label"] = ",".join(str(p + 1) for p in positions)
    if not (g.nodes[source].get("live", True) and g.nodes[target].get("live", True)):
      attributes.update(style="dashed", color="grey60")
    suffix = f" [{_attributes(attributes)}]" if attributes else ""
    lines.append(f"  {_quote(str(source))} -> {_quote(str(target))}{suffix};")
  for node, data in g.nodes(data=True):
    if data.get("next") in g:
      lines.append(f"  {_quote(str(node))} -> {_quote(data['next'])} "
                   '[style=dotted, constraint=false, label="next step"];')
  lines.append("}")
  return "\n".join(lines) + "\n"


def _attributes(attributes: dict[str, str]) -> str:
  return ", ".join(f"{key}={_quote(value)}" for key, value in attributes.items())


def write_dot(program_or_graph: Program | nx.DiGraph, path: str | os.PathLike) -> None:
  """Writes the DOT text of a program's (or a graph's) dataflow graph to ``path``, atomically
  (a temporary file renamed over ``path``: a failure leaves any existing file as it was)."""
  g = program_or_graph if isinstance(program_or_graph, nx.DiGraph) else graph(program_or_graph)
  text = to_dot(g)
  atomic_write(path, text)
