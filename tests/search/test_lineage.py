"""The lineage of a program: its chain from the warm start, streamed from the event log."""

import io
import re

import pytest

import dsl
from search import lineage as lineage_lib
from runlog import folder as run_folder
from tests.search.helpers import run_search, small_config

ADAMW = dsl.library.load("adamw").to_text()
# The chain 0 -> 1 -> 2 -> 5 (5 the best), a side branch 0 -> 3 -> 4, a failed child 6 of 3,
# and 7, a cached twin of 5 (same fitness, higher id: 5 stays the best).
MODIFIED = ADAMW.replace("interp(g, m, 0.9)", "interp(g, m, 0.5)")
DELETED = MODIFIED.replace("  wd = w * 0.01\n", "").replace("update + wd", "update + w")
INSERTED = DELETED.replace("  update = m / sqrt_v\n", "  update = m / sqrt_v\n"
                           "  update = sign(update)\n")
SIDE = ADAMW.replace("0.999", "0.99")


def _event(program_id, parent, mutation, fitness, program, island=0, status="ok"):
  return {"seq": 0, "id": program_id, "parent": parent, "island": island, "mutation": mutation,
          "key": f"k{program_id}", "fitness": fitness, "status": status, "program": program}


EVENTS = [
    _event(0, None, "initial", 0.10, ADAMW, island=None),
    _event(1, 0, "modify@1", 0.20, MODIFIED),
    _event(3, 0, "modify@2", 0.15, SIDE, island=1),
    _event(2, 1, "delete@5", 0.25, DELETED),
    _event(4, 3, "insert@0", 0.12, SIDE, island=1),
    _event(6, 3, "delete@0", float("-inf"), SIDE, island=1),
    _event(5, 2, "insert@4", 0.40, INSERTED),
    _event(7, 2, "insert@4", 0.40, INSERTED, status="cached"),
]


def _run(path, events=EVENTS, monkeypatch=None, segment=3):
  """A run folder holding ``events``, rotated into segments of ``segment`` events."""
  if monkeypatch is not None:
    monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", segment)
  folder = run_folder.RunFolder(path)
  folder.create("name: x\n", ADAMW)
  folder.open_logs()
  for seq, event in enumerate(events, 1):
    folder.append_event({**event, "seq": seq})
  folder.close()
  return folder


def _main(*argv):
  out, err = io.StringIO(), io.StringIO()
  status = lineage_lib.main([str(a) for a in argv], out, err)
  return status, out.getvalue(), err.getvalue()


def test_the_best_program_s_chain_across_segments(tmp_path, monkeypatch):
  folder = _run(tmp_path / "run", monkeypatch=monkeypatch)
  assert sorted(p.name for p in folder.segments_path.glob("*.gz")) == ["000001.jsonl.gz",
                                                                        "000002.jsonl.gz"]
  result = lineage_lib.lineage(folder.path)
  assert [s.id for s in result.steps] == [0, 1, 2, 5]
  assert [s.mutation for s in result.steps] == ["initial", "modify@1", "delete@5", "insert@4"]
  assert [s.fitness for s in result.steps] == [0.10, 0.20, 0.25, 0.40]
  assert result.program.program == INSERTED and result.program.status == "ok"
  assert result.changes(0) == []
  assert result.changes(1) == ["- m = interp(g, m, 0.9)", "+ m = interp(g, m, 0.5)"]
  assert result.changes(2) == ["- wd = w * 0.01", "- update = update + wd",
                               "+ update = update + w"]
  assert result.changes(3) == ["+ update = sign(update)"]


def test_any_id_and_a_failed_program(tmp_path):
  folder = _run(tmp_path / "run")
  assert [s.id for s in lineage_lib.lineage(folder.path, 4).steps] == [0, 3, 4]
  failed = lineage_lib.lineage(folder.path, 6)
  assert [s.id for s in failed.steps] == [0, 3, 6] and failed.program.fitness == float("-inf")
  assert "fitness failed" in failed.report()
  assert [s.id for s in lineage_lib.lineage(folder.path, 0).steps] == [0]
  assert lineage_lib.lineage(folder.path, 7).program.status == "cached"


