"""Semantic hash and functional fingerprint (being built, issue 3).

Contract:
  semantic_hash(program) -> str          # hex digest
  functional_fingerprint(program) -> str # hex digest
"""


def semantic_hash(program):
  raise NotImplementedError("issue 3")


def functional_fingerprint(program):
  raise NotImplementedError("issue 3")
