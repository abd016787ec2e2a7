# Program 610309 (rank 14 by proxy fitness); it did NOT survive the funnel of /work/runs/rediscovery_evolution_long: it went furthest (to the 10x stage) of the candidates; log-ratio to tuned AdamW there -0.0301.
# At its point tuned on the 10x task: lr=0.07499, schedule=warmup_cosine.
def train(w, g, m, v, lr):
  v33 = minimum(-0.6546312595223643, v)
  v = clip(v33, lr)
  v23 = w - g
  v37 = tanh(v)
  v27 = exp(w)
  v29 = tanh(4.903168735881436)
  m = lr - v
  v35 = tan(v23)
  v22 = expm1(m)
  v22 = expm1(v22)
  v30 = log10(v23)
  v25 = sinh(v22)
  v26 = arctan(1.0329136137846677)
  v32 = arcsinh(m)
  v38 = expm1(v25)
  lr = v32 / w
  g = minimum(v29, g)
  v28 = expm1(v38)
  v11 = dot(v38, v28)
  v23 = -0.7444203307750571 + v28
  lr = cube(v11)
  v13 = tanh(lr)
  v36 = sign(v28)
  v31 = power(v23, v35)
  v34 = abs(0.28138466927218747)
  update = cbrt(g)
  v24 = log(g)
  v11 = v13 * update
  v10 = arctan(v11)
  update = 0.4032179638569084 * v10
  update = update * 0.07499
  return update, m, v