def test_the_report_the_png_and_the_dot(tmp_path):
  folder = _run(tmp_path / "run")
  status, out, err = _main(folder.path, "--best", "--png", tmp_path / "l.png",
                           "--dot", tmp_path / "l.dot")
  assert (status, err) == (0, "")
  assert out.startswith("Lineage of program 5 of run run (fitness 0.4): 3 mutations from the "
                        "initial program.")
  blocks = re.findall(r"^\[(\d)\] program (\d+)  (\S+)  fitness (\S+)", out, re.M)
  assert blocks == [("0", "0", "initial", "0.1"), ("1", "1", "modify@1", "0.2"),
                    ("2", "2", "delete@5", "0.25"), ("3", "5", "insert@4", "0.4")]
  assert "    + update = sign(update)\n" in out
  assert f"\n\nProgram 5:\n{INSERTED}png: {tmp_path / 'l.png'}\ndot: {tmp_path / 'l.dot'}\n" in out
  assert (tmp_path / "l.png").read_bytes().startswith(b"\x89PNG")
  dot = (tmp_path / "l.dot").read_text()
  assert dot.startswith("digraph") and '"0" -> "1"' in dot and '"2" -> "5"' in dot
  assert '"3"' not in dot and "+ update = sign(update)" in dot


def test_a_real_search_s_best_is_the_run_s_best_py(tmp_path):
  """Restarts included: every step's parent is the step before it, and the end is best.py's
  program."""
  config = small_config(tmp_path, max_programs=60, population_size=6, repeats=2,
                        restart_after=8)
  search, folder, _ = run_search(config)
  assert search.state.restarts > 0
  result = lineage_lib.lineage(folder.path)
  best_id = int(re.search(r"program (\d+),", (folder.programs / "best.py").read_text())[1])
  assert result.program.id == best_id and len(result.steps) > 1
  assert result.steps[0].id == 0 and result.steps[0].parent is None
  assert all(step.parent == before.id for before, step in zip(result.steps, result.steps[1:]))
  assert result.program.fitness == search.state.best.fitness


@pytest.mark.parametrize("argv_tail, message", [
    (["--id", "99"], r"^--id 99: no program 99 in the event log of .* \(8 events, ids 0 to 7\)$"),
    (["--id", "-1"], r"^--id -1: no program -1 "),
])
def test_an_unknown_id_is_one_line(tmp_path, argv_tail, message):
  folder = _run(tmp_path / "run")
  status, out, err = _main(folder.path, *argv_tail)
  assert status == 2 and out == "" and len(err.splitlines()) == 1 and re.match(message, err)


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path):
  (tmp_path / "empty").mkdir()
  for path, expected in ((tmp_path / "empty", "not a run folder (no config.yaml)"),
                         (tmp_path / "missing", "no such folder")):
    status, out, err = _main(path)
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and expected in err


def test_a_corrupt_log_line_is_one_line_naming_it(tmp_path):
  folder = _run(tmp_path / "run")
  lines = folder.events_path.read_text().splitlines(keepends=True)
  lines[3] = '{"seq": 4, "id": 2, "par\n'
  folder.events_path.write_text("".join(lines))
  status, out, err = _main(folder.path)
  assert status == 2 and out == ""
  assert err.startswith(f"{folder.events_path}:4: corrupt log line") and err.count("\n") == 1


def test_an_event_without_its_fields_is_one_line_naming_it(tmp_path):
  folder = _run(tmp_path / "run", [*EVENTS[:2], {**EVENTS[2], "id": "three"}])
  status, _, err = _main(folder.path)
  assert status == 2 and err == (f"{folder.events_path}:3: event without an integer 'id' "
                                 "(got 'three')\n")
  folder = _run(tmp_path / "run2", [*EVENTS[:2], {**EVENTS[2], "fitness": "high"}])
  status, _, err = _main(folder.path)
  assert status == 2 and "'fitness' that is not a number" in err


def test_a_run_without_a_finite_fitness_has_no_best(tmp_path):
  folder = _run(tmp_path / "run", [{**EVENTS[0], "fitness": None}])
  status, _, err = _main(folder.path)
  assert status == 2 and "no program with a finite fitness" in err
  status, out, _ = _main(folder.path, "--id", "0")
  assert status == 0 and "fitness failed" in out


def test_a_missing_output_directory_is_refused_before_reading(tmp_path):
  folder = _run(tmp_path / "run")
  status, out, err = _main(folder.path, "--png", tmp_path / "nowhere" / "l.png")
  assert status == 2 and out == "" and err.startswith("--png ")
