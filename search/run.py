"""``python -m search.run CONFIG``: run a search, or resume one.

::

    python -m search.run configs/quickstart.yaml                 # new run, or resumes runs/<name>
    python -m search.run configs/lion_search.yaml --set evolution.population_size=100
    python -m search.run --resume runs/quickstart                # after a crash or Ctrl-C
    python -m search.run configs/lion_search.yaml --address auto # join a Ray cluster

Running the same command again continues the run in ``runs/<name>/`` from its last checkpoint
(a run's search settings cannot change; its budget, workers and output intervals can). Config
mistakes are one line naming the file, line and key; the exit status is then 2. So is a run
folder that cannot be written (or a full disk): one line naming the file, what the folder
already held intact, and the same command resumes once that is fixed. Ctrl-C (or
SIGTERM) checkpoints and exits with status 130; the run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

from dsl.files import atomic_write
from dsl.program import ProgramError
from runlog import folder as run_folder
from search import config as config_lib
from search import driver, mutation, progress, warm_start, workers


class UsageError(Exception):
  """Bad input on the command line or in the config: printed on one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="python -m search.run", description=__doc__.split("\n")[0])
  parser.add_argument("config", nargs="?", help="the search's YAML config")
  parser.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE", help="override a config key (dotted), e.g. "
                      "evolution.population_size=100; repeatable")
  parser.add_argument("--resume", metavar="RUN_DIR", help="resume the run in RUN_DIR (its "
                      "config.yaml is the config)")
  parser.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS, else an "
                      "embedded local Ray)")
  parser.add_argument("--quiet", action="store_true", help="log lines instead of the live panel")
  return parser


def resolve(args: argparse.Namespace) -> tuple[config_lib.SearchConfig, run_folder.RunFolder]:
  """The config and run folder the arguments ask for; raises ``UsageError``/``ConfigError``."""
  overrides = list(args.overrides)
  if args.address:
    overrides.append(f"workers.address={args.address}")
  if args.resume:
    folder = run_folder.RunFolder(args.resume)
    if not folder.exists():
      raise UsageError(f"--resume {args.resume}: no run there (no config.yaml)")
    old = config_lib.load(folder.config_path)
    config = config_lib.load(folder.config_path, overrides)
  else:
    if not args.config:
      raise UsageError("give a CONFIG file or --resume RUN_DIR")
    config = config_lib.load(args.config, overrides)
    folder = run_folder.RunFolder(pathlib.Path(config.output.runs_dir) / config.name)
    if not folder.exists():
      return config, folder
    old = config_lib.load(folder.config_path)
  changed = [d for d in config_lib.differences(old, config)
             if not d[0].startswith(config_lib.RESUMABLE_CHANGES) and d[0] != "output.runs_dir"]
  if changed:
    key, before, after = changed[0]
    raise UsageError(f"{folder.path} holds a run with {key}={before!r}, not {after!r}; only "
                     f"{', '.join(config_lib.RESUMABLE_CHANGES)} may change on resume: choose "
                     "another name (--set name=...) or resume it as it is")
  if config_lib.differences(old, config):
    atomic_write(folder.config_path, config_lib.to_yaml(config))
  return config, folder


