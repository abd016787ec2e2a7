"""Dependency tracking, cross-step liveness and pruning (being built, issue 3).

Contract:
  redundant_statements(program) -> tuple[int, ...]   # 0-based statement indices, ascending
  prune(program) -> Program                          # drops every redundant statement
  effective_states(program) -> int                   # states that really carry information
"""


def redundant_statements(program):
  raise NotImplementedError("issue 3")


def prune(program):
  raise NotImplementedError("issue 3")


def effective_states(program):
  raise NotImplementedError("issue 3")
