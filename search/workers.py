"""Workers that score programs: Ray actors (``RayPool``) or the driver itself (``LocalPool``).

A worker builds its task's evaluator ONCE (``proxy_tasks.Evaluator``: compiling the task and
loading its data is the expensive part) and then scores batches of programs sent as text.
The driver talks to either pool through the same three calls:

* ``pool.slots``: how many batches it may keep in flight;
* ``pool.submit(batch, task=None)``: a list of ``evolution.Child`` (anything with ``id`` and
  ``program``), scored on the search's task, or on another ``Task`` (the meta-validation
  monitor's): a worker builds one evaluator per task, the first time it is asked for it, and
  keeps it; a batch on another task that raises comes back as failed results, never as an
  exception;
* ``pool.wait(timeout)``: the batches finished since the last call, each a ``Completed`` whose
  ``results`` is None if the worker died while scoring it (the driver sends it again).

``RayPool`` is asynchronous and steady state: the driver hands a batch to whichever actor is
free (``ray.wait``) and never waits for the slowest. Faults:

* an actor whose process dies (killed, crashed, out of memory, its node lost) hands its
  batches back as failed (the driver sends them again, to whichever actor is free) and is
  *parked*: it gets no work until a readiness probe says Ray has restarted it
  (``max_restarts``), on its node or, if the node is gone, on any node with a free CPU (a
  node the cluster adds later, say). Being parked is no death sentence: a restart takes
  seconds (the evaluator is built again), a lost node's actor may wait for a new node;
* an actor that Ray will not restart any more (its restarts spent, or a death Ray cannot
  recover) is replaced by a new actor, at most ``max_restarts`` times per worker, unless its
  constructor failed (it would again); then it is dropped. When no worker is left the pool
  raises ``RuntimeError`` (the driver's checkpoint keeps what was done).
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import math
import os
import pathlib
import socket
import time
from typing import Any, Callable, Mapping, Sequence

from dsl.program import Program
from dsl.scores import ranked_fitness
from search.config import TaskSpec
from search.evolution import Child

# One core per actor: actors are the unit of parallelism, one per CPU. XLA's CPU client
# otherwise sizes its thread pool to the whole machine in every actor (PJRT_NPROC sizes it;
# older jaxlib reads NPROC) and runs Eigen's ops on it.
ONE_CORE_XLA_FLAGS = ("--xla_cpu_multi_thread_eigen=false",)
ONE_CORE_ENV = {"PJRT_NPROC": "1", "NPROC": "1"}


def actor_environment(environ: Mapping[str, str]) -> dict[str, str]:
  """The variables an actor starts with: ``environ``'s XLA flags, ``JAX_PLATFORMS`` and
  ``JAX_ENABLE_X64``, plus what keeps XLA on one core (``ONE_CORE_XLA_FLAGS`` added to
  ``XLA_FLAGS`` unless ``environ`` sets the same flags; ``ONE_CORE_ENV`` unless set)."""
  flags = environ.get("XLA_FLAGS", "").split()
  names = {flag.split("=")[0] for flag in flags}
  flags += [flag for flag in ONE_CORE_XLA_FLAGS if flag.split("=")[0] not in names]
  out = {"XLA_FLAGS": " ".join(flags)}
  out.update((k, environ.get(k, v)) for k, v in ONE_CORE_ENV.items())
  out.update((k, environ[k]) for k in ("JAX_PLATFORMS", "JAX_ENABLE_X64") if k in environ)
  return out


# A task other than the search's a batch may be scored on: the config's one task handle.
Task = TaskSpec


def build(task: TaskSpec):
  """The evaluator of ``task`` (``build_evaluator`` of its name, overrides and evaluator)."""
  return build_evaluator(task.name, task.overrides, task.evaluator)


def task_modules(*task_names: str) -> list[str]:
  """The files or folders of the top-level modules of the user tasks among ``task_names``
  (``package.module:factory``) that live under the working directory, for Ray's
  ``runtime_env={"py_modules": ...}``: what a cluster's workers must be sent to import them.
  An installed package (outside the working directory) is not sent."""
  import importlib.util  # pylint: disable=import-outside-toplevel
  out = []
  cwd = pathlib.Path.cwd().resolve()
  for name in task_names:
    if ":" not in name:
      continue
    top = name.split(":")[0].split(".")[0]
    try:
      spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
      continue
    if spec is None or not spec.origin:
      continue
    origin = pathlib.Path(spec.origin).resolve()
    path = origin.parent if origin.name == "__init__.py" else origin
    if cwd in path.parents and str(path) not in out:
      out.append(str(path))
  return out


@dataclasses.dataclass
class Completed:
  """A batch back from a worker: one result record per child, or None if the worker died."""
  batch: list[Child]
  results: list[dict[str, Any]] | None
  worker: str
  error: str = ""


def build_evaluator(name: str, overrides: Mapping[str, Any] | None = None, evaluator: str = ""):
  """The evaluator of task ``name``: ``proxy_tasks.Evaluator(proxy_tasks.resolve(name, **o))``
  (a registered name or a user's ``package.module:factory``), or ``module:callable``
  (``evaluator``) called as ``callable(name, **overrides)``."""
  overrides = dict(overrides or {})
  if evaluator:
    module_name, attribute = evaluator.split(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory(name, **overrides)
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  return proxy_tasks.Evaluator(proxy_tasks.resolve(name, **overrides))


@dataclasses.dataclass(frozen=True)
class ProgramWork:
  """A program the driver scores for itself, not a child of the evolution: the warm start
  and its tuning grid (``search.warm_start``, ``ticket`` None), or the current best, sent to
  the meta-overfitting monitor's task (``ticket``: its ``meta_validation.monitor.Ticket``)."""
  id: int
  program: Program
  ticket: Any = None


def result_record(result: Any) -> dict[str, Any]:
  """A ``proxy_tasks.Result`` (or any object or mapping with its fields) as plain data."""
  get = result.get if isinstance(result, Mapping) else lambda k, d=None: getattr(result, k, d)
  fitness = get("fitness")
  record = {"fitness": ranked_fitness(fitness), "status": str(get("status", "ok")),
            "seconds": get("seconds"),
            "metric": get("metric"), "normalized": get("normalized"),
            "reason": get("reason", "")}
  if get("stage") is not None:  # staged fitness (proxy_tasks.fitness): how far it got
    record.update(stage=int(get("stage")), saved_s=float(get("saved_s") or 0.0))
  return record


def score(evaluator, batch: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
  """Scores ``(id, program text)`` pairs; the text is parsed (never executed). A text that
  does not parse is a failed result (status ``error``), never a failed batch."""
  import dsl  # pylint: disable=import-outside-toplevel
  programs, unparsed = [], {}
  for index, (_, text) in enumerate(batch):
    try:
      programs.append(dsl.parse(text))
    except dsl.ProgramError as error:
      unparsed[index] = failed_records(1, error)[0]
  results = evaluator.evaluate(programs) if programs else []
  if len(results) != len(programs):
    raise RuntimeError(f"the evaluator returned {len(results)} results for {len(programs)} "
                       "programs")
  results = iter(results)
  return [unparsed[i] if i in unparsed else result_record(next(results))
          for i in range(len(batch))]


def failed_records(count: int, error: BaseException) -> list[dict[str, Any]]:
  """``count`` result records of a batch that could not be scored (status ``error``)."""
  reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
  return [{"fitness": -math.inf, "status": "error", "seconds": None, "metric": None,
           "normalized": None, "reason": reason} for _ in range(count)]


class Evaluators:
  """A worker's evaluators: the search task's, built at start, and one per other ``Task``,
  built the first time a batch asks for it (building is the expensive part) and kept."""

  def __init__(self, main, factory=None):
    self.main = main
    self.factory = factory or build
    self.others: dict[str, Any] = {}  # repr(task) -> its evaluator

  def score(self, batch: Sequence[tuple[int, str]], task: Task | None = None
            ) -> list[dict[str, Any]]:
    """``score`` on the search task (errors raise), or on ``task`` (errors become failed
    results: a broken meta-validation must not stop the search)."""
    if task is None:
      return score(self.main, batch)
    key = repr(task)  # overrides may hold lists (YAML), which do not hash
    try:
      if key not in self.others:
        self.others[key] = self.factory(task)
      return score(self.others[key], batch)
    except Exception as error:  # pylint: disable=broad-except
      return failed_records(len(batch), error)


def _payload(batch: Sequence[Child]) -> list[tuple[int, str]]:
  return [(child.id, child.program.to_text()) for child in batch]


class LocalPool:
  """Scores in the driver process, one batch at a time, in the order submitted (no Ray)."""

  def __init__(self, evaluator, slots: int = 1, name: str = "local", factory=None):
    """``factory(task)`` builds the evaluator of another ``Task`` (default: ``build``)."""
    self.evaluator = evaluator
    self.evaluators = Evaluators(evaluator, factory)
    self.slots = slots
    self.name = name
    self._queue: collections.deque = collections.deque()
    self._tasks: dict[int, Task | None] = {}  # id(batch) -> its task

  @property
  def workers(self) -> int:
    return 1

  @property
  def in_flight(self) -> int:
    return len(self._queue)

  def submit(self, batch: list[Child], task: Task | None = None) -> None:
    self._queue.append(batch)
    self._tasks[id(batch)] = task

  def wait(self, timeout: float | None = None) -> list[Completed]:
    del timeout  # scoring here is synchronous
    if not self._queue:
      return []
    batch = self._queue.popleft()
    task = self._tasks.pop(id(batch), None)
    return [Completed(batch, self.evaluators.score(_payload(batch), task), self.name)]

  def close(self) -> None:
    self._queue.clear()
    self._tasks.clear()


class EvaluatorActor:
  """The body of a Ray worker: one evaluator per task, each built once, scoring batch after
  batch."""

  def __init__(self, task_name: str, overrides: Mapping[str, Any], evaluator: str, name: str):
    os.environ.update(actor_environment(os.environ))  # before JAX starts in this process
    self.name = f"{name}@{socket.gethostname()}:{os.getpid()}"
    self.evaluators = Evaluators(build_evaluator(task_name, overrides, evaluator))

  def evaluate(self, batch: list[tuple[int, str]], task: Task | None = None
               ) -> tuple[str, list[dict[str, Any]]]:
    return self.name, self.evaluators.score(batch, task)


class StartInterrupted(Exception):
  """``RayPool``'s ``stop`` said stop while its actors were starting; it shut down first."""


class RayPool:
  """Ray actors (one per CPU by default) scoring batches asynchronously.

  Starts an embedded local Ray (no dashboard, worker logs kept out of the terminal) unless
  ``address`` (or ``$RAY_ADDRESS``) names a cluster to join, and shuts it down in ``close``
  only if it started it. ``stop`` (e.g. "Ctrl-C was pressed") is asked every second while
  the actors start: if true, the pool closes itself and raises ``StartInterrupted``.
  """

  def __init__(self, task_name: str, overrides: Mapping[str, Any] | None = None,
               evaluator: str = "", num_workers: int = 0, batches_per_worker: int = 1,
               max_restarts: int = 3, address: str = "", start_timeout_s: float = 600.0,
               stop: Callable[[], bool] = lambda: False):
    import ray  # pylint: disable=import-outside-toplevel
    self._ray = ray
    address = address or os.environ.get("RAY_ADDRESS", "")
    # The driver's XLA flags (proxy_tasks sets some when imported) plus one core per actor.
    env_vars = actor_environment(os.environ)
    self._started_ray = not ray.is_initialized()
    self._actors = []
    if stop():  # Ctrl-C while Ray was imported: nothing to start, nothing to stop
      raise StartInterrupted("stopped before Ray started")
    if self._started_ray:
      if address:
        # A user's task module found in the working directory travels to the cluster's
        # workers (Ray uploads it); an installed one must be installed on every node.
        modules = task_modules(task_name)
        ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                 runtime_env={"env_vars": env_vars, **({"py_modules": modules} if modules
                                                       else {})})
      else:
        # The actors import optsearch and a user's task module (``package.module:factory``)
        # from where the driver does: its root and the working directory.
        root = str(pathlib.Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.getcwd(), os.environ.get("PYTHONPATH", ""))
                               if p)
        ray.init(num_cpus=num_workers or os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, logging_level="ERROR",
                 runtime_env={"env_vars": {**env_vars, "PYTHONPATH": path}})
    if stop():
      self.close()
      raise StartInterrupted("stopped while Ray started")
    count = num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # No retries by Ray: a failed batch comes back to the driver, which sends it to whichever
    # actor is free instead of waiting for this one to restart (maybe never, its node gone).
    self._actor_class = ray.remote(num_cpus=1, max_restarts=max_restarts,
                                   max_task_retries=0)(EvaluatorActor)
    self._actor_args = (task_name, dict(overrides or {}), evaluator)
    self._actors = [self._new_actor(i) for i in range(count)]
    # Fail clearly, not hang, when the actors cannot be placed (e.g. too few free CPUs).
    probes, ready = [a.__ray_ready__.remote() for a in self._actors], []
    deadline = time.monotonic() + start_timeout_s
    while len(ready) < count and time.monotonic() < deadline and not stop():
      ready, _ = ray.wait(probes, num_returns=count,
                          timeout=max(0.0, min(1.0, deadline - time.monotonic())))
    if len(ready) < count and stop():
      self.close()
      raise StartInterrupted(f"stopped while {count - len(ready)} of {count} workers started")
    if len(ready) < count:
      self.close()
      raise RuntimeError(f"only {len(ready)} of {count} workers started within "
                         f"{start_timeout_s:.0f} s (each needs 1 free CPU); lower "
                         "workers.num_workers")
    self._max_restarts = max_restarts
    self._replaced = [0] * count   # new actors made for this worker
    self._alive = [True] * count   # False: dropped for good
    self._parked = [False] * count  # True: died, waiting for its probe to say it is back
    self._probes: dict[Any, int] = {}  # readiness probe of a parked actor -> its worker
    self._load = [0] * count
    self._batches_per_worker = batches_per_worker
    self._in_flight: dict[Any, tuple[int, list[Child]]] = {}

  def _new_actor(self, index: int):
    return self._actor_class.remote(*self._actor_args, f"worker-{index}")

  @property
  def workers(self) -> int:
    """Workers ready for work (not parked, not dropped)."""
    return len(self._ready_workers())

  def _ready_workers(self) -> list[int]:
    return [i for i, alive in enumerate(self._alive) if alive and not self._parked[i]]

  @property
  def slots(self) -> int:
    return self.workers * self._batches_per_worker

  @property
  def in_flight(self) -> int:
    return len(self._in_flight)

  def submit(self, batch: list[Child], task: Task | None = None) -> None:
    """Sends ``batch`` to the least busy ready actor; if every actor is parked, first waits
    (without a limit) for one to come back."""
    while not self._ready_workers():
      self._check_alive()
      self._settle_probes(self._ray.wait(list(self._probes), num_returns=1, timeout=1.0)[0])
    index = min(self._ready_workers(), key=lambda i: (self._load[i], i))
    reference = self._actors[index].evaluate.remote(_payload(batch), task)
    self._in_flight[reference] = (index, batch)
    self._load[index] += 1

  def wait(self, timeout: float | None = None) -> list[Completed]:
    """The batches done (or failed) within ``timeout`` s; meanwhile parked actors whose
    probes answer come back into service."""
    ray = self._ray
    self._check_alive()
    waiting = list(self._in_flight) + list(self._probes)
    if not waiting:
      return []
    ready, _ = ray.wait(waiting, num_returns=1, timeout=timeout)
    if ready:  # take everything else that is done too
      ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
    self._settle_probes([r for r in ready if r in self._probes])
    out = []
    for reference in ready:
      if reference not in self._in_flight:
        continue
      index, batch = self._in_flight.pop(reference)
      self._load[index] -= 1
      try:
        worker, results = ray.get(reference)
        out.append(Completed(batch, results, worker))
      except self._worker_faults() as e:
        self._park(index)
        out.append(Completed(batch, None, f"worker-{index}", str(e).splitlines()[0]))
    return out

  # ---- faults ---------------------------------------------------------------------------
  def _worker_faults(self) -> tuple[type[BaseException], ...]:
    """Errors that mean the process scoring a batch is gone (not that the batch is bad)."""
    exceptions = self._ray.exceptions
    return (exceptions.RayActorError, exceptions.WorkerCrashedError,
            exceptions.OutOfMemoryError, exceptions.NodeDiedError)

  def _park(self, index: int) -> None:
    """No more work for actor ``index`` until a probe says it is back (Ray restarts it)."""
    if self._parked[index] or not self._alive[index]:
      return
    self._parked[index] = True
    self._probe(index)

  def _probe(self, index: int) -> None:
    # A probe that Ray retries (max_task_retries=-1) answers once the actor is running again,
    # and fails only when the actor is dead for good.
    probe = self._actors[index].__ray_ready__.options(max_task_retries=-1).remote()
    self._probes[probe] = index

  def _settle_probes(self, answered: list[Any]) -> None:
    for probe in answered:
      index = self._probes.pop(probe)
      try:
        self._ray.get(probe)
      except self._ray.exceptions.ActorDiedError as e:  # dead for good
        self._replace(index, e)
      except self._worker_faults():  # not back yet
        self._probe(index)
      else:
        self._parked[index] = False

  def _replace(self, index: int, death) -> None:
    """A new actor for worker ``index`` (still parked until it is ready), or the worker is
    dropped: its restarts and replacements are spent, or its constructor fails."""
    if getattr(death, "actor_init_failed", False) or self._replaced[index] >= self._max_restarts:
      self._alive[index] = False
      return
    try:
      self._ray.kill(self._actors[index])
    except Exception:  # pylint: disable=broad-except
      pass  # already gone
    self._replaced[index] += 1
    self._actors[index] = self._new_actor(index)
    self._probe(index)

  def _check_alive(self) -> None:
    if not any(self._alive):
      raise RuntimeError("every worker has died for good (workers.max_restarts restarts and "
                         "as many replacements each, or a constructor that fails)")

  def close_actors(self) -> None:
    for actor in self._actors:
      try:
        self._ray.kill(actor)
      except Exception:  # pylint: disable=broad-except
        pass  # already gone

  def close(self) -> None:
    ray = self._ray
    self.close_actors()
    if self._started_ray and ray.is_initialized():
      ray.shutdown()
