/**
 * Accurate f32 math in WGSL. WGSL's built-in transcendental functions have loose accuracy rules
 * (exp: 3 + 2·|x| ULP; log: 3 ULP, or only 2⁻²¹ *absolute* on [0.5, 2]; tanh inherited from
 * sinh/cosh, i.e. no relative accuracy near 0; pow inherited from exp2(y·log2(x))) and drivers
 * implement them in different ways (lavapipe's are fast approximations). The kernels therefore
 * use these functions, written with the usual range reductions and polynomials, which are accurate
 * to a few ULP everywhere and behave the same on every adapter:
 *
 * - `exp_acc`: Cody–Waite reduction x = n·ln2 + r (ln2 split so n·ln2_hi is exact), e^r by a degree-7
 *   Taylor polynomial on |r| ≤ ln2/2, scaled by 2^n in two exact power-of-two steps built from the
 *   exponent bits. Written so the compiler cannot fold the two halves of ln2 back together (see the
 *   comment in the code: Mesa did, costing up to ~70 ULP at |x| ≈ 80). ≤ 1.4 ULP measured.
 * - `log_acc`: x = 2^e·m with m in [√½, √2); log m = 2·atanh(s), s = (m−1)/(m+1), odd series.
 *   `log1p_acc` uses the same series on s = y/(2+y) near 0, so log1p(tiny) keeps relative accuracy.
 * - `expm1_acc`: Taylor polynomial for |y| < ln2/2, else exp − 1 (no cancellation there).
 * - `tanh_acc`: sign(x)·(−t)/(2+t), t = expm1(−2|x|): relative accuracy near 0, exactly ±1 far out.
 * - `sigmoid_acc`: 1/(1+e^−x) for x ≥ 0 and e^x/(1+e^x) for x < 0: never overflows.
 * - `erf_acc`, `erfc_acc`: erf by its Maclaurin series for |x| < 1 (degree 9 in x²); erfc(x) for
 *   x ≥ 0.5 as e^(−x²)·g(x), g = erfc·e^(x²) fitted piecewise (scripts/fit-erfc.mjs: Chebyshev
 *   interpolation of the continued fraction, ≤ 2.2 ULP in f32), with x² split so e^(−x²) keeps
 *   relative accuracy; erfc(x) = 2 − erfc(−x) for x < −0.5. So erfc keeps relative accuracy into the
 *   far tail (down to underflow near x ≈ 10), and gelu's negative tail (which uses erfc) too.
 *
 * Drivers compile WGSL with fast-math-style algebra (Mesa: NIR's inexact optimizations), so:
 * NaN checks use the bit pattern (`is_nan`), never `x != x`; special values come from `select`,
 * not from arithmetic such as x·0 (folded to 0); and compensated steps avoid algebraic shapes the
 * optimizer can factor (a·b + a·c).
 */

