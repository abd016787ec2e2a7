"""(Ran at commit 319ce43, before meta_validation.tuning became proxy_tasks.tuning: it records that experiment and no longer runs as is; docs/results/replay_earlier_winners.py re-checks the result with the new tuning.)

Ablation at lm_sklearn_text_100x: is the funnel survivors' win Adam with small betas?

  python docs/results/lion_search_3seeds_ablation.py   # ~10 minutes on 2 cores

Rank 3 of the funnel without its `log1p` on the momentum, and the same with AdamW's betas;
each gets the 15-multiplier tuning of the funnel (seed 0), then seeds 0-2. Output in
lion_search_3seeds_ablation.json.
"""
import json
import dsl
from meta_validation import tasks, tuning  # tasks registers the 10x/100x tasks
adam_text = """def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, {b1})
  v = interp(g2, v, {b2})
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  lr = lr * 0.005970295147695783
  update = update * lr
  return update, m, v
"""
programs = {
    "adam_betas_0.787_0.765_no_wd": dsl.parse(adam_text.format(b1=0.7870120738596017, b2=0.7645898568868031)),
    "adam_betas_0.9_0.999_no_wd": dsl.parse(adam_text.format(b1=0.9, b2=0.999)),
}
task = "lm_sklearn_text_100x"
tuned = tuning.tune(task, {name: tuning.grid(name, p) for name, p in programs.items()}, 0)
best = [tuned[name].best.program for name in programs]
metrics = tuning.score_per_seed(task, best, (0, 1, 2))
out = {name: {"lr_multiplier": tuned[name].best.hyperparameters["lr_multiplier"],
              "metrics": row.tolist(), "mean": float(row.mean()), "std": float(row.std())}
       for name, row in zip(programs, metrics)}
print(json.dumps(out, indent=1))
