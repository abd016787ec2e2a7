"""``python -m search.run`` under faults: ``kill -9`` at random moments then the same command
again, a run folder that cannot be written, a disk that fills up. Each ends in a resume that
loses and repeats nothing, or in one line naming the file (exit status 2) with what the run
folder held intact."""

import collections
import errno
import os
import pathlib
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from runlog import folder as run_folder
from search import driver
from search import run as run_cli
from tests.search.helpers import BASE, run_search, small_config, trajectory
from tests.search.test_run import ROOT, _start, _write_config


def _files(folder: pathlib.Path) -> dict[str, bytes]:
  """Every file under ``folder``, relative path -> bytes."""
  return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
          if p.is_file()}


def _scorings(log_path: pathlib.Path) -> collections.Counter:
  return collections.Counter(log_path.read_text().split()) if log_path.exists() else (
      collections.Counter())


# ---- kill -9 at any moment ------------------------------------------------------------------
def _lines(path: pathlib.Path) -> int:
  return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_kill_9_at_random_moments_then_the_same_command_loses_and_repeats_nothing(tmp_path):
  """``test_run`` kills once, after 120 events; here at a random time after the start
  (imports, opening the folder, the warm start, a checkpoint: maybe before anything is
  written) and at a random point of the search, one kill after the other."""
  rng = random.Random(2024)
  log_path = tmp_path / "scored.txt"
  config_path = _write_config(tmp_path, log_path)  # 400 programs, batches of 1, 10 ms each
  folder = run_folder.RunFolder(tmp_path / "runs" / "killed")
  moments = [("seconds", rng.uniform(0.5, 5.0)), ("events", rng.randint(100, 300))]
  logged, kills = [], 0
  for kind, when in moments:
    process = _start(config_path)
    started = time.monotonic()
    while process.poll() is None and time.monotonic() - started < 120:
      if (time.monotonic() - started >= when if kind == "seconds"
          else _lines(folder.events_path) >= when):
        break
      time.sleep(0.02)
    if process.poll() is None:
      os.kill(process.pid, signal.SIGKILL)
      kills += 1
    process.communicate(timeout=60)
    events = folder.events() if folder.exists() else []
    assert events[:len(logged)] == logged  # nothing written before is lost or rewritten
    assert len({e["id"] for e in events}) == len(events)  # nor written twice
    logged = events
  assert kills == 2 and len(logged) < 401

  done = subprocess.run([sys.executable, "-m", "search.run", str(config_path), "--quiet"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  events = folder.events()
  assert events[:len(logged)] == logged
  assert sorted(e["id"] for e in events) == list(range(401))
  # Trained once each, but for at most the one program in flight at each kill.
  counts = _scorings(log_path)
  assert sum(n - 1 for n in counts.values()) <= kills
  assert len(counts) == len([e for e in events if e["status"] != "cached"])
  reference = small_config(tmp_path / "ref", name="killed", seed=5, max_programs=400,
                           population_size=30, repeats=2, restart_after=60)
  assert trajectory(events) == trajectory(run_search(reference)[1].events())


# ---- a run folder that cannot be written ----------------------------------------------------
# As root, the child drops the capabilities that override file permissions from its bounding
# set (prctl PR_CAPBSET_DROP: DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER) and execs the command:
# it keeps uid 0 but is refused what a user is refused, so a read-only folder stays read-only.
_AS_A_USER = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2, 3):
  if libc.prctl(24, capability, 0, 0, 0) != 0:
    sys.exit("prctl(PR_CAPBSET_DROP): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""


def _as_a_user(argv: list[str]) -> list[str]:
  return [sys.executable, "-c", _AS_A_USER, *argv] if os.geteuid() == 0 else argv


def _read_only(path: pathlib.Path) -> None:
  for p in [path, *path.rglob("*")]:
    p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)


def _writable(path: pathlib.Path) -> None:
  for p in [path, *path.rglob("*")]:
    p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o200)


