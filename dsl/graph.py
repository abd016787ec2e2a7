"""The dataflow graph of a program (being built, issue 3).

Contract:
  graph(program) -> networkx.DiGraph
  to_dot(graph) -> str ; write_dot(program_or_graph, path)
"""


def graph(program):
  raise NotImplementedError("issue 3")


def to_dot(g):
  raise NotImplementedError("issue 3")


def write_dot(program_or_graph, path):
  raise NotImplementedError("issue 3")
