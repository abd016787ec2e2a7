"""Hyperparameters as program constants: where they are, and rewriting them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from dsl import hyperparameters


def test_rewriting_changes_only_the_named_constants():
  adamw = dsl.library.load("adamw")
  tuned = hyperparameters.with_hyperparameters(adamw, lr=0.03, wd=0.0, beta1=0.8, beta2=0.95)
  changed = [(a, b) for a, b in zip(adamw.statements, tuned.statements) if a != b]
  assert len(changed) == 4 and len(tuned.statements) == len(adamw.statements)
  text = tuned.to_text()
  assert "lr = lr * 0.03" in text and "wd = w * 0.0" in text
  assert "m = interp(g, m, 0.8)" in text and "v = interp(g2, v, 0.95)" in text
  assert hyperparameters.values(tuned) == {"lr": 0.03, "wd": 0.0, "beta1": 0.8, "beta2": 0.95,
                                           "schedule": "warmup_cosine"}


@pytest.mark.parametrize("name, expected", [
    ("adamw", {"lr", "wd", "beta1", "beta2"}),
    ("lion", {"lr", "wd", "beta1", "beta2"}),
    ("sgd_momentum", {"lr", "beta1"}),  # heavy ball: m = m * 0.9
    ("signum", {"lr", "beta1"}),
    ("sgd", {"lr"}),
    ("program1", {"wd", "beta1", "beta2"}),  # Lion as printed: no learning-rate constant
])
def test_locations_of_the_library_programs(name, expected):
  assert set(hyperparameters.locations(dsl.library.load(name))) == expected


def test_a_program_without_a_learning_rate_constant_is_scaled():
  printed = dsl.library.load("program1")
  scaled = hyperparameters.with_hyperparameters(printed, lr=1e-4)
  assert scaled.statements[-1].to_text() == "update = update * 0.0001"
  assert hyperparameters.values(printed)["lr"] == 1.0
  w, g = {"a": jnp.ones(3)}, {"a": jnp.asarray([0.1, -0.2, 0.3])}
  lion = dsl.library.load("lion")
  states = dsl.init_states(lion, w)
  expected, _ = dsl.compile(lion)(w, g, states, 0.5)
  update, _ = dsl.compile(scaled)(w, g, states, 0.5)
  np.testing.assert_allclose(update["a"], expected["a"], rtol=1e-6)


def test_the_constant_schedule_is_a_prologue_that_can_be_removed():
  adamw = dsl.library.load("adamw")
  constant = hyperparameters.with_hyperparameters(adamw, schedule="constant", lr=0.01)
  assert dsl.is_valid(constant) and hyperparameters.schedule_of(constant) == "constant"
  assert constant.to_text().splitlines()[1:3] == ["  lr = lr * 0.0", "  lr = lr + 1.0"]
  # The learning rate is still the lr = lr * c statement, not the prologue.
  assert hyperparameters.values(constant)["lr"] == 0.01
  w, g = {"a": jnp.ones(2)}, {"a": jnp.asarray([0.1, -0.2])}
  step = dsl.compile(constant)
  states = dsl.init_states(constant, w)
  assert np.allclose(step(w, g, states, 0.1)[0]["a"], step(w, g, states, 0.7)[0]["a"])
  back = hyperparameters.with_hyperparameters(constant, schedule="warmup_cosine")
  assert back.statements == hyperparameters.with_hyperparameters(adamw, lr=0.01).statements


def test_a_constant_the_program_does_not_have_cannot_be_set():
  with pytest.raises(ValueError, match="weight decay"):
    hyperparameters.with_hyperparameters(dsl.library.load("sgd"), wd=0.1)
  with pytest.raises(ValueError, match="second interp"):
    hyperparameters.with_hyperparameters(dsl.library.load("signum"), beta2=0.9)
  with pytest.raises(ValueError, match="unknown schedule"):
    hyperparameters.with_hyperparameters(dsl.library.load("sgd"), schedule="linear")


def test_a_repeated_beta_is_one_hyperparameter():
  """AdamW with bias correction repeats each beta in the average of 1 it divides by."""
  bias_corrected = dsl.library.load("adamw_bc")
  where = hyperparameters.locations(bias_corrected)
  assert len(where["beta1"]) == 2 and len(where["beta2"]) == 2
  tuned = hyperparameters.with_hyperparameters(bias_corrected, beta1=0.8, beta2=0.95)
  text = tuned.to_text()
  assert "m = interp(g, m, 0.8)" in text and "c1 = interp(1.0, c1, 0.8)" in text
  assert "v = interp(g2, v, 0.95)" in text and "c2 = interp(1.0, c2, 0.95)" in text


def test_the_bias_corrected_adamw_is_optax_adamw():
  import optax  # pylint: disable=import-outside-toplevel
  program = hyperparameters.with_hyperparameters(dsl.library.load("adamw_bc"), lr=0.01, wd=0.1,
                                                 beta1=0.8, beta2=0.95)
  ours = dsl.to_optax(program)
  reference = optax.adamw(0.01, b1=0.8, b2=0.95, eps=0.0, weight_decay=0.1)
  rng = np.random.default_rng(0)
  params = {"a": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
            "b": (jnp.asarray(rng.normal(size=(2,)), jnp.float32),)}
  p1 = p2 = params
  s1, s2 = ours.init(params), reference.init(params)
  for _ in range(50):
    g = {"a": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
         "b": (jnp.asarray(rng.normal(size=(2,)), jnp.float32),)}
    u1, s1 = ours.update(g, s1, p1)
    u2, s2 = reference.update(g, s2, p2)
    p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
  for x, y in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
    np.testing.assert_allclose(x, y, atol=1e-5)
