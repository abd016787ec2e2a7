"""The cost of resuming a long search: time and peak memory of reopening its run folder.

  python benchmarks/resume_cost.py [--events 1000000] [--replay 2000]

A week of search logs ~100 million events; a resume reads the log to rebuild the fitness cache
and replays the events newer than the checkpoint. This builds one run in two layouts, with
``--events`` synthetic events (real program text, 70% cache hits, like a real search's log)
covered by the checkpoint, and then the events of a real in-process search (``--replay``
scorings and the cache hits between them) that the checkpoint does not cover (a crash between
checkpoints):

  old  one events.jsonl, reopened the way ``Search.open`` did before the log was segmented and
       streamed: the whole file read, every event in a list, the cache rebuilt and the tail
       replayed from the list (and the torn-line check reading the file again);
  new  what ``RunFolder.append_event`` writes (gzipped segments of ``SEGMENT_EVENTS`` lines
       with their indexes, then events.jsonl), reopened by ``Search.open``: the cache from the
       indexes, the tail streamed from events.jsonl;
  new, no indexes   the same with the indexes deleted (every segment unpacked and read).

Every reopening runs in a fresh process that reports its wall time and its peak resident
memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the figure after the imports alone is
printed too), and must rebuild the same cache and state as the others. Linux carries a
parent's peak over into a forked child's ``ru_maxrss``, so the parent here only starts
processes: the folders are built in another one. Also printed: the size on disk, how long a
rotation held up ``append_event`` (the driver) and how long its compression took (in a
thread). The last line is a JSON object with the figures.
"""

from __future__ import annotations

# pylint: disable=protected-access  # it measures the run folder's internals and the old reads

import argparse
import hashlib
import itertools
import json
import math
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

if __name__ != "__main__" or len(sys.argv) > 1 and sys.argv[1] in ("--build", "--reopen"):
  # Not in the parent (see the docstring): it stays a small process.
  # pylint: disable=wrong-import-position
  import numpy as np

  import dsl
  from dsl.files import json_safe
  from search import config as config_lib
  from runlog import folder as run_folder
  from search import driver, evolution, mutation, workers
  # pylint: enable=wrong-import-position

CONFIG = """\
name: resume
seed: 0
initial_program: adamw
task:
  name: toy
budget:
  max_programs: 1000000
evolution:
  population_size: 100
  tournament_size: 2
  repeats: 2
  restart_after: 500
output:
  runs_dir: {runs_dir}
  checkpoint_every_s: 1.0e+9
"""


class ToyResult:
  def __init__(self, fitness: float):
    self.fitness, self.metric, self.normalized = fitness, -fitness, fitness
    self.status, self.reason, self.seconds = "ok", "", 0.0


class ToyEvaluator:
  """Fitness from the program's length and a hash of its text: fast and deterministic."""

  def evaluate(self, programs):
    out = []
    for program in programs:
      jitter = int(hashlib.sha256(program.to_text().encode()).hexdigest()[:8], 16) / 16**8
      out.append(ToyResult(-0.1 * abs(len(program.statements) - 14) + 0.01 * jitter))
    return out


class _Stop(Exception):
  pass


def stopping_pool(batches: int):
  """A local pool that stops the search (like a kill: no last checkpoint) after ``batches``."""

  class StoppingPool(workers.LocalPool):

    def wait(self, timeout=None):
      nonlocal batches
      if batches == 0:
        raise _Stop()
      batches -= 1
      return super().wait(timeout)

  return StoppingPool(ToyEvaluator())


def real_search(root: pathlib.Path, replay: int) -> tuple[list[dict], dict, str]:
  """The events, checkpoint and config of a search killed after ``replay`` scorings whose only
  checkpoint is the one after the warm start (``state.events == 1``)."""
  config = config_lib.parse(CONFIG.format(runs_dir=root), "resume_cost.yaml")
  folder = run_folder.RunFolder(root / "resume")
  try:
    driver.Search(config, folder, stopping_pool(replay)).run()
  except _Stop:
    pass
  checkpoint = folder.read_checkpoint()
  assert checkpoint["state"]["events"] == 1, checkpoint["state"]["events"]
  return folder.events(), checkpoint, folder.config_path.read_text()


