# PowerSign (Bello et al., 2017): update = e^(sign(g) * sign(m)) * g, m an exponential moving
# average of g (beta 0.9).
def train(w, g, m, lr):
  m = interp(g, m, 0.9)
  sign_g = sign(g)
  sign_m = sign(m)
  agree = sign_g * sign_m
  scale = exp(agree)
  update = scale * g
  lr = lr * 0.01
  update = update * lr
  return update, m
