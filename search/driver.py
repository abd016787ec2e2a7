"""The search loop: the driver that generates children, hands them to workers, and records.

One program's way through a search::

    config (search.config)  ->  run folder opened or resumed (runlog.folder)
      -> child generated: tournament + one mutation + type check + cache key (search.evolution)
      -> cache hit: joins at once with the cached fitness ("cached" event)
         in flight already: waits for that result
         otherwise: sent in a batch to a free worker (search.workers)
      -> fitness back: joins its island, oldest leaves (evolution.absorb), one line appended
         to events.jsonl, cache updated
      -> every few seconds: metrics.csv row, display; every minute: checkpoint, programs/, plot.

With ``meta_validation.task`` set, every ``meta_validation.every`` scored programs the current
best is also sent, as one more work item through the same pool, to be scored on that task
(``meta_validation.monitor``, routed by ``search.monitor_routing``): it never joins a
population, the events or the cache, and its result (failed ones too) becomes a point of
``meta_validation.csv`` / ``.png``. With
``meta_validation.funnel_at_end``, a search that spends its budget ends with funnel selection
(``meta_validation.funnel``) on its run folder.

Resume: the checkpoint holds the state after the first ``state.events`` events; the events
after it are replayed into the state (never scored again), the children that were in flight
and never came back are sent again, and the cache is rebuilt from every scored event.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import pathlib
import signal
import time
from typing import Any, Callable

import dsl
from dsl.program import ProgramError
from dsl.scores import ranked_fitness
from runlog import folder as run_folder_lib
from runlog.event import Event
from search import analysis, config as config_lib, evolution
from search import cost
from search import monitor_routing, warm_start, workers
from search.workers import ProgramWork
from search.evolution import Child, SearchState

CHECKPOINT_FORMAT = 1
PLOT_EVERY_S = 60.0
# Cache hits can make a batch slow to fill (a converged population makes the same children);
# after this many children without one to score the driver sends what it has.
MAX_CHILDREN_PER_FILL = 10_000
# A program whose worker died scoring it is sent again alone; if its worker dies again it is
# recorded as failed: a program that crashes workers must not take them all down, one by one.
MAX_DEATHS_PER_PROGRAM = 2


def create(config: config_lib.SearchConfig, folder: run_folder_lib.RunFolder) -> None:
  """A new run in ``folder``: its config and initial program (``RunFolder.create``)."""
  initial = warm_start.load_initial_program(config.initial_program)
  folder.create(config_lib.to_yaml(config), initial.to_text())


@dataclasses.dataclass
class Snapshot:
  """What the progress display and the summary show."""
  elapsed_s: float
  generated: int
  scored: int
  cached: int
  failed: int
  in_flight: int
  workers: int
  cache_hit_rate: float
  best_fitness: float
  median_fitness: float
  redundant_fraction: float
  programs_per_s: float
  driver_busy: float
  restarts: int
  initial_fitness: float
  max_programs: int
  hurdle_stopped: int = 0      # children stopped at a hurdle (staged fitness), in all
  hurdle_saved_s: float = 0.0  # worker seconds the stages they skipped would have cost


class Search:
  """One search run over a run folder and a pool of workers (``search.workers``)."""

  def __init__(self, config: config_lib.SearchConfig, folder: run_folder_lib.RunFolder, pool,
               cache: analysis.Cache | None = None,
               on_progress: Callable[[Snapshot], None] | None = None,
               log: Callable[[str], None] = lambda message: None,
               clock: Callable[[], float] = time.monotonic):
    self.config = config
    self.folder = folder
    self.cost = cost.CostMeter(clock=clock)  # cost.json: CPU hours and throughput
    self.pool = pool
    self.cache = cache if cache is not None else analysis.make_cache()
    self.on_progress = on_progress or (lambda snapshot: None)
    self.log = log
    self.clock = clock
    self.state: SearchState = evolution.new_state(config.seed, config.evolution.population_size)
    self.queue: collections.deque[Child] = collections.deque()  # to send (again)
    self.suspects: collections.deque[Child] = collections.deque()  # to send alone
    self._deaths: dict[int, int] = {}  # child id -> times a worker died scoring it
    self.waiting: dict[str, list[Child]] = {}  # cache key -> [the one in flight, its twins]
    self.interrupted = False
    self._elapsed_before = 0.0   # time spent in earlier sessions of this run
    self._busy_before = 0.0
    self._hurdles = {"stopped": 0, "saved_s": 0.0}
    self._started = clock()
    self._busy = 0.0
    self._last_metrics = (self._started, 0, 0.0)  # (time, generated+scored, busy)
    self._last_checkpoint = self._started
    self._last_plot = -math.inf
    self._snapshot_cache = None
    # The meta-overfitting monitor's routing (search.monitor_routing), made by open() if
    # configured.
    self.monitor_routing: monitor_routing.MonitorRouting | None = None
    self.funnel_table: pathlib.Path | None = None  # where the end-of-search funnel wrote
    self._loaded: tuple[bool, int] | None = None  # (from a checkpoint, events replayed)

  # ---- workers ----------------------------------------------------------------------------
  @property
  def pool(self) -> cost.MeteredPool:
    """The workers, metered: every batch they send back is seen by ``self.cost``."""
    return self._pool

  @pool.setter
  def pool(self, pool) -> None:
    # A pool set later (``search.run`` starts the workers after the folder is checked) is
    # metered too: cost.json's worker CPU comes from here.
    self._pool = pool if isinstance(pool, cost.MeteredPool) else cost.MeteredPool(pool, self.cost)

  # ---- time -------------------------------------------------------------------------------
  @property
  def elapsed(self) -> float:
    return self._elapsed_before + self.clock() - self._started

  # ---- opening and resuming -----------------------------------------------------------------
  def load(self) -> None:
    """Reads the run folder, if it holds a run, into the state: checkpoint, then the replay of
    the events after it; writes nothing but a damaged checkpoint's new name. Needs no pool:
    ``search.run`` calls it before the workers start, so that a damaged folder is reported
    at once. A checkpoint that cannot be read, or that claims more events than the log holds,
    is set aside and the state rebuilt from the whole log (the log is the record); a damaged
    log line raises ``run_folder.DamagedLog`` naming it."""
    if self._loaded is not None:
      return
    folder = self.folder
    checkpoint = None
    if folder.exists():
      checkpoint = self._read_checkpoint()
      # Streamed: a week's log is far larger than memory; only the cache and the state stay.
      for key, fitness in folder.scores():  # every scored program, so none is trained twice
        self.cache.put(key, ranked_fitness(fitness))
    replayed, last_elapsed = 0, 0.0
    for where, event in folder.iter_events(start=self.state.events, locations=True):
      try:
        self._replay(event)
      except (KeyError, TypeError, ValueError, ProgramError, IndexError) as error:
        raise run_folder_lib.DamagedLog(where, f"not an event this search can replay: "
                                        f"{type(error).__name__} {error}") from None
      replayed += 1
      if isinstance(event.get("elapsed_s"), (int, float)):
        last_elapsed = max(last_elapsed, float(event["elapsed_s"]))
    # The clock goes on from the latest time written, wherever: a kill -9 leaves metrics rows
    # and events newer than the checkpoint.
    self._elapsed_before = max(self._elapsed_before, last_elapsed, folder.last_elapsed())
    self._loaded = (checkpoint is not None, replayed)

  def _read_checkpoint(self) -> dict[str, Any] | None:
    """The checkpoint, loaded into the state; None (after setting it aside) if it is damaged
    or does not match the log."""
    folder = self.folder
    try:
      checkpoint = folder.read_checkpoint()
      if checkpoint is None:
        return None
      if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"unknown checkpoint format {checkpoint.get('format')!r}")
      state = evolution.from_json(checkpoint["state"])
      elapsed, busy = float(checkpoint["elapsed_s"]), float(checkpoint["busy_s"])
      logged = folder.count_events()
      if state.events > logged:
        raise ValueError(f"it covers {state.events} events, the log holds {logged}")
    except (KeyError, TypeError, ValueError, ProgramError, AttributeError) as error:
      aside = folder.set_checkpoint_aside()
      message = str(error).splitlines()[0] if str(error) else type(error).__name__
      if not message.startswith(str(folder.checkpoint_path)):
        message = f"{folder.checkpoint_path}: damaged checkpoint ({message})"
      self.log(f"{message}; set aside as {aside.name}, the state is rebuilt from the event log")
      return None
    self.state, self._elapsed_before, self._busy_before = state, elapsed, busy
    self._hurdles.update(checkpoint.get("hurdles", {}))
    return checkpoint

  def open(self) -> None:
    """Creates the run folder, or resumes it (``load``), and opens its logs."""
    config, folder = self.config, self.folder
    if not folder.exists():
      create(config, folder)
    self.load()
    self.cost.resume(folder.path)
    from_checkpoint, replayed = self._loaded
    if not folder.logs_open:  # search.run opens them before the workers start
      folder.open_logs()
    meta = config.meta_validation
    if meta.monitoring:
      self.monitor_routing = monitor_routing.MonitorRouting(folder.path, meta, self.pool,
                                                            self.log)
    for child in sorted(self.state.pending.values(), key=lambda c: c.id):
      if child.id == evolution.INITIAL_ID:
        continue  # re-scored by _score_initial
      self._route(child)
    if from_checkpoint or replayed:
      self.log(f"resumed {folder.path}: {self.state.events - replayed} events from the "
               f"checkpoint, {replayed} replayed, {len(self.queue)} in flight sent again")

  def _replay(self, event: dict[str, Any]) -> None:
    program = dsl.parse(event["program"])
    fitness = ranked_fitness(event["fitness"])
    if event["id"] == evolution.INITIAL_ID:
      self.state.pending.pop(evolution.INITIAL_ID, None)
      member = evolution.Member(evolution.INITIAL_ID, program, event["key"], fitness,
                                event.get("redundant"))
      evolution.start(self.state, member, self.config.evolution.repeats)
      return
    child = self.state.pending.get(event["id"])
    if child is None:  # made after the checkpoint
      child = Child(event["id"], event["island"], event["parent"], event["mutation"], program,
                    event["key"], event.get("redundant"))
      self.state.generated += 1
    self.state.next_id = max(self.state.next_id, child.id + 1)
    evolution.absorb(self.state, child, fitness, self.config.evolution.restart_after,
                     self.config.output.top_k, cached=event["status"] == "cached")

  # ---- generating -------------------------------------------------------------------------
  def _route(self, child: Child) -> Child | None:
    """Resolves ``child`` from the cache, parks it behind an identical program in flight, or
    returns it to be scored."""
    fitness = self.cache.get(child.key)
    if fitness is not None:
      self._join(child, {"fitness": fitness, "status": "cached", "seconds": 0.0}, None)
      return None
    if child.key in self.waiting:
      self.waiting[child.key].append(child)
      return None
    self.waiting[child.key] = [child]
    self.queue.append(child)
    return child

  def _generate(self) -> None:
    evolution_config = self.config.evolution
    child = evolution.generate(
        self.state, self.cache.key, evolution_config.mutation_weights,
        evolution_config.max_program_length, evolution_config.tournament_size,
        analysis.redundant_fraction, evolution_config.strategy)
    self._route(child)

  def _generation_done(self) -> bool:
    budget = self.config.budget
    return (self.interrupted or self.state.generated >= budget.max_programs
            or 0 < budget.max_trained <= self.state.scored + len(self.waiting)  # + to train
            or (budget.max_hours > 0 and self.elapsed >= budget.max_hours * 3600))

  def _fill(self) -> None:
    """Gives every free slot a batch: re-sent children first, then new ones."""
    size = self.config.workers.batch_size
    while self.pool.in_flight < self.pool.slots:
      if self.suspects:
        self.pool.submit([self.suspects.popleft()])
        continue
      made = 0
      while (len(self.queue) < size and not self._generation_done()
             and made < MAX_CHILDREN_PER_FILL):
        self._generate()
        made += 1
      if not self.queue:
        return
      batch = [self.queue.popleft() for _ in range(min(size, len(self.queue)))]
      self.pool.submit(batch)

  # ---- results ----------------------------------------------------------------------------
  def _join(self, child: Child, result: dict[str, Any], worker: str | None) -> None:
    fitness = ranked_fitness(result["fitness"])
    cached = result["status"] == "cached"
    member = evolution.absorb(self.state, child, fitness, self.config.evolution.restart_after,
                              self.config.output.top_k, cached=cached)
    self._log_event(child, member.fitness, result, worker)
    self._monitor()

  def _log_event(self, child: Child, fitness: float, result: dict[str, Any],
                 worker: str | None, initial: bool = False) -> None:
    """Appends ``child``'s ``Event`` to the log (the warm start has no parent or island)."""
    self.folder.append_event(Event(
        seq=self.state.events, id=child.id, parent=None if initial else child.parent,
        island=None if initial else child.island, mutation=child.mutation, key=child.key,
        fitness=fitness, status=result["status"], seconds=result.get("seconds"),
        worker=worker, metric=result.get("metric"), normalized=result.get("normalized"),
        reason=result.get("reason") or "", redundant=child.redundant,
        elapsed_s=round(self.elapsed, 3), program=child.program.to_text()).to_json())

  # ---- the meta-overfitting monitor (search.monitor_routing) -----------------------------
  @property
  def monitor(self):
    """The ``meta_validation.monitor.Monitor`` of this run, or None when not monitoring."""
    return None if self.monitor_routing is None else self.monitor_routing.monitor

  @property
  def meta_in_flight(self) -> int:
    """Programs sent to the monitor's task and not back yet."""
    return 0 if self.monitor_routing is None else self.monitor_routing.in_flight

  def _monitor(self) -> None:
    if self.monitor_routing is not None:
      self.monitor_routing.offer(self.state.scored, self.state.best)

  def _receive(self, completed) -> None:
    for done in completed:
      if done.batch and isinstance(done.batch[0], ProgramWork):
        if done.batch[0].ticket is not None:  # else a warm start's batch left over
          self.monitor_routing.receive(done)
        continue
      if done.results is None:  # the worker died: score the programs again, each alone
        self.log(f"{done.worker} died ({done.error}); its {len(done.batch)} programs are "
                 "sent again")
        for child in done.batch:
          deaths = self._deaths[child.id] = self._deaths.get(child.id, 0) + 1
          if deaths < MAX_DEATHS_PER_PROGRAM:
            self.suspects.append(child)
            continue
          self.log(f"program {child.id} failed: its worker died {deaths} times scoring it")
          self._complete(child, {"fitness": -math.inf, "status": "error", "seconds": None,
                                 "reason": f"its worker died {deaths} times scoring it "
                                           f"({done.error})"}, None)
        continue
      for child, result in zip(done.batch, done.results):
        self._complete(child, result, done.worker)

  def _complete(self, child: Child, result: dict[str, Any], worker: str | None) -> None:
    """Records a scored child, caches its fitness, and joins the twins that waited on it."""
    self._deaths.pop(child.id, None)
    if "stage" in result:  # staged fitness: a child stopped at a hurdle saved the later stages
      hurdles = self._hurdles
      if result["saved_s"] > 0:
        hurdles["stopped"] += 1
        hurdles["saved_s"] += result["saved_s"]
    self.cache.put(child.key, ranked_fitness(result["fitness"]))
    twins = self.waiting.pop(child.key, [child])
    self._join(child, result, worker)
    for twin in twins[1:]:
      self._join(twin, {"fitness": result["fitness"], "status": "cached", "seconds": 0.0}, None)

  def _score_initial(self) -> None:
    """Scores the warm start (child 0, ``search.warm_start``), tuned first if so configured,
    and fills every island with copies of it."""
    scored = warm_start.score(self.config, self.folder, self.pool, lambda: self.interrupted,
                              self.log)
    if scored is None:
      return
    program, result, worker = scored
    child = Child(evolution.INITIAL_ID, 0, -1, "initial", program, self.cache.key(program),
                  analysis.redundant_fraction(program))
    self.cache.put(child.key, ranked_fitness(result["fitness"]))
    member = evolution.Member(child.id, program, child.key, ranked_fitness(result["fitness"]),
                              child.redundant)
    evolution.start(self.state, member, self.config.evolution.repeats)
    self._log_event(child, member.fitness, result, worker, initial=True)
    if not math.isfinite(member.fitness):
      self.log(f"warning: the initial program failed on the task ({result['status']}: "
               f"{result.get('reason')}); the search goes on from it")

  # ---- recording ----------------------------------------------------------------------------
  def snapshot(self) -> Snapshot:
    now = self.clock()
    stats = evolution.statistics(self.state)
    time_before, count_before, busy_before = self._last_metrics
    count = self.state.scored + self.state.cached
    interval = now - time_before
    state = self.state
    resolved = state.cached + state.scored - 1 if state.initial is not None else 0
    return Snapshot(
        elapsed_s=self.elapsed, generated=state.generated, scored=state.scored,
        cached=state.cached, failed=state.failed, in_flight=len(state.pending),
        workers=getattr(self.pool, "workers", 1),
        cache_hit_rate=state.cached / resolved if resolved > 0 else 0.0,
        best_fitness=stats["best_fitness"], median_fitness=stats["median_fitness"],
        redundant_fraction=stats["redundant_fraction"],
        programs_per_s=(count - count_before) / interval if interval > 0 else 0.0,
        driver_busy=(self._busy - busy_before) / interval if interval > 0 else 0.0,
        restarts=state.restarts,
        initial_fitness=state.initial.fitness if state.initial is not None else math.nan,
        max_programs=self.config.budget.max_programs,
        hurdle_stopped=self._hurdles["stopped"], hurdle_saved_s=self._hurdles["saved_s"])

  def _record_metrics(self) -> Snapshot:
    snapshot = self.snapshot()
    self.folder.append_metrics(dataclasses.asdict(snapshot))
    self._last_metrics = (self.clock(), self.state.scored + self.state.cached, self._busy)
    return snapshot

  def checkpoint(self, plots: bool = False) -> None:
    """Checkpoint (after fsyncing the events it covers), programs/, and maybe the plot."""
    self.folder.write_checkpoint({
        "format": CHECKPOINT_FORMAT, "elapsed_s": self.elapsed,
        "busy_s": self._busy_before + self._busy, "hurdles": dict(self._hurdles),
        "state": evolution.to_json(self.state)})
    self.cost.write(self.folder.path, self.state.scored, self.state.generated)
    self.folder.write_programs(
        [(f, i, key, analysis.pruned(p).to_text()) for f, i, key, p in evolution.top(self.state)])
    self._last_checkpoint = self.clock()
    if plots or self.clock() - self._last_plot >= PLOT_EVERY_S:
      self.folder.write_plots()
      self._last_plot = self.clock()

  # ---- the loop -----------------------------------------------------------------------------
  def run(self) -> Snapshot:
    """Runs (or resumes) the search until the budget is spent or it is interrupted."""
    self.open()
    output = self.config.output
    try:
      if self.state.initial is None:
        self._score_initial()
        if self.state.initial is None:  # interrupted while scoring it
          return self.snapshot()
        self.checkpoint()
      self.on_progress(self.snapshot())
      while not self.interrupted:
        busy_from = self.clock()
        self._fill()
        # Not done while the budget lasts, even with nothing in flight: every worker may be
        # parked for a moment (restarting after a crash, or its node lost).
        if (self.pool.in_flight == 0 and not self.queue and not self.suspects
            and self._generation_done()):
          break
        self._busy += self.clock() - busy_from
        completed = self.pool.wait(0.25)
        busy_from = self.clock()
        self._receive(completed)
        now = self.clock()
        self._busy += now - busy_from  # before a metrics row closes the interval
        busy_from = now
        if now - self._last_metrics[0] >= output.metrics_every_s:
          self.on_progress(self._record_metrics())
        if now - self._last_checkpoint >= output.checkpoint_every_s:
          self.checkpoint()
        self._busy += self.clock() - busy_from
      summary = self._record_metrics()
      self.checkpoint(plots=True)
    finally:
      self.folder.close()
    if not self.interrupted and self.config.meta_validation.funnel_at_end:
      self.funnel_table = run_funnel(self.config, self.folder, self.log)
    return summary

  def interrupt(self, *_: Any) -> None:
    """Stops at the next step (a signal handler): checkpoints what is done; what is in flight
    is sent again on resume."""
    self.interrupted = True


