"""A stand-in for the parts of Ray that ``search.workers.RayPool`` uses, for fast unit tests of
its fault handling: actors run in-process, and the test decides when each one crashes, is
restarted by "Ray", or dies for good.

Install it with ``monkeypatch.setitem(sys.modules, "ray", FakeRay())`` before making the pool.
An actor method call returns a ``Ref`` that is done at once, unless the actor is ``held``
(its calls stay pending until ``release`` or a crash). The semantics follow Ray's with
``max_task_retries=0``: a call to a restarting actor fails at once (``ActorUnavailableError``);
a call with ``max_task_retries=-1`` waits for the restart; every call to an actor that is dead
for good fails with ``ActorDiedError``.
"""

from __future__ import annotations

import types
from typing import Any, Callable


class RayActorError(Exception):
  def __init__(self, message: str = "", actor_init_failed: bool = False):
    super().__init__(message)
    self.actor_init_failed = actor_init_failed


class ActorDiedError(RayActorError):
  pass


class ActorUnavailableError(RayActorError):
  pass


class WorkerCrashedError(Exception):
  pass


class OutOfMemoryError(Exception):
  pass


class NodeDiedError(Exception):
  pass


class Ref:
  """An object ref: pending, or done with a value or an error."""

  def __init__(self, actor: "FakeActor", retries: bool = False):
    self.actor = actor
    self.retries = retries  # a call Ray retries until the actor is back (max_task_retries=-1)
    self.done = False
    self.value: Any = None
    self.error: BaseException | None = None

  def resolve(self, value: Any = None, error: BaseException | None = None) -> None:
    self.done, self.value, self.error = True, value, error


class _Method:
  def __init__(self, actor: "FakeActor", name: str, retries: bool = False):
    self.actor, self.name, self.retries = actor, name, retries

  def options(self, max_task_retries: int = 0, **_) -> "_Method":
    return _Method(self.actor, self.name, retries=max_task_retries != 0)

  def remote(self, *args) -> Ref:
    return self.actor.call(self.name, args, self.retries)


class FakeActor:
  """One actor: ``up``, ``restarting`` (its process died, Ray restarts it) or ``dead``."""

  def __init__(self, instance_factory: Callable[[], Any], index: int):
    self.index = index  # creation order, over all actors of the FakeRay
    self.instance = instance_factory()
    self.state = "up"
    self.held = False
    self._init_failed = False
    self.calls: list[tuple] = []  # the evaluate calls it received (while up)
    self.pending: list[tuple[Ref, str, tuple]] = []
    self.evaluate = _Method(self, "evaluate")
    self.__ray_ready__ = _Method(self, "__ray_ready__")

  def call(self, name: str, args: tuple, retries: bool) -> Ref:
    ref = Ref(self, retries)
    if self.state == "dead":
      ref.resolve(error=ActorDiedError("The actor died unexpectedly before finishing this "
                                       "task.", self._init_failed))
    elif self.state == "restarting" and not retries:
      ref.resolve(error=ActorUnavailableError("The actor is temporarily unavailable: "
                                              "IOError: The actor is restarting."))
    elif self.state == "restarting" or (self.held and name == "evaluate"):
      self.pending.append((ref, name, args))
    else:
      self._run(ref, name, args)
    return ref

  def _run(self, ref: Ref, name: str, args: tuple) -> None:
    if name == "__ray_ready__":
      ref.resolve(True)
      return
    self.calls.append(args)
    ref.resolve(getattr(self.instance, name)(*args))

  # ---- what the test does to it ---------------------------------------------------------
  def release(self) -> None:
    """Finishes every held call (the actor is up)."""
    self.held = False
    pending, self.pending = self.pending, []
    for ref, name, args in pending:
      self._run(ref, name, args)

  def crash(self) -> None:
    """Its process dies; Ray restarts it (``restart``): calls in progress fail."""
    self.state = "restarting"
    self.held = False
    pending, self.pending = self.pending, []
    for ref, name, args in pending:
      if ref.retries:
        self.pending.append((ref, name, args))
      else:
        ref.resolve(error=ActorUnavailableError("The actor is temporarily unavailable: "
                                                "RpcError: Socket closed"))

  def restart(self) -> None:
    """Ray has restarted it: calls that waited for that run now."""
    self.state = "up"
    self.release()

  def die(self, init_failed: bool = False) -> None:
    """Dead for good (restarts spent, or its constructor fails): every call fails."""
    self.state = "dead"
    self._init_failed = init_failed
    pending, self.pending = self.pending, []
    for ref, _, _ in pending:
      ref.resolve(error=ActorDiedError("The actor died unexpectedly before finishing this "
                                       "task.", init_failed))


class FakeRay:
  """The module: ``remote``, ``wait``, ``get``, ``kill``, ``exceptions``; ``actors`` lists
  every actor made, in order. ``on_wait(fake_ray)`` runs at each ``wait``, before it looks at
  the refs: the test's clock, to crash or restart actors while the code under test waits."""

  exceptions = types.SimpleNamespace(
      RayActorError=RayActorError, ActorDiedError=ActorDiedError,
      ActorUnavailableError=ActorUnavailableError, WorkerCrashedError=WorkerCrashedError,
      OutOfMemoryError=OutOfMemoryError, NodeDiedError=NodeDiedError)

  def __init__(self):
    self.actors: list[FakeActor] = []
    self.on_wait: Callable[["FakeRay"], None] = lambda ray: None
    self.waits = 0

  def is_initialized(self) -> bool:
    return True  # a cluster someone else started: the pool must not shut it down

  def remote(self, **options):
    del options

    def decorate(cls):
      ray = self

      class ActorClass:
        @staticmethod
        def remote(*args):
          actor = FakeActor(lambda: cls(*args), len(ray.actors))
          ray.actors.append(actor)
          return actor

      return ActorClass

    return decorate

  def wait(self, refs: list[Ref], num_returns: int = 1, timeout: float | None = None):
    del timeout
    self.waits += 1
    self.on_wait(self)
    ready = [r for r in refs if r.done][:max(num_returns, 1)]
    return ready, [r for r in refs if r not in ready]

  def get(self, ref: Ref):
    assert ref.done, "ray.get of a ref that is not done would block"
    if ref.error is not None:
      raise ref.error
    return ref.value

  def kill(self, actor: FakeActor) -> None:
    actor.die()
