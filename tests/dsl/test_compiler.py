"""The compiler (reference semantics): broadcasting, jit, and AdamW against numpy."""

import hypothesis
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from dsl.program import Program, ProgramError, Statement
from tests.strategies import simple_programs


def tree(rng, dtype=np.float32):
  return {"kernel": rng.standard_normal((4, 3)).astype(dtype), "bias": rng.standard_normal(3).astype(dtype),
          "nested": [rng.standard_normal((2, 1, 2)).astype(dtype)]}


def leaves64(t):
  return [np.asarray(x, np.float64) for x in jax.tree.leaves(t)]


def test_matches_a_hand_written_numpy_adamw_over_several_steps():
  rng = np.random.default_rng(0)
  program = dsl.library.load("adamw")
  step = jax.jit(dsl.compile(program))
  w = tree(rng)
  states = dsl.init_states(program, w)
  ref_w, ref_m, ref_v = leaves64(w), [np.zeros_like(x) for x in leaves64(w)], [np.zeros_like(x) for x in leaves64(w)]
  for t, lr in enumerate([0.1, 0.5, 1.0, 0.9, 0.3]):
    g = tree(rng)
    update, states = step(w, g, states, lr)
    w = jax.tree.map(lambda a, b: a - b, w, update)
    for i, gi in enumerate(leaves64(g)):  # the paper's Program 3, in float64
      ref_m[i] = 0.1 * gi + 0.9 * ref_m[i]
      ref_v[i] = 0.001 * gi ** 2 + 0.999 * ref_v[i]
      ref_w[i] = ref_w[i] - (ref_m[i] / np.sqrt(ref_v[i]) + 0.01 * ref_w[i]) * (lr * 1e-3)
    for got, want in zip(leaves64(w), ref_w):
      np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"step {t}")
    for got, want in zip(leaves64(states[0]) + leaves64(states[1]), ref_m + ref_v):
      np.testing.assert_allclose(got, want, rtol=1e-5)


def test_constants_are_exact_until_they_meet_an_array():
  """interp(x, y, 0.999) weighs x by 0.001 (as written), not by 1 - float32(0.999)."""
  program = dsl.parse("def train(w, g, lr):\n  u = interp(g, w, 0.999)\n  return u\n")
  ones = {"x": jnp.ones(2)}
  update, _ = dsl.compile(program)(jax.tree.map(jnp.zeros_like, ones), ones, (), 1.0)
  assert update["x"].dtype == jnp.float32
  assert float(update["x"][0]) == float(np.float32(0.001))


def test_init_states_are_zero_trees_one_per_state():
  w = tree(np.random.default_rng(1))
  states = dsl.init_states(dsl.library.load("adamw"), w)
  assert len(states) == 2
  for s in states:
    assert jax.tree.structure(s) == jax.tree.structure(w)
    assert all(x.shape == y.shape and not np.any(x) for x, y in zip(jax.tree.leaves(s), jax.tree.leaves(w)))
  assert dsl.init_states(dsl.library.load("sgd"), w) == ()


def test_a_scalar_update_broadcasts_to_every_array():
  program = dsl.parse("def train(w, g, m, lr):\n  u = lr * 3.0\n  return u, lr\n")
  w = tree(np.random.default_rng(2))
  update, (m,) = dsl.compile(program)(w, w, dsl.init_states(program, w), 0.5)
  for u, s, ref in zip(jax.tree.leaves(update), jax.tree.leaves(m), jax.tree.leaves(w)):
    assert u.shape == ref.shape and u.dtype == ref.dtype
    np.testing.assert_array_equal(u, np.full(ref.shape, 1.5))
    np.testing.assert_array_equal(s, np.full(ref.shape, 0.5))


def test_per_array_values_broadcast_within_their_array():
  program = dsl.parse("def train(w, g, lr):\n  n = norm(g)\n  u = g / n\n  k = n * 2.0\n"
                      "  return u\n")
  g = tree(np.random.default_rng(3))
  update, _ = dsl.compile(program)(g, g, (), 1.0)
  for u, x in zip(leaves64(update), leaves64(g)):
    np.testing.assert_allclose(u, x / np.linalg.norm(x), rtol=1e-6)
  per_array = dsl.parse("def train(w, g, lr):\n  n = norm(g)\n  return n\n")
  update, _ = dsl.compile(per_array)(g, g, (), 1.0)
  for u, x in zip(leaves64(update), leaves64(g)):
    np.testing.assert_allclose(u, np.full(x.shape, np.linalg.norm(x)), rtol=1e-6)


