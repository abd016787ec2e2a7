"""The branch table is generated from the function table and reproduces the reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from dsl import functions as fns
from dsl.compiler import apply
from dsl.program import Type
from proxy_tasks import interpreter as interp


def test_every_function_of_the_table_has_its_branches():
  covered = {spec.function.name for spec in interp.BRANCHES if spec.function}
  assert covered == {f.name for f in fns.FUNCTIONS}
  assert interp.BRANCHES[interp.NOP].function is None


PARAMS = {"a": jnp.asarray([[0.3, -1.2], [0.7, 2.0]], jnp.float32),
          "b": jnp.asarray([-0.4, 0.9, 0.1], jnp.float32)}


def _value(type_, seed):
  rng = np.random.default_rng(seed)
  if type_ == Type.SCALAR:
    return jnp.float32(rng.uniform(0.2, 0.9))
  if type_ == Type.PER_ARRAY:
    return jax.tree.map(lambda _: jnp.float32(rng.uniform(0.2, 0.9)), PARAMS)
  return jax.tree.map(lambda x: jnp.asarray(rng.uniform(0.2, 0.9, x.shape), jnp.float32),
                      PARAMS)


def _flat(value, type_, layout):
  treedef = jax.tree.structure(PARAMS)
  from dsl.compiler import broadcast_to_params  # pylint: disable=import-outside-toplevel
  return layout.flatten(jax.tree.unflatten(treedef, jax.tree.leaves(
      broadcast_to_params(value, type_, PARAMS))))


@pytest.mark.parametrize("spec_index", range(1, len(interp.BRANCHES)))
def test_each_branch_matches_the_reference_apply(spec_index):
  spec = interp.BRANCHES[spec_index]
  function = spec.function
  layout = interp.Layout.of(PARAMS)
  arg_types = spec.arg_types or tuple(
      Type.SCALAR if i in function.scalar_args else Type.TREE for i in range(function.arity))
  args = [_value(t, i) for i, t in enumerate(arg_types)]
  expected = apply(function, args, list(arg_types), jax.tree.structure(PARAMS))
  out_type = dsl.program.result_type(function, arg_types)
  flat_args = [_flat(a, t, layout) for a, t in zip(args, arg_types)]
  flat_args += [jnp.zeros(layout.size, jnp.float32)] * (3 - len(flat_args))
  got = interp.make_branches(layout)[spec_index](*flat_args)
  np.testing.assert_allclose(got, _flat(expected, out_type, layout), rtol=1e-6, atol=1e-7)
