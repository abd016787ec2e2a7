"""Replay: any program against tuned AdamW and Lion on a meta-validation task.

  python -m meta_validation.replay PROGRAM.py [--task NAME] [--seeds N] [--first-seed F] [--budget B]
                                   [--space NAME:AXIS,AXIS ...] [--out DIR]

1. Tuning, the same procedure and budget for each (``proxy_tasks.tuning``): AdamW (as the
   paper writes it, and bias-corrected: ``adamw_bc``), Lion and the program over learning rate, weight decay, betas and schedule (the program over those
   it has; ``--space adamw:lr,wd`` narrows one), ``--budget`` runs each on the tuning seed
   (``--tune-seed``, default 0). Each optimizer's tuned point, the runs it got, and any
   optimum left on a hard limit of an axis are printed.
2. The best point of each trained on seeds ``F .. F+N-1`` (``--first-seed``, default 0) with learning curves
   (``meta_validation.training``).
3. A table: final validation metric (lower is better; ``meta_validation.tasks.metric_name``:
   cross-entropy in nats on digits, in nats per byte on the language model) mean +- std over
   the seeds, ``log(AdamW / metric)`` against the better of the two tuned AdamWs (> 0: better
   than tuned AdamW), and the first evaluated step at which the seed-mean curve reaches that
   AdamW's final metric ("-": never).

Outputs (written atomically; never over the program file): ``<stem>.<task>.replay.json``
(everything: task config, seeds, tuning runs, curves), ``.replay.md`` (the table in Markdown)
and ``.replay.png`` (learning curves), next to the program or in ``--out``. Bad input (a
missing file, an invalid program, an unknown task, optimizer or axis) is one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import pathlib
import sys
import time
from typing import Mapping

import numpy as np

import dsl
import proxy_tasks
from meta_validation import tasks as meta_tasks
from meta_validation import scoring
from meta_validation import training
from dsl.files import float_from_json, json_float, json_safe
from proxy_tasks import tuning
from dsl.files import atomic_write

EVALS = 25


@dataclasses.dataclass(frozen=True)
class Row:
  """One optimizer's line of the replay table."""
  optimizer: str
  hyperparameters: dict
  curves: training.Curves
  steps_to_adamw: int | None

  @property
  def mean(self) -> float:
    return float(np.mean(self.curves.final))

  @property
  def std(self) -> float:
    return float(np.std(self.curves.final))


