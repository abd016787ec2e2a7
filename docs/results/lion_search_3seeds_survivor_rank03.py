# Funnel survivor: rank 3 of run '/work/runs_long/lion_search_3seeds' (program 171163, proxy fitness 0.810021); beat tuned AdamW on held-out seeds of mlp_digits, lm_sklearn_text_10x and lm_sklearn_text_100x.
# The last statement is the learning-rate multiplier tuned on lm_sklearn_text_100x (0.1).
def train(w, g, m, v, lr):
  v12 = global_norm(-1.675760299124821)
  v15 = 0.7999827328613156 / v
  v22 = exp(1.0424389829573881)
  v22 = arctan(v12)
  w = abs(1.4943370234523299)
  g2 = square(g)
  m = interp(g, m, 0.7870120738596017)
  v23 = arctan(g)
  v21 = reciprocal(0.3315048260416959)
  v = interp(g2, v, 0.7645898568868031)
  v18 = sign(v12)
  v24 = clip(-0.9510802318939907, -1.3658178029219015)
  v20 = tanh(g2)
  v14 = maximum(w, v)
  v15 = cosh(m)
  sqrt_v = sqrt(v)
  v16 = get_eps()
  v24 = minimum(v, v22)
  v26 = log10(v20)
  v15 = get_pi()
  v25 = negative(v18)
  update = m / sqrt_v
  v19 = log(v18)
  lr = lr * 0.05970295147695783
  update = update * lr
  m = log1p(m)
  sqrt_v = arccosh(-0.48314469345678895)
  update = update * 0.1
  return update, m, v
