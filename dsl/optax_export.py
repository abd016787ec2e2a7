"""Exports a program as an ``optax.GradientTransformation``.

``to_optax(program, learning_rate)`` wraps the reference semantics of ``dsl.compile`` so that a
discovered program drops into any optax training loop::

    opt = dsl.to_optax(dsl.library.load("lion"), optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=1.0, warmup_steps=1_000, decay_steps=100_000))
    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)

Sign convention. A program returns the quantity the caller *subtracts*, ``w <- w - update``,
as in the paper. optax *adds* updates (``optax.apply_updates(params, updates)`` is
``params + updates``), so the transformation returns ``-update``. Chaining works as usual:
``optax.chain(optax.clip_by_global_norm(1.0), dsl.to_optax(p))`` clips the gradient the program
sees.

Learning rate. ``learning_rate`` is the value bound to the program's last parameter ``lr``:
a constant or an optax schedule ``count -> value`` evaluated at the number of updates already
applied (0 at the first update). The peak learning rate and the weight decay are constants
inside the program (``lr = lr * 0.001``), so the schedule should peak at 1, as in the search.

State layout. ``ProgramState(count, states)``: ``count`` is the int32 number of updates applied
so far; ``states`` is a tuple with one pytree per state variable of the program, in the order of
the program's parameters (``program.states``; ``state.states[0]`` is ``m`` for
``def train(w, g, m, v, lr)``), each shaped and typed like ``params`` and zero at ``init``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from dsl.compiler import compile as compile_program
from dsl.compiler import init_states
from dsl.program import Program

# ``safe_increment`` is the newer name; optax before 0.2.5 only has the int32 one.
_increment = getattr(optax, "safe_increment", None) or optax.safe_int32_increment


class ProgramState(NamedTuple):
  """The optax state of an exported program (see the module docstring)."""
  count: jax.Array  # int32 scalar: updates applied so far
  states: tuple[Any, ...]  # one params-shaped pytree per program state, in program order


def reads_weights(program: Program) -> bool:
  """Whether ``program`` reads its weights parameter (then ``update`` needs ``params``)."""
  reads = {name for statement in program.statements for name in statement.reads}
  return program.weights in reads or program.weights in program.returns


def to_optax(program: Program,
             learning_rate: optax.ScalarOrSchedule = 1.0) -> optax.GradientTransformation:
  """``program`` as an optax gradient transformation.

  Args:
    program: a valid ``dsl.Program`` (checked here; raises ``ProgramError`` otherwise).
    learning_rate: the schedule value ``lr`` fed to the program, a float or an optax schedule
      ``count -> float`` (peaking at 1 by convention, the peak rate lives in the program).

  Returns:
    An ``optax.GradientTransformation`` whose ``update(grads, state, params)`` returns
    ``-update`` of the program (optax adds updates) and a ``ProgramState``. ``params`` is
    required when the program reads its weights (weight decay, for instance); otherwise the
    gradients fix the shapes and dtypes of the update.
  """
  if not isinstance(program, Program):
    raise TypeError(f"to_optax expects a dsl.Program (see dsl.parse), got "
                    f"{type(program).__name__}")
  step = compile_program(program)  # type-checks: an invalid program fails here, not mid-run
  needs_params = reads_weights(program)
  schedule = learning_rate if callable(learning_rate) else None

  def init_fn(params):
    return ProgramState(count=jnp.zeros([], jnp.int32), states=init_states(program, params))

  def update_fn(updates, state, params=None):
    if params is None:
      if needs_params:
        raise ValueError(
            f"this program reads its weights '{program.weights}': call "
            "update(grads, state, params) with the current parameters")
      params = updates  # only their shapes and dtypes are used
    lr = schedule(state.count) if schedule is not None else learning_rate
    update, states = step(params, updates, state.states, lr)
    negated = jax.tree.map(jnp.negative, update)
    return negated, ProgramState(count=_increment(state.count), states=states)

  return optax.GradientTransformation(init_fn, update_fn)
