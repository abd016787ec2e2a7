"""Funnel selection (Chen et al., 2023, Section 2.3): the best programs of a search through
fresh proxy seeds, then ever larger meta-validation tasks, keeping only those that beat tuned
AdamW.

  python -m meta_validation.funnel runs/<name> [--top-k 10] [--seeds 3] [--family NAME]
                                   [--holdout-seeds 3] [--pool N] [--as-found]
                                   [--task-10x NAME] [--task-100x NAME]

The stages' tasks are ``<family>_10x`` and ``<family>_100x`` (``meta_validation.tasks``); the
family is the proxy's (``config.yaml``) unless ``--family`` names another, and
``--task-10x``/``--task-100x`` override one stage. A family the search never saw is the
stricter judge: ``--family lm_sklearn_text`` for a search on ``mlp_digits`` (whose own 10x and
100x tasks are nearly saturated and barely separate optimizers).

1. Pool: the ``--pool`` (default 5 x K) best unique programs of the event log
   (``runs/<name>/events/`` then ``events.jsonl``) by proxy fitness (status ``ok`` or
   ``cached``; one per cache key, i.e. per distinct program, at its best fitness; the text is
   in the log). The log is streamed: a week-long search's is tens of GB.
2. Held-out seeds: a long search selects programs that were lucky on the proxy's seeds (one
   hour-long search's best was +1.90 on its seed and below tuned AdamW on four others,
   ``docs/results.md``). So the pool is scored again on the proxy task (its ``config.yaml``
   settings) on ``--holdout-seeds`` seeds the search never used (``HOLDOUT_FIRST_SEED``
   onwards), against tuned AdamW on the same seeds; only programs that beat it go on. A
   search on a suite (``task.suite``) is held out on every task of it, and a program goes on
   when the mean over the tasks of ``log(tuned AdamW / metric)`` is above 0: the fitness the
   search ranked it by, on fresh seeds.
3. Diversity: of the programs left (best held-out metric first; by proxy fitness with
   ``--holdout-seeds 0``), one per structure (``dsl.structure_hash``: the live computation
   without its constants' values), so the K candidates are not K tunings of one program.
4. On the 10x task: AdamW, Lion and each candidate are tuned by the same procedure with the
   same budget (``proxy_tasks.tuning``: learning rate, weight decay, betas and schedule where
   a program has them; ``--budget`` runs each) on the tuning seed, the baselines once per task
   in a funnel run (a task met again reuses them). The candidates' constants were chosen on
   the proxy, the baselines' on this task: without tuning the comparison is rigged against
   the candidates (``--as-found`` skips it). The tuned candidates and baselines are then
   scored on seeds ``0 .. N-1``. A candidate is *promoted* when its seed-mean metric is below
   tuned AdamW's.
5. The promoted candidates go through the same on the 100x task; those that beat tuned AdamW
   there *survive*.

Output in ``runs/<name>/funnel/`` (each file written atomically): ``funnel.csv`` and
``funnel.md`` (per program of the pool: proxy fitness, held-out, 10x and 100x metric mean and
std over seeds, ``log(AdamW / metric)`` at each stage, what became of it; tuned AdamW and Lion
as rows), ``funnel.json`` (everything) and ``survivors/rank_NN_id_M.py`` (the surviving
programs at their point tuned at 100x).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import heapq
import io
import json
import math
import pathlib
import sys
import time
from typing import Sequence

import numpy as np
import yaml

import dsl
import proxy_tasks
from dsl.program import Program
from meta_validation import tasks as meta_tasks
from meta_validation import scoring
from dsl.files import json_safe
from dsl.scores import ranked_fitness
from proxy_tasks import tuning
from dsl.files import atomic_write
from runlog.folder import RunFolder

STAGES = ("holdout", "10x", "100x")
SCALED_STAGES = ("10x", "100x")
HOLDOUT_FIRST_SEED = 1000  # held-out proxy seeds: 1000, 1001, ... (above any the search used)
POOL_FACTOR = 5  # default pool: this many times the candidates the 10x stage takes
# Task settings of the search that the held-out stage does not take over: it picks its own
# seeds, and reports raw metrics against its own tuned baselines.
_NOT_HELD_OUT = ("seeds", "fitness_reference")


@dataclasses.dataclass(frozen=True)
class Candidate:
  """A program of the search: its event id, cache key, proxy fitness and program."""
  id: int
  key: str
  fitness: float
  program: Program


def read_candidates(run_dir: pathlib.Path, top_k: int) -> list[Candidate]:
  """The ``top_k`` best unique programs of a run folder by proxy fitness (best first; ties:
  lower id first).

  One pass over the log, holding the best fitness of every key seen (no text) and the text of
  the current top ``top_k`` only. A key's best only ever rises, so a key that left the top can
  come back only by rising, with the event that holds its text.
  """
  folder = RunFolder(run_dir)
  if not folder.has_events():
    raise FileNotFoundError(f"{folder.events_path}: no such file (not a search run folder?)")
  if top_k < 1:
    return []
  best: dict[str, float] = {}  # key -> its best fitness so far
  top: dict[str, tuple[float, int, str, str]] = {}  # key -> (fitness, id, program, location)
  ranking: list[tuple[float, int, str]] = []  # min-heap of (fitness, -id, key), stale allowed
  for number, (where, event) in enumerate(folder.iter_events(locations=True), 1):
    if event.get("status") not in ("ok", "cached"):
      continue
    fitness = ranked_fitness(event.get("fitness"))
    if not math.isfinite(fitness) or "program" not in event:
      continue
    key = event.get("key") or event["program"]
    if key in best and best[key] >= fitness:
      continue  # the first event at a key's best fitness is its candidate
    best[key] = fitness
    entry = (fitness, int(event.get("id", number)), event["program"], where)
    if key not in top and len(top) >= top_k:
      worst = _worst(ranking, top)
      if (fitness, -entry[1]) <= (worst[0], worst[1]):
        continue
      heapq.heappop(ranking)
      del top[worst[2]]
    top[key] = entry
    heapq.heappush(ranking, (fitness, -entry[1], key))
  candidates = []
  for key, (fitness, program_id, text, where) in top.items():
    try:
      program = dsl.parse(text, filename=where)
    except dsl.ProgramError as error:
      raise ValueError(f"{where}: program of event {program_id} does not parse ({error})"
                       ) from None
    candidates.append(Candidate(program_id, key, fitness, program))
  return sorted(candidates, key=lambda c: (-c.fitness, c.id))


def _worst(ranking: list[tuple[float, int, str]],
           top: dict[str, tuple[float, int, str, str]]) -> tuple[float, int, str]:
  """The heap's lowest entry that is current (a key that rose left a stale entry behind)."""
  while True:
    fitness, negative_id, key = ranking[0]
    if key in top and top[key][:2] == (fitness, -negative_id):
      return ranking[0]
    heapq.heappop(ranking)


