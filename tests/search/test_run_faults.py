"""``python -m search.run`` under faults: ``kill -9`` at random moments then the same command
again, a run folder that cannot be written, a disk that fills up. Each ends in a resume that
loses and repeats nothing, or in one line naming the file (exit status 2) with what the run
folder held intact."""

import collections
import errno
import io
import json
import os
import pathlib
import random
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from runlog import folder as run_folder
from search import driver, progress
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


# ---- one search per run folder --------------------------------------------------------------
def test_a_second_search_on_a_live_run_folder_is_refused_and_a_kill_9_leaves_it_resumable(
    tmp_path, monkeypatch, capsys):
  """Two real processes: the first searches (slowly), the second (this one) is refused with one
  line naming it, before anything is read or started; once the first is killed with SIGKILL,
  the same command resumes its run."""
  monkeypatch.setattr(driver, "install_signal_handlers", lambda search: None)
  config_path = _config_file(tmp_path, name="shared", max_programs=150)
  config_path.write_text(config_path.read_text().replace(
      "  evaluator: tests.search.fakes:make\n",
      "  evaluator: tests.search.fakes:make\n  overrides: {delay_s: 0.05}\n"))
  folder = run_folder.RunFolder(tmp_path / "runs" / "shared")
  first = subprocess.Popen([sys.executable, "-m", "search.run", str(config_path), "--quiet"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + 120
    while first.poll() is None and time.monotonic() < deadline and _lines(folder.events_path) < 5:
      time.sleep(0.05)
    assert first.poll() is None, first.communicate()[1].decode()[-2000:]
    monkeypatch.setattr(run_cli, "make_pool", _no_pool)
    assert run_cli.main([str(config_path), "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {folder.path} is in use by another search (pid {first.pid} "
                           f"on host {socket.gethostname()})")
  finally:
    first.kill()
    first.wait()
  logged = folder.events()
  monkeypatch.undo()
  monkeypatch.setattr(driver, "install_signal_handlers", lambda search: None)
  assert run_cli.main([str(config_path), "--quiet", "--set", "budget.max_programs=60"]) == 0
  events = folder.events()
  assert events[:len(logged)] == logged
  assert sorted(e["id"] for e in events) == list(range(max(61, len(logged))))


def _no_pool(*_, **__):
  raise AssertionError("the workers started")


# ---- a damaged run folder -------------------------------------------------------------------
@pytest.fixture(name="shown")
def _shown(monkeypatch):
  """What the search's display shows (``--quiet``: its log lines), as text."""
  stream, log_progress = io.StringIO(), progress.LogProgress
  monkeypatch.setattr(progress, "LogProgress", lambda: log_progress(stream=stream))
  return stream


def _finished_run(tmp_path, monkeypatch, name="damaged", max_programs=60):
  monkeypatch.setattr(driver, "install_signal_handlers", lambda search: None)
  config_path = _config_file(tmp_path, name=name, max_programs=max_programs)
  assert run_cli.main([str(config_path), "--quiet"]) == 0
  return config_path, run_folder.RunFolder(tmp_path / "runs" / name)


@pytest.mark.parametrize("damage", ["truncated", "more events than the log"])
def test_a_damaged_checkpoint_is_set_aside_and_rebuilt_from_the_event_log(tmp_path, monkeypatch,
                                                                           shown, damage):
  config_path, folder = _finished_run(tmp_path, monkeypatch)
  text = folder.checkpoint_path.read_text()
  if damage == "truncated":
    folder.checkpoint_path.write_text(text[:len(text) // 2])
  else:  # the log lost its end (restored from an older backup...)
    lines = folder.events_path.read_bytes().splitlines(keepends=True)
    folder.events_path.write_bytes(b"".join(lines[:-5]))
  logged = folder.events()
  shown.truncate(0)
  assert run_cli.main([str(config_path), "--quiet", "--set", "budget.max_programs=90"]) == 0
  err = shown.getvalue()
  assert (f"{folder.checkpoint_path}: " in err and "checkpoint" in err
          and "; set aside as checkpoint.json.damaged, the state is rebuilt from the event log"
          in err)
  assert "Traceback" not in err
  assert folder.checkpoint_path.with_name("checkpoint.json.damaged").read_text() != ""
  events = folder.events()
  assert events[:len(logged)] == logged
  assert sorted(e["id"] for e in events) == sorted(
      {e["id"] for e in logged} | set(range(max(e["id"] for e in logged) + 1, 91)))


def test_a_damaged_event_line_is_one_located_line_and_repair_goes_on(tmp_path, monkeypatch,
                                                                     capsys, shown):
  config_path, folder = _finished_run(tmp_path, monkeypatch)
  lines = folder.events_path.read_bytes().splitlines(keepends=True)
  lines[9] = b'{"seq": 9, "id": 9, "parent": 3, "isl\n'  # line 10: cut short, then more lines
  folder.events_path.write_bytes(b"".join(lines))
  before = _files(folder.path)
  capsys.readouterr()
  real_make_pool = run_cli.make_pool
  monkeypatch.setattr(run_cli, "make_pool", _no_pool)  # checked before the workers start
  assert run_cli.main([str(config_path), "--quiet"]) == 2
  line = _one_error_line(capsys.readouterr().err)
  assert line.startswith(f"error: {folder.events_path}:10: corrupt log line (")
  assert line.endswith(f"to go on, run  python -m search.run --resume {folder.path} --repair  "
                       "(moves the damaged lines to damaged_events.txt; every intact event is "
                       "kept)")
  assert _files(folder.path) == before
  monkeypatch.setattr(run_cli, "make_pool", real_make_pool)
  assert run_cli.main(["--resume", str(folder.path), "--repair", "--quiet",
                       "--set", "budget.max_programs=90"]) == 0
  err = shown.getvalue()
  assert f"repair: moved 1 damaged line ({folder.events_path}:10) to {folder.damaged_path}" in err
  assert folder.damaged_path.read_bytes() == f"{folder.events_path}:10\t".encode() + lines[9]
  events = folder.events()
  kept = [json.loads(line) for i, line in enumerate(lines) if i != 9]
  assert events[:len(kept)] == kept  # every intact event, in its order
  # The budget counts the programs of the log: the one moved aside is made again, as id 91.
  assert sorted(e["id"] for e in events) == [i for i in range(92) if i != 9]


def test_the_clock_goes_on_after_a_resume_from_an_older_checkpoint(tmp_path, monkeypatch):
  """A kill -9 leaves metrics rows newer than the checkpoint; their elapsed_s is where the
  resumed run's clock starts."""
  config_path, folder = _finished_run(tmp_path, monkeypatch)
  checkpoint = json.loads(folder.checkpoint_path.read_text())
  last = folder.metrics()[-1]["elapsed_s"]
  run_folder.atomic_write(folder.checkpoint_path, json.dumps({**checkpoint, "elapsed_s": 0.0}))
  assert run_cli.main([str(config_path), "--quiet", "--set", "budget.max_programs=90"]) == 0
  elapsed = [row["elapsed_s"] for row in folder.metrics()]
  assert elapsed == sorted(elapsed) and elapsed[-1] > last


# ---- config values only the run can check, before any worker starts ------------------------
def _line_of(path: pathlib.Path, text: str) -> int:
  return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("key", ["initial_program", "task.name", "output.runs_dir"])
def test_a_bad_program_task_or_runs_dir_is_one_line_naming_the_config_line(tmp_path, monkeypatch,
                                                                           capsys, key):
  monkeypatch.setattr(run_cli, "make_pool", _no_pool)
  config_path = _config_file(tmp_path, name="bad")
  text = config_path.read_text()
  if key == "initial_program":
    config_path.write_text(text.replace("initial_program: adamw",
                                        f"initial_program: {tmp_path / 'missing.py'}"))
    expected = (f"{config_path}:{_line_of(config_path, 'initial_program')}:1: 'initial_program' "
                f"{tmp_path / 'missing.py'}: No such file or directory (a program file, or a "
                "built-in: ")
  elif key == "task.name":
    config_path.write_text(text.replace("  evaluator: tests.search.fakes:make\n", "")
                           .replace("name: fake", "name: quadratc"))
    expected = (f"{config_path}:{_line_of(config_path, 'quadratc')}:3: task.name: unknown proxy "
                "task 'quadratc'")
  else:
    (tmp_path / "runs").write_text("a file\n")
    expected = (f"{config_path}:{_line_of(config_path, 'runs_dir')}:3: 'output.runs_dir' "
                f"{tmp_path / 'runs'}: {tmp_path / 'runs'} is a file, not a folder")
  assert run_cli.main([str(config_path), "--quiet"]) == 2
  assert _one_error_line(capsys.readouterr().err).startswith(f"error: {expected}")
  assert not (tmp_path / "runs").is_dir()


# ---- Ctrl-C while Ray starts ----------------------------------------------------------------
def _descendants(pid: int) -> dict[int, str]:
  """The processes under ``pid`` (from /proc), with their command lines."""
  parents = {}
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      try:
        with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
          parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
      except (OSError, IndexError, ValueError):
        continue
  found, grew = {}, True
  while grew:
    grew = False
    for child, parent in parents.items():
      if child not in found and (parent == pid or parent in found):
        try:
          with open(f"/proc/{child}/cmdline", "rb") as f:
            found[child] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
          continue
        grew = True
  return found


@pytest.mark.slow
def test_ctrl_c_while_ray_starts_exits_130_with_the_resume_hint_and_leaves_nothing_running(
    tmp_path):
  pytest.importorskip("ray")
  config_path = _config_file(tmp_path, name="ctrl_c")
  config_path.write_text(config_path.read_text().replace(
      "  backend: local", "  backend: ray\n  num_workers: 1"))
  # Its own session: Ctrl-C in a terminal signals the whole foreground process group.
  process = subprocess.Popen([sys.executable, "-m", "search.run", str(config_path), "--quiet"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
  seen: dict[int, str] = {}
  try:
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
      seen.update(_descendants(process.pid))
      if any("gcs_server" in command for command in seen.values()):
        break  # Ray is starting
      time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    os.killpg(process.pid, signal.SIGINT)
    while process.poll() is None and time.monotonic() < deadline + 60:
      seen.update(_descendants(process.pid))
      time.sleep(0.05)
    _, err = process.communicate(timeout=60)
  finally:
    if process.poll() is None:
      os.killpg(process.pid, signal.SIGKILL)
  err = err.decode()
  assert process.returncode == 130, err[-2000:]
  assert "Traceback" not in err and "KeyboardInterrupt" not in err
  run = tmp_path / "runs" / "ctrl_c"
  assert err.strip().splitlines()[-1] == ("interrupted while the workers started: resume with  "
                                          f"python -m search.run --resume {run}")
  deadline = time.monotonic() + 30
  while (left := [pid for pid in seen if os.path.exists(f"/proc/{pid}")]) and (
      time.monotonic() < deadline):
    time.sleep(0.1)
  assert not left, [seen[pid] for pid in left]
  assert run_folder.RunFolder(run).exists()  # the hint's command resumes it
