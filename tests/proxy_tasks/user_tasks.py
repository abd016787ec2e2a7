"""Users' tasks for the protocol's tests, named ``tests.proxy_tasks.user_tasks:<factory>``:
one good task with an odd parameter tree, and one broken task per kind of mistake."""

import jax
import jax.numpy as jnp
import numpy as np

import proxy_tasks


class Odd(proxy_tasks.TaskBase):
  """Least squares whose parameters are a nested dict, list and tuple of arrays of rank 0 to
  3: ``y = <x, flat(params)>``, the problem drawn from the seed (so ``shared_data`` is
  False: the evaluator stacks every seed's data)."""
  shared_data = False

  def __init__(self, steps=20, broken=""):
    self.config = proxy_tasks.Settings(name="odd", steps=steps)
    self.broken = broken

  def init_params(self, seed):
    key = jax.random.PRNGKey(seed)
    a, b, c = jax.random.split(key, 3)
    params = {"block": [{"w": jax.random.normal(a, (2, 3, 2))}, jnp.ones((4,))],
              "pair": (jax.random.normal(b, (3, 2)), jnp.zeros(())),
              "z": 0.1 * jax.random.normal(c, (5,))}
    if self.broken == "int params":
      params["pair"] = (jnp.zeros((3, 2), jnp.int32), jnp.zeros(()))
    return params

  def data(self, seed):
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=(64, 28)).astype(np.float32)
    return {"x": x, "y": (x @ rng.normal(size=28)).astype(np.float32)}

  def plan(self, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 64, size=(self.config.steps, 8)).astype(np.int32)

  def _residual(self, params, x, y):
    flat = jnp.concatenate([leaf.reshape(-1) for leaf in jax.tree.leaves(params)])
    return x @ flat - y

  def train_loss(self, params, data, row):
    residual = self._residual(params, data["x"][row], data["y"][row])
    return residual if self.broken == "vector loss" else jnp.mean(jnp.square(residual))

  def metric(self, params, data):
    if self.broken == "nan metric":
      return jnp.float32(jnp.nan)
    return jnp.mean(jnp.square(self._residual(params, data["x"], data["y"])))


def make_odd(steps=20):
  return Odd(steps)


def make_broken(kind):
  return Odd(broken=kind)


def make_raising():
  raise RuntimeError("no GPU here")


class NoMetric:
  config = proxy_tasks.Settings(name="no_metric")
  shared_data = True

  def init_params(self, seed):
    return {"w": jnp.zeros((2,))}

  def data(self, seed):
    return {}

  def plan(self, seed):
    return np.zeros((self.config.steps, 1), np.float32)

  def train_loss(self, params, data, row):
    return jnp.sum(params["w"])

  def schedule(self):
    return proxy_tasks.schedule(self.config)


def make_no_metric():
  return NoMetric()


NOT_CALLABLE = 3
