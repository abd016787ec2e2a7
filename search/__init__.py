"""optsearch: the search (regularized evolution on Ray, with restarts and resumable runs).

Read in this order, following one program from config to ``runs/``:

* ``search.config``: the YAML config, validated into dataclasses (located one-line errors);
* ``search.evolution``: the population state and the pure steps (tournament, mutation via
  ``search.mutation``, absorb with age-based removal, restarts, JSON checkpoints);
* ``search.analysis``: the cache key, redundancy and pruning the search asks of ``dsl``;
* ``search.workers``: Ray actors (or the driver itself) that score batches of programs;
* ``runlog.folder`` (a package of its own, below ``search`` and ``meta_validation``):
  events.jsonl (and its gzipped segments), checkpoint, metrics.csv, programs/, progress.png;
* ``search.warm_start``: the initial program, tuned if configured, scored before evolution;
* ``search.monitor_routing``: the best program sent to the meta-overfitting monitor's task;
* ``search.driver``: the loop that ties them together, and resume;
* ``search.run``: ``python -m search.run CONFIG``;
* ``search.cost``: what a run costs (``cost.json``: CPU hours, throughput);
* ``search.compare``: arms of repeats against each other (the paper's Figure 2).
"""