def proxy_of(run_dir: pathlib.Path) -> tuple[str, dict]:
  """The proxy task of ``config.yaml`` (``task: {name: ..., overrides: {...}}``): its name and
  its overrides (as written; ``proxy_tasks.resolve`` makes YAML lists tuples)."""
  path = pathlib.Path(run_dir) / "config.yaml"
  if not path.exists():
    raise FileNotFoundError(f"{path}: no such file (not a search run folder?)")
  config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
  task = config.get("task")
  name = task.get("name") if isinstance(task, dict) else task
  if not isinstance(name, str):
    raise ValueError(f"{path}: key 'task.name': expected a task name, got {name!r}")
  overrides = (task.get("overrides") if isinstance(task, dict) else None) or {}
  if not isinstance(overrides, dict):
    raise ValueError(f"{path}: key 'task.overrides': expected a mapping, got {overrides!r}")
  return name, dict(overrides)


def suite_of(run_dir: pathlib.Path) -> dict[str, dict]:
  """The other tasks of the run's fitness (``task.suite`` of ``config.yaml``): name ->
  overrides; empty for a single-task search."""
  path = pathlib.Path(run_dir) / "config.yaml"
  task = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("task")
  suite = (task.get("suite") if isinstance(task, dict) else None) or {}
  if not isinstance(suite, dict) or not all(isinstance(o or {}, dict) for o in suite.values()):
    raise ValueError(f"{path}: key 'task.suite': expected a mapping of task name -> "
                     f"overrides, got {suite!r}")
  return {str(name): dict(overrides or {}) for name, overrides in suite.items()}


