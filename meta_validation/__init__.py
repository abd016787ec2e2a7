"""optsearch meta-validation: larger tasks, funnel selection, replay and the meta-overfitting
monitor (Chen et al., 2023, Section 2.3: meta-validation and funnel selection).

* ``meta_validation.tasks``: the ``<family>_10x`` / ``<family>_100x`` tasks (registered with
  ``proxy_tasks``, ``proxy_tasks.scaled``), their cost, ``family_of``/``scaled_name``.
* ``python -m meta_validation.replay PROGRAM.py``: a program against tuned AdamW and Lion.
* ``python -m meta_validation.funnel runs/<name>``: top-K of a search through 10x and 100x.
* ``meta_validation.monitor.Monitor``: the best program's meta-validation curve in a search.
"""