def synthetic_events(count: int, seed: int = 0):
  """``count`` events like a search's: text of mutated programs, 70% cache hits of earlier
  keys, 10% failed runs (ids far above the real search's, so they never meet)."""
  rng = np.random.default_rng(seed)
  texts = []
  program = dsl.library.load("adamw")
  while len(texts) < 3000:
    program, _ = mutation.mutate(program, rng, max_length=20)
    if len(program.statements) < 6:
      program = dsl.library.load("adamw")
    texts.append(program.to_text())
  keys: list[str] = []
  for seq in range(count):
    cached = keys and rng.random() < 0.7
    key = keys[int(rng.integers(len(keys)))] if cached else f"{seq:032x}"
    if not cached:
      keys.append(key)
    failed = not cached and rng.random() < 0.1
    fitness = -math.inf if failed else float(np.round(rng.normal(), 6))
    yield {"seq": seq, "id": 10**9 + seq, "parent": 10**9 + seq // 2, "island": seq % 2,
           "mutation": "modify@3", "key": key, "fitness": fitness,
           "status": "cached" if cached else ("nan" if failed else "ok"),
           "seconds": 0.0 if cached else 2.5, "worker": None if cached else "worker-3",
           "metric": None, "normalized": None, "reason": "", "redundant": 0.1,
           "elapsed_s": seq * 0.005, "program": texts[int(rng.integers(len(texts)))]}


def build(root: pathlib.Path, count: int, replay: int) -> dict:
  """``root/old/resume`` and ``root/new/resume``: the same log in the two layouts."""
  real, checkpoint, config_text = real_search(root / "search", replay)
  checkpoint["state"]["events"] += count  # the synthetic events come before the replayed ones
  initial = (root / "search" / "resume" / "programs" / "initial.py").read_text()
  old = run_folder.RunFolder(root / "old" / "resume")
  old.create(config_text, initial)
  new = run_folder.RunFolder(root / "new" / "resume")
  new.create(config_text, initial)
  new.open_logs()
  rotations, compressions = [], []

  def timed(method, times):
    def run(*args):
      began = time.perf_counter()
      method(*args)
      times.append(time.perf_counter() - began)
    return run

  new._rotate = timed(new._rotate, rotations)
  new._compress = timed(new._compress, compressions)
  with open(old.events_path, "w", encoding="utf-8") as log:
    for event in itertools.chain(real[:1], synthetic_events(count), real[1:]):
      new.append_event(event)
      log.write(json.dumps(json_safe(dict(event)), separators=(",", ":")) + "\n")
  new.close()
  for folder in (old, new):
    folder.write_checkpoint(checkpoint)
  no_index = run_folder.RunFolder(root / "new_no_index" / "resume")
  shutil.copytree(new.path, no_index.path)
  for path in no_index.segments_path.glob("*.index.json"):
    path.unlink()
  return {"old": str(old.path), "new": str(new.path), "new_no_index": str(no_index.path),
          "rotation_s": rotations, "compression_s": compressions, "replayed": len(real) - 1,
          "old_bytes": old.events_path.stat().st_size,
          "new_bytes": sum(p.stat().st_size for p in new.path.glob("events*/*"))
                       + new.events_path.stat().st_size}


# ---- one reopening, in its own process ------------------------------------------------------

def _old_read_jsonl(path: pathlib.Path) -> list[dict]:
  """``run_folder.read_jsonl`` before the log was streamed, verbatim."""
  if not path.exists():
    return []
  data = path.read_bytes()
  complete = data[:data.rfind(b"\n") + 1]
  out = []
  for number, line in enumerate(complete.splitlines(), 1):
    if not line.strip():
      continue
    try:
      out.append(json.loads(line))
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}:{number}: corrupt log line ({e.msg})") from None
  return out


def _old_repair_log(path: pathlib.Path) -> bool:
  """``run_folder.repair_log`` before it read only the file's end, verbatim."""
  if not path.exists():
    return False
  with open(path, "rb+") as f:
    data = f.read()
    if not data or data.endswith(b"\n"):
      return False
    f.truncate(data.rfind(b"\n") + 1)
  return True


