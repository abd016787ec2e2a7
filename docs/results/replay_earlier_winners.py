"""The earlier winners against AdamW tuned fairly (betas and schedule too), at lm_sklearn_text_100x.

  python docs/results/replay_earlier_winners.py [--budget 20] [--seeds 3] [--out DIR]

Earlier searches' winners beat AdamW tuned over learning rate x weight decay only (the paper's
protocol): the 3-seed search's funnel survivor (rank 31, simplified: Adam with betas
0.787/0.923, no weight decay) and the hour-long search's simplified best (Adam with beta2
0.954 that ignores the schedule). Here every optimizer is tuned by ``proxy_tasks.tuning`` with
the same budget on seed 0, then scored on seeds 0..N-1:

* ``adamw``: learning rate, weight decay, beta1, beta2 and schedule (the new judge);
* ``adamw_lr_wd``: learning rate and weight decay only (the old protocol);
* ``adamw_no_schedule``: everything but the schedule (what the schedule axis adds);
* ``lion``: its full space;
* the two winners, each over every axis it has.

Writes ``replay_earlier_winners.json`` and ``.md`` next to this file (or in ``--out``).
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

import dsl
from dsl.files import atomic_write, json_safe
from meta_validation import scoring, tasks  # pylint: disable=unused-import  (registers 100x)
from proxy_tasks import tuning

HERE = pathlib.Path(__file__).resolve().parent
TASK = "lm_sklearn_text_100x"
WINNERS = {"3seed_rank31_simplified": HERE / "lion_search_3seeds_survivor_rank31_simplified.py",
           "1h_best_simplified": HERE / "lion_search_1h_best_simplified.py"}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--budget", type=int, default=20)
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--task", default=TASK)
  parser.add_argument("--out", type=pathlib.Path, default=HERE)
  args = parser.parse_args(argv)
  start = time.perf_counter()
  spaces = {"adamw": tuning.library_space("adamw"),
            "adamw_lr_wd": tuning.library_space("adamw", ["lr", "wd"]),
            "adamw_no_schedule": tuning.library_space("adamw", ["lr", "wd", "beta1", "beta2"]),
            "lion": tuning.library_space("lion")}
  spaces.update((name, tuning.space(dsl.parse_file(path), label=name))
                for name, path in WINNERS.items())
  evaluators = {}
  tuned = scoring.tune(args.task, spaces, 0, args.budget, evaluators=evaluators)
  print(tuning.report(tuned), file=sys.stderr)
  seeds = tuple(range(args.seeds))
  metrics = scoring.score_per_seed(args.task, [t.program for t in tuned.values()], seeds,
                                   evaluators=evaluators)
  adamw = float(np.mean(metrics[0]))
  rows = {}
  for row, (name, t) in zip(metrics, tuned.items()):
    mean = float(np.mean(row))
    rows[name] = {"mean": mean, "std": float(np.std(row)), "metrics": row.tolist(),
                  "vs_adamw": tuning.log_ratio(adamw, mean), **t.to_json()}
  record = {"task": args.task, "budget": args.budget, "seeds": list(seeds), "rows": rows,
            "seconds": round(time.perf_counter() - start, 1)}
  lines = [f"`{args.task}`, every optimizer tuned by `proxy_tasks.tuning` ({args.budget} runs "
           f"each, seed 0), then seeds 0..{args.seeds - 1}; nats per byte, lower is better; "
           "vs AdamW = log(tuned AdamW / metric) against the fully tuned `adamw` row.", "",
           "| optimizer | tuned point | runs | metric (mean ± std) | vs AdamW |",
           "|---|---|---|---|---|"]
  for name, r in rows.items():
    point = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in r["best"].items())
    flag = f" (at the limit of {', '.join(r['at_limit'])})" if r["at_limit"] else ""
    lines.append(f"| {name} | {point}{flag} | {r['runs']} | {r['mean']:.4f} ± {r['std']:.4f} "
                 f"| {r['vs_adamw']:+.4f} |")
  args.out.mkdir(parents=True, exist_ok=True)
  atomic_write(args.out / "replay_earlier_winners.json", json.dumps(json_safe(record), indent=1))
  atomic_write(args.out / "replay_earlier_winners.md", "\n".join(lines) + "\n")
  print("\n".join(lines))
  return 0


if __name__ == "__main__":
  sys.exit(main())
