"""The task registry: names, overrides, scaled families."""

import pytest

import proxy_tasks


def test_names_hold_the_default_and_every_family():
  names = proxy_tasks.names()
  assert proxy_tasks.DEFAULT_PROXY == "mlp_digits" and proxy_tasks.DEFAULT_PROXY in names
  for name in ("vit_digits", "lm_sklearn_text", "quadratic", "rosenbrock", "linear_regression"):
    assert name in names


def test_overrides_replace_config_fields():
  task = proxy_tasks.get("mlp_digits", steps=12, seed=5, hidden=(16,))
  assert (task.config.steps, task.config.seeds, task.config.hidden) == (12, (5,), (16,))
  assert proxy_tasks.get("mlp_digits").config.steps == 300  # the registered config is unchanged


def test_unknown_names_and_fields_are_clear_errors():
  with pytest.raises(KeyError, match="unknown proxy task 'nope'"):
    proxy_tasks.get("nope")
  with pytest.raises(TypeError, match="unknown config field"):
    proxy_tasks.get("mlp_digits", stepz=3)
  with pytest.raises(ValueError, match="steps must be >= 1"):
    proxy_tasks.get("mlp_digits", steps=0)


def test_a_scaled_family_member_is_one_line():
  config = proxy_tasks.register_scaled("mlp_digits_test_10x", "mlp_digits", hidden=(320,),
                                       steps=3000)
  task = proxy_tasks.get("mlp_digits_test_10x")
  assert task.config == config and task.config.batch_size == 64
  leaves = task.init_params(0)
  assert leaves[0]["w"].shape == (64, 320)
  with pytest.raises(ValueError, match="already registered"):
    proxy_tasks.register_scaled("mlp_digits_test_10x", "mlp_digits", hidden=(640,))


@pytest.mark.parametrize("name, batch", [("mlp_digits_b256", 256), ("lm_sklearn_text_b64", 64)])
def test_larger_batch_members_are_registered_and_train(name, batch):
  import jax  # pylint: disable=import-outside-toplevel
  task = proxy_tasks.get(name, steps=3)
  assert task.config.batch_size == batch and task.plan(0).shape == (3, batch)
  params, data = task.init_params(0), task.data(0)
  loss_and_grad = jax.jit(jax.value_and_grad(task.train_loss))
  before = float(task.metric(params, data))
  for row in task.plan(0):  # three plain gradient steps lower the validation loss
    _, grad = loss_and_grad(params, data, row)
    params = jax.tree.map(lambda p, g: p - 0.5 * g, params, grad)
  assert float(task.metric(params, data)) < before