const LIB: Record<string, { deps: string[]; code: string }> = {
  consts: {
    deps: [],
    code: `
// Private vars, not consts: WGSL rejects a constant expression that evaluates to ∞ or NaN.
var<private> F32_INF: u32 = 0x7f800000u;
var<private> F32_NAN: u32 = 0x7fc00000u;
fn f32_inf() -> f32 { return bitcast<f32>(F32_INF); }
fn f32_nan() -> f32 { return bitcast<f32>(F32_NAN); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }`,
  },
  exp: {
    deps: ['consts'],
    code: `
fn exp_acc(x0: f32) -> f32 {
  let x = clamp(x0, -104.0f, 89.0f);
  let n = round(x * 1.44269504f);
  let ni = i32(n);
  // n·ln2_hi and nlo·ln2_lo use two different SSA values for n: with the same one, Mesa's
  // algebraic optimizer factors n·hi + n·lo into n·(hi + lo) = n·f32(ln2), undoing Cody–Waite
  // (exp was off by up to ~70 ULP at |x| ≈ 80 that way).
  let nlo = f32(ni);
  let r = (x - n * 0.693145752f) - nlo * 1.42860677e-6f;
  let p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f
        + r * (0.00138888892f + r * 0.000198412701f))))));
  let h = ni / 2;
  return p * pow2i(h) * pow2i(ni - h);
}
// 2^e for e in [−126, 127], built from the exponent bits (exact, and no reliance on ldexp's rules).
fn pow2i(e: i32) -> f32 { return bitcast<f32>(u32(e + 127) << 23u); }`,
  },
  expm1: {
    deps: ['exp'],
    code: `
fn expm1_acc(y: f32) -> f32 {
  if (abs(y) < 0.346573591f) {
    return y * (1.0f + y * (0.5f + y * (0.166666672f + y * (0.0416666679f + y * (0.00833333377f
         + y * (0.00138888892f + y * (0.000198412701f + y * 0.0000248015873f)))))));
  }
  return exp_acc(y) - 1.0f;
}`,
  },
  log: {
    deps: ['consts'],
    code: `
fn atanh2_series(s: f32) -> f32 {
  // 2·atanh(s) = 2s + 2s·(s²/3 + s⁴/5 + …), |s| ≤ 0.1716
  let z = s * s;
  let q = z * (0.333333343f + z * (0.200000003f + z * (0.142857149f + z * (0.111111112f
        + z * (0.0909090936f + z * 0.0769230798f)))));
  return 2.0f * s + 2.0f * s * q;
}
fn log_pos(x: f32) -> f32 {
  let fe = frexp(x);
  var m = fe.fract;
  var e = fe.exp;
  if (m < 0.707106781f) { m = m * 2.0f; e = e - 1; }
  let f = m - 1.0f;
  let l = atanh2_series(f / (2.0f + f));
  // (Should a compiler factor e·ln2_hi + e·ln2_lo into e·f32(ln2), as Mesa does in exp_acc, the
  // cost here is only ½ ULP of e·ln2, since log x ≈ e·ln2 then.)
  let ef = f32(e);
  return ef * 0.693145752f + (ef * 1.42860677e-6f + l);
}
fn log_acc(x: f32) -> f32 {
  if (is_nan(x) || x < 0.0f) { return f32_nan(); }
  if (x == 0.0f) { return -f32_inf(); }
  if (is_inf(x)) { return x; }
  return log_pos(x);
}
fn log1p_acc(y: f32) -> f32 {
  if (abs(y) < 0.41421356f) { return atanh2_series(y / (2.0f + y)); }
  return log_acc(1.0f + y);
}`,
  },
  tanh: {
    deps: ['expm1'],
    code: `
fn tanh_acc(x: f32) -> f32 {
  let t = expm1_acc(-2.0f * abs(x));
  let r = -t / (2.0f + t);
  return select(r, -r, x < 0.0f);
}`,
  },
  sigmoid: {
    deps: ['exp'],
    code: `
fn sigmoid_acc(x: f32) -> f32 {
  let e = exp_acc(-abs(x));
  let s = 1.0f / (1.0f + e);
  return select(s, e * s, x < 0.0f);
}`,
  },
  erf: {
    deps: ['exp', 'consts'],
    code: `
fn erf_series(x: f32) -> f32 {
  let z = x * x;
  let p = 1.12837923f + z * (-0.376126379f + z * (0.112837918f + z * (-0.0268661715f + z * (0.00522397785f
        + z * (-0.000854832702f + z * (0.000120553326f + z * (-0.0000149256502f + z * (0.00000164621144f
        + z * -1.63658441e-7f))))))));
  return x * p;
}
// g(x) = erfc(x)·e^(x²) for x in [0.5, 10.5], piecewise polynomials in x − center.
fn erfc_scaled(x: f32) -> f32 {
  if (x < 1.5f) {
    let t = x - 1.0f;
    return 0.427583575f + t * (-0.273212016f + t * (0.15437156f + t * (-0.0792269707f + t * (0.0375722982f
      + t * (-0.0166618545f + t * (0.00697013782f + t * (-0.00276925531f + t * (0.00105032825f
      + t * (-0.000380692742f + t * (0.000133274574f + t * (-0.0000491229766f + t * 0.0000159767314f)))))))))));
  }
  if (x < 2.75f) {
    let t = x - 2.125f;
    return 0.242670357f + t * (-0.0970301181f + t * (0.0364813656f + t * (-0.0130048115f + t * (0.00442307023f
      + t * (-0.00144231366f + t * (0.000452717009f + t * (-0.000137234907f + t * (0.0000402803889f
      + t * (-0.0000114360346f + t * (0.00000316928481f + t * (-9.35475384e-7f + t * 2.45453549e-7f)))))))))));
  }
  if (x < 4.5f) {
    let t = x - 3.625f;
    return 0.150289729f + t * (-0.0387786776f + t * (0.00971701089f + t * (-0.00236967742f + t * (0.000563465117f
      + t * (-0.000130846369f + t * (0.0000297154729f + t * (-0.00000660859405f + t * (0.00000144055082f
      + t * (-3.06696705e-7f + t * (6.44427161e-8f + t * (-1.47933212e-8f + t * 2.99514458e-9f)))))))))));
  }
  if (x < 7.0f) {
    let t = x - 5.75f;
    return 0.0966987759f + t * (-0.0163432173f + t * (0.00272527384f + t * (-0.000448595703f + t * (0.0000729242893f
      + t * (-0.0000117123982f + t * (0.00000185929866f + t * (-2.9187413e-7f + t * (4.53131292e-8f
      + t * (-6.92164015e-9f + t * (1.05247999e-9f + t * (-1.78267026e-10f + t * 2.65171652e-11f)))))))))));
  }
  let t = x - 8.75f;
  return 0.0640657172f + t * (-0.00722914515f + t * (0.000810697267f + t * (-0.000090362606f + t * (0.0000100120615f
    + t * (-0.00000110289307f + t * (1.20783582e-7f + t * (-1.31030555e-8f + t * (1.41902246e-9f
    + t * (-1.69046499e-10f + t * 1.80882254e-11f)))))))));
}
// erfc(x) for x ≥ 0.5: e^(−x²)·g(x), with x = z + (x − z), z = x with its low 12 bits cleared, so
// z² is exact and e^(−x²) = e^(−z²)·e^(−(x−z)(x+z)).
fn erfc_pos(x: f32) -> f32 {
  if (x >= 10.5f) { return 0.0f; }
  let z = bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
  return exp_acc(-z * z) * exp_acc((z - x) * (z + x)) * erfc_scaled(x);
}
fn erfc_acc(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (abs(x) < 0.5f) { return 1.0f - erf_series(x); }
  if (x > 0.0f) { return erfc_pos(x); }
  return 2.0f - erfc_pos(-x);
}
// gelu's x·Φ(x) = ½x·erfc(−x/√2). In the negative tail the exponent −x²/2 is taken from x itself
// (split as for erfc_pos), not from the rounded z = −x/√2: that rounding would cost 2z² = x² ULP.
fn gelu_erf(x: f32) -> f32 {
  let z = x * -0.707106781f;
  if (z <= 0.5f || is_nan(x)) { return (0.5f * x) * erfc_acc(z); }
  // (−∞)·0 is NaN, as in the reference; a literal x·0.0 would be folded to 0 by Mesa.
  if (z >= 10.5f) { return select(-0.0f, f32_nan(), is_inf(x)); }
  let xh = bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
  let e = exp_acc(-0.5f * xh * xh) * exp_acc(-0.5f * (x - xh) * (x + xh));
  return (0.5f * x) * (e * erfc_scaled(z));
}
fn erf_acc(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (abs(x) < 1.0f) { return erf_series(x); }
  let r = 1.0f - erfc_pos(abs(x));
  return select(r, -r, x < 0.0f);
}`,
  },
  pow: {
    deps: ['exp', 'log'],
    code: `
fn pow_acc(a: f32, b: f32) -> f32 {
  if (b == 0.0f) { return 1.0f; }
  if (is_nan(a) || is_nan(b)) { return f32_nan(); }
  let ab = abs(a);
  let bInt = b == trunc(b);
  let bOdd = bInt && abs(b) < 16777216.0f && (i32(abs(b)) & 1) == 1;
  if (a < 0.0f && !bInt && !is_inf(a)) { return f32_nan(); }
  var r: f32;
  if (ab == 0.0f) {
    r = select(0.0f, f32_inf(), b < 0.0f);
  } else if (is_inf(ab)) {
    r = select(f32_inf(), 0.0f, b < 0.0f);
  } else if (is_inf(b)) {
    if (ab == 1.0f) { return f32_nan(); }  // as Math.pow: 1^±∞ and (−1)^±∞ are NaN
    r = select(0.0f, f32_inf(), (ab > 1.0f) == (b > 0.0f));
  } else {
    r = exp_acc(b * log_pos(ab));
  }
  let neg = (a < 0.0f || bitcast<u32>(a) == 0x80000000u) && bOdd;
  return select(r, -r, neg);
}`,
  },
};

/** The WGSL source of the named math functions and everything they depend on, each once. */
export function mathLib(names: readonly string[]): string {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (n: string) => {
    if (done.has(n)) return;
    const entry = LIB[n];
    if (!entry) throw new Error(`unknown WGSL math function group '${n}'`);
    done.add(n);
    for (const d of entry.deps) visit(d);
    out.push(entry.code);
  };
  for (const n of names) visit(n);
  return out.join('\n');
}