def held_out_suite(results: dict[str, dict]) -> list[dict]:
  """Per program, over the held-out results of every task of a suite (``run_stage``
  records by task, the same programs in the same order): each task's ``vs_adamw`` and
  their mean; a program beats AdamW when the mean is above 0 (a failure anywhere fails)."""
  rows = []
  for scored in zip(*(result["programs"] for result in results.values())):
    per_task = {name: s["vs_adamw"] for name, s in zip(results, scored)}
    finite = all(math.isfinite(v) for v in per_task.values())
    mean = float(np.mean(list(per_task.values()))) if finite else -math.inf
    rows.append({"task_vs_adamw": per_task, "vs_adamw": mean, "beats_adamw": mean > 0})
  return rows


def stage_tasks(run_dir: pathlib.Path, family: str | None = None, task_10x: str | None = None,
                task_100x: str | None = None) -> dict[str, str]:
  """The task of each stage: ``task_10x``/``task_100x`` where given, else
  ``<family>_10x``/``<family>_100x``; ``family`` defaults to the family of the run's proxy
  (``config.yaml``, read only when needed)."""
  given = {"10x": task_10x, "100x": task_100x}
  if all(given.values()):
    return dict(given)
  if family is None:
    family = meta_tasks.family_of(proxy_of(pathlib.Path(run_dir))[0])
  return {stage: name or meta_tasks.scaled_name(family, stage) for stage, name in given.items()}


def _stats(metrics: np.ndarray) -> tuple[float, float]:
  if not np.all(np.isfinite(metrics)):
    return math.nan, math.nan
  return float(np.mean(metrics)), float(np.std(metrics))


