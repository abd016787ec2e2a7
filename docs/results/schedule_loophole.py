"""What closing the schedule loophole changes, on the search's proxy.

  python docs/results/schedule_loophole.py [--task mlp_digits] [--budget 32]

The hour-long search's simplified winner (``lion_search_1h_best_simplified.py``) never reads
``lr``: it escapes the warmup + cosine schedule the baselines were held to. Here AdamW is tuned
by ``proxy_tasks.tuning`` twice on the proxy with the search's 3 seeds, once without the
schedule axis (the old judge: warmup + cosine only) and once with it (warmup + cosine or
constant), and the winner's fitness (log of AdamW's metric over its own, as found and after the
same tuning) is computed against each. Writes ``schedule_loophole.json`` next to this file.
"""

import argparse
import json
import pathlib
import sys

import dsl
import proxy_tasks
from dsl.files import atomic_write, json_safe
from proxy_tasks import tuning

HERE = pathlib.Path(__file__).resolve().parent


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--task", default="mlp_digits")
  parser.add_argument("--budget", type=int, default=32)
  parser.add_argument("--out", type=pathlib.Path, default=HERE)
  args = parser.parse_args(argv)
  evaluator = proxy_tasks.Evaluator(proxy_tasks.get(args.task, seeds=(0, 1, 2)), normalize=False)
  winner = dsl.parse_file(HERE / "lion_search_1h_best_simplified.py")
  spaces = {"adamw_cosine_only": tuning.library_space("adamw", ["lr", "wd", "beta1", "beta2"]),
            "adamw": tuning.library_space("adamw"),
            "winner_tuned": tuning.space(winner, label="winner")}
  tuned = tuning.tune(spaces, evaluator.metrics, args.budget)
  print(tuning.report(tuned), file=sys.stderr)
  as_found, = evaluator.metrics([winner])
  record = {"task": args.task, "seeds": [0, 1, 2], "budget": args.budget,
            "tuned": {k: t.to_json() for k, t in tuned.items()}, "winner_as_found": as_found}
  lines = []
  for reference in ("adamw_cosine_only", "adamw"):
    ref = tuned[reference].best_metric
    for name, metric in (("as found", as_found), ("tuned", tuned["winner_tuned"].best_metric)):
      record[f"fitness_{name.replace(' ', '_')}_vs_{reference}"] = tuning.log_ratio(ref, metric)
      lines.append(f"winner {name:8s} vs {reference:18s} ({ref:.4f}): metric {metric:.4f}, "
                   f"fitness {tuning.log_ratio(ref, metric):+.4f}")
  print("\n".join(lines))
  atomic_write(args.out / "schedule_loophole.json", json.dumps(json_safe(record), indent=1))
  return 0


if __name__ == "__main__":
  sys.exit(main())
