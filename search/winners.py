"""From a finished search to the programs it stands behind: funnel, simplify, replay, verdict.

  python -m search.winners RUN [--top-k 3] [--seeds 3] [--holdout-seeds 3] [--pool N]
                               [--budget 16] [--tune-seed 0] [--family F] [--task-10x T]
                               [--task-100x T] [--ablation-task T] [--ablation-seeds 2]
                               [--tolerance 0.05] [--replay-seeds 3]

The paper's steps after the search (Chen et al., 2023, Sec. 2-3: the funnel of larger tasks,
then the simplification that turned the raw program into Lion), as one command with no manual
step:

1. **Funnel** (``meta_validation.funnel``): the best programs on held-out proxy seeds, then at
   10x and 100x, each tuned like the baselines. A finished ``RUN/funnel/funnel.json`` with the
   same settings, and no event log written after it, is read back instead of rerun.
2. **Choose**: the survivors (programs that beat tuned AdamW at every stage) at their tuned
   point of the last stage; when none survived, the candidate that went furthest (the best
   log-ratio at the last stage any candidate reached), marked as such.
3. **Simplify** each (``simplify.simplifier``): prune, exact rewrites, then ablation on
   ``--ablation-task`` (default the 10x task, where the funnel judged it), calibrated step.
4. **Replay** the funnelled and the simplified programs together against AdamW and Lion, all
   tuned by the same protocol (``meta_validation.replay``), on the 100x task, on seeds the
   funnel did not use.
5. **Verdict**: per program, the paired log-ratio to tuned AdamW and to tuned Lion over the
   replay seeds with its standard error, and whether it is Lion-class (a sign update and one
   state), in ``RUN/winners/winners.md`` and ``winners.json``.

Each stage's output is written atomically under ``RUN/winners/`` and read back when its inputs
and settings are unchanged, so a call that was interrupted resumes at the stage it was in.
Bad input: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import sys
import time
from typing import Callable

import numpy as np

import dsl
import proxy_tasks
from dsl.files import atomic_write, float_from_json, json_safe
from dsl.program import Program
from meta_validation import funnel as funnel_lib
from meta_validation import replay as replay_lib
from runlog.folder import RunFolder
from simplify import simplifier

FOLDER = "winners"
SIGNIFICANCE = 2.0  # standard errors a paired log-ratio must clear to count as a win or a loss


@dataclasses.dataclass(frozen=True)
class Settings:
  """Everything that decides the outputs; a stage is reused only under the same settings."""
  top_k: int = 3
  seeds: int = 3
  holdout_seeds: int = 3
  pool: int | None = None
  budget: int = 16
  tune_seed: int = 0
  tasks: tuple[tuple[str, str], ...] = ()  # (("10x", name), ("100x", name))
  ablation_task: str = ""
  ablation_seeds: int = 2
  tolerance: float = simplifier.DEFAULT_TOLERANCE
  replay_seeds: int = 3

  @property
  def task_10x(self) -> str:
    return dict(self.tasks)["10x"]

  @property
  def task_100x(self) -> str:
    return dict(self.tasks)["100x"]


@dataclasses.dataclass(frozen=True)
class Chosen:
  """A program the funnel let through (``survived``) or, when none did, the one that went
  furthest; ``program`` is as it ran at ``stage`` (at its tuned point there when tuned)."""
  index: int
  id: int
  program: Program
  stage: str
  vs_adamw: float
  survived: bool
  hyperparameters: dict

  @property
  def name(self) -> str:
    return f"rank_{self.index + 1:02d}_id_{self.id}"

  @property
  def label(self) -> str:
    return f"rank{self.index + 1:02d}_id{self.id}"


# ---------------------------------------------------------------------------------- funnel


def _funnel_settings(record: dict) -> dict:
  """The settings a funnel record was made with (older records: read off its stages)."""
  stages = record.get("stages", {})
  tune_seed = record.get("tune_seed", next((s.get("tune_seed") for s in stages.values()), 0))
  holdout = record.get("holdout_seeds", len(stages.get("holdout", {}).get("seeds", [])))
  return {"top_k": record.get("top_k"), "seeds": record.get("seeds"),
          "budget": record.get("budget"), "tuned_programs": record.get("tuned_programs"),
          "tune_seed": tune_seed, "holdout_seeds": holdout,
          "pool": record.get("pool", len(record.get("candidates", []))),
          "tasks": {k: v for k, v in record.get("tasks", {}).items() if k != "holdout"}}


def _wanted_funnel(settings: Settings) -> dict:
  return {"top_k": settings.top_k, "seeds": settings.seeds, "budget": settings.budget,
          "tuned_programs": True, "tune_seed": settings.tune_seed,
          "holdout_seeds": settings.holdout_seeds,
          "pool": settings.pool or funnel_lib.POOL_FACTOR * settings.top_k,
          "tasks": dict(settings.tasks)}


def _log_written_after(run: pathlib.Path, moment: float) -> bool:
  folder = RunFolder(run)
  paths = [folder.events_path]
  if folder.segments_path.is_dir():
    paths += list(folder.segments_path.iterdir())
  return any(p.is_file() and p.stat().st_mtime > moment for p in paths)


def funnel_record(run: pathlib.Path, settings: Settings, log: Callable[[str], None]) -> dict:
  """The finished funnel of ``run`` under ``settings``: read back when it is current, else run."""
  path = run / "funnel" / "funnel.json"
  if path.is_file():
    try:
      record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
      record = {}
    current = (record.get("finished") is True
               and _funnel_settings(record) == _wanted_funnel(settings)
               and not _log_written_after(run, path.stat().st_mtime))
    if current:
      log(f"funnel: {path} is current (same settings, no newer event log); read back")
      return record
    log(f"funnel: {path} is stale or unfinished; rerunning it")
  return funnel_lib.funnel(run, settings.top_k, settings.seeds, settings.tune_seed,
                           dict(settings.tasks), log=log, holdout_seeds=settings.holdout_seeds,
                           pool=settings.pool, budget=settings.budget)


def chosen_programs(record: dict) -> list[Chosen]:
  """The survivors at their tuned point of the last stage; else the one that went furthest.

  Raises ``ValueError`` when no candidate scored a finite result at any stage.
  """
  candidates = record["candidates"]
  stages = record["stages"]

  def at(stage: str, index: int) -> Chosen:
    result = stages[stage]
    scored = result["programs"][result["candidates"].index(index)]
    text = scored.get("tuned_program") or candidates[index]["program"]
    return Chosen(index, int(candidates[index]["id"]), dsl.parse(text), stage,
                  float_from_json(scored["vs_adamw"]), index in record["survivors"],
                  dict(scored.get("hyperparameters") or {}))

  if record["survivors"]:
    return [at(funnel_lib.SCALED_STAGES[-1], index) for index in record["survivors"]]
  for stage in reversed(("holdout",) + funnel_lib.SCALED_STAGES):
    if stage not in stages:
      continue
    result = stages[stage]
    finite = [(float_from_json(s["vs_adamw"]), -i, index) for i, (index, s)
              in enumerate(zip(result["candidates"], result["programs"]))
              if math.isfinite(float_from_json(s["vs_adamw"]))]
    if finite:
      return [at(stage, max(finite)[2])]
  raise ValueError(f"{record['run']}/funnel/funnel.json: no candidate scored a finite result "
                   "at any stage of the funnel; nothing to simplify")


# -------------------------------------------------------------------------------- simplify


def _simplification_json(result: simplifier.Simplification, settings: dict) -> dict:
  def step(s):
    return {"stage": s.stage, "what": s.what, "why": s.why, "hash": s.hash,
            "fitness": s.fitness, "program": s.program.to_text()}

  return {"settings": settings, "input": result.input.to_text(),
          "program": result.program.to_text(), "task": result.task,
          "tolerance": result.tolerance,
          "calibration": (None if result.calibration is None else
                          {"factor": result.calibration[0],
                           "grid": [list(kf) for kf in result.calibration[1]]}),
          "steps": [step(s) for s in result.steps],
          "trials": [{"round": t.round, "description": t.description, "hash": t.hash,
                      "fitness_before": t.fitness_before, "fitness_after": t.fitness_after,
                      "accepted": t.accepted, "program": t.program.to_text()}
                     for t in result.trials],
          "report": result.report()}


def simplified(chosen: Chosen, folder: pathlib.Path, settings: Settings, scorer_of,
               record_run: str, log: Callable[[str], None]) -> dict:
  """Simplifies ``chosen`` (or reads back the result for the same input and settings) and
  writes its program files; returns the simplification record."""
  wanted = {"task": settings.ablation_task, "seeds": settings.ablation_seeds,
            "tolerance": settings.tolerance, "calibrate": True, "keep_weight_decay": True}
  path = folder / f"{chosen.name}.simplification.json"
  source = chosen.program.to_text()
  done = None
  if path.is_file():
    try:
      done = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
      done = None
    if done is not None and (done.get("settings") != wanted or done.get("input") != source):
      done = None
  if done is None:
    log(f"simplify: {chosen.name} ({len(chosen.program.statements)} statements), ablation on "
        f"{settings.ablation_task}, {settings.ablation_seeds} seed(s)")
    start = time.perf_counter()
    result = simplifier.simplify(chosen.program, scorer_of(), tolerance=settings.tolerance)
    done = _simplification_json(result, wanted)
    done["seconds"] = round(time.perf_counter() - start, 1)
    atomic_write(path, json.dumps(json_safe(done), indent=1))
    log(f"simplify: {chosen.name} -> {len(dsl.parse(done['program']).statements)} statements "
        f"({done['seconds']:.0f} s)")
  else:
    log(f"simplify: {path} is current; read back")
  where = (f"survived the funnel of {record_run} at every stage" if chosen.survived else
           f"did NOT survive the funnel of {record_run}: it went furthest (to the {chosen.stage} "
           "stage) of the candidates")
  tuned = ", ".join(f"{k}={v}" for k, v in chosen.hyperparameters.items())
  header = (f"# Program {chosen.id} (rank {chosen.index + 1} by proxy fitness); it {where}; "
            f"log-ratio to tuned AdamW there {chosen.vs_adamw:+.4f}.\n"
            + (f"# At its point tuned on the {chosen.stage} task: {tuned}.\n" if tuned else ""))
  atomic_write(folder / f"{chosen.name}.py", header + source)
  atomic_write(folder / f"{chosen.name}_simplified.py",
               header + f"# Simplified by search.winners (prune, exact rewrites, ablation on "
               f"{settings.ablation_task}, tolerance {settings.tolerance}).\n" + done["program"])
  atomic_write(folder / f"{chosen.name}_simplified.py.report.txt", done["report"])
  return done


# ---------------------------------------------------------------------------------- replay


def replay_programs(chosen: list[Chosen], simplifications: list[dict]) -> dict[str, Program]:
  """The programs replayed: each funnelled program and, when it differs, its simplification."""
  programs: dict[str, Program] = {}
  for c, s in zip(chosen, simplifications):
    programs[c.label] = c.program
    short = dsl.parse(s["program"])
    if dsl.semantic_hash(short) != dsl.semantic_hash(c.program):
      programs[c.label + "_simplified"] = short
  return programs


def replayed(programs: dict[str, Program], folder: pathlib.Path, settings: Settings,
             first_seed: int, log: Callable[[str], None]) -> dict:
  path = folder / "replay.json"
  texts = {replay_lib._own_label(k): p.to_text() for k, p in programs.items()}  # pylint: disable=protected-access
  eval_seeds = list(range(first_seed, first_seed + settings.replay_seeds))
  if path.is_file():
    try:
      record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
      record = {}
    if (record.get("programs") == texts and record.get("eval_seeds") == eval_seeds
        and record.get("budget") == settings.budget
        and record.get("tune_seed") == settings.tune_seed
        and record.get("task", {}).get("name") == settings.task_100x):
      log(f"replay: {path} is current; read back")
      return record
  log(f"replay: {', '.join(programs)} against tuned AdamW and Lion on {settings.task_100x}, "
      f"seeds {eval_seeds[0]}..{eval_seeds[-1]}, budget {settings.budget}")
  record = replay_lib.replay(programs, settings.task_100x, settings.replay_seeds,
                             settings.tune_seed, budget=settings.budget, first_seed=first_seed)
  replay_lib.write(record, {s: folder / f"replay.{s}" for s in ("json", "md", "png")})
  log(f"replay: {record['seconds']:.0f} s")
  return record


# --------------------------------------------------------------------------------- verdict


def paired(row: dict, baseline: dict) -> tuple[float, float]:
  """Mean and standard error over the seeds of log(baseline metric / program metric)."""
  ratios = np.array([math.log(float_from_json(b) / float_from_json(p)) if
                     float_from_json(p) > 0 and float_from_json(b) > 0 else -math.inf
                     for p, b in zip(row["final_per_seed"], baseline["final_per_seed"])])
  if not np.all(np.isfinite(ratios)):
    return -math.inf, math.nan
  se = float(np.std(ratios, ddof=1) / math.sqrt(len(ratios))) if len(ratios) > 1 else math.nan
  return float(np.mean(ratios)), se


def outcome(mean: float, se: float) -> str:
  if not math.isfinite(mean):
    return "fails"
  if not math.isfinite(se):
    return "better" if mean > 0 else "worse"  # one seed: no error bar to weigh it by
  if mean > SIGNIFICANCE * se:
    return "better"
  if mean < -SIGNIFICANCE * se:
    return "worse"
  return "tie"


def lion_class(program: Program) -> bool:
  """A sign update and one state of memory, the class the paper's search arrived at."""
  live = dsl.prune(program)
  return (dsl.effective_states(program) == 1
          and any(s.function == "sign" for s in live.statements))


