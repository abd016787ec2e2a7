"""``dsl.to_optax`` against optax itself as the oracle."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dsl
from dsl.optax_export import ProgramState, reads_weights

STEPS = 100
SCHEDULE = optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=10,
                                              decay_steps=STEPS)


def random_tree(rng: np.random.Generator, scale: float = 1.0):
  """A nested pytree of float32 arrays of several ranks (a scalar leaf included)."""
  return {
      "dense": {"kernel": scale * rng.standard_normal((5, 3)), "bias": scale * rng.standard_normal(3)},
      "conv": [scale * rng.standard_normal((2, 2, 3, 4)), scale * rng.standard_normal(())],
  }


def as_f32(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def gradient_sequence(seed: int, steps: int = STEPS):
  rng = np.random.default_rng(seed)
  return [as_f32(random_tree(rng, scale=10.0 ** rng.uniform(-2, 1))) for _ in range(steps)]


def run(transformation, params, gradients):
  """Applies ``transformation`` to a fixed gradient sequence; returns every update and params."""
  update_fn = jax.jit(transformation.update)
  state = transformation.init(params)
  trajectory = []
  for g in gradients:
    updates, state = update_fn(g, state, params)
    params = optax.apply_updates(params, updates)
    trajectory.append((updates, params))
  return trajectory, state


def assert_close(actual, expected, rtol=1e-6):
  """Elementwise relative agreement; exact zeros and cancellations are judged against the
  largest magnitude of the leaf (an absolute tolerance of rtol * max|expected|)."""
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
    a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
    assert a.shape == e.shape
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * float(np.max(np.abs(e), initial=0)))


def assert_trajectories_close(ours, oracle, rtol=1e-6):
  assert len(ours) == len(oracle)
  for step, ((u1, p1), (u2, p2)) in enumerate(zip(ours, oracle)):
    try:
      assert_close(u1, u2, rtol)
      assert_close(p1, p2, rtol)
    except AssertionError as e:
      raise AssertionError(f"differs from the oracle at step {step}") from e


def lion_oracle():
  # lion.py: b1 0.9, b2 0.99, decoupled weight decay 0.1, peak learning rate 1e-4.
  return optax.lion(learning_rate=lambda count: 1e-4 * SCHEDULE(count), b1=0.9, b2=0.99,
                    weight_decay=0.1)


def paper_adamw_oracle():
  """The paper's AdamW (Program 3) from optax pieces: no bias correction, no epsilon.

  ``scale_by_adam`` always debiases: with eps = 0 it returns (m / c1) / sqrt(v / c2),
  c_i = 1 - b_i^t, so multiplying by c1 / sqrt(c2) gives back the paper's m / sqrt(v). The
  factor is computed exactly as optax computes c_i (float32, same expression) so the rounding
  of the two cancels.
  """
  b1, b2 = 0.9, 0.999

  def undo_bias_correction(count):
    t = optax.safe_increment(count)
    return (1 - b1 ** t) / jnp.sqrt(1 - b2 ** t)

  return optax.chain(
      optax.scale_by_adam(b1=b1, b2=b2, eps=0.0, eps_root=0.0),
      optax.scale_by_schedule(undo_bias_correction),
      optax.add_decayed_weights(0.01),
      optax.scale_by_learning_rate(lambda count: 1e-3 * SCHEDULE(count)),
  )


@pytest.mark.parametrize("seed", [0, 1])
def test_lion_equals_optax_lion(seed):
  params = as_f32(random_tree(np.random.default_rng(100 + seed)))
  gradients = gradient_sequence(seed)
  ours, our_state = run(dsl.to_optax(dsl.library.load("lion"), SCHEDULE), params, gradients)
  oracle, oracle_state = run(lion_oracle(), params, gradients)
  assert_trajectories_close(ours, oracle)
  # The state layout: Lion's single state is optax's momentum.
  assert int(our_state.count) == STEPS
  assert_close(our_state.states[0], oracle_state[0].mu)


@pytest.mark.parametrize("seed", [0, 1])
def test_paper_adamw_equals_optax_chain(seed):
  params = as_f32(random_tree(np.random.default_rng(200 + seed)))
  gradients = gradient_sequence(10 + seed)
  ours, our_state = run(dsl.to_optax(dsl.library.load("adamw"), SCHEDULE), params, gradients)
  oracle, oracle_state = run(paper_adamw_oracle(), params, gradients)
  assert_trajectories_close(ours, oracle)
  adam_state = oracle_state[0]
  assert_close(our_state.states[0], adam_state.mu)  # m, then v, in the program's order
  assert_close(our_state.states[1], adam_state.nu)


def test_the_oracle_is_not_optax_adamw():
  """Guards the oracle: bias correction matters early, so plain optax.adamw must differ."""
  params = as_f32(random_tree(np.random.default_rng(3)))
  gradients = gradient_sequence(3, steps=5)
  ours, _ = run(dsl.to_optax(dsl.library.load("adamw"), SCHEDULE), params, gradients)
  debiased, _ = run(optax.adamw(lambda c: 1e-3 * SCHEDULE(c), b1=0.9, b2=0.999, eps=0.0,
                                weight_decay=0.01), params, gradients)
  with pytest.raises(AssertionError):
    assert_trajectories_close(ours, debiased)


def test_sign_convention_and_state_layout_match_compile():
  program = dsl.library.load("adamw")
  rng = np.random.default_rng(4)
  w, g = as_f32(random_tree(rng)), as_f32(random_tree(rng))
  opt = dsl.to_optax(program, learning_rate=0.5)
  state = opt.init(w)
  assert isinstance(state, ProgramState)
  assert int(state.count) == 0 and state.count.dtype == jnp.int32
  assert len(state.states) == program.num_states == 2
  for s in state.states:
    assert jax.tree.structure(s) == jax.tree.structure(w)
    assert all(not np.any(x) for x in jax.tree.leaves(s))
  updates, state = opt.update(g, state, w)
  update, states = dsl.compile(program)(w, g, dsl.init_states(program, w), 0.5)
  assert_close(updates, jax.tree.map(jnp.negative, update), rtol=0)  # optax adds: -update
  assert_close(state.states, states, rtol=0)
  assert int(state.count) == 1


def test_schedule_is_evaluated_at_the_count_of_applied_updates():
  seen = []
  sgd = dsl.library.load("sgd")  # update = 0.1 * lr * g

  def schedule(count):
    seen.append(count)
    return 2.0 ** count.astype(jnp.float32)

  opt = dsl.to_optax(sgd, schedule)
  g = {"x": jnp.ones(3)}
  state = opt.init(g)
  for expected_lr in (1.0, 2.0, 4.0):
    updates, state = opt.update(g, state)
    np.testing.assert_allclose(updates["x"], -0.1 * expected_lr * np.ones(3), rtol=1e-6)
  assert [int(c) for c in seen] == [0, 1, 2]


def test_constant_learning_rate():
  opt = dsl.to_optax(dsl.library.load("sgd"), learning_rate=3.0)
  g = {"x": jnp.arange(3.0)}
  updates, _ = opt.update(g, opt.init(g))
  np.testing.assert_allclose(updates["x"], -0.3 * np.arange(3.0), rtol=1e-6)


def test_params_are_required_only_when_the_program_reads_weights():
  lion = dsl.library.load("lion")
  assert reads_weights(lion) and not reads_weights(dsl.library.load("signum"))
  opt = dsl.to_optax(lion)
  g = {"x": jnp.ones(2)}
  with pytest.raises(ValueError, match="reads its weights 'weight'"):
    opt.update(g, opt.init(g))
  signum = dsl.to_optax(dsl.library.load("signum"))
  updates, _ = signum.update(g, signum.init(g))  # no params needed
  np.testing.assert_allclose(updates["x"], [-1e-4, -1e-4], rtol=1e-6)


def test_rejects_invalid_and_non_programs():
  with pytest.raises(TypeError, match="dsl.Program"):
    dsl.to_optax("def train(w, g, lr):\n  return g\n")
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "sqrt", ("nope",)),), ("u",))
  with pytest.raises(dsl.ProgramError, match="undefined variable 'nope'"):
    dsl.to_optax(bad)


def test_trains_in_a_standard_optax_loop_inside_a_chain():
  """A jitted loop with jax.grad, optax.chain and apply_updates minimises a quadratic, and
  agrees with applying the compiled program by hand (w <- w - update)."""
  target = {"a": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.5, -2.0])}

  def loss(params):
    return sum(jnp.sum((p - t) ** 2) for p, t in zip(jax.tree.leaves(params),
                                                       jax.tree.leaves(target)))

  program = dsl.parse("def train(w, g, m, lr):\n  m = interp(g, m, 0.9)\n"
                      "  lr = lr * 0.05\n  update = m * lr\n  return update, m\n")
  opt = optax.chain(optax.clip_by_global_norm(10.0), dsl.to_optax(program))
  params = jax.tree.map(jnp.zeros_like, target)

  @jax.jit
  def train_step(params, opt_state):
    grads = jax.grad(loss)(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  opt_state = opt.init(params)
  by_hand, states = params, dsl.init_states(program, params)
  step = dsl.compile(program)
  for _ in range(60):
    params, opt_state = train_step(params, opt_state)
    grads = jax.grad(loss)(by_hand)
    grads = optax.clip_by_global_norm(10.0).update(grads, optax.EmptyState())[0]
    update, states = step(by_hand, grads, states, 1.0)
    by_hand = jax.tree.map(lambda w, u: w - u, by_hand, update)
  assert float(loss(params)) < 1e-3 * float(loss(jax.tree.map(jnp.zeros_like, target)))
  assert_close(params, by_hand, rtol=1e-5)


def test_update_dtype_follows_params():
  opt = dsl.to_optax(dsl.library.load("lion"))
  params = {"x": jnp.ones(4, jnp.bfloat16)}
  grads = {"x": jnp.full(4, 0.5, jnp.bfloat16)}
  updates, state = opt.update(grads, opt.init(params), params)
  assert updates["x"].dtype == jnp.bfloat16
  assert state.states[0]["x"].dtype == jnp.bfloat16
  assert math.isclose(float(updates["x"][0]), -1e-4 * 1.1, rel_tol=1e-2)
