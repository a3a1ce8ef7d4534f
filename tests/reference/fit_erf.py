#!/usr/bin/env python3
"""The coefficients of erf_fast in src/core/fastmath.h.

erf(x) is fitted on 0 < x <= 4 as x * P(x^2) / Q(x^2), P of degree 6 and Q of
degree 4 with Q(0) = 1, by linearised least squares (P - erf(x)/x * Q = 0,
weighted by 1/Q^2 of the previous round) with Lawson's reweighting towards the
largest errors, so that the fit approaches the minimax one. Beyond 4, erf(x)
rounds to 1 in float (1 - erf(4) = 1.5e-8), so erf_fast clamps |x| to 4.

    /usr/bin/python3 tests/reference/fit_erf.py

prints the coefficients and the largest error of the fit, in double, against
Python's math.erf: about 6e-8. Evaluated in float, the rounding of the
polynomials adds a few ulps of the result near 1, up to 4e-7 near x = 4
(tests/unit/test_fastmath.cpp holds erf_fast to that).
"""
import math

import numpy as np

R = 4.0
NP, NQ = 7, 5  # coefficients of P (u^0..u^6) and of Q (u^0..u^4, the first being 1)

x = np.linspace(0.0, R, 20001)[1:]
f = np.array([math.erf(v) / v for v in x])
u = x * x

w = np.ones_like(u)       # 1 / Q^2 of the previous round
lawson = np.ones_like(u)  # grows where the error is largest
for _ in range(40):
    cols = [u**k for k in range(NP)] + [-f * u**k for k in range(1, NQ)]
    A = np.vstack(cols).T
    s = np.sqrt(w * lawson)
    sol, *_ = np.linalg.lstsq(A * s[:, None], f * s, rcond=None)
    p = sol[:NP]
    q = np.concatenate([[1.0], sol[NP:]])
    P = sum(p[k] * u**k for k in range(NP))
    Q = sum(q[k] * u**k for k in range(NQ))
    err = x * P / Q - x * f
    w = 1.0 / Q**2
    lawson *= np.abs(err) / np.abs(err).max() + 1e-3
    lawson /= lawson.mean()

print("P:", ", ".join(f"{c:.17g}" for c in p))
print("Q:", ", ".join(f"{c:.17g}" for c in q))
print(f"largest error of erf, in double: {np.abs(err).max():.3g}")
