"""The end-of-run summary."""

import math

from search import progress
from search.driver import Snapshot


def _snapshot():
  return Snapshot(elapsed_s=12.0, generated=0, scored=0, cached=0, failed=0, in_flight=0,
                  workers=1, cache_hit_rate=0.0, best_fitness=math.nan,
                  median_fitness=math.nan, redundant_fraction=0.0, programs_per_s=0.0,
                  driver_busy=0.0, restarts=0, initial_fitness=math.nan, max_programs=100)


def test_the_summary_names_only_the_files_that_exist(tmp_path):
  """Stopped while the warm start was tuned: no best program, no curves yet."""
  run = tmp_path / "run"
  (run / "programs").mkdir(parents=True)
  text = progress.summary(_snapshot(), str(run))
  assert "best.py" not in text and "progress.png" not in text
  (run / "programs" / "best.py").write_text("def train(w, g, lr):\n  return g\n")
  text = progress.summary(_snapshot(), str(run))
  assert text.endswith(f"\n  best program: {run}/programs/best.py")
  (run / "progress.png").write_bytes(b"")
  text = progress.summary(_snapshot(), str(run))
  assert text.endswith(f"\n  best program: {run}/programs/best.py; curves: {run}/progress.png")
