# AddSign (Bello et al., 2017, "Neural Optimizer Search with Reinforcement Learning"):
# update = (1 + sign(g) * sign(m)) * g, m an exponential moving average of g (beta 0.9).
def train(w, g, m, lr):
  m = interp(g, m, 0.9)
  sign_g = sign(g)
  sign_m = sign(m)
  agree = sign_g * sign_m
  scale = agree + 1.0
  update = scale * g
  lr = lr * 0.01
  update = update * lr
  return update, m
