"""The larger members of the built-in families: ``<family>_10x`` and ``<family>_100x``.

Registered when ``proxy_tasks`` is imported (``registry``), so every task name resolves in
one place. The meta-validation tasks (``meta_validation.tasks``: why these sizes;
docs/results.md, "Measured costs": what they cost) and the funnel's default stages are
these; a user's own family names its larger tasks itself (docs/own_task.md).
"""

from __future__ import annotations

from proxy_tasks import registry

# family proxy -> {scale: overrides}. Config, not code: add a row to add a task.
SCALED: dict[str, dict[str, dict]] = {
    "mlp_digits": {
        "10x": dict(hidden=(128,), batch_size=128, steps=600),
        "100x": dict(hidden=(256, 256), batch_size=128, steps=600),
    },
    "vit_digits": {
        "10x": dict(width=64, depth=2, steps=1300),
        "100x": dict(width=96, depth=4, heads=4, steps=3000),
    },
    "lm_sklearn_text": {
        "10x": dict(width=48, steps=450),
        "100x": dict(width=64, heads=4, batch_size=32, steps=600),
    },
}
SCALES = ("10x", "100x")


def register() -> None:
  for family, scales in SCALED.items():
    for scale, overrides in scales.items():
      # Meta-validation scores whole runs: no early stopping, a generous time budget.
      registry.register_scaled(f"{family}_{scale}", family, time_budget_s=3600.0,
                               early_stop_fraction=0.0, **overrides)


register()