def run_stage(task_name: str, programs: Sequence[Program], seeds: Sequence[int],
              tune_seed: int = 0, baselines: dict | None = None,
              evaluators: dict | None = None, tune_programs: bool = False,
              budget: int = tuning.DEFAULT_BUDGET, **overrides) -> dict:
  """Tunes the baselines (``tuning.BASELINES``: AdamW as the paper writes it, bias-corrected
  AdamW, Lion) on ``task_name``, then scores them and ``programs`` on ``seeds``; a program
  beats AdamW when it beats the better of the two.

  Tuning is ``proxy_tasks.tuning`` on the tuning seed, ``budget`` runs each. With
  ``tune_programs`` each program is tuned in the same call, by the same procedure and budget
  (its learning rate, and its weight decay, betas and schedule where it has them), and scored
  at its tuned point; otherwise at its own constants.
  ``baselines``: a cache the caller keeps for one funnel run, of the tuned baselines and their
  per-seed metrics by task, seeds, tuning seed, budget and overrides: a task met again is
  neither tuned nor has its baselines scored again. ``evaluators``: a cache of compiled
  evaluators (``scoring.evaluator_for``).

  Returns ``{"task", "seeds", "tune_seed", "budget", "seconds", "baselines_cached",
  "reference" (the better AdamW: what a program must beat), "baselines": {name: {"hyperparameters",
  "runs", "at_limit", "mean", "std", "metrics"}}, "programs": [{"mean", "std", "metrics",
  "vs_adamw" (log(AdamW / mean)), "beats_adamw"}, with "hyperparameters", "runs",
  "at_limit" and "tuned_program" if tuned]}``.
  """
  start = time.perf_counter()
  key = (task_name, tuple(int(s) for s in seeds), int(tune_seed), int(budget),
         repr(sorted(overrides.items())))
  cached = None if baselines is None else baselines.get(key)
  spaces = {}
  if cached is None:
    spaces.update((name, tuning.library_space(name)) for name in tuning.BASELINES)
  labels = [f"program {i}" for i in range(len(programs))]
  if tune_programs:
    spaces.update((label, tuning.space(program, label=label))
                  for label, program in zip(labels, programs))
  # One tuning call and one scoring call each: the evaluator's slots train together.
  tuned = scoring.tune(task_name, spaces, tune_seed, budget, evaluators=evaluators,
                       **overrides) if spaces else {}
  names = [name for name in tuning.BASELINES if name in tuned]
  everything = [tuned[name].program for name in names] + [
      tuned[label].program if label in tuned else program
      for label, program in zip(labels, programs)]
  metrics = scoring.score_per_seed(task_name, everything, seeds, evaluators=evaluators,
                                   **overrides)
  if cached is None:
    cached = {name: (_tuning_summary(tuned[name]), metrics[row])
              for row, name in enumerate(names)}
    if baselines is not None:
      baselines[key] = cached
  program_metrics = metrics[len(names):]
  stage = {"task": task_name, "seeds": list(seeds), "tune_seed": tune_seed, "budget": budget,
           "baselines_cached": not names, "tuned_programs": tune_programs, "baselines": {},
           "programs": []}
  for name, (summary, row) in cached.items():
    mean, std = _stats(row)
    stage["baselines"][name] = {**summary, "mean": mean, "std": std, "metrics": row.tolist()}
  stage["reference"] = tuning.better_adamw({name: b["mean"]
                                            for name, b in stage["baselines"].items()})
  reference = stage["baselines"][stage["reference"]]["mean"]
  for row, label in zip(program_metrics, labels):
    mean, std = _stats(row)
    scored = {"mean": mean, "std": std, "metrics": row.tolist(),
              "vs_adamw": tuning.log_ratio(reference, mean),
              "beats_adamw": bool(math.isfinite(mean) and mean < reference)}
    if label in tuned:
      scored.update(_tuning_summary(tuned[label]))
      scored["tuned_program"] = tuned[label].program.to_text()
    stage["programs"].append(scored)
  stage["seconds"] = round(time.perf_counter() - start, 1)
  return stage


def _tuning_summary(tuned: tuning.Tuned) -> dict:
  return {"hyperparameters": tuned.best, "runs": tuned.runs, "at_limit": list(tuned.at_limit)}


