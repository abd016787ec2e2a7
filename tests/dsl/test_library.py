"""The built-in programs: paper listings verbatim, descriptions, and what they compute."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from dsl import library

EXPECTED = {"adamw": 2, "adamw_bc": 4, "addsign": 1, "lion": 1, "powersign": 1, "program1": 1,
            "program4": 2, "program8": 2, "sgd": 0, "sgd_momentum": 1, "signum": 1, "tiger": 1}


def without_comments(text: str) -> str:
  return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def test_names_and_state_counts():
  assert library.names() == sorted(EXPECTED)
  assert {name: library.load(name).num_states for name in library.names()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_listing_is_already_canonical(name):
  """Listings parse verbatim and print back exactly (the leading # comment lines aside)."""
  text = library.text(name)
  assert text.startswith("# "), "the first line is the one-line description"
  program = library.load(name)
  assert program.to_text() == without_comments(text)
  assert dsl.parse(text) == program == dsl.parse_file(library.path(name))


@pytest.mark.parametrize("name", ["adamw", "program4", "program8"])
def test_paper_listings_round_trip(name):
  body = without_comments(library.text(name))
  assert dsl.to_text(dsl.parse(body)) == body


def test_unknown_name_lists_the_builtins():
  with pytest.raises(KeyError, match="no built-in program 'adam'.*adamw"):
    library.path("adam")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_builtin_takes_finite_steps(name):
  program = library.load(name)
  rng = np.random.default_rng(0)
  w = {"a": jnp.asarray(rng.standard_normal((3, 4)), jnp.float32),
       "b": jnp.asarray(rng.standard_normal(5), jnp.float32)}
  states = dsl.init_states(program, w)
  step = jax.jit(dsl.compile(program))
  for _ in range(3):
    g = jax.tree.map(lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float32), w)
    update, states = step(w, g, states, 1.0)
    w = jax.tree.map(lambda a, b: a - b, w, update)
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves((w, states)))


def test_lion_is_the_paper_program_1():
  """sign(0.1 g + 0.9 m) + 0.1 w, times 1e-4 lr; m <- 0.01 g + 0.99 m."""
  program = library.load("lion")
  w, g, m = (jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, 0.2, -1.0]), jnp.array([-1.0, 1.0, 0.5]))
  update, (new_m,) = dsl.compile(program)(w, g, (m,), 0.5)
  expected = (np.sign(0.1 * np.asarray(g) + 0.9 * np.asarray(m)) + 0.1 * np.asarray(w)) * 0.5e-4
  np.testing.assert_allclose(update, expected, rtol=1e-6)
  np.testing.assert_allclose(new_m, 0.01 * np.asarray(g) + 0.99 * np.asarray(m), rtol=1e-6)


def test_sgd_momentum_is_heavy_ball():
  program = library.load("sgd_momentum")
  g = jnp.array([1.0, -1.0])
  update, (m,) = dsl.compile(program)(g, g, (jnp.array([2.0, 2.0]),), 1.0)
  np.testing.assert_allclose(m, [2.8, 0.8], rtol=1e-6)
  np.testing.assert_allclose(update, [0.028, 0.008], rtol=1e-6)
