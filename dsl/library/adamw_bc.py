# AdamW with bias correction (Loshchilov & Hutter, 2019; optax.adamw, torch.optim.AdamW):
# m / (1 - beta1^t) and v / (1 - beta2^t), kept as two more states that average 1 with the
# same betas (c = interp(1, c, beta) is 1 - beta^t after t steps). The paper's AdamW
# (adamw.py, its Program 3) has no bias correction, which inflates its step by up to
# 1 / sqrt(1 - beta2^t) early in a run (docs/results/lion_lr_investigation.md).
def train(w, g, m, v, c1, c2, lr):
  g2 = square(g)
  m = interp(g, m, 0.9)
  v = interp(g2, v, 0.999)
  c1 = interp(1.0, c1, 0.9)
  c2 = interp(1.0, c2, 0.999)
  m_hat = m / c1
  v_hat = v / c2
  sqrt_v = sqrt(v_hat)
  update = m_hat / sqrt_v
  wd = w * 0.01
  update = update + wd
  lr = lr * 0.001
  update = update * lr
  return update, m, v, c1, c2