def funnel(run_dir: pathlib.Path, top_k: int = 10, seeds: int = 3, tune_seed: int = 0,
           tasks: dict[str, str] | None = None, log=print, family: str | None = None,
           holdout_seeds: int = 3, pool: int | None = None, tune_programs: bool = True,
           budget: int = tuning.DEFAULT_BUDGET) -> dict:
  """Runs the funnel on a run folder and writes ``run_dir/funnel/``; returns the record.

  ``tasks`` (``{"10x": name, "100x": name}``) defaults to ``stage_tasks(run_dir, family)``:
  the meta-validation tasks of ``family``, by default the proxy's family. ``pool``: how many
  of the best programs are read (default ``POOL_FACTOR * top_k``); ``holdout_seeds``: fresh
  proxy seeds they are scored on before the 10x stage (0: none, the pool goes straight to
  the diversity filter). ``tune_programs``: at 10x and 100x the candidates are tuned like the
  baselines, ``budget`` runs each (``run_stage``); on the held-out seeds they run as the
  search scored them.
  """
  start = time.perf_counter()
  run_dir = pathlib.Path(run_dir)
  if tasks is None:
    tasks = stage_tasks(run_dir, family)
  proxy, proxy_overrides = (proxy_of(run_dir) if holdout_seeds else ("", {}))
  for stage, name in [("held-out", proxy)] * bool(holdout_seeds) + list(tasks.items()):
    try:  # a registered name or a user's package.module:factory
      proxy_tasks.check(name, **(proxy_overrides if stage == "held-out" else {}))
    except proxy_tasks.TaskError as error:
      raise KeyError(f"{stage} task: {error}") from None
  # A live search may be read (it only appends); what it adds from now on is not seen.
  live = RunFolder(run_dir).live_owner()
  if live:
    log(f"the search in {run_dir} is still running ({live}): its log is read as it is now")
  candidates = read_candidates(run_dir, pool or POOL_FACTOR * top_k)
  if not candidates:
    raise ValueError(f"{run_dir / 'events.jsonl'}: no successfully scored program in the "
                     "event log")
  structures = [dsl.structure_hash(c.program) for c in candidates]
  record = {"run": str(run_dir), "top_k": top_k, "seeds": seeds, "tasks": dict(tasks),
            "tuned_programs": tune_programs, "budget": budget, "tune_seed": tune_seed,
            "pool": pool or POOL_FACTOR * top_k, "holdout_seeds": holdout_seeds, "stages": {},
            "candidates": [{"id": c.id, "key": c.key, "proxy_fitness": c.fitness,
                            "structure": structure, "program": c.program.to_text()}
                           for c, structure in zip(candidates, structures)]}
  if live:
    record["partial_log"] = live
  baselines: dict = {}  # tuned once per task in this run
  evaluators: dict = {}  # compiled once per task and seed in this run
  order = list(range(len(candidates)))  # by proxy fitness
  if holdout_seeds:
    record["tasks"]["holdout"] = proxy
    searched = [*(proxy_overrides.get("seeds") or proxy_tasks.config_of(proxy).seeds)]
    for name, member_overrides in suite_of(run_dir).items():  # above every task's seeds
      searched += member_overrides.get("seeds") or proxy_tasks.config_of(name).seeds
    first = max(HOLDOUT_FIRST_SEED, max(int(seed) for seed in searched) + 1)
    held_out = tuple(range(first, first + holdout_seeds))
    overrides = {k: v for k, v in proxy_overrides.items() if k not in _NOT_HELD_OUT}
    log(f"held-out: {len(candidates)} program(s) on {proxy}, seeds {held_out[0]}.."
        f"{held_out[-1]} (the search's are not among them)")
    result = run_stage(proxy, [c.program for c in candidates], held_out, tune_seed, baselines,
                       evaluators, budget=budget, **overrides)
    result["candidates"] = order
    result["overrides"] = overrides
    suite = suite_of(run_dir)
    if suite:  # held out on every task of the fitness, ranked by its mean log-ratio
      members = {proxy: result}
      for name, member_overrides in suite.items():
        log(f"held-out: the suite's {name}, seeds {held_out[0]}..{held_out[-1]}")
        members[name] = run_stage(name, [c.program for c in candidates], held_out, tune_seed,
                                  baselines, evaluators, budget=budget,
                                  **{k: v for k, v in member_overrides.items()
                                     if k not in _NOT_HELD_OUT})
      for scored, combined in zip(result["programs"], held_out_suite(members)):
        scored.update(combined)
      result["suite"] = {name: members[name] for name in suite}
    record["stages"]["holdout"] = result
    scored = result["programs"]
    order = sorted((i for i in order if scored[i]["beats_adamw"]),
                   key=lambda i: (-scored[i]["vs_adamw"], scored[i]["mean"]))
    log(f"held-out: {len(order)} program(s) beat tuned AdamW ({result['seconds']:.0f} s)")
  alive, first_of = [], {}
  duplicates = {}  # candidate -> the selected candidate of its structure
  for index in order:
    if structures[index] in first_of:
      duplicates[index] = first_of[structures[index]]
    elif len(alive) < top_k:
      first_of[structures[index]] = index
      alive.append(index)
  record["selected"] = list(alive)
  record["same_structure_as"] = duplicates
  seed_list = tuple(range(seeds))
  for stage in SCALED_STAGES:
    if not alive:
      log(f"{stage}: no candidate left; skipped")
      break
    log(f"{stage}: {len(alive)} program(s) on {tasks[stage]}, {seeds} seed(s)")
    result = run_stage(tasks[stage], [candidates[i].program for i in alive], seed_list,
                       tune_seed, baselines, evaluators, tune_programs, budget)
    result["candidates"] = alive
    record["stages"][stage] = result
    alive = [i for i, scored in zip(alive, result["programs"]) if scored["beats_adamw"]]
    log(f"{stage}: {len(alive)} program(s) beat tuned AdamW ({result['seconds']:.0f} s)")
    if stage != SCALED_STAGES[-1]:  # a stage of minutes to hours is not lost to a later crash
      record["seconds"] = round(time.perf_counter() - start, 1)
      write(run_dir / "funnel", {**record, "finished": False, "survivors": []}, candidates)
  record["survivors"] = alive if SCALED_STAGES[-1] in record["stages"] else []
  record["seconds"] = round(time.perf_counter() - start, 1)
  record["finished"] = True
  write(run_dir / "funnel", record, candidates)
  return record


