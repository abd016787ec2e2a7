"""The definition of a proxy task: one frozen dataclass, so a family scales by overriding fields.

A proxy task trains a small model for a fixed budget with the optimizer program under test and
scores the program by the model's validation metric. ``TaskConfig`` holds everything that
defines the task (model, sizes, data, batch, steps, schedule, seeds) and the evaluator's stop
rules (divergence, early stopping of hopeless runs, time budget), so that e.g.::

  dataclasses.replace(proxy_tasks.get_config("mlp_digits"), hidden=(640, 320), steps=3000)

is the same family ten times larger (``registry.register_scaled`` does this in one line).
"""

from __future__ import annotations

import dataclasses

import numpy as np

FITNESS_REFERENCES = ("tuned_adamw", "adamw", "none")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
  """Everything that defines a proxy task and how its runs are cut short.

  Attributes:
    name: registry name.
    model: ``mlp``, ``vit``, ``transformer_lm`` or a toy objective (``quadratic``,
      ``rosenbrock``, ``linear_regression``).
    dataset: ``digits`` (scikit-learn's 8x8 digits), ``sklearn_text`` (scikit-learn's dataset
      descriptions, bytes), or ``none`` (toys generate their own data from the seed).
    hidden: MLP hidden widths (``(32,)`` is the 64-32-10 MLP).
    activation: MLP nonlinearity, ``tanh`` or ``relu``.
    width: model width of the ViT / Transformer LM; also the dimension of the toy problems.
    depth: transformer blocks.
    heads: attention heads.
    patch: ViT patch side (pixels).
    context: Transformer LM context length (bytes).
    vocab: Transformer LM vocabulary (token embedding rows and output classes). ``256``: every
      byte value is a token. Smaller: the corpus's distinct bytes, numbered in increasing
      order, are the tokens (``datasets.text_alphabet``; at least their count, 93 for
      scikit-learn 1.9's corpus): the same text and metric (nats per byte) with a smaller
      output layer, which is most of a narrow LM's FLOPs (2.7x smaller at 96).
    batch_size: examples (or sequences) per step.
    steps: optimizer steps (the fixed budget).
    warmup_fraction: fraction of ``steps`` of linear warmup of the schedule value ``lr``.
    final_lr_fraction: value the cosine decay ends at, as a fraction of the peak (1).
    seeds: the seeds a program is scored on; the metric is their mean.
    divergence_factor: a run whose training loss exceeds this many times its first loss ends
      as ``diverged``.
    early_stop_fraction: at this fraction of the steps a run whose smoothed training loss is
      above ``early_stop_ratio`` times its first loss ends as ``early_stopped``; ``0`` turns
      early stopping off.
    early_stop_ratio: see ``early_stop_fraction``.
    time_budget_s: wall-clock seconds per program (per seed); checked between chunks.
    chunks: the training loop runs in this many compiled chunks, between which the time budget
      is checked (more chunks: finer timeout, a little more dispatch).
    noise: gradient-noise scale of the toy objectives.
    fitness_reference: what fitness is normalised against (``proxy_tasks.evaluator``):
      ``tuned_adamw`` (AdamW tuned on this task by ``proxy_tasks.tuning``), ``adamw`` (the
      library AdamW as the paper writes it: lr 1e-3, weight decay 0.01) or ``none`` (fitness
      is minus the metric).
    tuning_budget: runs that tuning AdamW for the ``tuned_adamw`` reference may take (and
      the warm start of a search, ``tune_initial``, which is tuned the same way).
  """
  name: str = "mlp_digits"
  model: str = "mlp"
  dataset: str = "digits"
  hidden: tuple[int, ...] = (32,)
  activation: str = "tanh"
  width: int = 32
  depth: int = 1
  heads: int = 2
  patch: int = 2
  context: int = 32
  vocab: int = 256
  batch_size: int = 64
  steps: int = 300
  warmup_fraction: float = 0.05
  final_lr_fraction: float = 0.0
  seeds: tuple[int, ...] = (0,)
  divergence_factor: float = 100.0
  early_stop_fraction: float = 0.0
  early_stop_ratio: float = 1.0
  time_budget_s: float = 60.0
  chunks: int = 1
  noise: float = 0.1
  fitness_reference: str = "tuned_adamw"
  tuning_budget: int = 32

  def __post_init__(self):
    if isinstance(self.seeds, int):
      object.__setattr__(self, "seeds", (self.seeds,))
    object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
    object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
    if self.steps < 1:
      raise ValueError(f"task '{self.name}': steps must be >= 1, got {self.steps}")
    if not self.seeds:
      raise ValueError(f"task '{self.name}': seeds must name at least one seed")
    if not 0.0 <= self.warmup_fraction < 1.0:
      raise ValueError(f"task '{self.name}': warmup_fraction must be in [0, 1), got "
                       f"{self.warmup_fraction}")
    if self.fitness_reference not in FITNESS_REFERENCES:
      raise ValueError(f"task '{self.name}': fitness_reference must be one of "
                       f"{', '.join(FITNESS_REFERENCES)}, got {self.fitness_reference!r}")
    if self.tuning_budget < 1:
      raise ValueError(f"task '{self.name}': tuning_budget must be >= 1, got "
                       f"{self.tuning_budget}")
    if not 2 <= self.vocab <= 256:
      raise ValueError(f"task '{self.name}': vocab must be in [2, 256], got {self.vocab}")
    if self.chunks < 1:
      raise ValueError(f"task '{self.name}': chunks must be >= 1, got {self.chunks}")


def schedule(config: TaskConfig) -> np.ndarray:
  """The schedule value ``lr`` of each step, float32 ``[steps]``: linear warmup to 1, then cosine.

  ``lr_t = (t + 1) / W`` for ``t < W = round(warmup_fraction * steps)``; then
  ``lr_t = f + (1 - f) * (1 + cos(pi * (t - W) / (steps - W))) / 2`` with ``f`` the
  ``final_lr_fraction``. The peak learning rate is a constant inside each program.
  """
  steps = config.steps
  warmup = int(round(config.warmup_fraction * steps))
  t = np.arange(steps, dtype=np.float64)
  decay = steps - warmup
  cosine = 0.5 * (1.0 + np.cos(np.pi * (t - warmup) / max(decay, 1)))
  value = config.final_lr_fraction + (1.0 - config.final_lr_fraction) * cosine
  if warmup:
    value = np.where(t < warmup, (t + 1) / warmup, value)
  return value.astype(np.float32)
