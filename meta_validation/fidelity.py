"""The fidelity report: do our tasks reproduce what is known about optimizers?

  python -m meta_validation.fidelity [--family lm_sklearn_text --family mlp_digits]
                                     [--batch-sizes 16 64 256] [--optimizers adamw lion sgd_momentum]
                                     [--seeds 3] [--budget 24] [--set steps=200 ...]
                                     [--out docs/results/fidelity]

A search can only find what its fitness rewards. Before trusting a proxy to judge optimizers,
check that it ranks the known ones as the literature does. The known result tested here (Chen
et al., 2023, and the Lion authors' notes): **Lion's gain over AdamW grows with the batch
size, and at the largest batch Lion is at least as good as AdamW**; below a batch of ~64 it
loses. For every family (a registered task, with ``--set`` overrides), batch size and
optimizer (a built-in program):

1. the optimizer is tuned on the tuning seed by ``proxy_tasks.tuning`` (the same procedure
   and ``--budget`` runs for all: learning rate, weight decay, betas, schedule);
2. its tuned point is scored on seeds ``0 .. N-1`` (the tuning seed among them is fine: all
   optimizers are treated alike);
3. the report gives each one's metric (mean ± std over seeds), ``log(AdamW / metric)``, its
   tuned point and runs (flagging an optimum left on a hard limit), and per family the verdict:
   whether the gain of each optimizer over AdamW grows with the batch (its log-ratio at the
   largest batch minus at the smallest, with the seeds' standard error) and whether it is at
   least as good as AdamW at the largest batch (within one standard error).

The steps are the same at every batch size (a larger batch sees more data), as in the
batch-size studies the result comes from. Each (family, batch) cell is written to
``fidelity.json`` as soon as it is done, and a rerun with the same settings skips the cells
already there (a long report survives interruptions); ``fidelity.md`` and ``fidelity.png``
are rewritten after each cell.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import pathlib
import sys
import time

import numpy as np
import yaml

import proxy_tasks
from dsl.files import atomic_write, json_safe
from meta_validation import scoring
from proxy_tasks import tuning

DEFAULT_FAMILIES = ("lm_sklearn_text", "mlp_digits")
DEFAULT_BATCHES = (16, 64, 256)
DEFAULT_OPTIMIZERS = ("adamw", "lion", "sgd_momentum")
DEFAULT_OUT = pathlib.Path("docs/results/fidelity")


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a report is made of; a rerun must have the same to reuse finished cells."""
  families: tuple[str, ...]
  batch_sizes: tuple[int, ...]
  optimizers: tuple[str, ...]
  seeds: int
  budget: int
  tune_seed: int
  overrides: dict


def cell(family: str, batch_size: int, settings: Settings, evaluators: dict | None = None,
         log=print) -> dict:
  """One (family, batch size): every optimizer tuned, then scored on the seeds."""
  start = time.perf_counter()
  overrides = {**settings.overrides, "batch_size": int(batch_size)}
  spaces = {name: tuning.library_space(name) for name in settings.optimizers}
  tuned = scoring.tune(family, spaces, settings.tune_seed, settings.budget,
                       evaluators=evaluators, **overrides)
  seeds = tuple(range(settings.seeds))
  metrics = scoring.score_per_seed(family, [t.program for t in tuned.values()], seeds,
                                   evaluators=evaluators, **overrides)
  result = {"family": family, "batch_size": int(batch_size), "overrides": overrides,
            "seeds": list(seeds), "optimizers": {}}
  for row, (name, t) in zip(metrics, tuned.items()):
    finite = bool(np.all(np.isfinite(row)))
    result["optimizers"][name] = {
        "mean": float(np.mean(row)) if finite else math.nan,
        "std": float(np.std(row)) if finite else math.nan,
        "metrics": row.tolist(), "tuned": t.best, "runs": t.runs,
        "at_limit": list(t.at_limit), "tuning_metric": t.best_metric,
        "program": t.program.to_text()}
  result["seconds"] = round(time.perf_counter() - start, 1)
  log(f"{family} batch {batch_size}: " + ", ".join(
      f"{n} {o['mean']:.4f}" for n, o in result["optimizers"].items())
      + f" ({result['seconds']:.0f} s)")
  return result