def table_rows(record: dict) -> list[dict]:
  """One dict per table row: the tuned baselines of each stage, then every candidate."""
  rows = []
  present = {name for result in record["stages"].values() for name in result["baselines"]}
  for name in [n for n in tuning.BASELINES if n in present]:
    row = {"program": name, "id": "", "proxy_fitness": ""}
    for stage in STAGES:
      result = record["stages"].get(stage)
      base = result["baselines"].get(name) if result else None
      adamw = _reference_mean(result)
      row.update(_stage_columns(stage, base, adamw, tuned=base))
    row["status"] = "tuned baseline"
    rows.append(row)
  duplicates = {int(k): v for k, v in record.get("same_structure_as", {}).items()}
  for index, candidate in enumerate(record["candidates"]):
    row = {"program": f"rank {index + 1}", "id": candidate["id"],
           "proxy_fitness": f"{candidate['proxy_fitness']:.4f}"}
    scores = {}
    for stage in STAGES:
      result = record["stages"].get(stage)
      scored = None
      if result and index in result["candidates"]:
        scored = result["programs"][result["candidates"].index(index)]
      scores[stage] = scored
      adamw = _reference_mean(result)
      row.update(_stage_columns(stage, scored, adamw, tuned=scored))
    row["status"] = _status(index, record, scores, duplicates)
    rows.append(row)
  return rows


def _reference_mean(result: dict | None) -> float:
  """The metric a program had to beat at a stage (tuned AdamW)."""
  if not result:
    return math.nan
  return result["baselines"][result.get("reference", "adamw")]["mean"]


def _status(index: int, record: dict, scores: dict, duplicates: dict[int, int]) -> str:
  """What became of candidate ``index``, in the words of the table."""
  if index in record["survivors"]:
    return "survived"
  if scores["10x"] is not None:
    return "promoted, dropped at 100x" if scores["10x"]["beats_adamw"] else "dropped at 10x"
  if scores["holdout"] is not None and not scores["holdout"]["beats_adamw"]:
    return "dropped on held-out seeds"
  if index in duplicates:
    return f"same structure as rank {duplicates[index] + 1}"
  return "not in the top K"