def _check_task(config: config_lib.SearchConfig) -> None:
  """Fails early (exit 2) on an unknown task or program, before any worker starts."""
  try:
    initial = warm_start.load_initial_program(config.initial_program)
  except (ProgramError, OSError) as e:
    raise UsageError(f"initial_program: {e}") from None
  if config.evolution.strategy == "constants" and not mutation.constant_slots(initial):
    raise UsageError(f"evolution.strategy: constants: {config.initial_program} has no nonzero "
                     "constant to tune")
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  from proxy_tasks import tuning  # pylint: disable=import-outside-toplevel
  if config.tune_initial:
    tuning.space(initial, label=f"tune_initial: {config.initial_program}")  # it always has lr
  meta = config.meta_validation
  checks = [] if config.task.evaluator else [("task", config.task.name, config.task.overrides)]
  checks += [(f"task.suite.{name}", name, overrides)
             for name, overrides in config.task.suite.items()]
  checks += [(f"task.hurdles.{name}", name, hurdle.overrides)
             for name, hurdle in config.task.hurdles.items()]
  # The monitor's own one-slot evaluator resolves task names too: check the name then.
  if meta.monitoring and (not meta.evaluator
                          or meta.evaluator.startswith("meta_validation.monitor:")):
    checks.append(("meta_validation.task", meta.task, meta.overrides))
  if meta.funnel_at_end:  # the funnel trains on resolved tasks, whatever the evaluator
    from meta_validation import tasks as meta_tasks  # pylint: disable=import-outside-toplevel
    checks += [(f"meta_validation.funnel_task_{stage}",
                name or meta_tasks.scaled_name(config.task.name, stage), {})
               for stage, name in (("10x", meta.funnel_task_10x),
                                   ("100x", meta.funnel_task_100x))]
  for key, name, overrides in checks:
    try:  # a user's task is built and checked against the protocol, before Ray starts
      proxy_tasks.check(name, **overrides)
    except proxy_tasks.TaskError as e:
      raise UsageError(f"{key}: {e}") from None


def evaluator_spec(task: config_lib.TaskSpec) -> tuple[dict, str]:
  """``(overrides, evaluator)`` that ``workers.build_evaluator`` builds the search's evaluator
  from: the task's own, or with a suite or hurdles ``proxy_tasks.fitness.build``."""
  if not (task.suite or task.hurdles):
    return dict(task.overrides), task.evaluator
  hurdles = {name: dataclasses.asdict(hurdle) for name, hurdle in task.hurdles.items()}
  return ({"overrides": dict(task.overrides), "suite": dict(task.suite), "hurdles": hurdles},
          "proxy_tasks.fitness:build")


def make_pool(config: config_lib.SearchConfig):
  task, pool = config.task, config.workers
  overrides, evaluator = evaluator_spec(task)
  if pool.backend == "local":
    return workers.LocalPool(workers.build_evaluator(task.name, overrides, evaluator))
  return workers.RayPool(task.name, overrides, evaluator, pool.num_workers,
                         pool.batches_per_worker, pool.max_restarts, pool.address)


def _file_error(error: OSError, folder) -> str:
  """One line for an ``OSError`` of the run: the file (else the run folder) and why."""
  if isinstance(error, ConnectionError) or not (error.filename or folder):
    return str(error).splitlines()[0] if str(error) else type(error).__name__
  return (f"{error.filename or folder}: {error.strerror or error}; what was written is kept "
          "(run the same command again once this is fixed)")


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  try:
    config, folder = resolve(args)
    _check_task(config)
  except (UsageError, config_lib.ConfigError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except OSError as e:  # the run folder's config.yaml could not be rewritten
    print(f"error: {_file_error(e, '')}", file=sys.stderr)
    return 2
  display = (progress.LogProgress() if args.quiet or not sys.stderr.isatty()
             else progress.LiveProgress(f"optsearch: {folder.path}"))
  pool = None
  try:
    pool = make_pool(config)
    search = driver.Search(config, folder, pool, on_progress=display, log=display.log)
    driver.install_signal_handlers(search)
    summary = search.run()
  except OSError as e:  # a run folder that cannot be written (or read), a full disk
    print(f"error: {_file_error(e, folder.path)}", file=sys.stderr)
    return 2
  finally:
    display.close()
    if pool is not None:
      pool.close()
  print(progress.summary(summary, str(folder.path)))
  if search.monitor is not None and search.monitor.rows:
    print(f"meta-validation curve: {folder.path / 'meta_validation.png'}")
  if search.funnel_table is not None:
    print(f"funnel table: {search.funnel_table}")
  if search.interrupted:
    print(f"interrupted: resume with  python -m search.run --resume {folder.path}",
          file=sys.stderr)
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
