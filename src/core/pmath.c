/* Portable elementary functions (see anomaly/pmath.h).
 *
 * Only +, -, *, /, sqrt, floor, frexp, ldexp, comparisons and integer
 * operations, all of which IEEE 754 specifies exactly, so the results are the
 * same bits on every CPU and compiler as long as nothing is contracted into
 * an FMA (-ffp-contract=off) and doubles are evaluated as doubles (SSE2 on
 * x86-64, any ARM64). Intermediate results are carried as double-doubles
 * (hi + lo, about 106 bits), so the one rounding that counts is the last
 * one: the error is about 0.5 ulp plus a few hundredths (tests/test_pmath.c
 * measures it).
 *
 * The constants and tables come from tools/gen_pmath_tables.py.
 *
 * NaN results are NaN; their sign and payload follow the CPU (x86-64 and
 * ARM64 make different default NaNs), so compare them as "is NaN". */
#include "anomaly/pmath.h"

#include <stdint.h>

/* Never fuse a * b + c into an FMA here, whatever the build flags say: the
 * double-double arithmetic below relies on each product being rounded. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* honoured unless -ffp-contract=fast */
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "pmath_tables.h"

/* ---- double-double arithmetic ------------------------------------------ */

typedef struct {
    double hi, lo;
} DD;

/* a + b = s + e exactly (any magnitudes). */
static inline DD two_sum(double a, double b) {
    double s = a + b, bb = s - a;
    DD r = {s, (a - (s - bb)) + (b - bb)};
    return r;
}

/* a + b = s + e exactly when |a| >= |b| (or a = 0). */
static inline DD fast_two_sum(double a, double b) {
    double s = a + b;
    DD r = {s, b - (s - a)};
    return r;
}

/* Splits a into hi + lo with 26 and 27 significant bits (|a| < 2^995). */
static inline void split(double a, double *hi, double *lo) {
    double t = 134217729.0 * a; /* 2^27 + 1 */
    *hi = t - (t - a);
    *lo = a - *hi;
}