def _gain(cell_: dict, name: str) -> tuple[float, float]:
  """``log(AdamW / optimizer)`` from the seed means, and its standard error (paired over
  seeds: the same seeds' data order and initialisation for both)."""
  adamw = np.asarray(cell_["optimizers"]["adamw"]["metrics"], float)
  other = np.asarray(cell_["optimizers"][name]["metrics"], float)
  if not (np.all(np.isfinite(adamw)) and np.all(np.isfinite(other))):
    return math.nan, math.nan
  per_seed = np.log(adamw / other)
  error = float(np.std(per_seed, ddof=1) / math.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
  return float(np.log(np.mean(adamw) / np.mean(other))), error


def verdicts(record: dict) -> list[dict]:
  """Per family and optimizer (other than AdamW): the gain over AdamW at the smallest and
  largest batch, whether it grows, and whether it is at least as good at the largest."""
  out = []
  for family in record["settings"]["families"]:
    cells = sorted((c for c in record["cells"] if c["family"] == family),
                   key=lambda c: c["batch_size"])
    if len(cells) < 2:
      continue
    for name in record["settings"]["optimizers"]:
      if name == "adamw":
        continue
      (low, low_error), (high, high_error) = _gain(cells[0], name), _gain(cells[-1], name)
      growth_error = math.hypot(low_error, high_error)
      out.append({
          "family": family, "optimizer": name,
          "batch_low": cells[0]["batch_size"], "batch_high": cells[-1]["batch_size"],
          "gain_low": low, "gain_high": high, "growth": high - low,
          "growth_error": growth_error,
          "grows": bool(high - low > growth_error),
          "at_least_as_good_at_largest": bool(high > -high_error)})
  return out


def markdown(record: dict) -> str:
  settings = record["settings"]
  lines = [f"Fidelity report: {', '.join(settings['optimizers'])} tuned by `proxy_tasks.tuning` "
           f"({settings['budget']} runs each on seed {settings['tune_seed']}), then scored on "
           f"seeds 0..{settings['seeds'] - 1}; validation metric mean ± std (lower is better); "
           "gain = log(AdamW / metric) (> 0: better than tuned AdamW). Overrides: "
           f"`{settings['overrides'] or {}}`.", ""]
  for family in settings["families"]:
    cells = sorted((c for c in record["cells"] if c["family"] == family),
                   key=lambda c: c["batch_size"])
    if not cells:
      continue
    lines += [f"### {family}", "",
              "| batch | optimizer | metric | gain vs AdamW | tuned point (runs) |",
              "|---|---|---|---|---|"]
    for c in cells:
      for name, o in c["optimizers"].items():
        gain, error = _gain(c, name) if name != "adamw" else (0.0, 0.0)
        point = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in o["tuned"].items())
        flag = f" **at the limit of {', '.join(o['at_limit'])}**" if o["at_limit"] else ""
        metric = (f"{o['mean']:.4f} ± {o['std']:.4f}" if math.isfinite(o["mean"])
                  else "failed")
        lines.append(f"| {c['batch_size']} | {name} | {metric} | {gain:+.4f} ± {error:.4f} "
                     f"| {point} ({o['runs']}){flag} |")
    lines.append("")
  found = verdicts(record)
  if found:
    lines += ["### Verdicts", "",
              "| family | optimizer | gain at smallest batch | at largest | grows with the batch "
              "| at least as good as AdamW at the largest |", "|---|---|---|---|---|---|"]
    for v in found:
      lines.append(f"| {v['family']} | {v['optimizer']} | {v['gain_low']:+.4f} (batch "
                   f"{v['batch_low']}) | {v['gain_high']:+.4f} (batch {v['batch_high']}) | "
                   f"{'yes' if v['grows'] else 'no'} ({v['growth']:+.4f} ± "
                   f"{v['growth_error']:.4f}) | {'yes' if v['at_least_as_good_at_largest'] else 'no'} |")
    lines.append("")
  return "\n".join(lines)


