"""A compiled-once interpreter of optimizer programs: the program is data, not code.

Layout. The parameters (a pytree of ``A`` arrays, ``N`` numbers in all) are one flat float32
vector ``[N]``; array ``a`` is the contiguous segment ``[start_a, end_a)`` (leaf order of
``jax.tree.leaves``). Every value of a program is stored broadcast to ``[N]``: a tree value as
is, a per-array value repeated over its array's segment, a scalar everywhere. Elementwise
functions then act on the broadcast values directly; reductions need the *types* of their
operands (known before the run from ``dsl.infer_types``) and read them at the right
resolution: a tree as its segments, a per-array value as one number per segment, a scalar as
one number. This reproduces ``dsl.compile`` (the reference semantics) leaf for leaf.

Registers ``[R, N]`` hold the values; ``0`` the weights, ``1`` the gradient, ``2`` the
schedule value ``lr``, ``3..6`` the (up to 4) states, ``7`` the update, then the constants
(written once per run), then the rest, reused as values die (``encoding.encode`` allocates
them by liveness within a step: 9 to 14 registers for the benchmark's programs, 10 to 18
before). A program's code ends with the moves that put the update and the next states in
``7`` and ``3..6`` and one row ``w - update`` into register ``0``: a step reads and writes
only fixed registers besides the statements' own, and the caller never gathers from or
scatters into the file.

Branches. ``BRANCHES`` is generated from the function table ``dsl.functions.FUNCTIONS``: one
branch per row and, for reductions, per combination of operand types (``per_array``: one per
operand type; ``global``/``global_scale``: one per tuple of operand types that the row's
``scalar_args`` allow). Branch 0, the no-op, returns its first operand: the rows that
move values (``encoding``) use it. A statement is the row
``(branch, arg0, arg1, arg2, target, slot)``; it runs as one ``lax.switch`` over ``BRANCHES``
inside a ``fori_loop`` over the rows (a switch executes one branch; ``vmap`` over programs
would turn it into a select over all of them, 10x slower). Adding a row to the function table
needs no change here. The evaluator lays several programs' registers out in one file (see
``evaluator``); the register numbers above are per program.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from dsl import functions as fns
from dsl.program import Type

W_REGISTER, G_REGISTER, LR_REGISTER = 0, 1, 2
STATE_REGISTERS = (3, 4, 5, 6)
UPDATE_REGISTER = 7
FIRST_FREE_REGISTER = 8
MAX_ARITY = 3


@dataclasses.dataclass(frozen=True)
class BranchSpec:
  """One branch: ``function`` (None for the no-op) applied to operands of ``arg_types``
  (``None`` where the branch does not depend on them: constants and elementwise rows)."""
  function: fns.Function | None
  arg_types: tuple[Type, ...] | None


def _branch_specs() -> tuple[BranchSpec, ...]:
  specs = [BranchSpec(None, None)]
  for function in fns.FUNCTIONS:
    if function.arity > MAX_ARITY:
      raise ValueError(f"function '{function.name}' has arity {function.arity}; the "
                       f"interpreter takes at most {MAX_ARITY} arguments")
    if function.kind in (fns.CONSTANT, fns.ELEMENTWISE):
      specs.append(BranchSpec(function, None))
      continue
    choices = [(Type.SCALAR,) if i in function.scalar_args else tuple(Type)
               for i in range(function.arity)]
    for arg_types in itertools.product(*choices):
      specs.append(BranchSpec(function, tuple(arg_types)))
  return tuple(specs)


BRANCHES: tuple[BranchSpec, ...] = _branch_specs()
_INDEX = {(s.function.name if s.function else None, s.arg_types): i for i, s in enumerate(BRANCHES)}
NOP = 0


def branch_index(function: fns.Function, arg_types: Sequence[Type]) -> int:
  """The branch that computes ``function`` on operands of ``arg_types``."""
  if function.kind in (fns.CONSTANT, fns.ELEMENTWISE):
    return _INDEX[(function.name, None)]
  return _INDEX[(function.name, tuple(Type(t) for t in arg_types))]


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where each array of the parameter tree lives in the flat vector."""
  shapes: tuple[tuple[int, ...], ...]

  @property
  def sizes(self) -> tuple[int, ...]:
    return tuple(int(_prod(s)) for s in self.shapes)

  @property
  def segments(self) -> tuple[tuple[int, int], ...]:
    out, start = [], 0
    for size in self.sizes:
      out.append((start, start + size))
      start += size
    return tuple(out)

  @property
  def size(self) -> int:
    return sum(self.sizes)

  @classmethod
  def of(cls, params) -> "Layout":
    return cls(tuple(tuple(leaf.shape) for leaf in jax.tree.leaves(params)))

  def flatten(self, params) -> jax.Array:
    return jnp.concatenate([jnp.reshape(leaf, (-1,)) for leaf in jax.tree.leaves(params)])

  def unflatten(self, flat, treedef) -> object:
    leaves = [flat[s:e].reshape(shape) for (s, e), shape in zip(self.segments, self.shapes)]
    return jax.tree.unflatten(treedef, leaves)