def run_funnel(config: config_lib.SearchConfig, folder: run_folder_lib.RunFolder,
               log: Callable[[str], None] = print) -> pathlib.Path | None:
  """Funnel selection on the run folder (``meta_validation.funnel``) with the config's
  ``meta_validation.funnel_*``; returns the table's path (``funnel/funnel.md``).

  Skipped (returns the table) when ``funnel/funnel.json`` is newer than ``events.jsonl``
  (a finished run resumed without a larger budget). A funnel that fails is logged, not
  raised: the search itself is done and saved; returns None then.
  """
  from meta_validation import funnel  # pylint: disable=import-outside-toplevel
  meta = config.meta_validation
  out = folder.path / "funnel"
  table = out / "funnel.md"
  record = out / "funnel.json"
  if (record.exists() and table.exists() and folder.events_path.exists()
      and record.stat().st_mtime >= folder.events_path.stat().st_mtime):
    log(f"funnel: up to date in {table}")
    return table
  log(f"funnel: the top {meta.funnel_top_k} programs over {meta.funnel_seeds} seed(s), after "
      f"{meta.funnel_holdout_seeds} held-out proxy seed(s)")
  try:
    tasks = funnel.stage_tasks(folder.path, task_10x=meta.funnel_task_10x or None,
                               task_100x=meta.funnel_task_100x or None)
    funnel.funnel(folder.path, meta.funnel_top_k, meta.funnel_seeds, tasks=tasks,
                  log=lambda message: log(f"funnel: {message}"),
                  holdout_seeds=meta.funnel_holdout_seeds)
  except (KeyError, ValueError, OSError) as error:
    message = error.args[0] if error.args else str(error)
    log(f"funnel failed: {message}; run it again with  python -m meta_validation.funnel "
        f"{folder.path}")
    return None
  log(f"funnel: table in {table}")
  return table


def install_signal_handlers(search: Search) -> None:
  for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, search.interrupt)