def plot(record: dict) -> bytes:
  """Gain over AdamW against the batch size, one panel per family (PNG bytes)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  families = [f for f in record["settings"]["families"]
              if any(c["family"] == f for c in record["cells"])]
  figure, axes = plt.subplots(1, max(1, len(families)), figsize=(5 * max(1, len(families)), 3.6),
                              constrained_layout=True, squeeze=False)
  for axis, family in zip(axes[0], families):
    cells = sorted((c for c in record["cells"] if c["family"] == family),
                   key=lambda c: c["batch_size"])
    batches = [c["batch_size"] for c in cells]
    for name in record["settings"]["optimizers"]:
      gains = [_gain(c, name) if name != "adamw" else (0.0, 0.0) for c in cells]
      axis.errorbar(batches, [g for g, _ in gains], yerr=[e for _, e in gains], marker="o",
                    capsize=3, label=name)
    axis.set_xscale("log", base=2)
    axis.axhline(0.0, color="grey", lw=0.8)
    axis.set_xlabel("batch size")
    axis.set_ylabel("log(AdamW / metric)")
    axis.set_title(family)
    axis.legend(fontsize=8)
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=90)
  plt.close(figure)
  return buffer.getvalue()


def write(out: pathlib.Path, record: dict) -> None:
  out.mkdir(parents=True, exist_ok=True)
  atomic_write(out / "fidelity.json", json.dumps(json_safe(record), indent=1))
  atomic_write(out / "fidelity.md", markdown(record))
  atomic_write(out / "fidelity.png", plot(record))


def report(settings: Settings, out: pathlib.Path, log=print) -> dict:
  """Runs every cell not already in ``out/fidelity.json`` (same settings), writing after each."""
  path = out / "fidelity.json"
  record = {"settings": json_safe(dataclasses.asdict(settings)), "cells": []}
  if path.exists():
    previous = json.loads(path.read_text(encoding="utf-8"))
    if previous.get("settings") == record["settings"]:
      record["cells"] = previous.get("cells", [])
    else:
      raise ValueError(f"{path}: holds a report with other settings; choose another --out")
  done = {(c["family"], c["batch_size"]) for c in record["cells"]}
  evaluators: dict = {}
  for family in settings.families:
    for batch in settings.batch_sizes:
      if (family, batch) in done:
        continue
      record["cells"].append(cell(family, batch, settings, evaluators, log))
      write(out, record)
    evaluators.clear()  # one family's compiled evaluators at a time
  record["verdicts"] = verdicts(record)
  write(out, record)
  return record


def _parse_set(items: list[str]) -> dict:
  overrides = {}
  for item in items:
    key, sep, value = item.partition("=")
    if not sep or not key:
      raise ValueError(f"--set {item}: expected KEY=VALUE, e.g. steps=200")
    overrides[key] = yaml.safe_load(value)
    if isinstance(overrides[key], list):
      overrides[key] = tuple(overrides[key])
  return overrides


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m meta_validation.fidelity", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--family", action="append", help="a registered task whose batch is "
                      f"varied; repeatable (default {' '.join(DEFAULT_FAMILIES)})")
  parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(DEFAULT_BATCHES))
  parser.add_argument("--optimizers", nargs="+", default=list(DEFAULT_OPTIMIZERS),
                      help="built-in programs; adamw must be one (the reference)")
  parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..N-1 (3)")
  parser.add_argument("--budget", type=int, default=24, help="tuning runs per optimizer (24)")
  parser.add_argument("--tune-seed", type=int, default=0)
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="task field override for every family, e.g. steps=200")
  parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
  parser.add_argument("--quiet", action="store_true")
  args = parser.parse_args(argv)

  def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2

  families = tuple(args.family or DEFAULT_FAMILIES)
  for family in families:
    if family not in proxy_tasks.names():
      return fail(f"--family: unknown task '{family}'; expected one of "
                  f"{', '.join(proxy_tasks.names())}")
  if "adamw" not in args.optimizers:
    return fail("--optimizers: adamw must be one of them (gains are measured against it)")
  for flag, value in (("--seeds", args.seeds), ("--budget", args.budget),
                      *(("--batch-sizes", b) for b in args.batch_sizes)):
    if value < 1:
      return fail(f"{flag}: expected a positive integer, got {value}")
  try:
    overrides = _parse_set(args.set)
    for family in families:
      proxy_tasks.get_config(family, **overrides)
    for name in args.optimizers:
      tuning.library_space(name)
  except tuning.SpaceError as error:
    return fail(f"--optimizers: {error}")
  except (KeyError, TypeError, ValueError) as error:
    return fail(f"--set: {error.args[0] if error.args else error}")
  settings = Settings(families, tuple(sorted(set(args.batch_sizes))), tuple(args.optimizers),
                      args.seeds, args.budget, args.tune_seed, overrides)
  log = (lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
  try:
    record = report(settings, args.out, log)
  except ValueError as error:
    return fail(str(error))
  print(markdown(record))
  print(f"wrote {args.out / 'fidelity.json'}, fidelity.md, fidelity.png")
  return 0


if __name__ == "__main__":
  sys.exit(main())
