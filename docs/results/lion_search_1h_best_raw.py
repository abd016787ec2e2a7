# Rank 1 of run 'lion_search_1h': program 1346557, fitness 1.90276, key b8ccf500ae874164.
def train(w, g, m, v, lr):
  v = tan(v)
  g = g * 2.4304662724531605
  v21 = arctanh(g)
  v30 = norm(v21)
  g2 = square(g)
  m = interp(v21, m, 0.9)
  v = interp(g2, v, 0.9535995466485415)
  v22 = arcsin(v)
  sqrt_v = sqrt(v22)
  lr = cosh(1.4855543691603028)
  m = minimum(v30, m)
  v24 = sinh(m)
  update = v24 / sqrt_v
  update = sinh(update)
  lr = lr * 0.018219241207855123
  update = update * lr
  return update, m, v
