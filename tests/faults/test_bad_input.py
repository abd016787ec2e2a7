"""Bad input to every command line, as a user meets it (subprocesses): a program file with a
syntax or a type error, a config that is not YAML, has a value of the wrong type, or is not
there. Each is one line on stderr naming the file and line (and key), and exit status 2.

The packages' own tests cover the rest (``tests/dsl/test_cli.py``: every kind of program
error; ``tests/search/test_config.py``: unknown keys (also through the command line), relations,
``--set``), mostly in-process.
"""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROGRAMS = {  # kind: (text, line, column, message)
    "syntax error": ("def train(w, g, lr)\n  return g\n", 1, 20, "syntax error: expected ':'"),
    "type error": ("def train(w, g, m, lr):\n  m = interp(g, m, 0.9)\n  u = clip(g, m)\n"
                   "  return u, m\n", 3, 15, "argument 2 of 'clip' must be a scalar, 'm' is tree"),
}

CONFIG = """\
name: bad
seed: 0
initial_program: {initial}
task:
  name: quadratic
budget:
  max_programs: 10
output:
  runs_dir: {runs}
"""


def _run(*args) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)


def _one_line(done: subprocess.CompletedProcess) -> str:
  assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1, done.stderr
  return lines[0]


@pytest.mark.parametrize("kind", sorted(PROGRAMS))
@pytest.mark.parametrize("command", ["dsl check", "simplify --exact-only",
                                     "meta_validation.replay", "search.run"])
def test_a_bad_program_file_is_one_located_line_and_status_2(tmp_path, command, kind):
  text, line, column, message = PROGRAMS[kind]
  program = tmp_path / "bad.py"
  program.write_text(text)
  module, *options = command.split()
  if module == "search.run":  # the warm start of a search
    config = tmp_path / "search.yaml"
    config.write_text(CONFIG.format(initial=program, runs=tmp_path / "runs"))
    done = _run(module, config, *options)
  else:
    done = _run(module, *options[:1], program, *options[1:])
  assert f"{program}:{line}:{column}: {message}" in _one_line(done)
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
      ["bad.py"] + (["search.yaml"] if module == "search.run" else []))  # nothing written


CONFIGS = {  # kind: (how to break the config, expected error after "error: FILE")
    "not YAML": (lambda t: t.replace("  name: quadratic", "  name: {quadratic"),
                 ":6:7: not valid YAML: expected ',' or '}', but got ':'"),
    "wrong type": (lambda t: t.replace("max_programs: 10", "max_programs: ten"),
                   ":7:3: 'budget.max_programs' must be an integer, got 'ten'"),
    "no file": (None, ": cannot read the config (No such file or directory)"),
}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_a_bad_config_is_one_located_line_and_status_2(tmp_path, kind):
  change, expected = CONFIGS[kind]
  config = tmp_path / "search.yaml"
  if change is not None:
    config.write_text(change(CONFIG.format(initial="adamw", runs=tmp_path / "runs")))
  assert _one_line(_run("search.run", config)).startswith(f"error: {config}{expected}")
  assert not (tmp_path / "runs").exists()


USER = "tests.proxy_tasks.user_tasks"
TASKS = {  # kind: (task name, overrides, expected error after "task: task 'NAME': ")
    "does not import": ("tests.no_such_module:make", "{}",
                        "cannot import 'tests.no_such_module': ModuleNotFoundError"),
    "factory raises": (f"{USER}:make_raising", "{}",
                       "make_raising() raised RuntimeError: no GPU here"),
    "not a task": (f"{USER}:make_no_metric", "{}", "not a task: it lacks metric"),
    "vector loss": (f"{USER}:make_broken", "{kind: vector loss}",
                    "train_loss(params, data, plan[0]) is an array of shape (8,)"),
    "int parameters": (f"{USER}:make_broken", "{kind: int params}",
                       "parameters must be float32 arrays"),
    "NaN metric": (f"{USER}:make_broken", "{kind: nan metric}",
                   "metric(params, data) is NaN on the initial parameters"),
}


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_a_bad_user_task_is_one_line_and_status_2_before_any_worker(tmp_path, kind):
  name, overrides, expected = TASKS[kind]
  config = tmp_path / "search.yaml"
  config.write_text(CONFIG.format(initial="adamw", runs=tmp_path / "runs").replace(
      "  name: quadratic", f"  name: {name}\n  overrides: {overrides}"))
  line = _one_line(_run("search.run", config))
  # Located: the config file and line of task.name, then the task and what is wrong.
  assert line.startswith(f"error: {config}:") and f"task.name: task '{name}': " in line, line
  assert expected in line, line
  assert not (tmp_path / "runs").exists()  # checked before the run folder and Ray


@pytest.mark.parametrize("command", ["meta_validation.replay", "proxy_tasks.baselines"])
def test_a_user_task_that_does_not_import_is_one_line_for_replay_and_baselines(tmp_path,
                                                                                command):
  program = tmp_path / "good.py"
  program.write_text("def train(w, g, lr):\n  u = g * lr\n  return u\n")
  arguments = [program] if command == "meta_validation.replay" else []
  line = _one_line(_run(command, *arguments, "--task", "tests.no_such_module:make",
                        *(["--out", tmp_path / "out"] if command != "meta_validation.replay"
                          else [])))
  assert line.startswith("--task: task 'tests.no_such_module:make': cannot import")
  assert not (tmp_path / "out").exists()