def _old_open(search: driver.Search) -> None:
  """The reads of ``Search.open`` on a resumed run before the log was streamed: every event
  in a list, the cache and the replay from it, then ``open_logs``'s ``repair_log``."""
  folder = search.folder
  search.state = evolution.from_json(folder.read_checkpoint()["state"])
  events = _old_read_jsonl(folder.events_path)
  for event in events:
    if event["status"] != "cached":
      search.cache.put(event["key"], dsl.ranked_fitness(event["fitness"]))
  for event in events[search.state.events:]:
    search._replay(event)
  _old_repair_log(folder.events_path)


def reopen(mode: str, path: str) -> None:
  folder = run_folder.RunFolder(path)
  config = config_lib.load(folder.config_path)
  search = driver.Search(config, folder, workers.LocalPool(ToyEvaluator()))
  imports_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  started = time.perf_counter()
  if mode == "old":
    _old_open(search)
  else:
    search.open()
    folder.close()
  seconds = time.perf_counter() - started
  peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the check below
  state = evolution.to_json(search.state)
  digest = hashlib.sha256(json.dumps([state, sorted(map(list, search.cache.items()))],
                                     sort_keys=True).encode()).hexdigest()
  print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024,
                    "imports_mb": imports_kb / 1024, "cache": len(search.cache),
                    "events": search.state.events, "digest": digest}))


def child(*args: str) -> dict:
  """Runs this script with ``args`` in a new process; its last line of output, parsed."""
  done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                        check=False)
  if done.returncode != 0:
    raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--events", type=int, default=1_000_000, help="events before the "
                      "checkpoint (default 1,000,000)")
  parser.add_argument("--replay", type=int, default=500, help="scorings after it (default "
                      "500; the cache hits between them are replayed too)")
  parser.add_argument("--segment-events", type=int, default=100_000,
                      help="lines per segment (default 100,000: run_folder.SEGMENT_EVENTS)")
  parser.add_argument("--build", metavar="DIR", help=argparse.SUPPRESS)
  parser.add_argument("--reopen", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.reopen:
    reopen(*args.reopen)
    return
  if args.build:
    run_folder.SEGMENT_EVENTS = args.segment_events
    print(json.dumps(build(pathlib.Path(args.build), args.events, args.replay)))
    return
  with tempfile.TemporaryDirectory(prefix="resume_cost.") as directory:
    started = time.perf_counter()
    built = child("--build", directory, "--events", str(args.events), "--replay",
                  str(args.replay), "--segment-events", str(args.segment_events))
    rotations, compressions = built["rotation_s"], built["compression_s"]
    print(f"built {args.events:,} events before the checkpoint and {built['replayed']:,} after "
          f"it in {time.perf_counter() - started:.0f} s; segments of {args.segment_events:,}")
    print(f"log on disk: old {built['old_bytes'] / 1e6:.0f} MB, new {built['new_bytes'] / 1e6:.0f}"
          f" MB ({built['old_bytes'] / built['new_bytes']:.1f}x smaller); {len(rotations)} "
          f"rotations held append_event up {max(rotations, default=0) * 1e3:.0f} ms at most, "
          f"compressing took {min(compressions, default=0):.1f}-"
          f"{max(compressions, default=0):.1f} s a segment (in a thread)")
    results = {mode: child("--reopen", mode, built[mode])
               for mode in ("old", "new", "new_no_index")}
    digests = {r["digest"] for r in results.values()}
    assert len(digests) == 1, "the layouts must rebuild the same cache and state"
    for mode, r in results.items():
      print(f"{mode:13s} reopen {r['seconds']:7.2f} s   peak RSS {r['peak_mb']:7.0f} MB "
            f"(imports alone {r['imports_mb']:.0f} MB)   cache {r['cache']:,} programs")
    old = results["old"]
    for mode in ("new", "new_no_index"):
      r = results[mode]
      print(f"old / {mode}: time {old['seconds'] / r['seconds']:.1f}x, peak memory "
            f"{old['peak_mb'] / r['peak_mb']:.1f}x, memory above the imports "
            f"{(old['peak_mb'] - old['imports_mb']) / max(r['peak_mb'] - r['imports_mb'], 1):.0f}x")
    print(json.dumps({"events": args.events, "replayed": built["replayed"],
                      "segment_events": args.segment_events, "rotation_s": rotations,
                      "compression_s": compressions,
                      "bytes": {"old": built["old_bytes"], "new": built["new_bytes"]},
                      **results}))


if __name__ == "__main__":
  main()