def _search_cli(*args, timeout=120):
  return subprocess.run(_as_a_user([sys.executable, "-m", "search.run", *map(str, args),
                                     "--quiet"]),
                        cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(name="read_only_works")
def _read_only_works(tmp_path):
  """Skips where even a read-only folder can be written (as root without prctl)."""
  probe = tmp_path / "probe"
  probe.mkdir()
  _read_only(probe)
  try:
    done = subprocess.run(_as_a_user([sys.executable, "-c",
                                      f"open({str(probe / 'x')!r}, 'w')"]),
                          capture_output=True)
  finally:
    _writable(probe)
  if done.returncode == 0:
    pytest.skip("this user writes into read-only folders")


def _config_file(tmp_path, name="ro", max_programs=60, extra=""):
  path = tmp_path / f"{name}.yaml"
  path.write_text(BASE.format(name=name, seed=1, max_programs=max_programs, population_size=20,
                              repeats=1, restart_after=0, runs_dir=tmp_path / "runs",
                              checkpoint_every_s=0.2) + extra)
  return path


def _one_error_line(stderr: str) -> str:
  lines = stderr.strip().splitlines()
  assert len(lines) == 1, stderr
  assert lines[0].startswith("error: "), stderr
  return lines[0]


@pytest.mark.parametrize("more", [False, True], ids=["same budget", "larger budget"])
def test_a_read_only_run_folder_is_a_one_line_error_and_stays_as_it_was(tmp_path, more,
                                                                        read_only_works,
                                                                        monkeypatch):
  monkeypatch.setattr(driver, "install_signal_handlers", lambda search: None)
  config_path = _config_file(tmp_path)
  assert run_cli.main([str(config_path), "--quiet"]) == 0
  run = tmp_path / "runs" / "ro"
  before = _files(run)
  _read_only(run)
  try:
    done = _search_cli(config_path, *(["--set", "budget.max_programs=90"] if more else []))
  finally:
    _writable(run)
  assert done.returncode == 2, done.stderr
  line = _one_error_line(done.stderr)
  written = run / ("config.yaml" if more else "events.jsonl")  # the first file it must write
  assert f"error: {written}: Permission denied;" in line
  assert _files(run) == before


def test_a_new_run_under_a_read_only_folder_is_a_one_line_error(tmp_path, read_only_works):
  config_path = _config_file(tmp_path, name="new")
  runs = tmp_path / "runs"
  runs.mkdir()
  _read_only(runs)
  try:
    done = _search_cli(config_path)
  finally:
    _writable(runs)
  assert done.returncode == 2, done.stderr
  assert f"{runs / 'new'}: Permission denied" in _one_error_line(done.stderr)
  assert not any(runs.iterdir())


# ---- a full disk ----------------------------------------------------------------------------
class _Disk:
  """A disk with ``free`` bytes left for the run folder's logs; once it is full every write
  and fsync fails with ENOSPC, as on a real one (the write that fills it writes what fits)."""

  def __init__(self, free: float):
    self.free = free

  @property
  def full(self) -> bool:
    return self.free <= 0

  def no_space(self) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no file name, like write(2)


class _FillingFile:
  """A log opened by the run folder, on ``_Disk``."""

  def __init__(self, file, disk: _Disk):
    self._file, self._disk = file, disk

  def write(self, text):
    if self._disk.full:
      raise self._disk.no_space()
    if len(text) > self._disk.free:
      self._file.write(text[:int(self._disk.free)])
      self._file.flush()
      self._disk.free = 0
      raise self._disk.no_space()
    self._disk.free -= len(text)
    return self._file.write(text)

  def flush(self):
    if self._disk.full:
      raise self._disk.no_space()
    return self._file.flush()

  def __getattr__(self, name):
    return getattr(self._file, name)


@pytest.fixture(name="disk")
def _disk(monkeypatch):
  """The run folder's disk: ``disk.free = n`` bytes, then full (it starts roomy)."""
  disk = _Disk(float("inf"))
  real_open, real_fsync = open, os.fsync

  def open_on_disk(path, mode="r", *args, **kwargs):
    file = real_open(path, mode, *args, **kwargs)
    return _FillingFile(file, disk) if ("a" in mode or "w" in mode) else file

  def fsync(descriptor):
    if disk.full:
      raise disk.no_space()
    return real_fsync(descriptor)

  monkeypatch.setattr(run_folder, "open", open_on_disk, raising=False)
  monkeypatch.setattr(os, "fsync", fsync)
  monkeypatch.setattr(driver, "install_signal_handlers", lambda search: None)
  return disk


def test_a_full_disk_at_the_start_leaves_no_run_and_the_same_command_later_works(
    tmp_path, disk, capsys):
  config_path = _config_file(tmp_path, name="full")
  disk.free = 0
  assert run_cli.main([str(config_path), "--quiet"]) == 2
  run = tmp_path / "runs" / "full"
  line = _one_error_line(capsys.readouterr().err)
  assert f"error: {run / 'programs' / 'initial.py'}: No space left on device;" in line
  assert not run_folder.RunFolder(run).exists() and not list(run.rglob("*.tmp"))
  disk.free = float("inf")
  assert run_cli.main([str(config_path), "--quiet"]) == 0
  assert sorted(e["id"] for e in run_folder.RunFolder(run).events()) == list(range(61))


def test_a_full_disk_while_resuming_keeps_everything_written(tmp_path, disk, capsys):
  config_path = _config_file(tmp_path, name="full")
  assert run_cli.main([str(config_path), "--quiet"]) == 0
  run = tmp_path / "runs" / "full"
  before = _files(run)
  disk.free = 0
  assert run_cli.main([str(config_path), "--quiet", "--set", "budget.max_programs=90"]) == 2
  line = _one_error_line(capsys.readouterr().err)
  assert f"error: {run / 'config.yaml'}: No space left on device;" in line
  assert _files(run) == before


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_run_loses_nothing_and_the_run_resumes(tmp_path, disk,
                                                                          capsys):
  log_path = tmp_path / "scored.txt"
  extra = f"  overrides: {{log_path: '{log_path}'}}\n"
  config_path = _config_file(tmp_path, name="fills", max_programs=150)
  text = config_path.read_text().replace("  evaluator: tests.search.fakes:make\n",
                                         "  evaluator: tests.search.fakes:make\n" + extra)
  config_path.write_text(text)
  first = ["--set", "budget.max_programs=60"]
  assert run_cli.main([str(config_path), "--quiet", *first]) == 0
  run = tmp_path / "runs" / "fills"
  before = _files(run)
  capsys.readouterr()
  # Resumed for 90 more programs, the disk fills up after ~15 events; no checkpoint meanwhile.
  disk.free = 15 * 600
  assert run_cli.main([str(config_path), "--quiet", "--set", "output.checkpoint_every_s=1000",
                       "--set", "output.metrics_every_s=1000"]) == 2
  line = _one_error_line(capsys.readouterr().err)
  # A failed append or flush does not name its file: the message names the run folder.
  assert line.startswith(f"error: {run}") and "No space left on device;" in line
  after = _files(run)
  assert set(after) == set(before)
  for name, data in before.items():
    if name in ("events.jsonl", "metrics.csv"):  # logs: appended to, never rewritten
      assert after[name].startswith(data)
    elif name != "config.yaml":  # rewritten with the new budget before the disk filled
      assert after[name] == data, name
  assert not after["events.jsonl"].endswith(b"\n")  # the write that filled the disk tore
  logged = run_folder.RunFolder(run).events()
  assert len(logged) > len(before["events.jsonl"].splitlines())

  disk.free = float("inf")  # space freed: the same command finishes the run
  assert run_cli.main([str(config_path), "--quiet"]) == 0
  events = run_folder.RunFolder(run).events()
  assert events[:len(logged)] == logged
  assert sorted(e["id"] for e in events) == list(range(151))
  counts = _scorings(log_path)
  assert sum(n - 1 for n in counts.values()) <= 1  # the program whose line tore
  reference = small_config(tmp_path / "ref", name="fills", seed=1, max_programs=150,
                           population_size=20)
  assert trajectory(events) == trajectory(run_search(reference)[1].events())
