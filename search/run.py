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
SIGTERM) checkpoints and exits with status 130; the run resumes where it stopped (Ctrl-C while
the workers start too: the pool is shut down first, nothing is left running).

A run folder belongs to one live search (``run_folder.RunFolder.claim``): a second one on it
stops with one line naming the owner's pid and host (exit status 2); a killed owner (even
``kill -9``) leaves nothing to clean up. The folder is read before any worker starts: a
damaged checkpoint is rebuilt from the event log, a damaged event line is one line naming
``FILE:LINE`` (exit status 2); ``--repair`` then moves the damaged lines to
``damaged_events.txt`` (every intact event is kept) and goes on with the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import signal
import sys
import threading

INTERRUPTED_AT_START = "interrupted before the search started; run the same command again"


def _exit_interrupted(*_) -> None:
  """Ctrl-C while the modules below are imported (seconds: JAX): nothing is written yet, so
  the process just ends (an exception raised here could land in a callback that ignores it)."""
  print(INTERRUPTED_AT_START, file=sys.stderr)
  os._exit(130)  # pylint: disable=protected-access


if __name__ == "__main__":
  signal.signal(signal.SIGINT, _exit_interrupted)

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
  parser.add_argument("--repair", action="store_true", help="move damaged lines of the run's "
                      "event log to damaged_events.txt (every intact event is kept), then run")
  return parser


def resolve(args: argparse.Namespace
            ) -> tuple[config_lib.SearchConfig, run_folder.RunFolder, pathlib.Path]:
  """The config and run folder the arguments ask for, and the config file it was read from;
  writes nothing. Raises ``UsageError``/``ConfigError``."""
  overrides = _overrides(args)
  if args.resume:
    folder = run_folder.RunFolder(args.resume)
    if not folder.exists():
      raise UsageError(f"--resume {args.resume}: no run there (no config.yaml)")
    return config_lib.load(folder.config_path, overrides), folder, folder.config_path
  if not args.config:
    raise UsageError("give a CONFIG file or --resume RUN_DIR")
  config = config_lib.load(args.config, overrides)
  folder = run_folder.RunFolder(pathlib.Path(config.output.runs_dir) / config.name)
  return config, folder, pathlib.Path(args.config)


def _overrides(args: argparse.Namespace) -> list[str]:
  overrides = list(args.overrides)
  if args.address:
    overrides.append(f"workers.address={args.address}")
  return overrides


def _check_resumable(config: config_lib.SearchConfig, folder: run_folder.RunFolder,
                     record: bool = True) -> None:
  """Refuses a config that changes what the run in ``folder`` searches; with ``record``,
  writes the changes a resume may make (budget, workers...) to its config.yaml (the folder's
  owner only)."""
  if not folder.exists():
    return
  old = config_lib.load(folder.config_path)
  changed = [d for d in config_lib.differences(old, config)
             if not d[0].startswith(config_lib.RESUMABLE_CHANGES) and d[0] != "output.runs_dir"]
  if changed:
    key, before, after = changed[0]
    raise UsageError(f"{folder.path} holds a run with {key}={before!r}, not {after!r}; only "
                     f"{', '.join(config_lib.RESUMABLE_CHANGES)} may change on resume: choose "
                     "another name (--set name=...) or resume it as it is")
  if record and config_lib.differences(old, config):
    atomic_write(folder.config_path, config_lib.to_yaml(config))


def _check_runs_dir(config: config_lib.SearchConfig, source: pathlib.Path,
                    overrides: list[str]) -> None:
  """A runs_dir that is a file, or a folder this user cannot write, is a usage error now,
  before any worker starts."""
  runs_dir = pathlib.Path(config.output.runs_dir)
  where = config_lib.where(source, "output.runs_dir", overrides)
  existing = next((p for p in (runs_dir, *runs_dir.parents) if p.exists()), None)
  if existing is None:
    return
  if not existing.is_dir():
    raise UsageError(f"{where}: 'output.runs_dir' {runs_dir}: {existing} is a file, not a "
                     "folder")
  folder = runs_dir / config.name
  if existing == runs_dir and folder.exists() and not folder.is_dir():
    raise UsageError(f"{where}: 'output.runs_dir' {runs_dir}: the run folder {folder} is a "
                     "file, not a folder")