def test_global_reductions_give_one_number_for_the_tree():
  program = dsl.parse("def train(w, g, lr):\n  n = global_norm(g)\n  u = g / n\n  return u\n")
  g = tree(np.random.default_rng(4))
  update, _ = dsl.compile(program)(g, g, (), 1.0)
  total = np.sqrt(sum(np.sum(x ** 2) for x in leaves64(g)))
  for u, x in zip(leaves64(update), leaves64(g)):
    np.testing.assert_allclose(u, x / total, rtol=1e-6)


def test_scalar_only_programs_reduce_over_scalars():
  program = dsl.parse("def train(w, g, lr):\n  a = dot(lr, 3.0)\n  b = clip(a, 1.0)\n"
                      "  c = global_norm(-4.0)\n  u = b * c\n  return u\n")
  g = {"x": jnp.ones(2)}
  update, _ = dsl.compile(program)(g, g, (), 2.0)  # dot 6, clipped to 1, times |-4|
  np.testing.assert_allclose(update["x"], [4.0, 4.0], rtol=1e-6)


def test_output_dtype_follows_the_weights():
  program = dsl.library.load("lion")
  w = {"x": jnp.ones(3, jnp.bfloat16)}
  update, (m,) = dsl.compile(program)(w, w, dsl.init_states(program, w), 1.0)
  assert update["x"].dtype == jnp.bfloat16 and m["x"].dtype == jnp.bfloat16


def test_the_step_is_differentiable_and_vmappable():
  step = dsl.compile(dsl.library.load("sgd"))  # update = 0.1 * lr * g
  g = {"x": jnp.arange(3.0)}
  grad = jax.grad(lambda gx: jnp.sum(step(g, {"x": gx}, (), 2.0)[0]["x"]))(g["x"])
  np.testing.assert_allclose(grad, [0.2, 0.2, 0.2], rtol=1e-6)
  lrs = jnp.array([1.0, 2.0])
  updates = jax.vmap(lambda lr: step(g, g, (), lr)[0]["x"])(lrs)
  np.testing.assert_allclose(updates, [[0.0, 0.1, 0.2], [0.0, 0.2, 0.4]], rtol=1e-6)


def test_invalid_programs_do_not_compile():
  with pytest.raises(ProgramError, match="undefined variable 'x'"):
    dsl.compile(Program(("w", "g", "lr"), (Statement("u", "sqrt", ("x",)),), ("u",)))


def test_the_step_documents_its_program():
  program = dsl.library.load("signum")
  assert dsl.compile(program).__doc__ == program.to_text()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # 1e300 -> f32
@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(simple_programs(max_statements=8))
def test_any_valid_program_runs_jitted_and_returns_parameter_shaped_values(program):
  """Abstract execution is sound: what type-checks runs, eagerly and under jit, and gives
  trees shaped and typed like the weights (NaN where the mathematics says so)."""
  rng = np.random.default_rng(5)
  w, g = tree(rng), tree(rng)
  states = tuple(tree(rng) for _ in program.states)
  step = dsl.compile(program)
  eager = step(w, g, states, 0.7)
  jitted = jax.jit(step)(w, g, states, 0.7)
  update, new_states = eager
  assert len(new_states) == program.num_states
  for out in (update, *new_states):
    assert jax.tree.structure(out) == jax.tree.structure(w)
    for leaf, ref in zip(jax.tree.leaves(out), jax.tree.leaves(w)):
      assert leaf.shape == ref.shape and leaf.dtype == ref.dtype
  # Values are not compared: XLA fuses differently under jit, and random programs are often
  # ill-conditioned (tan near a pole, cancellations), so only the structure must agree.
  assert jax.tree.structure(jitted) == jax.tree.structure(eager)
  for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
    assert a.shape == b.shape and a.dtype == b.dtype
