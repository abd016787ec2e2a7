# Rank 1 of run 'rediscovery_evolution_long': program 615825, fitness 0.3599, key 6fb69328e845645f.
def train(w, g, m, v, lr):
  lr = arcsin(lr)
  w = expm1(v)
  v33 = minimum(-0.6546312595223643, v)
  v = clip(v33, lr)
  v29 = tanh(3.443578195229755)
  m_1 = lr - w
  v22 = expm1(m_1)
  v22 = expm1(v22)
  v25 = sinh(v22)
  v38 = expm1(v25)
  g = minimum(v29, g)
  v28 = expm1(v38)
  v11 = dot(v28, v28)
  lr = cube(v11)
  v13 = tanh(lr)
  update = cbrt(g)
  v11 = v13 * update
  v10 = arctan(v11)
  update = 0.4032179638569084 * v10
  return update, m, v