/* a * b = p + e exactly (no over- or underflow). */
static inline DD two_prod(double a, double b) {
    double ah, al, bh, bl, p = a * b;
    split(a, &ah, &al);
    split(b, &bh, &bl);
    DD r = {p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
    return r;
}

static inline DD dd_add(DD a, DD b) {
    DD s = two_sum(a.hi, b.hi);
    DD t = two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = fast_two_sum(s.hi, s.lo);
    s.lo += t.lo;
    return fast_two_sum(s.hi, s.lo);
}

static inline DD dd_neg(DD a) {
    DD r = {-a.hi, -a.lo};
    return r;
}

static inline DD dd_mul(DD a, DD b) {
    DD p = two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return fast_two_sum(p.hi, p.lo);
}

static inline DD dd_div(DD a, DD b) {
    double q1 = a.hi / b.hi;
    DD p = two_prod(q1, b.hi);
    double r = (((a.hi - p.hi) - p.lo) + a.lo) - q1 * b.lo;
    return fast_two_sum(q1, r / b.hi);
}

static inline DD dd(double hi, double lo) {
    DD r = {hi, lo};
    return r;
}

/* ---- exp --------------------------------------------------------------- */

/* exp(xh + xl), |xl| <= ulp(xh), rounded once at the end. exp(x) =
 * 2^m * 2^(j/64) * exp(r) with x = (64 m + j) ln2/64 + r, |r| <= ln2/128:
 * r is computed to ~2^-100 with the three-part ln 2, exp(r) - 1 by its
 * Taylor series (the x^7 term is below 2^-65). */
static double exp_dd(double xh, double xl) {
    if (xh > 709.79) return 0x1p1023 * 2.0;     /* overflows to +inf */
    if (xh < -746.0) return 0x1p-1022 * 0x1p-60; /* underflows to +0 */
    int k = (int)floor(xh * INV_LN2_64 + 0.5);
    int j = ((k % 64) + 64) % 64, m = (k - j) / 64;
    double kd = k;
    /* xh - k LN2_1/64 is exact (Sterbenz; k LN2_1 has at most 53 bits). */
    double r1 = xh - kd * (LN2_1 / 64);
    DD r = two_sum(r1, -kd * (LN2_2 / 64));
    r.lo += xl - kd * (LN2_3 / 64);
    r = fast_two_sum(r.hi, r.lo);
    double h = r.hi;
    double p = h * h * (0.5 + h * (1.0 / 6 + h * (1.0 / 24 + h * (1.0 / 120 + h * (1.0 / 720)))));
    double th = EXP2_TAB[j][0], tl = EXP2_TAB[j][1];
    /* T (1 + q), q = r.hi + (r.lo + p) */
    double q = h + (r.lo + p);
    double small = th * h + (tl + th * (r.lo + p) + tl * q);
    double y = th + small;
    if (m < -1022 || (m == -1022 && y < 1)) {
        /* subnormal result: round once, at its last place (2^-1074), by
         * adding c whose ulp is 2^(-1074 - m), instead of rounding y to 53
         * bits first and again in ldexp */
        double c = ldexp(1.0, -1022 - m);
        DD s = two_sum(c, th);
        double z = s.hi + (s.lo + small);
        return ldexp(z - c, m); /* z - c and the scaling are exact */
    }
    return ldexp(y, m);
}

double pm_exp(double x) {
    if (x != x) return x + x;
    if (x == INFINITY) return x;
    if (x == -INFINITY) return 0.0;
    return exp_dd(x, 0.0);
}

/* ---- log --------------------------------------------------------------- */

/* ln(x) for finite x > 0 as a double-double, relative error ~2^-100.
 * x = 2^e m with m in [sqrt(1/2), sqrt(2)); r ~ 1/m from LOG_TAB, so
 * ln x = e ln2 - ln r + ln(1 + z) with z = m r - 1 exact, |z| < 2^-7.5. */
static DD log_dd(double x) {
    int e;
    double m = frexp(x, &e);
    if (m < 0x1.6a09e667f3bcdp-1) { m *= 2; e--; }
    int i = (int)floor(m * 128 + 0.5);
    const double *t = LOG_TAB[i - 91];
    DD p = two_prod(m, t[0]);
    DD z = two_sum(p.hi - 1.0, p.lo); /* p.hi - 1 is exact (Sterbenz) */
    /* ln(1 + z) = z - z^2/2 + z^3/3 - ...; the first three in double-double. */
    DD z2 = two_prod(z.hi, z.hi);
    z2.lo += 2 * z.hi * z.lo;
    DD z3 = two_prod(z2.hi, z.hi);
    z3.lo += z2.lo * z.hi + z2.hi * z.lo;
    double q = z3.hi / 3;
    DD q3 = two_prod(q, 3.0);
    DD third = dd(q, ((z3.hi - q3.hi) - q3.lo + z3.lo) / 3);
    double h = z.hi;
    double tail = z2.hi * z2.hi *
                  (-1.0 / 4 + h * (1.0 / 5 + h * (-1.0 / 6 + h * (1.0 / 7 + h * (-1.0 / 8 +
                  h * (1.0 / 9 + h * (-1.0 / 10 + h * (1.0 / 11 + h * (-1.0 / 12)))))))));
    DD l1p = dd_add(dd_add(z, dd(-z2.hi / 2, -z2.lo / 2)), dd_add(third, dd(tail, 0.0)));
    double ed = e;
    DD eln2 = two_sum(ed * LN2_1, ed * LN2_2); /* both products exact */
    eln2.lo += ed * LN2_3;
    return dd_add(dd_add(eln2, dd(t[1], t[2])), l1p);
}

double pm_log(double x) {
    if (x != x) return x + x;
    if (x < 0) return (x - x) / (x - x); /* NaN, invalid */
    if (x == 0) return -1.0 / (x * x);   /* -inf, divide by zero */
    if (x == INFINITY) return x;
    DD l = log_dd(x);
    return l.hi + l.lo;
}

/* ---- pow --------------------------------------------------------------- */

/* 0: y is not an integer, 1: an odd integer, 2: an even one (y finite). */
static int int_kind(double y) {
    if (floor(y) != y) return 0;
    if (fabs(y) >= 0x1p53) return 2;
    return floor(y * 0.5) * 2 == y ? 2 : 1;
}

double pm_pow(double x, double y) {
    if (y == 0) return 1.0;
    if (x == 1) return 1.0;
    if (x != x || y != y) return x + y;
    if (y == INFINITY || y == -INFINITY) {
        double ax = fabs(x);
        if (ax == 1) return 1.0;
        return (ax < 1) == (y > 0) ? 0.0 : INFINITY;
    }
    int kind = int_kind(y);
    if (x == 0) {
        if (y < 0) return kind == 1 ? 1.0 / x : 1.0 / (x * x); /* +-inf, divide by zero */
        return kind == 1 ? x : 0.0;
    }
    if (x == INFINITY) return y < 0 ? 0.0 : INFINITY;
    if (x == -INFINITY) {
        if (y < 0) return kind == 1 ? -0.0 : 0.0;
        return kind == 1 ? -INFINITY : INFINITY;
    }
    double sign = 1.0;
    if (x < 0) {
        if (kind == 0) return (x - x) / (x - x); /* NaN, invalid */
        if (kind == 1) sign = -1.0;
        x = -x;
    }
    /* x^y = exp(y ln x) with y ln x to ~2^-100 relative. */
    DD l = log_dd(x);
    double est = y * l.hi;
    if (est > 1000) return sign * (0x1p1023 * 2.0);
    if (est < -1000) return sign * (0x1p-1022 * 0x1p-60);
    DD p = two_prod(y, l.hi);
    p.lo += y * l.lo;
    p = fast_two_sum(p.hi, p.lo);
    return sign * exp_dd(p.hi, p.lo);
}

/* ---- sin, cos ---------------------------------------------------------- */

/* x = k pi/2 + r for finite x > pi/4: returns r (|r| <= pi/4, to ~2^-96
 * relative) and k mod 4. Payne-Hanek in integer arithmetic: with
 * x = M 2^E (M < 2^53), x 2/pi mod 4 needs only the bits of 2/pi from
 * about 2^(-E) on; M times a 224-bit window of them is exact. */
static DD reduce_pio2(double x, int *quadrant) {
    int e;
    double f = frexp(x, &e);
    uint64_t M = (uint64_t)ldexp(f, 53);
    int E = e - 53;
    int j0 = 0;
    while (E - 32 * (j0 + 1) >= 2) j0++; /* earlier words add multiples of 4 */
    enum { NWIN = 7, NLIMB = 10 };
    uint32_t w[NWIN], R[NLIMB] = {0};
    for (int k = 0; k < NWIN; k++) w[k] = TWO_OVER_PI[j0 + NWIN - 1 - k]; /* little-endian */
    uint32_t mpart[2] = {(uint32_t)(M & 0xFFFFFFFFu), (uint32_t)(M >> 32)};
    for (int s = 0; s < 2; s++) {
        uint64_t carry = 0;
        for (int k = 0; k < NWIN; k++) {
            uint64_t t = (uint64_t)mpart[s] * w[k] + R[k + s] + carry;
            R[k + s] = (uint32_t)t;
            carry = t >> 32;
        }
        for (int k = NWIN + s; k < NLIMB && carry; k++) {
            uint64_t t = (uint64_t)R[k] + carry;
            R[k] = (uint32_t)t;
            carry = t >> 32;
        }
    }
    /* x 2/pi = R 2^-sh (mod 4) */
    int sh = 32 * (j0 + NWIN) - E;
#define BIT(b) ((R[(b) / 32] >> ((b) % 32)) & 1u)
    int q = (int)(BIT(sh) | (BIT(sh + 1) << 1));
    int neg = (int)BIT(sh - 1); /* fraction >= 1/2: round k up, r < 0 */
#undef BIT
    /* keep the fraction bits (below sh) */
    for (int k = 0; k < NLIMB; k++) {
        if (32 * k >= sh) R[k] = 0;
        else if (32 * k + 32 > sh) R[k] &= (uint32_t)((1ull << (sh - 32 * k)) - 1);
    }
    if (neg) { /* 1 - fraction: two's complement within sh bits */
        q = (q + 1) & 3;
        uint64_t carry = 1;
        for (int k = 0; k < NLIMB; k++) {
            uint64_t t = (uint64_t)(uint32_t)~R[k] + carry;
            R[k] = (uint32_t)t;
            carry = t >> 32;
        }
        for (int k = 0; k < NLIMB; k++) {
            if (32 * k >= sh) R[k] = 0;
            else if (32 * k + 32 > sh) R[k] &= (uint32_t)((1ull << (sh - 32 * k)) - 1);
        }
    }
    *quadrant = q;
    int h = NLIMB - 1;
    while (h >= 0 && R[h] == 0) h--;
    if (h < 0) return dd(0.0, 0.0);
    double a = (double)R[h] * 0x1p64;
    double b = h >= 1 ? (double)R[h - 1] * 0x1p32 : 0.0;
    double c = h >= 2 ? (double)R[h - 2] : 0.0;
    double d = h >= 3 ? (double)R[h - 3] * 0x1p-32 : 0.0;
    DD v = two_sum(a, b);
    v.lo += c + d;
    v = fast_two_sum(v.hi, v.lo);
    int scale = 32 * (h - 2) - sh;
    v.hi = ldexp(v.hi, scale);
    v.lo = ldexp(v.lo, scale);
    DD r = dd_mul(v, dd(PIO2_H, PIO2_L));
    return neg ? dd_neg(r) : r;
}

/* sin(r), |r| <= pi/4 + tiny: r - r^3/6 in double-double, the rest of the
 * Taylor series (to r^21) in double. */
static double sin_kernel(DD r) {
    DD r2 = two_prod(r.hi, r.hi);
    r2.lo += 2 * r.hi * r.lo;
    DD r3 = two_prod(r2.hi, r.hi);
    r3.lo += r2.lo * r.hi + r2.hi * r.lo;
    double q = r3.hi / 6;
    DD q6 = two_prod(q, 6.0);
    double ql = ((r3.hi - q6.hi) - q6.lo + r3.lo) / 6;
    double s = r2.hi;
    double tail = r3.hi * s *
                  (1.0 / 120 + s * (-1.0 / 5040 + s * (1.0 / 362880 + s * (-1.0 / 39916800 +
                  s * (1.0 / 6227020800.0 + s * (-1.0 / 1307674368000.0 + s * (1.0 / 355687428096000.0 +
                  s * (-1.0 / 121645100408832000.0 + s * (1.0 / 51090942171709440000.0)))))))));
    DD v = two_sum(r.hi, -q);
    v.lo += (r.lo - ql) + tail;
    return v.hi + v.lo;
}

/* cos(r), |r| <= pi/4 + tiny: 1 - r^2/2 + r^4/24 in double-double (r^4/24
 * reaches 0.016, too much to round in double), the rest of the Taylor
 * series (to r^22) in double. */
static double cos_kernel(DD r) {
    DD r2 = two_prod(r.hi, r.hi);
    r2.lo += 2 * r.hi * r.lo;
    double s = r2.hi;
    DD r4 = two_prod(s, s);
    r4.lo += 2 * s * r2.lo;
    double q = r4.hi / 24;
    DD q24 = two_prod(q, 24.0);
    double ql = ((r4.hi - q24.hi) - q24.lo + r4.lo) / 24; /* r4.hi - q24.hi is exact */
    double tail = s * s * s *
                  (-1.0 / 720 + s * (1.0 / 40320 + s * (-1.0 / 3628800 +
                  s * (1.0 / 479001600.0 + s * (-1.0 / 87178291200.0 + s * (1.0 / 20922789888000.0 +
                  s * (-1.0 / 6402373705728000.0 + s * (1.0 / 2432902008176640000.0 +
                  s * (-1.0 / 1124000727777607680000.0)))))))));
    DD v = two_sum(1.0, -0.5 * s);
    DD w = two_sum(v.hi, q);
    w.lo += v.lo + ((-0.5 * r2.lo + ql) + tail);
    return w.hi + w.lo;
}

/* sin (want_cos = 0) or cos (1) of a finite x. */
static double sincos_finite(double x, int want_cos) {
    double ax = fabs(x);
    double sgn = (!want_cos && x < 0) ? -1.0 : 1.0;
    if (ax < 0x1p-27) return want_cos ? 1.0 : x; /* x^2/6 < ulp/2 */
    int q = 0;
    DD r = ax <= PIO4_R ? dd(ax, 0.0) : reduce_pio2(ax, &q);
    q = (q + want_cos) & 3; /* cos x = sin(x + pi/2) */
    double v = (q & 1) ? cos_kernel(r) : sin_kernel(r);
    return (q & 2) ? -sgn * v : sgn * v;
}

double pm_sin(double x) {
    if (x != x) return x + x;
    if (x == INFINITY || x == -INFINITY) return (x - x) / (x - x); /* NaN, invalid */
    if (x == 0) return x;
    return sincos_finite(x, 0);
}

double pm_cos(double x) {
    if (x != x) return x + x;
    if (x == INFINITY || x == -INFINITY) return (x - x) / (x - x);
    return sincos_finite(x, 1);
}

/* ---- atan2, acos ------------------------------------------------------- */

/* atan2(y, x) for y = yh + yl >= 0 (yh > 0 or x != 0), x finite, as a
 * double-double. t = min/max of |y|, |x| in [0, 1]; atan t = atan c +
 * atan((t - c)/(1 + t c)) with c = i/64 nearest t (ATAN_TAB), the second
 * argument below 2^-7 in magnitude. */
static DD atan2_dd(DD y, double x) {
    double ax = fabs(x);
    int swapped = y.hi > ax;
    DD num = swapped ? dd(ax, 0.0) : y, den = swapped ? y : dd(ax, 0.0);
    DD a;
    int en = 0, ed;
    frexp(den.hi, &ed);
    if (num.hi != 0) frexp(num.hi, &en);
    if (num.hi == 0) {
        a = dd(0.0, 0.0);
    } else if (en - ed < -60) {
        a = dd(num.hi / den.hi, 0.0); /* atan t = t (1 - t^2/3 ...), t < 2^-59 */
    } else {
        /* scale both by 2^-ed so the splits in dd_div cannot overflow */
        DD t = dd_div(dd(ldexp(num.hi, -ed), ldexp(num.lo, -ed)),
                      dd(ldexp(den.hi, -ed), ldexp(den.lo, -ed)));
        int i = (int)floor(t.hi * 64 + 0.5);
        double c = i / 64.0;
        DD n = two_sum(t.hi - c, t.lo); /* t.hi - c is exact */
        DD tc = two_prod(t.hi, c);
        tc.lo += t.lo * c;
        DD d = two_sum(1.0, tc.hi);
        d.lo += tc.lo;
        DD u = dd_div(n, fast_two_sum(d.hi, d.lo));
        double w = u.hi * u.hi;
        double tail = u.hi * w * (-1.0 / 3 + w * (1.0 / 5 + w * (-1.0 / 7 + w * (1.0 / 9 +
                      w * (-1.0 / 11 + w * (1.0 / 13))))));
        a = dd_add(dd(ATAN_TAB[i][0], ATAN_TAB[i][1]), dd_add(u, dd(tail, 0.0)));
    }
    if (swapped) a = dd_add(dd(PIO2_H, PIO2_L), dd_neg(a));
    if (x < 0) a = dd_add(dd(PI_H, PI_L), dd_neg(a));
    return a;
}

double pm_atan2(double y, double x) {
    if (x != x || y != y) return x + y;
    int yneg = signbit(y) != 0, xneg = signbit(x) != 0;
    double s = yneg ? -1.0 : 1.0;
    if (y == 0) return xneg ? s * PI_H : y;
    if (y == INFINITY || y == -INFINITY) {
        if (x == INFINITY) return s * PIO4_R;
        if (x == -INFINITY) return s * PI3O4_R;
        return s * PIO2_H;
    }
    if (x == INFINITY) return s * 0.0;
    if (x == -INFINITY) return s * PI_H;
    if (x == 0) return s * PIO2_H;
    DD a = atan2_dd(dd(fabs(y), 0.0), x);
    return s * (a.hi + a.lo);
}

double pm_acos(double x) {
    if (x != x) return x + x;
    if (x > 1 || x < -1) return (x - x) / (x - x); /* NaN, invalid */
    /* acos x = atan2(sqrt(1 - x^2), x), 1 - x^2 exact as a double-double */
    DD x2 = two_prod(x, x);
    DD a = two_sum(1.0, -x2.hi);
    a.lo -= x2.lo;
    a = fast_two_sum(a.hi, a.lo);
    DD y = dd(0.0, 0.0);
    if (a.hi > 0) {
        double sh = sqrt(a.hi);
        DD s2 = two_prod(sh, sh);
        y = dd(sh, ((a.hi - s2.hi) - s2.lo + a.lo) / (2 * sh));
        y = fast_two_sum(y.hi, y.lo);
    }
    if (y.hi == 0) return x > 0 ? 0.0 : PI_H;
    DD r = atan2_dd(y, x);
    return r.hi + r.lo;
}
