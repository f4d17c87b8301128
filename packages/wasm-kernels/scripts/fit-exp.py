"""Fits the exp polynomial of assembly/math.ts: e^r ≈ 1 + r + r²·(c2 + c3 r + … + c_deg r^(deg−2)) on
[−ln2/2, ln2/2], minimising the maximum RELATIVE error (Lawson's iteratively reweighted least squares on
Chebyshev nodes), then rounds the coefficients to f32 and reports the max relative error of the rounded
polynomial evaluated in float64 (the f32 evaluation adds its own rounding: see the README's accuracy table).

    python3 scripts/fit-exp.py      (numpy)
"""
import numpy as np
a = np.log(2)/2
x = np.cos(np.linspace(0, np.pi, 4001))*a  # chebyshev nodes
f = np.exp(x)
def fit(deg):
    # p(r) = 1 + r + r^2 * sum_{k=2..deg} c_k r^{k-2}; minimise max relative error via Lawson IRLS
    A = np.stack([x**k for k in range(2, deg+1)], 1)
    b = f - 1 - x
    w = np.ones_like(x)
    for it in range(300):
        W = np.sqrt(w)/f
        c, *_ = np.linalg.lstsq(A*W[:,None], b*W, rcond=None)
        err = np.abs((1 + x + A@c - f)/f)
        w = w*err; w /= w.sum()
    return c
for deg in (5, 6):
    c = fit(deg)
    c32 = c.astype(np.float32)
    xx = np.linspace(-a, a, 200001)
    p = 1 + xx + sum(float(c32[k-2])*xx**k for k in range(2, deg+1))
    print(deg, [float(v) for v in c32], [v.view(np.uint32).item().__format__('08x') for v in c32], 'max rel', np.max(np.abs(p/np.exp(xx)-1)))