def _prod(shape) -> int:
  out = 1
  for d in shape:
    out *= d
  return out


def _make_branch(spec: BranchSpec, layout: Layout) -> Callable:
  n = layout.size
  segments = layout.segments
  function = spec.function
  if function is None:
    return lambda x, y, z: x
  if function.kind == fns.CONSTANT:
    value = float(function.impl())
    return lambda x, y, z: jnp.full((n,), value, jnp.float32)
  arity = function.arity
  if function.kind == fns.ELEMENTWISE:
    return lambda x, y, z: function.impl(*(x, y, z)[:arity]).astype(jnp.float32)
  if function.kind == fns.PER_ARRAY:
    if spec.arg_types[0] != Type.TREE:  # a scalar or 0-d leaves: the reduction is per element
      return lambda x, y, z: jax.vmap(function.impl)(x).astype(jnp.float32)

    def per_array(x, y, z):
      del y, z
      parts = [jnp.broadcast_to(function.impl(x[s:e]), (e - s,)) for s, e in segments]
      return jnp.concatenate(parts).astype(jnp.float32)
    return per_array

  # global / global_scale: the reference reduces over the leaves of the broadcast of the
  # operands, each operand read at its own resolution (dsl.compiler.apply).
  width = max(spec.arg_types)
  leaf_count = 1 if width == Type.SCALAR else len(segments)

  def leaves(value, type_):
    if type_ == Type.SCALAR:
      return [value[0]] * leaf_count
    if type_ == Type.PER_ARRAY:
      return [value[s] for s, _ in segments]
    return [value[s:e] for s, e in segments]

  def reduction(x, y, z):
    args = (x, y, z)[:arity]
    result = function.impl(*[leaves(a, t) for a, t in zip(args, spec.arg_types)])
    if function.kind == fns.GLOBAL:
      return jnp.full((n,), result, jnp.float32)
    return (x * result).astype(jnp.float32)
  return reduction


def make_branches(layout: Layout) -> tuple[Callable, ...]:
  """The branch functions ``(x, y, z) -> [N]`` for a parameter layout, in ``BRANCHES`` order."""
  return tuple(_make_branch(spec, layout) for spec in BRANCHES)


def run_statements(registers: jax.Array, code: jax.Array, length, branches: Sequence[Callable],
                   active: jax.Array | None = None):
  """Executes the first ``length`` rows of ``code [M, 6]`` in order, in one loop.

  A row is ``(branch, arg0, arg1, arg2, target, slot)``: one switch, which reads its operands
  from ``registers [rows, N]`` inside the branch (faster than reading all three before the
  switch, docs/results.md "Measured costs": a unary branch reads one), and one dynamic
  write. Several programs run as one sequence over disjoint register ranges (their slots); a
  row whose slot is not ``active`` (its run has failed) runs the no-op branch instead.
  """
  readers = tuple(_reading(branch) for branch in branches)

  def statement(k, registers):
    row = code[k]
    op = row[0] if active is None else jnp.where(active[row[5]], row[0], NOP)
    value = lax.switch(op, readers, registers, row[1], row[2], row[3])
    return lax.dynamic_update_index_in_dim(registers, value, row[4], 0)
  return lax.fori_loop(0, length, statement, registers)


def _reading(branch: Callable) -> Callable:
  return lambda registers, a0, a1, a2: branch(registers[a0], registers[a1], registers[a2])
