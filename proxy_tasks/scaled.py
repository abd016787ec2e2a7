"""The larger members of the built-in families: ``<family>_10x`` and ``<family>_100x``, and
the larger-batch proxies (``LARGER_BATCH``).

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

# Larger-batch members, in the regime of the paper's proxies (Lion's gains over AdamW are
# reported to grow with the batch and to vanish below ~64), sized by measurement so that a
# search on them stays affordable on the 2-core machine (``benchmarks/task_throughput.py``;
# docs/results.md has the figures). Search proxies, so the proxy's stop rules are kept.
# ``mlp_digits_b256``: the proxy MLP at 4x the batch (51 epochs of the 1500 training images
# in 300 steps, against 13). ``lm_sklearn_text_b64``: 64 sequences per step, made affordable
# by a narrower (16), shallower (1 block), shorter-context (8 bytes), shorter (100 steps) LM
# over the corpus's 93-byte alphabet (``vocab=96``; the 256-way output layer was most of its
# FLOPs). It still learns: tuned AdamW 4.93 -> 2.75 nats/byte (context 16: 2.73 at twice
# the cost).
LARGER_BATCH: dict[str, tuple[str, dict]] = {
    "mlp_digits_b256": ("mlp_digits", dict(batch_size=256)),
    "lm_sklearn_text_b64": ("lm_sklearn_text", dict(width=16, depth=1, heads=2, context=8,
                                                    vocab=96, batch_size=64, steps=100)),
}


def register() -> None:
  for family, scales in SCALED.items():
    for scale, overrides in scales.items():
      # Meta-validation scores whole runs: no early stopping, a generous time budget.
      registry.register_scaled(f"{family}_{scale}", family, time_budget_s=3600.0,
                               early_stop_fraction=0.0, **overrides)
  for name, (family, overrides) in LARGER_BATCH.items():
    registry.register_scaled(name, family, **overrides)


register()
