"""Crash-safe writes of the run folder, and its segmented event log."""

import gzip
import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

from runlog import folder as run_folder

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
  path = tmp_path / "f.json"
  run_folder.atomic_write(path, "old")
  run_folder.atomic_write(path, b"new")
  assert path.read_text() == "new"
  assert os.listdir(tmp_path) == ["f.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "f.txt"
  run_folder.atomic_write(path, "old")

  def broken_replace(*_):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", broken_replace)
  with pytest.raises(OSError):
    run_folder.atomic_write(path, "new")
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["f.txt"]


def test_torn_last_line_is_ignored_then_cut_before_appending(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  with open(folder.events_path, "w") as f:
    f.write(json.dumps({"seq": 1}) + "\n" + '{"seq": 2, "fit')
  assert folder.events() == [{"seq": 1}]
  folder.open_logs()
  folder.append_event({"seq": 2, "fitness": float("-inf")})
  folder.close()
  assert folder.events() == [{"seq": 1}, {"seq": 2, "fitness": "-inf"}]  # dsl.files.json_float


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
  path = tmp_path / "events.jsonl"
  path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
  with pytest.raises(ValueError, match=r"events.jsonl:2: corrupt log line"):
    run_folder.read_jsonl(path)


def test_create_never_overwrites_a_run(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  with pytest.raises(FileExistsError):
    folder.create("name: y\n", "def train(w, g, lr):\n  return g\n")
  assert folder.config_path.read_text() == "name: x\n"


def test_metrics_and_plot(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  folder.open_logs()
  for i in range(3):
    folder.append_metrics({"elapsed_s": float(i), "generated": 10 * i, "best_fitness": 0.1 * i,
                           "median_fitness": float("nan")})
  folder.close()
  rows = folder.metrics()
  assert [r["generated"] for r in rows] == [0, 10, 20]
  folder.write_plots()
  assert folder.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the segmented event log ----------------------------------------------------------------

ROTATION_STEPS = ["renamed", "compressing", "compressed", "indexed", "published", "removed"]


def _event(seq):
  """A small event; every third one a cache hit, every fifth a failed run."""
  return {"seq": seq, "id": seq, "key": f"k{seq % 7}",
          "fitness": float("-inf") if seq % 5 == 0 else seq / 10,
          "status": "cached" if seq % 3 == 0 else "ok", "program": f"text {seq}\n\"quoted\""}


def _logged(seq):
  """``_event(seq)`` as a reader gives it back (-inf is written as "-inf": dsl.files.json_float)."""
  event = _event(seq)
  return {**event, "fitness": "-inf" if seq % 5 == 0 else event["fitness"]}


def _new_folder(path):
  folder = run_folder.RunFolder(path)
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  folder.open_logs()
  return folder


def _segment_files(folder):
  return sorted(p.name for p in folder.segments_path.iterdir())


def test_the_log_rotates_into_gzipped_indexed_segments(tmp_path, monkeypatch):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 10)
  folder = _new_folder(tmp_path / "run")
  for seq in range(35):
    folder.append_event(_event(seq))
  folder.close()
  assert _segment_files(folder) == ["000001.index.json", "000001.jsonl.gz", "000002.index.json",
                                    "000002.jsonl.gz", "000003.index.json", "000003.jsonl.gz"]
  with gzip.open(folder.segment_file(2, "jsonl.gz"), "rt") as f:
    assert [json.loads(line)["seq"] for line in f] == list(range(10, 20))
  assert folder.events_path.read_text().count("\n") == 5
  everything = [_logged(seq) for seq in range(35)]
  assert folder.events() == everything
  for start in (0, 1, 9, 10, 11, 29, 30, 34, 35, 50):
    assert list(folder.iter_events(start=start)) == everything[start:]
  assert list(folder.scores()) == [(e["key"], e["fitness"]) for e in everything
                                   if e["status"] != "cached"]
  # Without its index a segment is read instead: the same answers.
  folder.segment_file(2, "index.json").unlink()
  assert list(folder.iter_events(start=25)) == everything[25:]
  assert list(folder.scores()) == [(e["key"], e["fitness"]) for e in everything
                                   if e["status"] != "cached"]
  where, event = next(folder.iter_events(start=12, locations=True))
  assert where == f"{folder.segment_file(2, 'jsonl.gz')}:3" and event["seq"] == 12


def test_reopening_a_full_live_segment_rotates_it_and_appends_go_on(tmp_path, monkeypatch):
  folder = _new_folder(tmp_path / "run")
  for seq in range(12):
    folder.append_event(_event(seq))
  folder.close()
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 5)  # a smaller size than it was written with
  again = run_folder.RunFolder(tmp_path / "run")
  again.open_logs()
  for seq in range(12, 18):
    again.append_event(_event(seq))
  again.close()
  assert again.events() == [_logged(seq) for seq in range(18)]
  assert _segment_files(again) == ["000001.index.json", "000001.jsonl.gz", "000002.index.json",
                                   "000002.jsonl.gz"]
  with gzip.open(again.segment_file(1, "jsonl.gz"), "rt") as f:
    assert len(f.readlines()) == 12  # all it held, though more than the new size
  assert again.events_path.read_text().count("\n") == 1


def test_the_rotation_steps_are_the_ones_the_crash_test_covers(tmp_path, monkeypatch):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 4)
  steps = []
  monkeypatch.setattr(run_folder, "_rotation_step", steps.append)
  folder = _new_folder(tmp_path / "run")
  for seq in range(4):
    folder.append_event(_event(seq))
  folder.close()
  assert steps == ROTATION_STEPS


class _Crash(Exception):
  pass


@pytest.mark.parametrize("step", ROTATION_STEPS)
def test_a_crash_at_any_step_of_a_rotation_loses_and_repeats_no_event(tmp_path, monkeypatch,
                                                                      step):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 10)
  rotations = []

  def crash(at):
    if at == "renamed":
      rotations.append(at)
    if at == step and len(rotations) >= 2:  # in the second rotation: a segment exists already
      raise _Crash(at)

  monkeypatch.setattr(run_folder, "_rotation_step", crash)
  folder = _new_folder(tmp_path / "run")
  with pytest.raises(_Crash):
    for seq in range(25):
      folder.append_event(_event(seq))
    folder.close()  # a crash while compressing (in a thread) is raised here
  # The 20th append started the rotation; later ones go on while the segment is compressed.
  logged = [_logged(seq) for seq in range(20 if step == "renamed" else 25)]
  expected_scores = [(e["key"], e["fitness"]) for e in logged if e["status"] != "cached"]

  # What the crash left reads right, before any repair (readers never write).
  reader = run_folder.RunFolder(tmp_path / "run")
  assert reader.events() == logged
  assert list(reader.iter_events(start=15)) == logged[15:]
  assert list(reader.scores()) == expected_scores
  # Reopened for appending: a plain segment left alone is compressed again; crash there too.
  if step in ("compressing", "compressed", "indexed"):
    with pytest.raises(_Crash):
      run_folder.RunFolder(tmp_path / "run").open_logs()
    assert reader.events() == logged
  monkeypatch.setattr(run_folder, "_rotation_step", lambda at: None)
  resumed = run_folder.RunFolder(tmp_path / "run")
  resumed.open_logs()
  assert _segment_files(resumed) == ["000001.index.json", "000001.jsonl.gz",
                                     "000002.index.json", "000002.jsonl.gz"]
  assert resumed.events() == logged and list(resumed.scores()) == expected_scores
  for seq in range(len(logged), 45):
    resumed.append_event(_event(seq))
  resumed.close()
  assert resumed.events() == [_logged(seq) for seq in range(45)]
  assert len(_segment_files(resumed)) == 8


