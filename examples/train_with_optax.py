"""A found program as a plain optax optimizer, training a model outside optsearch.

  python examples/train_with_optax.py runs/<name>/programs/best.py [--steps 2000]

The program file is parsed (never executed) and exported with ``dsl.to_optax``; the training
loop below is ordinary JAX + optax and knows nothing about the search: a 64-128-10 MLP on
scikit-learn's digits (installed with scikit-learn, nothing is downloaded), batch 128, with
``optax.adamw`` alongside for comparison. The program's own constants set its peak learning
rate and weight decay, so it gets a schedule that peaks at 1 (warmup, then cosine decay, as in
the search); AdamW gets the same schedule times its peak learning rate.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn import datasets

import dsl


def digits(seed: int = 0):
  """Scaled 8x8 digits, split 80/20 at random."""
  x, y = datasets.load_digits(return_X_y=True)
  order = np.random.default_rng(seed).permutation(len(x))
  x, y = x[order].astype(np.float32) / 16.0, y[order]
  cut = int(0.8 * len(x))
  return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def init_mlp(key, sizes=(64, 128, 10)):
  params = []
  for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
    key, sub = jax.random.split(key)
    params.append({"w": jax.random.normal(sub, (fan_in, fan_out)) / np.sqrt(fan_in),
                   "b": jnp.zeros(fan_out)})
  return params


def loss_fn(params, x, y):
  for layer in params[:-1]:
    x = jnp.tanh(x @ layer["w"] + layer["b"])
  logits = x @ params[-1]["w"] + params[-1]["b"]
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def train(optimizer: optax.GradientTransformation, steps: int, seed: int = 0) -> float:
  """Trains the MLP with ``optimizer``; returns the final validation loss."""
  (x, y), (x_val, y_val) = jax.tree.map(jnp.asarray, digits(seed))
  params = init_mlp(jax.random.PRNGKey(seed))
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, batch_index):
    index = jax.random.choice(jax.random.PRNGKey(batch_index), len(x), (128,))
    grads = jax.grad(loss_fn)(params, x[index], y[index])
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  for t in range(steps):
    params, opt_state = step(params, opt_state, t)
  return float(loss_fn(params, x_val, y_val))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("program", help="a program file (e.g. runs/<name>/programs/best.py)")
  parser.add_argument("--steps", type=int, default=2000)
  parser.add_argument("--adamw-lr", type=float, default=1e-2)
  args = parser.parse_args(argv)
  try:
    program = dsl.parse_file(args.program)
  except (dsl.ProgramError, OSError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=1.0, warmup_steps=max(1, args.steps // 20),
      decay_steps=args.steps)
  found = dsl.to_optax(program, schedule)
  adamw = optax.adamw(lambda count: args.adamw_lr * schedule(count), weight_decay=0.1)
  for name, optimizer in ((args.program, found), (f"optax.adamw(lr={args.adamw_lr:g})", adamw)):
    print(f"{name}: validation loss {train(optimizer, args.steps):.4f} after {args.steps} steps")
  return 0


if __name__ == "__main__":
  sys.exit(main())
