"""A search's run folder and its event log, below every package that reads or writes one.

* ``runlog.folder.RunFolder``: the layout of a run folder (config, programs, events.jsonl and
  its gzipped segments, checkpoint, metrics.csv, plots) and its crash-safe readers and writers;
* ``runlog.event.Event``: one line of the event log.

The search (``search``) writes run folders; the funnel and the monitor (``meta_validation``)
read them. It imports only ``dsl``.
"""