def verdicts(record: dict, programs: dict[str, Program]) -> list[dict]:
  rows = {row["optimizer"]: row for row in record["rows"]}
  adamw, lion = rows[record["reference"]], rows.get("lion")
  out = []
  for label, program in programs.items():
    row = rows[replay_lib._own_label(label)]  # pylint: disable=protected-access
    vs_adamw = paired(row, adamw)
    vs_lion = paired(row, lion) if lion is not None else (math.nan, math.nan)
    live = dsl.prune(program)
    out.append({"program": label, "statements": len(live.statements),
                "states": dsl.effective_states(program), "lion_class": lion_class(program),
                "final_mean": row["final_mean"], "final_std": row["final_std"],
                "vs_adamw": vs_adamw[0], "vs_adamw_se": vs_adamw[1],
                "vs_adamw_outcome": outcome(*vs_adamw),
                "vs_lion": vs_lion[0], "vs_lion_se": vs_lion[1],
                "vs_lion_outcome": outcome(*vs_lion) if lion is not None else "not run",
                "hyperparameters": row["hyperparameters"]})
  return out


def finding(rows: list[dict]) -> str:
  """What was found, in the issue's three kinds."""
  winners = [r for r in rows if r["vs_adamw_outcome"] == "better"]
  if not winners:
    return ("nothing that beats the fairly tuned baselines: no program is better than tuned "
            f"AdamW by more than {SIGNIFICANCE:g} standard errors on the replay")
  lion_like = [r["program"] for r in winners if r["lion_class"]]
  if lion_like:
    return f"a Lion-class program (sign update, one state) that beats tuned AdamW: {lion_like}"
  return ("another kind of improvement over tuned AdamW (see the ablation for what carries "
          f"it): {[r['program'] for r in winners]}")


