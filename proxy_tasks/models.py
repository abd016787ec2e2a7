"""Models of the proxy tasks, in plain JAX (``init(key, ...) -> params``, ``apply(params, x)``).

* ``mlp``: dense layers with a nonlinearity between them (LeCun-normal weights, zero biases).
* ``vit``: a small Vision Transformer (Dosovitskiy et al., 2021): non-overlapping patches,
  linear patch embedding plus learned position embedding, pre-norm transformer blocks
  (multi-head self-attention, GELU MLP of twice the width), final LayerNorm, mean pooling,
  linear head.
* ``transformer_lm``: a small decoder-only Transformer language model over bytes: token and
  position embeddings, pre-norm blocks with causal attention, final LayerNorm, linear head.

Parameters are nested dicts/lists of float32 arrays; their leaf order (``jax.tree.leaves``) is
the order of arrays the optimizer programs see.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _dense(key, fan_in: int, fan_out: int) -> dict:
  weight = jax.random.normal(key, (fan_in, fan_out), jnp.float32) / math.sqrt(fan_in)
  return {"w": weight, "b": jnp.zeros((fan_out,), jnp.float32)}


def _apply_dense(layer: dict, x):
  return dense(x, layer["w"], layer["b"])


@jax.custom_vjp
def dense(x, w, b):
  """``x @ w + b`` for ``x [..., in]``, ``w [in, out]``, ``b [out]``.

  Its gradient is the usual one, but the weight gradient ``x^T dy`` is computed from an
  explicit transposed copy of ``x``: the dot that autodiff emits contracts ``x`` over its
  first axis, a layout XLA's CPU dot runs more slowly (the gain, the copy included:
  docs/results.md, "Measured costs").
  """
  return x @ w + b


def _dense_forward(x, w, b):
  return dense(x, w, b), (x, w)


def _dense_backward(saved, dy):
  x, w = saved
  rows_x = x.reshape(-1, x.shape[-1])
  rows_dy = dy.reshape(-1, dy.shape[-1])
  # The barrier keeps XLA from folding the transpose back into the dot.
  x_t = jax.lax.optimization_barrier(rows_x.T)
  return dy @ w.T, x_t @ rows_dy, jnp.sum(rows_dy, axis=0)


dense.defvjp(_dense_forward, _dense_backward)


ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "gelu": jax.nn.gelu}


def mlp_init(key, sizes: tuple[int, ...]) -> list:
  keys = jax.random.split(key, len(sizes) - 1)
  return [_dense(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def mlp_apply(params: list, x, activation: str = "tanh"):
  act = ACTIVATIONS[activation]
  for layer in params[:-1]:
    x = act(_apply_dense(layer, x))
  return _apply_dense(params[-1], x)


def _layer_norm_init(width: int) -> dict:
  return {"scale": jnp.ones((width,), jnp.float32), "bias": jnp.zeros((width,), jnp.float32)}


def _layer_norm(params: dict, x, eps: float = 1e-6):
  mean = jnp.mean(x, axis=-1, keepdims=True)
  var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + eps) * params["scale"] + params["bias"]


def _block_init(key, width: int) -> dict:
  k_qkv, k_out, k_up, k_down = jax.random.split(key, 4)
  return {"ln1": _layer_norm_init(width), "qkv": _dense(k_qkv, width, 3 * width),
          "out": _dense(k_out, width, width), "ln2": _layer_norm_init(width),
          "up": _dense(k_up, width, 2 * width), "down": _dense(k_down, 2 * width, width)}


def _attention(params: dict, x, heads: int, causal: bool):
  tokens, width = x.shape[-2], x.shape[-1]
  qkv = _apply_dense(params["qkv"], x)
  q, k, v = jnp.split(qkv, 3, axis=-1)
  split = lambda t: t.reshape(*t.shape[:-1], heads, width // heads)
  q, k, v = split(q), split(k), split(v)
  logits = jnp.einsum("...qhd,...khd->...hqk", q, k) / math.sqrt(width // heads)
  if causal:
    mask = jnp.tril(jnp.ones((tokens, tokens), bool))
    logits = jnp.where(mask, logits, -1e9)
  weights = jax.nn.softmax(logits, axis=-1)
  mixed = jnp.einsum("...hqk,...khd->...qhd", weights, v).reshape(x.shape)
  return _apply_dense(params["out"], mixed)


def _block_apply(params: dict, x, heads: int, causal: bool):
  x = x + _attention(params, _layer_norm(params["ln1"], x), heads, causal)
  hidden = jax.nn.gelu(_apply_dense(params["up"], _layer_norm(params["ln2"], x)))
  return x + _apply_dense(params["down"], hidden)


def vit_init(key, image_side: int, patch: int, width: int, depth: int, classes: int) -> dict:
  tokens = (image_side // patch) ** 2
  keys = jax.random.split(key, depth + 3)
  return {"embed": _dense(keys[0], patch * patch, width),
          "position": 0.02 * jax.random.normal(keys[1], (tokens, width), jnp.float32),
          "blocks": [_block_init(k, width) for k in keys[3:]],
          "ln": _layer_norm_init(width), "head": _dense(keys[2], width, classes)}


def patchify(images, image_side: int, patch: int):
  """``[batch, side * side]`` pixels -> ``[batch, tokens, patch * patch]``."""
  n = image_side // patch
  x = images.reshape(-1, n, patch, n, patch).transpose(0, 1, 3, 2, 4)
  return x.reshape(-1, n * n, patch * patch)


def vit_apply(params: dict, images, image_side: int, patch: int, heads: int):
  x = _apply_dense(params["embed"], patchify(images, image_side, patch)) + params["position"]
  for block in params["blocks"]:
    x = _block_apply(block, x, heads, causal=False)
  return _apply_dense(params["head"], jnp.mean(_layer_norm(params["ln"], x), axis=-2))


def lm_init(key, vocab: int, context: int, width: int, depth: int) -> dict:
  keys = jax.random.split(key, depth + 3)
  return {"token": 0.02 * jax.random.normal(keys[0], (vocab, width), jnp.float32),
          "position": 0.02 * jax.random.normal(keys[1], (context, width), jnp.float32),
          "blocks": [_block_init(k, width) for k in keys[3:]],
          "ln": _layer_norm_init(width), "head": _dense(keys[2], width, vocab)}


def lm_apply(params: dict, tokens, heads: int):
  """Next-token logits ``[batch, context, vocab]`` for ``tokens [batch, context]``."""
  x = params["token"][tokens] + params["position"][: tokens.shape[-1]]
  for block in params["blocks"]:
    x = _block_apply(block, x, heads, causal=True)
  return _apply_dense(params["head"], _layer_norm(params["ln"], x))


def cross_entropy(logits, labels):
  """Mean softmax cross-entropy (nats) of integer ``labels``.

  The label's log-probability is picked with a one-hot ``where`` and a sum (exact: every
  other term is zero), not ``take_along_axis``, whose gradient is a scatter-add that XLA
  runs several times slower on CPU.
  """
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  picked = labels[..., None] == jnp.arange(logits.shape[-1])
  return -jnp.mean(jnp.sum(jnp.where(picked, log_probs, 0.0), axis=-1))
