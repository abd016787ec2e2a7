# Program 610309 (rank 14 by proxy fitness); it did NOT survive the funnel of /work/runs/rediscovery_evolution_long: it went furthest (to the 10x stage) of the candidates; log-ratio to tuned AdamW there -0.0301.
# At its point tuned on the 10x task: lr=0.07499, schedule=warmup_cosine.
# Simplified by search.winners (prune, exact rewrites, ablation on lm_sklearn_text_10x, tolerance 0.05).
def train(w, g, v, lr):
  difference_lr_v = lr - v
  dot_expm1_sinh_expm1_expm1_difference_lr_v = dot(difference_lr_v, difference_lr_v)
  tanh_lr = tanh(dot_expm1_sinh_expm1_expm1_difference_lr_v)
  update = cbrt(g)
  product_tanh_lr = tanh_lr * 0.03023731510962956
  update = update * product_tanh_lr
  return update, v