def _check_task(config: config_lib.SearchConfig, source: pathlib.Path = pathlib.Path("<config>"),
                overrides: list[str] = ()) -> None:
  """Fails early (exit 2) on an unknown task or program, before any worker starts; the message
  names where ``source`` (the config file) or ``overrides`` set the key."""
  import dsl  # pylint: disable=import-outside-toplevel
  spec = config.initial_program
  if spec not in dsl.library.names() and not os.path.isfile(spec):
    why = "is a folder" if os.path.isdir(spec) else "No such file or directory"
    raise UsageError(f"{config_lib.where(source, 'initial_program', overrides)}: "
                     f"'initial_program' {spec}: {why} (a program file, or a built-in: "
                     f"{', '.join(dsl.library.names())})")
  try:
    initial = warm_start.load_initial_program(spec)
  except ProgramError as e:  # the program file's own error: FILE:LINE:COL
    raise UsageError(f"{e} (the 'initial_program' of "
                     f"{config_lib.where(source, 'initial_program', overrides)})") from None
  except OSError as e:  # unreadable
    raise UsageError(f"{config_lib.where(source, 'initial_program', overrides)}: "
                     f"'initial_program' {spec}: {e.strerror or e}") from None
  if config.evolution.strategy == "constants" and not mutation.constant_slots(initial):
    raise UsageError(f"evolution.strategy: constants: {config.initial_program} has no nonzero "
                     "constant to tune")
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  from proxy_tasks import tuning  # pylint: disable=import-outside-toplevel
  if config.tune_initial:
    tuning.space(initial, label=f"tune_initial: {config.initial_program}")  # it always has lr
  meta = config.meta_validation
  checks = ([] if config.task.evaluator
            else [("task.name", config.task.name, config.task.overrides)])
  checks += [(f"task.suite.{name}", name, task_overrides)
             for name, task_overrides in config.task.suite.items()]
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
  for key, name, task_overrides in checks:
    try:  # a user's task is built and checked against the protocol, before Ray starts
      proxy_tasks.check(name, **task_overrides)
    except proxy_tasks.TaskError as e:
      # A funnel task left unset is derived from task.name: that is the key to fix then.
      located = key if config_lib.where(source, key, overrides) != str(source) else "task.name"
      raise UsageError(f"{config_lib.where(source, located, overrides)}: {key}: {e}") from None


def evaluator_spec(task: config_lib.TaskSpec) -> tuple[dict, str]:
  """``(overrides, evaluator)`` that ``workers.build_evaluator`` builds the search's evaluator
  from: the task's own, or with a suite or hurdles ``proxy_tasks.fitness.build``."""
  if not (task.suite or task.hurdles):
    return dict(task.overrides), task.evaluator
  hurdles = {name: dataclasses.asdict(hurdle) for name, hurdle in task.hurdles.items()}
  return ({"overrides": dict(task.overrides), "suite": dict(task.suite), "hurdles": hurdles},
          "proxy_tasks.fitness:build")


def make_pool(config: config_lib.SearchConfig, stop=lambda: False):
  """The config's pool of workers; ``stop`` cuts a Ray start short (``StartInterrupted``)."""
  task, pool = config.task, config.workers
  overrides, evaluator = evaluator_spec(task)
  if pool.backend == "local":
    return workers.LocalPool(workers.build_evaluator(task.name, overrides, evaluator))
  return workers.RayPool(task.name, overrides, evaluator, pool.num_workers,
                         pool.batches_per_worker, pool.max_restarts, pool.address, stop=stop)


def _file_error(error: OSError, folder) -> str:
  """One line for an ``OSError`` of the run: the file (else the run folder) and why."""
  if isinstance(error, ConnectionError) or not (error.filename or folder):
    return str(error).splitlines()[0] if str(error) else type(error).__name__
  return (f"{error.filename or folder}: {error.strerror or error}; what was written is kept "
          "(run the same command again once this is fixed)")