def carriers(simplification: dict) -> list[dict]:
  """The last ablation round's rejected trials: what the simplified program's fitness rests on
  (each removal or bypass, and what it cost)."""
  trials = simplification["trials"]
  if not trials:
    return []
  last = max(t["round"] for t in trials)
  return sorted(({"change": t["description"],
                  "cost": float_from_json(t["fitness_before"]) - float_from_json(t["fitness_after"])}
                 for t in trials if t["round"] == last and not t["accepted"]),
                key=lambda c: -c["cost"])


def _num(x: float, fmt: str = "+.4f") -> str:
  x = float_from_json(x)
  return format(x, fmt) if math.isfinite(x) else ("-inf" if x < 0 else "n/a")


def markdown(summary: dict) -> str:
  s = summary
  lines = [f"# Winners of `{s['run']}`", "",
           f"**Found: {s['finding']}.**", "",
           f"Funnel ({s['funnel']['tasks']}, top {s['settings']['top_k']}, budget "
           f"{s['settings']['budget']}): {len(s['funnel']['survivors'])} survivor(s)"
           + ("" if s["funnel"]["survivors"] else
              "; the candidate that went furthest is carried on instead") + ".", ""]
  for c in s["chosen"]:
    lines += [f"## {c['name']}: {'survivor' if c['survived'] else 'did not survive'} "
              f"(reached {c['stage']}, log-ratio to tuned AdamW there {_num(c['vs_adamw'])})",
              "",
              f"Simplification on {c['ablation_task']} (tolerance {c['tolerance']}): "
              f"{c['statements_before']} -> {c['statements_after']} live statements, "
              f"{c['states_before']} -> {c['states_after']} states of memory; "
              f"{c['ablations_kept']} ablation(s) kept of {c['ablations_tried']} tried.", ""]
    if c["carriers"]:
      lines += ["What the simplified program's fitness rests on (the last ablation round: "
                "each change, and the fitness it costs):", ""]
      lines += [f"- {k['change']}: " + (_num(k["cost"]) if math.isfinite(k["cost"]) else
                                         "the program fails without it (non-finite loss)")
                for k in c["carriers"]]
      lines.append("")
    lines += ["```python", c["simplified"].rstrip("\n"), "```", ""]
  lines += [f"## Replay on {s['replay']['task']}, seeds {s['replay']['seeds']}", "",
            "Each program and the baselines tuned by the same protocol (learning rate, weight "
            "decay, betas, schedule; budget "
            f"{s['settings']['budget']} runs each). Log-ratios are paired by seed, mean ± "
            "standard error; 'better'/'worse' when beyond "
            f"{SIGNIFICANCE:g} standard errors, else 'tie'.", "",
            "| program | live statements | states of memory | Lion-class | final | vs tuned AdamW | "
            "vs tuned Lion |", "|---|---|---|---|---|---|---|"]
  for r in s["verdicts"]:
    lines.append(f"| {r['program']} | {r['statements']} | {r['states']} | "
                 f"{'yes' if r['lion_class'] else 'no'} | {_num(r['final_mean'], '.4f')} ± "
                 f"{_num(r['final_std'], '.4f')} | {_num(r['vs_adamw'])} ± "
                 f"{_num(r['vs_adamw_se'], '.4f')} ({r['vs_adamw_outcome']}) | "
                 f"{_num(r['vs_lion'])} ± {_num(r['vs_lion_se'], '.4f')} "
                 f"({r['vs_lion_outcome']}) |")
  lines += ["", s["replay_table"].rstrip("\n"), ""]
  return "\n".join(lines)