def test_a_reader_sees_rotations_that_happen_while_it_reads(tmp_path, monkeypatch):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 10)
  folder = _new_folder(tmp_path / "run")
  for seq in range(15):
    folder.append_event(_event(seq))
  everything = [_logged(seq) for seq in range(60)]
  for pause_at in (3, 12):  # in a closed segment, in events.jsonl
    reader = folder.iter_events()
    seen = [next(reader) for _ in range(pause_at)]
    for seq in range(len(folder.events()), len(folder.events()) + 20):
      folder.append_event(_event(seq))  # two rotations while the reader waits
    seen += list(reader)
    assert len(seen) >= 15 and seen == everything[:len(seen)]
  folder.close()


def test_a_damaged_segment_is_an_error_naming_it(tmp_path, monkeypatch):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 10)
  folder = _new_folder(tmp_path / "run")
  for seq in range(12):
    folder.append_event(_event(seq))
  folder.close()
  packed = folder.segment_file(1, "jsonl.gz")
  packed.write_bytes(packed.read_bytes()[:-20])
  with pytest.raises(ValueError, match=r"000001\.jsonl\.gz: unreadable log segment"):
    folder.events()


@pytest.mark.parametrize("tail", [b"", b"x" * 200_000])
def test_repair_cuts_a_torn_line_longer_than_a_read_block(tmp_path, tail):
  path = tmp_path / "log.jsonl"
  path.write_bytes(b'{"a": 1}\n' + b'{"a": 2, "b": "' + tail)
  assert run_folder.repair_log(path)
  assert path.read_bytes() == b'{"a": 1}\n'
  assert not run_folder.repair_log(path)
  path.write_bytes(b"no newline at all" + tail)
  assert run_folder.repair_log(path) and path.read_bytes() == b""


