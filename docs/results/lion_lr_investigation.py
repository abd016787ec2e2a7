"""Why is Lion's tuned learning rate LARGER than AdamW's on our LM tasks? (issue #13, item 2)

  nice -n 10 python docs/results/lion_lr_investigation.py --only core wd batch schedule steps
  nice -n 10 python docs/results/lion_lr_investigation.py --table   # the Markdown table
  nice -n 10 python docs/results/lion_lr_investigation.py --only core --seeds 0   # a quick look

Measured: the 18 variants before batch 256 took 19.4 CPU-minutes (47 min of wall clock on the
shared 2-core machine, load 10); the JSON is written after each variant, in the order of
``variants()``, and the batch-256 variants (last, hypothesis ``batch256``; ~16x the proxy's
cost per run) were not run.

The Lion authors (and independent users) find Lion's tuned learning rate 3-10x SMALLER than
AdamW's; here it came out 3-10x larger. Each hypothesis is one set of variants of
``lm_sklearn_text`` (byte-level Transformer LM, width 32, 2 blocks, batch 16 x 32 bytes,
300 steps, warmup 5% + cosine to 0), each tuned over the learning rate alone on the same grid:

* (a) bias correction: the paper's AdamW (Program 3: ``m / sqrt(v)``, no bias correction,
  so the step is inflated by ``sqrt(1 - beta1^t) / sqrt(1 - beta2^t)``: ~4.5x at t = 50,
  ~2x at t = 300 for beta2 = 0.999) against ``optax.adamw`` (bias-corrected, eps 1e-8);
* (b) weight decay on every parameter (embeddings, norms, biases) against on matrices only
  (``ndim >= 2``: attention/MLP/head weights and the two embedding tables);
* (c) the schedule: warmup + cosine against a constant step;
* (d) the batch: 16, 64, 256 sequences per step (300 steps each);
* (e) the run length: 300 against 1200 steps.

Each optimizer is ``direction -> + wd * mask * w -> * (-lr * schedule_t)``: the direction is
an optax transformation (``optax.scale_by_adam``; ``optax.scale_by_lion``; the paper's AdamW
written here as a small ``GradientTransformation`` with the DSL's ``/`` floor of 1e-8), then
``optax.add_decayed_weights(wd, mask)`` and the scheduled learning rate. ``--check`` (always
run first) confirms these pipelines equal ``optax.adamw``, ``optax.lion`` and the paper's
program through ``dsl.to_optax`` step for step.

Tuning: learning rates on half-decades from 10^-3.5 to 10^-1.5, extended by half-decades
while the best (mean over seeds of the final validation nats/byte) is on an edge (hard limits
10^-5.5 and 10^0), then the two quarter-decade neighbours of the best are added; the tuned lr
is the best grid point and ``lr_fit`` the vertex of a parabola in log10(lr) through the best
and its two neighbours. For each tuned point the script also records the RMS of the
direction (Adam's ``m / sqrt(v)`` per coordinate, Lion's sign: 1) over all parameters,
averaged over the first 50 steps and over all steps: the usual 3-10x ratio comes from Adam's
RMS being << 1 under noisy gradients, so equal effective steps need lr_Lion = lr_Adam * RMS.

Output: ``lion_lr_investigation.json`` next to this script (read by the summary
``lion_lr_investigation.md``).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dsl
import proxy_tasks
from dsl import hyperparameters

TASK = "lm_sklearn_text"
OUT = pathlib.Path(__file__).with_suffix(".json")
DIV_FLOOR = 1e-8  # the DSL's ``/`` floors |denominator| at 1e-8 (dsl/functions.py)
EARLY = 50  # steps of the "early" direction RMS


# --- The paper's AdamW direction (Program 3 without lr and wd): m / sqrt(v), no bias correction.
class PaperAdamState(NamedTuple):
  m: optax.Updates
  v: optax.Updates


def scale_by_paper_adam(b1: float = 0.9, b2: float = 0.999) -> optax.GradientTransformation:
  """``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``; direction ``m / sqrt(v)`` with
  ``|sqrt(v)|`` floored at 1e-8 (as ``dsl.library.adamw``): no bias correction, no eps."""

  def init_fn(params):
    zeros = jax.tree.map(jnp.zeros_like, params)
    return PaperAdamState(m=zeros, v=zeros)

  def update_fn(grads, state, params=None):
    del params
    m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.m)
    v = jax.tree.map(lambda g, v: (1 - b2) * g * g + b2 * v, grads, state.v)
    direction = jax.tree.map(lambda m, v: m / jnp.maximum(jnp.sqrt(v), DIV_FLOOR), m, v)
    return direction, PaperAdamState(m=m, v=v)

  return optax.GradientTransformation(init_fn, update_fn)


DIRECTIONS = {
    "adamw_paper": lambda: scale_by_paper_adam(0.9, 0.999),
    "adamw_bc": lambda: optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
    "lion": lambda: optax.scale_by_lion(b1=0.9, b2=0.99),
}


def decay_mask(params, mask: str):
  """Which leaves weight decay touches: ``all``, or ``matrices`` (``ndim >= 2``)."""
  if mask == "all":
    return jax.tree.map(lambda _: True, params)
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def constant_schedule(steps: int) -> np.ndarray:
  return np.ones(steps, np.float32)


# --- Variants: (name, hypothesis, optimizer, overrides).
def variants() -> list[dict]:
  rows = []

  def add(hypothesis, optimizer, label="", wd=0.0, mask="all", schedule="cosine", batch=16,
          steps=300):
    name = f"{optimizer}{'_' + label if label else ''}"
    rows.append(dict(name=name, hypothesis=hypothesis, optimizer=optimizer, wd=wd, mask=mask,
                     schedule=schedule, batch=batch, steps=steps))

  # In order of priority (the JSON is written after every variant).
  for opt in DIRECTIONS:  # (a) reference: no weight decay, the proxy as registered
    add("core", opt)
  for opt, wd in (("adamw_paper", 0.3), ("adamw_bc", 0.3), ("lion", 1.0)):
    for mask in ("all", "matrices"):  # (b) weight decay on everything, then on matrices only
      add("wd", opt, f"wd{wd}_{mask}", wd=wd, mask=mask)
  for opt in DIRECTIONS:  # (d) batch 64
    add("batch", opt, "batch64", batch=64)
  for opt in DIRECTIONS:  # (c) constant schedule
    add("schedule", opt, "constant", schedule="constant")
  for opt in DIRECTIONS:  # (e) run length
    add("steps", opt, "steps1200", steps=1200)
  for opt in DIRECTIONS:  # (d) batch 256
    add("batch256", opt, "batch256", batch=256)
  return rows


# --- Training: one compiled loop per (direction, mask, batch, steps).
_COMPILED = {}


def _trainer(optimizer: str, mask: str, task: proxy_tasks.tasks.Task):
  key = (optimizer, mask, task.config.batch_size, task.config.steps)
  if key in _COMPILED:
    return _COMPILED[key]
  data = task.data(0)
  direction_tx = DIRECTIONS[optimizer]()

  def run_one(params, plan, lr, wd, schedule):
    decay_tx = optax.add_decayed_weights(wd, mask=decay_mask(params, mask))

    def step(carry, inputs):
      params, state = carry
      row, value = inputs
      loss, grads = jax.value_and_grad(task.train_loss)(params, data, row)
      direction, state = direction_tx.update(grads, state, params)
      leaves = jax.tree.leaves(direction)
      rms = jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in leaves) / sum(x.size for x in leaves))
      update, _ = decay_tx.update(direction, decay_state, params)  # stateless
      params = jax.tree.map(lambda p, u: p - lr * value * u, params, update)
      return (params, state), (loss, rms)

    decay_state = decay_tx.init(params)

    (params, _), (losses, rms) = jax.lax.scan(step, (params, direction_tx.init(params)),
                                              (plan, schedule))
    metric = task.metric(params, data)
    metric = jnp.where(jnp.isfinite(metric), metric, jnp.inf)
    tail = max(1, losses.shape[0] // 10)
    return metric, jnp.mean(losses[-tail:]), jnp.mean(rms[:EARLY]), jnp.mean(rms)

  # One run per call: vmapping lanes costs about as much per run on CPU and recompiles
  # for every new lane count.
  compiled = jax.jit(run_one)
  _COMPILED[key] = compiled
  return compiled


def train_lanes(variant: dict, lrs: list[float], seeds: list[int]) -> dict:
  """Trains every (lr, seed) pair of ``variant``; returns per-lr arrays ``[seeds]`` of the
  final validation metric, final train loss, early and mean direction RMS."""
  task = proxy_tasks.get(TASK, batch_size=variant["batch"], steps=variant["steps"])
  schedule = jnp.asarray(task.schedule() if variant["schedule"] == "cosine"
                         else constant_schedule(variant["steps"]))
  fn = _trainer(variant["optimizer"], variant["mask"], task)
  wd = jnp.float32(variant["wd"])
  out = {}
  for lr in lrs:
    rows = [fn(task.init_params(s), jnp.asarray(task.plan(s)), jnp.float32(lr), wd, schedule)
            for s in seeds]
    rows = np.asarray([[float(x) for x in row] for row in rows])  # [seeds, 4]
    out[lr] = {"metric": rows[:, 0], "train_loss": rows[:, 1], "rms_early": rows[:, 2],
               "rms_mean": rows[:, 3]}
  return out


def _lr(exponent_quarters: int) -> float:
  return 10.0 ** (exponent_quarters / 4)


def tune(variant: dict, seeds: list[int]) -> dict:
  """Half-decade grid 10^-3.5..10^-1.5, extended while the best is on an edge, then the best's
  quarter-decade neighbours; see the module docstring."""
  results: dict[int, dict] = {}  # quarter-decade exponent -> per-seed arrays

  def run(exponents):
    new = [e for e in exponents if e not in results]
    if new:
      out = train_lanes(variant, [_lr(e) for e in new], seeds)
      for e in new:
        results[e] = out[_lr(e)]

  def mean(e):
    return float(np.mean(results[e]["metric"]))

  run([-14, -12, -10, -8, -6])
  low_limit, high_limit = -22, 0
  flags = []
  while True:
    coarse = sorted(e for e in results if e % 2 == 0)
    best = min(coarse, key=mean)
    if best == coarse[0] and best - 2 >= low_limit:
      run([best - 2, best - 4])
    elif best == coarse[-1] and best + 2 <= high_limit:
      run([best + 2, best + 4])
    else:
      if best in (coarse[0], coarse[-1]):
        flags.append(f"best at the hard limit 10^{best / 4}")
      break
  run([best - 1, best + 1])
  grid = sorted(results)
  best = min(grid, key=mean)
  fit = float(_lr(best))
  i = grid.index(best)
  if 0 < i < len(grid) - 1:
    x = np.array([grid[i - 1], best, grid[i + 1]]) / 4
    y = np.array([mean(e) for e in (grid[i - 1], best, grid[i + 1])])
    if np.all(np.isfinite(y)):
      a, b, _ = np.polyfit(x, y, 2)
      if a > 0:
        fit = float(10 ** np.clip(-b / (2 * a), x[0], x[2]))
  else:
    flags.append("best on the edge of the final grid")
  r = results[best]
  return {**variant, "seeds": seeds, "lr_best": _lr(best), "lr_fit": fit,
          "metric_best": mean(best), "metric_best_std": float(np.std(r["metric"])),
          "train_loss_best": float(np.mean(r["train_loss"])),
          "rms_early": float(np.mean(r["rms_early"])), "rms_mean": float(np.mean(r["rms_mean"])),
          "step_rms": _lr(best) * float(np.mean(r["rms_mean"])),  # peak-lr x direction RMS
          "runs": len(grid) * len(seeds), "flags": flags,
          "curve": {f"{_lr(e):.6g}": {"metric": float(np.mean(results[e]["metric"])),
                                      "rms_mean": float(np.mean(results[e]["rms_mean"]))}
                    for e in grid}}


# --- Check: the pipelines above are optax.adamw, optax.lion and the paper's program.
def check(steps: int = 20) -> dict:
  task = proxy_tasks.get(TASK, steps=steps)
  data, plan = task.data(0), jnp.asarray(task.plan(0))
  params0 = task.init_params(0)
  schedule = jnp.asarray(task.schedule())
  lr, wd = 3e-3, 0.1
  lr_fn = lambda count: lr * schedule[jnp.minimum(count, steps - 1)]
  paper = hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=lr, wd=wd)
  references = {
      "adamw_bc": optax.adamw(lr_fn, b1=0.9, b2=0.999, eps=1e-8, weight_decay=wd),
      "lion": optax.lion(lr_fn, b1=0.9, b2=0.99, weight_decay=wd),
      "adamw_paper": dsl.to_optax(paper,
                                  learning_rate=lambda c: schedule[jnp.minimum(c, steps - 1)]),
  }

  def run_reference(tx):
    def step(carry, row):
      params, state = carry
      grads = jax.grad(task.train_loss)(params, data, row)
      update, state = tx.update(grads, state, params)
      return (optax.apply_updates(params, update), state), None
    (params, _), _ = jax.lax.scan(step, (params0, tx.init(params0)), plan)
    return params

  out = {}
  for name, tx in references.items():
    reference = jax.jit(lambda: run_reference(tx))()
    direction_tx = DIRECTIONS[name]()
    decay_tx = optax.add_decayed_weights(wd)

    def mine():
      def step(carry, inputs):
        params, state = carry
        row, value = inputs
        grads = jax.grad(task.train_loss)(params, data, row)
        direction, state = direction_tx.update(grads, state, params)
        update, _ = decay_tx.update(direction, decay_tx.init(params), params)
        return (jax.tree.map(lambda p, u: p - lr * value * u, params, update), state), None
      (params, _), _ = jax.lax.scan(step, (params0, direction_tx.init(params0)),
                                    (plan, schedule))
      return params

    ours = jax.jit(mine)()
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in
               zip(jax.tree.leaves(ours), jax.tree.leaves(reference)))
    moved = max(float(jnp.max(jnp.abs(a - b))) for a, b in
                zip(jax.tree.leaves(reference), jax.tree.leaves(params0)))
    out[name] = {"max_abs_param_diff": diff, "max_abs_param_change": moved}
    print(f"check {name}: max |ours - reference| = {diff:.2e} (params moved up to {moved:.2e})",
          flush=True)
  return out


def table(record: dict) -> str:
  """The Markdown table of tuned learning rates: each variant, and Lion / AdamW within its group
  (same hypothesis and setting), against the paper's AdamW and against bias-corrected AdamW."""
  rows = record["variants"]
  lines = ["| variant | seeds | runs | tuned lr (grid) | lr (parabola fit) | val nats/byte | "
           "direction RMS (first 50 / all steps) | lr x RMS | Lion/AdamW-paper | Lion/AdamW-bc |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  by_setting = {}
  for r in rows:
    by_setting.setdefault(_setting_key(r), {})[r["optimizer"]] = r
  for r in rows:
    group = by_setting[_setting_key(r)]
    ratios = ["", ""]
    if r["optimizer"] == "lion":
      for i, ref in enumerate(("adamw_paper", "adamw_bc")):
        if ref in group:
          ratios[i] = f"{r['lr_fit'] / group[ref]['lr_fit']:.2f}"
    flags = f" ({'; '.join(r['flags'])})" if r["flags"] else ""
    lines.append(
        f"| {r['name']}{flags} | {len(r['seeds'])} | {r['runs']} | {r['lr_best']:.2g} | "
        f"{r['lr_fit']:.2g} | {r['metric_best']:.3f} +- {r['metric_best_std']:.3f} | "
        f"{r['rms_early']:.2f} / {r['rms_mean']:.2f} | {r['step_rms']:.2g} | {ratios[0]} | "
        f"{ratios[1]} |")
  return "\n".join(lines)


def _setting_key(r: dict) -> tuple:
  """Variants that differ only in the optimizer (weight decay: by mask) share a setting."""
  return (r["hypothesis"], r["mask"], r["wd"] > 0, r["schedule"], r["batch"], r["steps"])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                      help="seeds of the core variants")
  parser.add_argument("--other-seeds", type=int, nargs="+", default=[0, 1],
                      help="seeds of the other batch-16 and batch-64 variants")
  parser.add_argument("--large-seeds", type=int, nargs="+", default=[0],
                      help="seeds of the batch-256 and 1200-step variants (4-16x the cost)")
  parser.add_argument("--check", action="store_true",
                      help="first check the pipelines against optax / dsl.to_optax (~1 CPU-min)")
  parser.add_argument("--only", nargs="+", default=None,
                      help="hypotheses to run (core wd batch schedule steps batch256)")
  parser.add_argument("--out", default=str(OUT))
  parser.add_argument("--table", action="store_true",
                      help="only print the Markdown table of the JSON at --out")
  args = parser.parse_args()
  if args.table:
    print(table(json.loads(pathlib.Path(args.out).read_text())))
    return
  start, cpu_start = time.time(), time.process_time()
  record = {"task": TASK, "check": check() if args.check else None, "variants": []}
  out_path = pathlib.Path(args.out)
  for variant in variants():
    if args.only and variant["hypothesis"] not in args.only:
      continue
    large = variant["batch"] >= 256 or variant["steps"] > 300
    seeds = (args.large_seeds if large else args.seeds if variant["hypothesis"] == "core"
             else args.other_seeds)
    t0, c0 = time.time(), time.process_time()
    row = tune(variant, seeds)
    row["wall_s"], row["cpu_s"] = time.time() - t0, time.process_time() - c0
    record["variants"].append(row)
    print(f"{row['name']:28s} lr* {row['lr_best']:.2e} (fit {row['lr_fit']:.2e}) "
          f"metric {row['metric_best']:.4f}+-{row['metric_best_std']:.4f} "
          f"rms early {row['rms_early']:.3f} mean {row['rms_mean']:.3f} runs {row['runs']} "
          f"{row['cpu_s']:.0f} cpu-s {' '.join(row['flags'])}", flush=True)
    record["wall_s"], record["cpu_s"] = time.time() - start, time.process_time() - cpu_start
    out_path.write_text(json.dumps(record, indent=1))  # after every variant: nothing is lost
  print(f"total {record['wall_s']:.0f} s wall, {record['cpu_s']:.0f} CPU-s -> {out_path}")


if __name__ == "__main__":
  main()
