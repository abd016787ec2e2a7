"""Semantic hash of a program: equal for programs that compute their live outputs alike.

The hash is computed bottom-up over the live dataflow DAG (``dsl.analysis``), in the spirit of
hash-consing / global value numbering:

* a parameter hashes by its role: ``w``, ``g``, ``lr``, and ``s<k>`` for the ``k``-th *live*
  state (dead states are dropped and the live ones numbered in order, so a program that keeps
  a state nobody reads hashes like the same program without it);
* a constant by its value (``repr(float(x))``: ``0.5``, ``5e-1`` and ``.50`` are one value;
  ``-0.0`` counts as ``0.0``);
* a statement by its function's canonical name (aliases such as ``interpolate`` are already
  resolved) and its operands' hashes, sorted for commutative functions (``+ * maximum minimum
  dot cosine_sim``, the ``commutative`` column of ``dsl.functions``);
* the program by the update's hash and the live states' outgoing hashes.

So variable names, dead statements, the order of independent statements, commutative operand
order, aliases and constant spelling do not change the hash; any change to the live computation
does (up to 128-bit blake2b collisions). Python's ``hash()`` is never used: it is salted per
process, and the fitness cache keyed by these hashes persists across runs and machines.

Two programs that are the same function but built differently (``x + x`` and ``x * 2``) get
different semantic hashes; ``functional_fingerprint`` (``dsl.fingerprint``) finds those.
"""

from __future__ import annotations

import hashlib

from dsl import functions as fns
from dsl.analysis import Analysis, analyze
from dsl import fingerprint
from dsl.program import Program

# Bump when the hash of some program changes, so persisted caches keyed by old hashes are
# not mistaken for new ones.
HASH_VERSION = "semantic-v1"
STRUCTURE_VERSION = "structure-v1"
DIGEST_BYTES = 16


def _digest(text: str) -> str:
  return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).hexdigest()


def constant_token(value: float) -> str:
  return "#" + repr(float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _param_tokens(analysis: Analysis) -> dict[int, str]:
  """Tokens of the parameters a live node may read, keyed by parameter reference."""
  program = analysis.program
  last = len(program.params) - 1
  tokens = {-1: "@w", -2: "@g", -1 - last: "@lr"}
  for rank, state in enumerate(analysis.live_states):
    tokens[-3 - state] = f"@s{rank}"
  return tokens


def node_hashes(analysis: Analysis, constants: bool = True) -> dict[int, str]:
  """The hash of every live statement and every parameter a live node reads, keyed by
  reference (statement index >= 0, parameter reference < 0). ``constants=False``: every
  constant hashes alike (``structure_hash``)."""
  statements = analysis.program.statements
  tokens: dict[int, str] = _param_tokens(analysis)
  by_name = fns.BY_NAME  # looked up every time: rows may be added at run time
  blake2b = hashlib.blake2b
  for index, is_live in enumerate(analysis.live):
    if not is_live:
      continue
    function = by_name[statements[index].function]
    operands = [tokens[ref] if ref.__class__ is int
                else constant_token(ref) if constants else "#c"
                for ref in analysis.sources[index]]
    if function.commutative:
      operands.sort()
    text = f"{function.name}({','.join(operands)})"
    tokens[index] = blake2b(text.encode(), digest_size=DIGEST_BYTES).hexdigest()
  return tokens


def hash_analysis(analysis: Analysis, constants: bool = True) -> str:
  """``semantic_hash`` of an analysed program (``structure_hash`` with ``constants=False``)."""
  tokens = node_hashes(analysis, constants)
  outputs = analysis.outputs
  live_outputs = [tokens[outputs[0]]] + [tokens[outputs[1 + s]] for s in analysis.live_states]
  domain = HASH_VERSION if constants else STRUCTURE_VERSION
  return _digest(f"{domain}:{';'.join(live_outputs)}")


def structure_hash(program: Program) -> str:
  """``semantic_hash`` with the constants' values left out: programs that differ only in
  their constants (a learning rate, an interpolation weight) share it, programs whose live
  computation differs in any function or link do not. Funnel selection keeps one program
  per structure, so that its K candidates are not K tunings of one program.

  Raises ``ProgramError`` for an invalid program.
  """
  return hash_analysis(analyze(program), constants=False)


def semantic_hash(program: Program) -> str:
  """A 32-hex-digit hash of the live computation of ``program`` (see the module docstring).

  Raises ``ProgramError`` for an invalid program.
  """
  return hash_analysis(analyze(program))


def functional_fingerprint(program: Program) -> str:
  """A 32-hex-digit hash of what ``program`` computes (AutoML-Zero's functional equivalence
  check, Real et al., 2020).

  The live part of ``program`` runs for ``fingerprint.STEPS`` steps on fixed inputs
  (``fingerprint.run``); the updates, rounded to ``fingerprint.SIGNIFICANT_BITS`` significant
  bits, are hashed. Algebraic twins the semantic hash cannot see (``x + x`` and ``x * 2``)
  share a fingerprint.

  When an update is not finite (NaN or infinite) at some step, the values say little about
  the program (every such program would look alike) and the fingerprint falls back to the
  semantic hash, in its own domain: ``blake2b("symbolic:" + semantic_hash)``. A program whose
  update does not depend on its inputs (``update = g - g``) fingerprints as that constant,
  which is right: such programs train identically.

  Raises ``ProgramError`` for an invalid program.
  """
  analysis = analyze(program)
  updates = fingerprint.run(analysis)
  if updates is None:
    return _digest(f"symbolic:{hash_analysis(analysis)}")
  return hashlib.blake2b(fingerprint.FINGERPRINT_VERSION.encode() + updates.tobytes(),
                         digest_size=DIGEST_BYTES).hexdigest()
