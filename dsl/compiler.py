"""Compiles a program to a pure JAX function (the reference semantics of the language).

``compile(program)`` returns ``step(w, g, states, lr) -> (update, new_states)`` where ``w`` and
``g`` are pytrees of arrays with the same structure, ``states`` is a tuple of such pytrees (one
per state variable; zeros at the first step, see ``init_states``) and ``lr`` is the scalar
schedule value. ``update`` and every new state are broadcast to the structure, shapes and
dtypes of ``w``. The caller applies ``w = w - update``.

The step is traced once per program; it jits, vmaps and differentiates like any JAX function.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from dsl import functions as fns
from dsl.program import Program, Type, infer_types, param_types


def init_states(program: Program, params: Any) -> tuple:
  """Zero-initialised states for ``program``, each shaped like ``params``."""
  return tuple(jax.tree.map(jnp.zeros_like, params) for _ in program.states)


def apply(function: fns.Function, args: list, types: list[Type], treedef) -> Any:
  """Applies ``function`` to values of ``types``: scalars are 0-d arrays, the other types
  pytrees of structure ``treedef`` (per-array values have 0-d leaves)."""
  kind = function.kind
  if kind == fns.CONSTANT:
    return jnp.asarray(function.impl(), jnp.float32)
  if kind in (fns.ELEMENTWISE, fns.PER_ARRAY):
    if max(types) == Type.SCALAR:
      return function.impl(*args)
    leaves = [_leaves(a, t, treedef) for a, t in zip(args, types)]
    return jax.tree.unflatten(treedef, [function.impl(*xs) for xs in zip(*leaves)])
  # global and global_scale: reduce over the broadcast of the arguments.
  width = max(types)
  if width == Type.SCALAR:
    leaf_lists = [[a] for a in args]
  else:
    leaf_lists = [_leaves(a, t, treedef) for a, t in zip(args, types)]
  value = function.impl(*leaf_lists)
  if kind == fns.GLOBAL:
    return value
  x, x_type = args[0], types[0]
  return x * value if x_type == Type.SCALAR else jax.tree.map(lambda leaf: leaf * value, x)


def _leaves(value, type_: Type, treedef) -> list:
  if type_ == Type.SCALAR:
    return [value] * treedef.num_leaves
  return treedef.flatten_up_to(value)


def broadcast_to_params(value, type_: Type, w) -> Any:
  """A value of any type as a pytree shaped and typed like ``w``."""
  if type_ == Type.TREE:
    return jax.tree.map(lambda x, ref: jnp.broadcast_to(x, ref.shape).astype(ref.dtype), value, w)
  if type_ == Type.SCALAR:
    return jax.tree.map(lambda ref: jnp.broadcast_to(value, ref.shape).astype(ref.dtype), w)
  return jax.tree.map(lambda x, ref: jnp.broadcast_to(x, ref.shape).astype(ref.dtype), value, w)


def compile(program: Program) -> Callable:  # pylint: disable=redefined-builtin
  """The program as a pure function ``(w, g, states, lr) -> (update, new_states)``."""
  statement_types = infer_types(program)  # raises ProgramError for an invalid program
  functions = [fns.BY_NAME[s.function] for s in program.statements]

  def step(w, g, states, lr):
    treedef = jax.tree.structure(w)
    env = dict(zip(program.params, (w, g, *states, jnp.asarray(lr, jnp.float32))))
    types = param_types(program)
    for statement, function, out_type in zip(program.statements, functions, statement_types):
      args, arg_types = [], []
      for arg in statement.args:
        if isinstance(arg, str):
          args.append(env[arg])
          arg_types.append(types[arg])
        else:
          # A Python float stays weakly typed: arithmetic on constants alone (``1 - a`` in
          # ``interp``) runs in double precision and is rounded once where it meets an array,
          # so ``interp(g2, v, 0.999)`` weighs ``g2`` by 0.001, not by 1 - float32(0.999).
          args.append(arg)
          arg_types.append(Type.SCALAR)
      env[statement.target] = apply(function, args, arg_types, treedef)
      types[statement.target] = out_type
    outs = [broadcast_to_params(env[name], types[name], w) for name in program.returns]
    return outs[0], tuple(outs[1:])

  step.__name__ = "train"
  step.__doc__ = program.to_text()
  return step