# ------------------------------------------------------------------------------------ main


def winners(run: pathlib.Path, settings: Settings,
            log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
  """Runs (or resumes) every stage on ``run``; writes ``run/winners/``; returns the summary.

  Raises ``FileNotFoundError``/``ValueError``/``KeyError`` as the funnel does, and
  ``ValueError`` when no candidate scored finitely.
  """
  run = pathlib.Path(run)
  record = funnel_record(run, settings, log)
  chosen = chosen_programs(record)
  folder = run / FOLDER
  folder.mkdir(parents=True, exist_ok=True)
  scorer = []

  def scorer_of():  # compiled once, shared by every chosen program
    if not scorer:
      from simplify.scoring import Scorer  # pylint: disable=import-outside-toplevel
      scorer.append(Scorer(settings.ablation_task, settings.ablation_seeds))
    return scorer[0]

  simplifications = [simplified(c, folder, settings, scorer_of, record["run"], log)
                     for c in chosen]
  programs = replay_programs(chosen, simplifications)
  replay_record = replayed(programs, folder, settings, first_seed=settings.seeds, log=log)
  rows = verdicts(replay_record, programs)
  summary = {
      "run": str(run), "settings": dataclasses.asdict(settings),
      "funnel": {"tasks": record["tasks"], "survivors": record["survivors"],
                 "seconds": record.get("seconds")},
      "chosen": [], "verdicts": rows, "finding": finding(rows),
      "replay": {"task": settings.task_100x, "seeds": replay_record["eval_seeds"],
                 "reference": replay_record["reference"], "seconds": replay_record["seconds"]},
      "replay_table": replay_lib.markdown_table(replay_record)}
  for c, s in zip(chosen, simplifications):
    before, after = dsl.prune(c.program), dsl.parse(s["program"])
    summary["chosen"].append({
        "name": c.name, "id": c.id, "rank": c.index + 1, "survived": c.survived,
        "stage": c.stage, "vs_adamw": c.vs_adamw, "hyperparameters": c.hyperparameters,
        "ablation_task": settings.ablation_task, "tolerance": settings.tolerance,
        "statements_before": len(before.statements), "statements_after": len(after.statements),
        "states_before": dsl.effective_states(before),
        "states_after": dsl.effective_states(after),
        "ablations_tried": len(s["trials"]),
        "ablations_kept": sum(t["accepted"] for t in s["trials"]),
        "carriers": carriers(s), "program": c.program.to_text(), "simplified": s["program"]})
  atomic_write(folder / "winners.json", json.dumps(json_safe(summary), indent=1))
  atomic_write(folder / "winners.md", markdown(summary))
  return summary


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # one line, exit status 2, no usage dump
    self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="python -m search.winners", description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("run", type=pathlib.Path, help="search run folder (runs/<name>)")
  parser.add_argument("--top-k", type=int, default=3, help="candidates at 10x (3)")
  parser.add_argument("--seeds", type=int, default=3, help="seeds per funnel stage (3)")
  parser.add_argument("--holdout-seeds", type=int, default=3,
                      help="fresh proxy seeds before the 10x stage (3; 0: none)")
  parser.add_argument("--pool", type=int, help="programs read from the log (default "
                      f"{funnel_lib.POOL_FACTOR} x --top-k)")
  parser.add_argument("--budget", type=int, default=16,
                      help="tuning runs per optimizer and program, funnel and replay (16)")
  parser.add_argument("--tune-seed", type=int, default=0, help="seed of the tuning runs (0)")
  parser.add_argument("--family", help="family of the funnel's tasks (default: the proxy's)")
  parser.add_argument("--task-10x", help="10x task (default <family>_10x)")
  parser.add_argument("--task-100x", help="100x task, also the replay's (default "
                      "<family>_100x)")
  parser.add_argument("--ablation-task", help="task the ablation scores on (default the 10x "
                      "task)")
  parser.add_argument("--ablation-seeds", type=int, default=simplifier.DEFAULT_SEEDS,
                      help=f"seeds per ablation fitness ({simplifier.DEFAULT_SEEDS})")
  parser.add_argument("--tolerance", type=float, default=simplifier.DEFAULT_TOLERANCE,
                      help="fitness the ablations may cost in all "
                      f"({simplifier.DEFAULT_TOLERANCE})")
  parser.add_argument("--replay-seeds", type=int, default=3,
                      help="replay seeds, after the funnel's (3)")
  return parser


def main(argv=None) -> int:
  args = _parser().parse_args(argv)

  def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2

  for flag, value, lowest in (("--top-k", args.top_k, 1), ("--seeds", args.seeds, 1),
                              ("--holdout-seeds", args.holdout_seeds, 0),
                              ("--pool", 1 if args.pool is None else args.pool, 1),
                              ("--budget", args.budget, 1), ("--tune-seed", args.tune_seed, 0),
                              ("--ablation-seeds", args.ablation_seeds, 1),
                              ("--replay-seeds", args.replay_seeds, 1)):
    if value < lowest:
      return fail(f"{flag}: expected {'a positive' if lowest else 'a non-negative'} integer, "
                  f"got {value}")
  if not args.tolerance >= 0:
    return fail(f"--tolerance: expected a non-negative number, got {args.tolerance}")
  if not args.run.is_dir():
    return fail(f"{args.run}: no such run folder")
  try:
    tasks = funnel_lib.stage_tasks(args.run, args.family, args.task_10x, args.task_100x)
    ablation_task = args.ablation_task or tasks["10x"]
    for flag, name in (("--task-10x", tasks["10x"]), ("--task-100x", tasks["100x"]),
                       ("--ablation-task", ablation_task)):
      try:  # a registered name or a user's package.module:factory, before any training
        proxy_tasks.check(name)
      except proxy_tasks.TaskError as error:
        return fail(f"{flag}: {error}")
    settings = Settings(args.top_k, args.seeds, args.holdout_seeds, args.pool, args.budget,
                        args.tune_seed, (("10x", tasks["10x"]), ("100x", tasks["100x"])),
                        ablation_task, args.ablation_seeds, args.tolerance, args.replay_seeds)
    summary = winners(args.run, settings)
  except (FileNotFoundError, ValueError) as error:
    return fail(str(error))
  except KeyError as error:
    return fail(str(error.args[0]))
  print(markdown(summary))
  print(f"wrote {args.run / FOLDER}: winners.md, winners.json, replay.*, "
        f"{len(summary['chosen'])} program(s) and their simplifications")
  return 0


if __name__ == "__main__":
  sys.exit(main())
