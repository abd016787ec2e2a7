"""``python -m search.run`` end to end in subprocesses: SIGKILL mid-run, then resume."""

import collections
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from search import run as run_cli
from runlog import folder as run_folder
from tests.search.helpers import BASE, run_search, small_config, trajectory

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _write_config(tmp_path, log_path):
  text = BASE.format(name="killed", seed=5, max_programs=400, population_size=30, repeats=2,
                     restart_after=60, runs_dir=tmp_path / "runs", checkpoint_every_s=0.3)
  text = text.replace("  evaluator: tests.search.fakes:make",
                      "  evaluator: tests.search.fakes:make\n"
                      f"  overrides: {{delay_s: 0.01, log_path: '{log_path}'}}")
  path = tmp_path / "search.yaml"
  path.write_text(text)
  return path


def _start(config_path):
  return subprocess.Popen([sys.executable, "-m", "search.run", str(config_path), "--quiet"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_then_the_same_command_resumes_without_rescoring(tmp_path):
  log_path = tmp_path / "scored.txt"
  config_path = _write_config(tmp_path, log_path)
  events_path = tmp_path / "runs" / "killed" / "events.jsonl"
  process = _start(config_path)
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline and process.poll() is None:
    if events_path.exists() and events_path.read_bytes().count(b"\n") >= 120:
      break
    time.sleep(0.02)
  assert process.poll() is None, process.communicate()[1].decode()[-2000:]
  os.kill(process.pid, signal.SIGKILL)
  process.wait(timeout=30)
  folder = run_folder.RunFolder(tmp_path / "runs" / "killed")
  before = folder.events()
  assert 120 <= len(before) < 401

  done = subprocess.run([sys.executable, "-m", "search.run", str(config_path), "--quiet"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "resumed" in done.stderr
  events = folder.events()
  assert events[:len(before)] == before  # nothing written is lost or rewritten
  assert len(events) == 401 and len({e["id"] for e in events}) == 401
  # Every program was trained once, but for at most the one batch in flight at the kill.
  counts = collections.Counter(log_path.read_text().split())
  assert sum(n - 1 for n in counts.values()) <= 1
  assert len(counts) == len([e for e in events if e["status"] != "cached"])
  # And the run is the one an uninterrupted search makes (one worker, batches of one).
  reference = small_config(tmp_path / "ref", name="killed", seed=5, max_programs=400,
                           population_size=30, repeats=2, restart_after=60)
  assert trajectory(events) == trajectory(run_search(reference)[1].events())


def test_an_existing_run_with_other_search_settings_is_not_touched(tmp_path):
  config_path = _write_config(tmp_path, tmp_path / "log.txt")
  folder = tmp_path / "runs" / "killed"
  folder.mkdir(parents=True)
  (folder / "config.yaml").write_text(config_path.read_text())
  done = subprocess.run([sys.executable, "-m", "search.run", str(config_path), "--quiet",
                         "--set", "evolution.population_size=31"], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
  assert done.returncode == 2
  assert "evolution.population_size=30" in done.stderr and "not 31" in done.stderr
  assert sorted(p.name for p in folder.iterdir()) == ["config.yaml"]


def test_a_hurdle_or_suite_on_an_unknown_task_is_a_usage_error(tmp_path):
  for key in ("task.hurdles", "task.suite"):
    done = subprocess.run([sys.executable, "-m", "search.run",
                           str(ROOT / "configs/quickstart.yaml"), "--quiet",
                           "--set", f"{key}={{mlp_digit: {{}}}}",
                           "--set", f"output.runs_dir={tmp_path / 'runs'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: --set {key}=") and (
        f"{key}.mlp_digit: unknown proxy task 'mlp_digit'" in line), done.stderr
  assert not (tmp_path / "runs").exists()


def test_a_misspelt_monitor_task_is_a_usage_error(tmp_path):
  done = subprocess.run([sys.executable, "-m", "search.run", str(ROOT / "configs/lion_search.yaml"),
                         "--quiet", "--set", "meta_validation.task=lm_sklearn_txt_10x",
                         "--set", f"output.runs_dir={tmp_path / 'runs'}"],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert done.returncode == 2
  assert done.stderr.strip().splitlines()[-1].startswith(
      "error: --set meta_validation.task=lm_sklearn_txt_10x: meta_validation.task: unknown "
      "proxy task 'lm_sklearn_txt_10x'")
  assert not (tmp_path / "runs").exists()


def test_constant_tuning_of_a_program_without_constants_is_a_usage_error(tmp_path, capsys):
  program = tmp_path / "bare.py"
  program.write_text("def train(w, g, lr):\n  u = g * lr\n  return u\n")
  config_path = _write_config(tmp_path, tmp_path / "log.txt")
  status = run_cli.main([str(config_path), "--quiet", "--set", f"initial_program={program}",
                         "--set", "evolution.strategy=constants"])
  assert status == 2
  assert capsys.readouterr().err.strip() == (
      f"error: evolution.strategy: constants: {program} has no nonzero constant to tune")
  assert not (tmp_path / "runs").exists()