def _stage_columns(stage: str, scored: dict | None, adamw: float, tuned=None) -> dict:
  if scored is None:
    return {f"{stage}_metric": "", f"{stage}_vs_adamw": ""}
  mean, std = scored["mean"], scored["std"]
  text = f"{mean:.4f} ± {std:.4f}" if math.isfinite(mean) else "failed"
  if tuned and tuned.get("hyperparameters"):
    text += " (" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in tuned["hyperparameters"].items())
    text += f"; {tuned['runs']} runs" if "runs" in tuned else ""
    text += f"; AT A LIMIT: {', '.join(tuned['at_limit'])}" if tuned.get("at_limit") else ""
    text += ")"
  vs = scored.get("vs_adamw", tuning.log_ratio(adamw, mean))  # a suite's: its tasks' mean
  return {f"{stage}_metric": text, f"{stage}_vs_adamw": f"{vs:+.4f}" if math.isfinite(vs)
          else ""}


COLUMNS = ("program", "id", "proxy_fitness", "holdout_metric", "holdout_vs_adamw", "10x_metric",
           "10x_vs_adamw", "100x_metric", "100x_vs_adamw", "status")


def _metric_name(task_name: str) -> str:
  """The stage's metric in words, or "" for a task that no longer resolves (a record read
  back where the user's task module is not importable)."""
  try:
    return meta_tasks.metric_name(task_name)
  except (KeyError, TypeError, ValueError):
    return ""