# ---- one owner ------------------------------------------------------------------------------
_HOLD = """\
import sys, time
from runlog import folder as run_folder
run_folder.RunFolder(sys.argv[1]).claim()
print("claimed", flush=True)
time.sleep(120)
"""


def test_one_owner_at_a_time_and_a_killed_owner_leaves_no_lock(tmp_path):
  path = tmp_path / "run"
  owner = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
  try:
    assert owner.stdout.readline() == "claimed\n"
    folder = run_folder.RunFolder(path)
    expected = f"pid {owner.pid} on host {socket.gethostname()}"
    assert folder.live_owner() == expected
    with pytest.raises(run_folder.RunFolderBusy, match=f"in use by another search \\({expected}"):
      folder.claim()
  finally:
    owner.kill()  # SIGKILL: no clean-up of its own
    owner.wait()
  assert folder.live_owner() is None
  folder.claim()  # nothing to remove by hand
  assert folder.live_owner() is None  # this process's own folder is not "live" to itself
  assert folder.lock_path.read_text() == f"pid {os.getpid()} on host {socket.gethostname()}\n"
  folder.release()


# ---- damage ---------------------------------------------------------------------------------
PROGRAM = "def train(w, g, lr):\n  u = g * lr\n  return u\n"


def _valid_event(seq):
  return {"seq": seq, "id": seq, "key": f"k{seq}", "fitness": seq / 10,
          "status": "cached" if seq % 3 == 2 else "ok", "program": PROGRAM}


def test_repair_moves_damaged_lines_aside_and_keeps_every_intact_event(tmp_path, monkeypatch):
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 10)
  folder = _new_folder(tmp_path / "run")
  for seq in range(25):
    folder.append_event(_valid_event(seq))
  folder.close()
  # Line 4 of segment 2 (event 13) and lines 2, 3 of events.jsonl (21, 22) are damaged.
  packed = folder.segment_file(2, "jsonl.gz")
  lines = gzip.decompress(packed.read_bytes()).splitlines(keepends=True)
  lines[3] = b'{"seq": 13, "id": 13, "ke\n'
  packed.write_bytes(gzip.compress(b"".join(lines)))
  live = folder.events_path.read_bytes().splitlines(keepends=True)
  live[1] = b"\x00\x00garbage\n"
  live[2] = json.dumps({**_valid_event(22), "program": "def train(:\n"}).encode() + b"\n"
  folder.events_path.write_bytes(b"".join(live))
  with pytest.raises(run_folder.DamagedLog, match=r"000002\.jsonl\.gz:4: corrupt log line"):
    folder.events()

  moved, first = folder.repair_events()
  assert moved == [f"{packed}:4", f"{folder.events_path}:2", f"{folder.events_path}:3"]
  assert first == 13
  kept = [seq for seq in range(25) if seq not in (13, 21, 22)]
  assert [e["seq"] for e in folder.events()] == kept
  assert folder.count_events() == len(kept)
  assert [key for key, _ in folder.scores()] == [f"k{s}" for s in kept if s % 3 != 2]
  aside = folder.damaged_path.read_bytes().splitlines(keepends=True)
  assert aside == [f"{packed}:4\t".encode() + b'{"seq": 13, "id": 13, "ke\n',
                   f"{folder.events_path}:2\t".encode() + live[1],
                   f"{folder.events_path}:3\t".encode() + live[2]]
  assert folder.repair_events() == ([], None)  # nothing left to repair


def test_a_checkpoint_that_is_not_json_is_an_error_and_can_be_set_aside(tmp_path):
  folder = _new_folder(tmp_path / "run")
  folder.write_checkpoint({"format": 1})
  folder.close()
  text = folder.checkpoint_path.read_bytes()
  folder.checkpoint_path.write_bytes(text[:5])
  with pytest.raises(ValueError, match="checkpoint.json: corrupt checkpoint"):
    folder.read_checkpoint()
  aside = folder.set_checkpoint_aside()
  assert aside.read_bytes() == text[:5] and folder.read_checkpoint() is None


def test_the_clock_of_metrics_goes_on_from_the_last_readable_row(tmp_path):
  folder = _new_folder(tmp_path / "run")
  assert folder.last_elapsed() == 0.0
  for elapsed in (1.5, 7.25):
    folder.append_metrics({"elapsed_s": elapsed, "generated": 1})
  folder.close()
  assert folder.last_elapsed() == 7.25
  with open(folder.metrics_path, "a") as f:
    f.write("garbage,row\n7.5,1,2")  # a damaged row, then a torn one
  assert folder.last_elapsed() == 7.25
  assert [row["elapsed_s"] for row in folder.metrics()] == [1.5, 7.25]