def _progress(quiet: bool):
  from rich.console import Console  # pylint: disable=import-outside-toplevel
  from rich.progress import (BarColumn, MofNCompleteColumn, Progress,  # pylint: disable=import-outside-toplevel
                             TextColumn, TimeElapsedColumn, TimeRemainingColumn)
  return Progress(TextColumn("{task.description:28s}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), disable=quiet, transient=False)


def spaces_for(programs: Mapping[str, dsl.Program],
               narrowed: dict[str, list[str]] | None = None) -> dict[str, tuning.Space]:
  """The spaces of a replay: the baselines and the programs (``{label: program}``), each over
  every axis it has unless ``narrowed`` names some (``{optimizer or label: [axis, ...]}``)."""
  narrowed = narrowed or {}
  unknown = sorted(set(narrowed) - {*tuning.BASELINES, *programs})
  if unknown:
    raise tuning.SpaceError(f"--space: unknown optimizer '{unknown[0]}'; expected one of "
                            f"{', '.join((*tuning.BASELINES, *programs))}")
  spaces = {name: tuning.library_space(name, narrowed.get(name)) for name in tuning.BASELINES}
  for label, program in programs.items():
    spaces[label] = tuning.space(program, narrowed.get(label), label=label)
  return spaces


def _own_label(label: str) -> str:
  """A program named like a baseline keeps its own row."""
  return f"{label} (program)" if label in tuning.BASELINES else label


def replay(program: dsl.Program | Mapping[str, dsl.Program], task_name: str, seeds: int = 3,
           tune_seed: int = 0, label: str = "program", quiet: bool = True, evals: int = EVALS,
           budget: int = tuning.DEFAULT_BUDGET, narrowed: dict | None = None,
           first_seed: int = 0, **overrides) -> dict:
  """Tunes and trains ``program``, AdamW and Lion on ``task_name``; the JSON record.

  ``program`` may be a mapping ``{label: program}``: several programs in one replay, against
  baselines tuned once. They are trained on seeds ``first_seed .. first_seed + seeds - 1``:
  a program selected on some seeds of this task (a funnel's) is replayed on others.
  """
  start = time.perf_counter()
  programs = ({_own_label(name): p for name, p in program.items()}
              if isinstance(program, Mapping) else {_own_label(label): program})
  task = proxy_tasks.resolve(task_name, **overrides)
  eval_seeds = tuple(range(first_seed, first_seed + seeds))
  spaces = spaces_for(programs, narrowed)
  with _progress(quiet) as progress:
    tuning_bar = progress.add_task(f"tuning on seed {tune_seed}", total=budget * len(spaces))
    tuned = scoring.tune(task_name, spaces, tune_seed, budget,
                         on_done=lambda n: progress.advance(tuning_bar, n), **overrides)
    curves = {}
    for name, result in tuned.items():
      bar = progress.add_task(f"{name} x {seeds} seeds", total=task.config.steps)
      curves[name] = training.train(
          task, result.program, eval_seeds, evals,
          on_chunk=lambda done, total, bar=bar: progress.update(bar, completed=done))
  reference = tuning.better_adamw({name: float(np.mean(c.final)) for name, c in curves.items()
                                   if name in tuning.ADAMWS})
  adamw_final = float(np.mean(curves[reference].final))
  rows = [Row(name, tuned[name].best, curves[name],
              curves[name].steps_to_reach(adamw_final)) for name in spaces]
  return {
      "task": dataclasses.asdict(task.config),
      "metric": f"{meta_tasks.metric_name(task_name)}, lower is better",
      "eval_seeds": list(eval_seeds), "tune_seed": tune_seed, "budget": budget,
      "reference": reference,
      "programs": {name: p.to_text() for name, p in programs.items()},
      "rows": [{"optimizer": r.optimizer, "hyperparameters": r.hyperparameters,
                "final_mean": json_float(r.mean), "final_std": json_float(r.std),
                "final_per_seed": [json_float(x) for x in r.curves.final],
                "log_adamw_over_metric": json_float(tuning.log_ratio(adamw_final, r.mean)),
                "steps_to_adamw_final": r.steps_to_adamw,
                "tuning": tuned[r.optimizer].to_json(),
                "tuned_program": tuned[r.optimizer].program.to_text(),
                "curves": r.curves.to_json()} for r in rows],
      "seconds": round(time.perf_counter() - start, 1),
  }


def _float(value) -> float:
  return float_from_json(value)  # JSON keeps non-finite floats as the strings "nan", "inf"


def _hyper_text(hyperparameters: dict) -> str:
  return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in hyperparameters.items())


def markdown_table(record: dict) -> str:
  """The replay table in Markdown (pasteable into a README)."""
  config = record["task"]
  lines = [f"Task `{config['name']}` ({config['steps']} steps), {len(record['eval_seeds'])} "
           f"seeds, {record['metric']}; each optimizer tuned by `proxy_tasks.tuning` with a "
           f"budget of {record.get('budget', '?')} runs on seed {record['tune_seed']} (runs "
           "used in the table; an optimum on an axis' hard limit is flagged):",
           "",
           "| optimizer | tuned | tuning runs | final metric (mean ± std) | log(AdamW / metric) "
           "| steps to AdamW's final |",
           "|---|---|---|---|---|---|"]
  for row in record["rows"]:
    mean, std = _float(row["final_mean"]), _float(row["final_std"])
    vs = _float(row["log_adamw_over_metric"])
    reach = row["steps_to_adamw_final"]
    final, versus = f"{mean:.4f} ± {std:.4f}", f"{vs:+.4f}"
    if not np.isfinite(mean):  # its status, not nan ± nan: how many seeds diverged
      per_seed = [_float(x) for x in row.get("final_per_seed", [])]
      failed = sum(not np.isfinite(x) for x in per_seed)
      final = (f"diverged on {failed} of {len(per_seed)} seeds" if per_seed and failed
               else "no finite metric")
      versus = "-"
    limits = row["tuning"].get("at_limit") or []
    flag = f" **optimum at the limit of {', '.join(limits)}**" if limits else ""
    lines.append(f"| {row['optimizer']} | {_hyper_text(row['hyperparameters'])}{flag} "
                 f"| {row['tuning'].get('runs', '?')} "
                 f"| {final} | {versus} | {'-' if reach is None else reach} |")
  return "\n".join(lines) + "\n"


def plot(record: dict) -> bytes:
  """Learning curves (PNG bytes): validation metric (mean and spread over seeds) and
  training loss, per optimizer."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
  for row in record["rows"]:
    curves = row["curves"]
    steps = np.asarray(curves["eval_steps"])
    label = f"{row['optimizer']} ({_hyper_text(row['hyperparameters'])})"
    for axis, key in ((left, "val_metric"), (right, "train_loss_every_eval")):
      values = np.asarray([[_float(x) for x in r] for r in curves[key]])
      mean, std = values.mean(axis=0), values.std(axis=0)
      axis.plot(steps, mean, label=label)
      # Log axes: keep the band's lower edge positive.
      axis.fill_between(steps, np.maximum(mean - std, mean * 0.1), mean + std, alpha=0.2)
  for axis, title in ((left, "validation metric"), (right, "training loss")):
    axis.set_xlabel("step")
    axis.set_ylabel(title)
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
  left.legend(fontsize=8)
  figure.suptitle(f"replay on {record['task']['name']}: mean ± std over "
                  f"{len(record['eval_seeds'])} seeds")
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=90)
  plt.close(figure)
  return buffer.getvalue()


def output_paths(program_path: pathlib.Path, task_name: str,
                 out: pathlib.Path | None) -> dict[str, pathlib.Path]:
  folder = program_path.parent if out is None else out
  stem = f"{program_path.stem}.{task_name.replace(':', '.')}.replay"
  return {suffix: folder / f"{stem}.{suffix}" for suffix in ("json", "md", "png")}


def write(record: dict, paths: dict[str, pathlib.Path]) -> None:
  """Writes the record, table and plot, each atomically."""
  paths["json"].parent.mkdir(parents=True, exist_ok=True)
  atomic_write(paths["json"], json.dumps(json_safe(record), indent=1))
  atomic_write(paths["md"], markdown_table(record))
  atomic_write(paths["png"], plot(record))


def _tuned_of(row: dict, budget: int) -> tuning.Tuned:
  """The ``Tuned`` summary of a record's row (for the report)."""
  t = row["tuning"]
  return tuning.Tuned(row["optimizer"], t["best"], _float(t["best_metric"]),
                      dsl.parse(t["program"]), t["runs"], budget, tuple(t["at_limit"]), ())


def _fail(message: str) -> int:
  print(message, file=sys.stderr)
  return 2


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m meta_validation.replay", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("program", type=pathlib.Path, help="program file (paper syntax)")
  parser.add_argument("--task", default=meta_tasks.DEFAULT_REPLAY_TASK,
                      help=f"task (default {meta_tasks.DEFAULT_REPLAY_TASK}); any of "
                      "python -m meta_validation.tasks --list or proxy_tasks.names(), or "
                      "your own package.module:factory")
  parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..N-1 (3)")
  parser.add_argument("--first-seed", type=int, default=0, help="evaluation seeds are "
                      "FIRST..FIRST+N-1 (0); above a funnel's seeds for a program it selected")
  parser.add_argument("--tune-seed", type=int, default=0, help="seed of the tuning runs (0)")
  parser.add_argument("--steps", type=int, help="override the task's steps")
  parser.add_argument("--budget", type=int, default=tuning.DEFAULT_BUDGET,
                      help=f"tuning runs per optimizer ({tuning.DEFAULT_BUDGET})")
  parser.add_argument("--space", action="append", default=[], metavar="NAME:AXIS,AXIS",
                      help="tune optimizer NAME (adamw, lion, or the program's file stem) over "
                      f"these axes only (of {', '.join(tuning.AXES)}); repeatable")
  parser.add_argument("--out", type=pathlib.Path, help="output folder (default: the program's)")
  parser.add_argument("--quiet", action="store_true", help="no progress display")
  args = parser.parse_args(argv)
  if not args.program.is_file():
    return _fail(f"{args.program}: no such program file")
  if args.seeds < 1:
    return _fail(f"--seeds: expected a positive integer, got {args.seeds}")
  if args.first_seed < 0:
    return _fail(f"--first-seed: expected a non-negative integer, got {args.first_seed}")
  if args.steps is not None and args.steps < 1:
    return _fail(f"--steps: expected a positive integer, got {args.steps}")
  if args.budget < 1:
    return _fail(f"--budget: expected a positive integer, got {args.budget}")
  try:
    narrowed = tuning.parse_narrowed(args.space)
  except tuning.SpaceError as error:
    return _fail(str(error))
  try:  # a registered name or a user's package.module:factory, checked before any training
    proxy_tasks.check(args.task, **({} if args.steps is None else {"steps": args.steps}))
  except proxy_tasks.TaskError as error:
    return _fail(f"--task: {error}")
  try:
    program = dsl.parse_file(args.program)
  except dsl.ProgramError as error:
    return _fail(str(error))
  except (OSError, UnicodeDecodeError) as error:
    return _fail(f"{args.program}: cannot read the program ({error})")
  # Dead statements change no update but would be compiled and run at every step of every
  # tuning point and seed (a 5 MB program of them: minutes and gigabytes): gone first.
  pruned = dsl.prune(program)
  if len(pruned.statements) < len(program.statements):
    print(f"{args.program}: {len(program.statements) - len(pruned.statements)} of "
          f"{len(program.statements)} statements are dead (no update depends on them); "
          "replaying the program without them", file=sys.stderr)
    program = pruned
  paths = output_paths(args.program, args.task, args.out)
  if any(p.resolve() == args.program.resolve() for p in paths.values()):
    return _fail(f"{args.program}: an output would overwrite the program; pick --out")
  overrides = {} if args.steps is None else {"steps": args.steps}
  label = args.program.stem
  if label in tuning.BASELINES:
    narrowed = {(f"{label} (program)" if k == label and k not in narrowed else k): v
                for k, v in narrowed.items()}
  try:
    spaces_for({_own_label(label): program}, narrowed)
  except tuning.SpaceError as error:
    return _fail(str(error))
  record = replay(program, args.task, args.seeds, args.tune_seed, label=label,
                  quiet=args.quiet, budget=args.budget, narrowed=narrowed,
                  first_seed=args.first_seed, **overrides)
  print(tuning.report({row["optimizer"]: _tuned_of(row, record["budget"])
                       for row in record["rows"]}), file=sys.stderr)
  write(record, paths)
  print(markdown_table(record))
  print(f"wrote {paths['json']}, {paths['md']}, {paths['png']} ({record['seconds']} s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
