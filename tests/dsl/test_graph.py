"""The dataflow graph (dsl.graph) and its DOT export."""

import re

import networkx as nx
import pytest

import dsl
from dsl.program import ProgramError


def test_program4_graph_nodes_edges_and_liveness():
  program4 = dsl.library.load("program4")
  g = dsl.graph(program4)
  assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
  params = [n for n, d in g.nodes(data=True) if d["kind"] == "param"]
  assert params == ["in:w", "in:g", "in:m", "in:v", "in:lr"]
  assert len([n for n, d in g.nodes(data=True) if d["kind"] == "statement"]) == 12
  dead = sorted(n for n, d in g.nodes(data=True) if not d["live"])
  assert dead == ["in:m", "out:1", "s10"]  # m = cosh(update), its return, the incoming m
  assert g.nodes["s10"]["text"] == "m = cosh(update)"
  assert g.nodes["out:1"]["next"] == "in:m" and g.nodes["out:0"]["role"] == "update"
  # m2 = m * m reads statement 2 twice; abs_m = sqrt(m2) reads m2 at position 0.
  assert g.edges["s2", "s3"]["positions"] == (0, 1)
  assert g.edges["s3", "s5"]["positions"] == (0,)
  assert set(g.predecessors("s2")) == {"s1", "in:v"}  # interp(g, v, 0.899): the constant is text
  assert g.nodes["s2"]["line"] == program4.line_of(2)
  assert g.nodes["s2"]["type"] == "tree"


def test_liveness_in_graph_matches_the_analysis():
  program8 = dsl.library.load("program8")
  g = dsl.graph(program8)
  dead = {d["index"] for _, d in g.nodes(data=True) if d["kind"] == "statement" and not d["live"]}
  assert dead == set(dsl.redundant_statements(program8))
  # Every live statement reaches the update output.
  for node, data in g.nodes(data=True):
    if data["kind"] == "statement" and data["live"]:
      assert nx.has_path(g, node, "out:0") or any(
          nx.has_path(g, node, f"out:{k}") for k in (1, 2))


def _dot_statements(text):
  """The node and edge statements of a DOT text (one per line in what to_dot writes)."""
  return [line.strip() for line in text.splitlines()[1:-1]]


def test_to_dot_is_well_formed_and_marks_dead_nodes():
  text = dsl.to_dot(dsl.graph(dsl.library.load("program4")))
  assert text.startswith('digraph "train(w, g, m, v, lr)" {') and text.rstrip().endswith("}")
  quoted = r'"(?:[^"\\]|\\.)*"'
  attributes = rf"(\s*\[(\w+={quoted}|\w+=\w+)(, (\w+={quoted}|\w+=\w+))*\])?"
  for line in _dot_statements(text):
    assert re.fullmatch(rf"(rankdir=TB|node \[.*\]|{quoted}( -> {quoted})?{attributes});",
                        line), line
  assert '"s10" [label="m = cosh(update)", shape="box", style="dashed"' in text
  assert '"out:1" -> "in:m" [style=dotted' in text


def test_to_dot_escapes_quotes_and_backslashes():
  g = nx.DiGraph()
  g.add_node('a "quoted" \\ name', label='say "hi"\\n')
  g.add_edge('a "quoted" \\ name', "b")
  text = dsl.to_dot(g)
  assert r'"a \"quoted\" \\ name" [label="say \"hi\"\\n", shape="box"];' in text
  assert r'"a \"quoted\" \\ name" -> "b";' in text


def test_write_dot_from_program_or_graph(tmp_path):
  program = dsl.library.load("lion")
  path = tmp_path / "lion.dot"
  dsl.write_dot(program, path)
  assert path.read_text() == dsl.to_dot(dsl.graph(program))
  other = tmp_path / "graph.dot"
  dsl.write_dot(dsl.graph(program), other)
  assert other.read_text() == path.read_text()
  assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.dot", "lion.dot"]


def test_write_dot_failure_keeps_the_old_file(tmp_path):
  path = tmp_path / "out.dot"
  path.write_text("old")
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "sin", ("x",)),), ("u",))
  with pytest.raises(ProgramError):
    dsl.write_dot(bad, path)
  assert path.read_text() == "old"
  with pytest.raises(OSError):
    dsl.write_dot(dsl.library.load("sgd"), tmp_path / "missing-dir" / "x.dot")