def _repair(folder: run_folder.RunFolder, log) -> None:
  """``--repair``: damaged log lines moved aside; a checkpoint that covered one set aside too
  (the state is then rebuilt from the log)."""
  if not folder.exists():
    return
  moved, first = folder.repair_events()
  if not moved:
    log(f"repair: {folder.path}: no damaged event line")
    return
  log(f"repair: moved {len(moved)} damaged line{'s' if len(moved) > 1 else ''} "
      f"({', '.join(moved[:3])}{', ...' if len(moved) > 3 else ''}) to {folder.damaged_path}; "
      "every intact event is kept")
  try:
    checkpoint = folder.read_checkpoint()
    covered = checkpoint["state"]["events"] if checkpoint is not None else 0
  except (ValueError, KeyError, TypeError):
    return  # damaged too: the resume sets it aside
  if isinstance(covered, int) and covered > first:  # it counts the moved lines
    aside = folder.set_checkpoint_aside("before-repair")
    log(f"repair: {folder.checkpoint_path} covered a moved line: set aside as {aside.name}, "
        "the state is rebuilt from the event log")


def _one_line(error: BaseException) -> str:
  return str(error).splitlines()[0] if str(error) else type(error).__name__


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.default_int_handler)  # KeyboardInterrupt, caught below
  messages: list[str] = []  # logged before the display exists
  folder = None
  try:
    try:
      # Everything before the workers: the config checked, the run folder claimed, created
      # or checked, and read.
      config, folder, source = resolve(args)
      overrides = _overrides(args)
      _check_task(config, source, overrides)
      _check_runs_dir(config, source, overrides)
      _check_resumable(config, folder, record=False)  # a refused config leaves no trace
      folder.claim()
      _check_resumable(config, folder)  # again: the run may have been made meanwhile
      if args.repair:
        _repair(folder, messages.append)
      if not folder.exists():
        driver.create(config, folder)
      search = driver.Search(config, folder, None, log=messages.append)
      search.load()
      folder.open_logs()  # a folder that cannot be written is told now, not after Ray's start
    except (UsageError, config_lib.ConfigError, run_folder.RunFolderBusy) as e:
      print(f"error: {e}", file=sys.stderr)
      return 2
    except run_folder.DamagedLog as e:
      print(f"error: {e}; to go on, run  python -m search.run --resume {folder.path} --repair  "
            "(moves the damaged lines to damaged_events.txt; every intact event is kept)",
            file=sys.stderr)
      return 2
    except ValueError as e:  # an unreadable log segment
      print(f"error: {_one_line(e)}", file=sys.stderr)
      return 2
    except OSError as e:  # a run folder that cannot be created, read or written; a full disk
      print(f"error: {_file_error(e, folder.path if folder and folder.exists() else '')}",
            file=sys.stderr)
      return 2
    except KeyboardInterrupt:
      print(INTERRUPTED_AT_START, file=sys.stderr)
      return 130
    return _search(args, config, folder, search, messages)
  finally:
    if folder is not None:
      try:
        folder.close()  # if the search did not (it failed to start)
      except OSError:
        pass  # already told (a full disk): what was written is kept
      folder.release()


def _search(args: argparse.Namespace, config: config_lib.SearchConfig,
            folder: run_folder.RunFolder, search: driver.Search, messages: list[str]) -> int:
  """Starts the workers and runs the search; Ctrl-C from here on (the workers' start
  included) ends in a checkpoint and exit status 130."""
  display = (progress.LogProgress() if args.quiet or not sys.stderr.isatty()
             else progress.LiveProgress(f"optsearch: {folder.path}"))
  for message in messages:
    display.log(message)
  search.on_progress, search.log = display, display.log
  pool = None
  summary = None
  try:
    driver.install_signal_handlers(search)  # before the pool: Ctrl-C while Ray starts
    try:
      pool = make_pool(config, stop=lambda: search.interrupted)
    except (workers.StartInterrupted, OSError):
      raise
    except Exception as e:  # pylint: disable=broad-except  (Ray's start failed: e.g. overloaded)
      print(f"error: the workers did not start ({_one_line(e)}); nothing was lost: run the same "
            "command again to resume", file=sys.stderr)
      return 1
    driver.install_signal_handlers(search)  # again: ray.init sets its own SIGTERM handler
    if not search.interrupted:  # else Ctrl-C came while the workers started: nothing ran
      search.pool = pool
      summary = search.run()
  except workers.StartInterrupted:  # the pool shut itself down
    pass
  except OSError as e:  # a run folder that cannot be written (or read), a full disk
    print(f"error: {_file_error(e, folder.path)}", file=sys.stderr)
    return 2
  finally:
    display.close()
    if pool is not None:
      pool.close()
  if summary is None:
    print(f"interrupted while the workers started: resume with  python -m search.run "
          f"--resume {folder.path}", file=sys.stderr)
    return 130
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