def markdown(record: dict) -> str:
  tasks = record["tasks"]
  stages = record["stages"]
  seeds = record.get("seeds", "N")
  metrics = sorted({_metric_name(tasks[stage]) for stage in SCALED_STAGES
                    if tasks.get(stage)} - {""}) or ["validation metric"]
  held_out = ""
  if "holdout" in stages:
    used = stages["holdout"]["seeds"]
    suite = stages["holdout"].get("suite") or {}
    held_out = (f"held-out = the proxy `{tasks['holdout']}` on seeds {used[0]}..{used[-1]}, "
                "which the search never used"
                + (f" (and the suite's {', '.join(f'`{n}`' for n in suite)}; held-out vs "
                   "AdamW is the mean over these tasks, the metric the proxy's)" if suite
                   else "") + "; ")
  lines = [f"Funnel of `{record['run']}`: the best {len(record['candidates'])} programs by "
           f"proxy fitness; {held_out}the top {record['top_k']} left, one per structure, go to "
           f"10x = `{tasks['10x']}`, then 100x = `{tasks['100x']}`; {' / '.join(metrics)}, "
           f"mean ± std over {seeds} seeds (lower is better); vs AdamW = log(tuned AdamW / "
           "metric); AdamW and Lion tuned once per task (`proxy_tasks.tuning`: learning rate, "
           "weight decay, betas and schedule)"
           + (", and each candidate by the same procedure and budget"
              if record.get("tuned_programs") else ", the candidates at their own constants")
           + "; runs per optimizer and any optimum on a hard limit in brackets."
           + ("" if record.get("finished", True) else " **Unfinished**: the stages after "
              f"{list(stages)[-1]} have not run (yet).")
           + (f" **Partial log**: the search was still running ({record['partial_log']}) when "
              "its event log was read; programs it logged later are not in this funnel."
              if record.get("partial_log") else "")
           + (f" {record['seconds']:.0f} s." if "seconds" in record else ""), "",
           "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  for row in table_rows(record):
    lines.append("| " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
  return "\n".join(lines) + "\n"


def write(folder: pathlib.Path, record: dict, candidates: list[Candidate]) -> None:
  """``funnel.csv``, ``funnel.md``, ``funnel.json`` and ``survivors/*.py``, each atomically."""
  (folder / "survivors").mkdir(parents=True, exist_ok=True)
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows(table_rows(record))
  atomic_write(folder / "funnel.csv", buffer.getvalue())
  atomic_write(folder / "funnel.md", markdown(record))
  atomic_write(folder / "funnel.json", json.dumps(json_safe(record), indent=1))
  last = record["stages"].get(SCALED_STAGES[-1])
  for index in record["survivors"]:
    candidate = candidates[index]
    program = candidate.program
    scored = last["programs"][last["candidates"].index(index)]
    header = (f"# Funnel survivor: rank {index + 1} of run '{record['run']}' (program "
              f"{candidate.id}, proxy fitness {candidate.fitness:.6g}); beat tuned AdamW on "
              + (f"held-out seeds of {record['tasks']['holdout']}, " if "holdout" in
                 record["stages"] else "")
              + f"{record['tasks']['10x']} and {record['tasks']['100x']}.\n")
    if "tuned_program" in scored:  # as it ran at the last stage: at its tuned point
      program = dsl.parse(scored["tuned_program"])
      header += (f"# At its point tuned on {record['tasks'][SCALED_STAGES[-1]]}: "
                 + ", ".join(f"{k}={v}" for k, v in scored["hyperparameters"].items()) + ".\n")
    atomic_write(folder / "survivors" / f"rank_{index + 1:02d}_id_{candidate.id}.py",
                 header + program.to_text())


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m meta_validation.funnel", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("run", type=pathlib.Path, help="run folder (runs/<name>)")
  parser.add_argument("--top-k", type=int, default=10, help="candidates (default 10)")
  parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per stage (3)")
  parser.add_argument("--tune-seed", type=int, default=0, help="baselines' tuning seed (0)")
  parser.add_argument("--holdout-seeds", type=int, default=3,
                      help=f"fresh proxy seeds ({HOLDOUT_FIRST_SEED} onwards) the pool must beat "
                      "tuned AdamW on before the 10x stage (3; 0: skip)")
  parser.add_argument("--as-found", action="store_true",
                      help="score the candidates at their own constants at 10x and 100x (by "
                      "default each is tuned like the baselines)")
  parser.add_argument("--budget", type=int, default=tuning.DEFAULT_BUDGET,
                      help=f"tuning runs per optimizer and candidate at each stage "
                      f"({tuning.DEFAULT_BUDGET})")
  parser.add_argument("--pool", type=int, help=f"programs read from the log (default "
                      f"{POOL_FACTOR} x --top-k)")
  parser.add_argument("--family", help="family of both stages' tasks: <family>_10x and "
                      "<family>_100x (default: the proxy's; one of "
                      f"{', '.join(meta_tasks.SCALED)}, or a user's package.module:factory "
                      "whose module has factory_10x and factory_100x)")
  parser.add_argument("--task-10x", help="10x task (default <family>_10x)")
  parser.add_argument("--task-100x", help="100x task (default <family>_100x)")
  args = parser.parse_args(argv)
  for flag, value, lowest in (("--top-k", args.top_k, 1), ("--seeds", args.seeds, 1),
                              ("--holdout-seeds", args.holdout_seeds, 0),
                              ("--budget", args.budget, 1),
                              ("--pool", args.pool if args.pool is not None else 1, 1)):
    if value < lowest:
      kind = "a positive" if lowest else "a non-negative"
      print(f"{flag}: expected {kind} integer, got {value}", file=sys.stderr)
      return 2
  if (args.family is not None and args.family not in meta_tasks.SCALED
      and not proxy_tasks.is_import_path(args.family)):
    print(f"--family: unknown family '{args.family}'; expected one of "
          f"{', '.join(meta_tasks.SCALED)}", file=sys.stderr)
    return 2
  try:
    tasks = stage_tasks(args.run, args.family, args.task_10x, args.task_100x)
    record = funnel(args.run, args.top_k, args.seeds, args.tune_seed, tasks,
                    log=lambda m: print(m, file=sys.stderr, flush=True),
                    holdout_seeds=args.holdout_seeds, pool=args.pool,
                    tune_programs=not args.as_found, budget=args.budget)
  except (FileNotFoundError, ValueError) as error:
    print(str(error), file=sys.stderr)
    return 2
  except KeyError as error:
    print(error.args[0], file=sys.stderr)
    return 2
  print(markdown(record))
  print(f"wrote {args.run / 'funnel'}: funnel.csv, funnel.md, funnel.json, "
        f"{len(record['survivors'])} survivor(s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
