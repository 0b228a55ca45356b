/* SIMD helpers for the elementwise kernels. Private to src/ops.
 *
 * A vector is VLANES reals (32 bytes) as a GCC/Clang vector type, so the
 * arithmetic below is plain C operators the compiler maps to whatever
 * registers the target has. Hot row kernels are built for AVX-512, AVX2 +
 * FMA and the baseline (VEC_DISPATCH below), and each call runs the one
 * isa_level() names, so one portable binary runs wide vectors where it can
 * (and explicit fma() calls become one instruction instead of a library
 * call).
 *
 * Every lane computes exactly what the scalar code would (no contraction
 * into FMA: the library builds with -ffp-contract=off), so a kernel returns
 * the same bits whichever variant runs and whatever the split between
 * threads, except the VEC_FMA kernels below.
 *
 * Helpers take and return vectors through pointers: passing vectors by
 * value would depend on the target's calling convention.
 *
 * Why 32 bytes, not the 64 of AVX-512: a vector type wider than the
 * target's registers has no machine mode, so in the AVX2 variants every
 * 64-byte vector lived on the stack and went through memory in halves
 * (store-forwarding stalls): the AVX2 path ran EfficientNet's elementwise
 * and depthwise kernels 2-3x slower than the AVX-512 one. 32-byte vectors
 * are registers on both (the AVX-512 variants still get its 32 registers
 * and masked operations). */
#ifndef ANOMALY_SRC_OPS_VEC_H
#define ANOMALY_SRC_OPS_VEC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "anomaly/isa.h"
#include "anomaly/real.h"

/* GCC's ISO mode never contracts a * b + c into one rounding; clang must
 * be told, or its AVX-512 clones would round differently from the rest. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define VEC_BYTES 32
#ifdef ANOMALY_F64
#define VLANES 4
typedef int64_t vint_lane;
#else
#define VLANES 8
typedef int32_t vint_lane;
#endif
typedef real vreal __attribute__((vector_size(VEC_BYTES)));
typedef vint_lane vint __attribute__((vector_size(VEC_BYTES)));

#define VINLINE static inline __attribute__((always_inline))

/* Hot row kernels are compiled three times, for x86-64-v4 (AVX-512 F, BW,
 * CD, DQ, VL), x86-64-v3 (AVX2 + FMA) and the baseline, and each call picks
 * one by isa_level(): the best the CPU has, or the level ANOMALY_ISA names,
 * so one machine can run every path. Write
 *
 *   VEC_DISPATCH_VOID(name, (real *out, const real *inp, size_t n), (out, inp, n)) {
 *       ... body ...
 *   }
 *
 * (VEC_DISPATCH(type, name, params, args) for a function returning a value;
 * the _FMA forms let the compiler fuse multiply-adds, see VEC_FMA). This
 * defines `static void name(params)`, which dispatches, and the body as an
 * always-inline function compiled into each of the three. Only for
 * functions called from their own file. */
#if defined(__x86_64__) && (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__) && __GNUC__ >= 11)
#define VEC_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define VEC_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define VEC_PICK(name, args)                                                                  \
    (isa_level() >= ISA_AVX512 ? name##_v4 args                                               \
     : isa_level() >= ISA_AVX2 ? name##_v3 args                                               \
                               : name##_v1 args)
#define VEC_VARIANTS(fma, ret, name, params, args)                                            \
    VINLINE ret name##_body params;                                                           \
    VEC_TARGET_V4 fma __attribute__((noinline)) static ret name##_v4 params {                 \
        return name##_body args;                                                              \
    }                                                                                         \
    VEC_TARGET_V3 fma __attribute__((noinline)) static ret name##_v3 params {                 \
        return name##_body args;                                                              \
    }                                                                                         \
    fma __attribute__((noinline)) static ret name##_v1 params { return name##_body args; }
#define VEC_VARIANTS_VOID(fma, name, params, args)                                            \
    VINLINE void name##_body params;                                                          \
    VEC_TARGET_V4 fma __attribute__((noinline)) static void name##_v4 params {                \
        name##_body args;                                                                     \
    }                                                                                         \
    VEC_TARGET_V3 fma __attribute__((noinline)) static void name##_v3 params {                \
        name##_body args;                                                                     \
    }                                                                                         \
    fma __attribute__((noinline)) static void name##_v1 params { name##_body args; }
#define VEC_DISPATCH_(fma, ret, name, params, args)                                           \
    VEC_VARIANTS(fma, ret, name, params, args)                                                \
    static ret name params { return VEC_PICK(name, args); }                                   \
    VINLINE ret name##_body params
#define VEC_DISPATCH_VOID_(fma, name, params, args)                                           \
    VEC_VARIANTS_VOID(fma, name, params, args)                                                \
    static void name params {                                                                 \
        if (isa_level() >= ISA_AVX512) name##_v4 args;                                        \
        else if (isa_level() >= ISA_AVX2) name##_v3 args;                                     \
        else name##_v1 args;                                                                  \
    }                                                                                         \
    VINLINE void name##_body params
#else
#define VEC_DISPATCH_(fma, ret, name, params, args) fma static ret name params
#define VEC_DISPATCH_VOID_(fma, name, params, args) fma static void name params
#endif

/* Lets the compiler fuse a * b + c into one fused multiply-add in a
 * function that opts in (VEC_FMA on the function, VEC_FMA_BODY first in its
 * body): for the convolution kernels, whose sums are long chains of
 * multiply-adds. A fused operation rounds once instead of twice, so such a
 * kernel's results differ in the last bits between CPUs with and without
 * FMA, never between runs or thread counts on one machine. The elementwise
 * kernels stay unfused, so that fused.c matches batchnorm.c and act.c. */
#if defined(__clang__)
#define VEC_FMA
#define VEC_FMA_BODY _Pragma("STDC FP_CONTRACT ON")
#elif defined(__GNUC__)
#define VEC_FMA __attribute__((optimize("fp-contract=fast")))
#define VEC_FMA_BODY
#else
#define VEC_FMA
#define VEC_FMA_BODY
#endif

#define VEC_NOFMA
#define VEC_DISPATCH(ret, name, params, args) VEC_DISPATCH_(VEC_NOFMA, ret, name, params, args)
#define VEC_DISPATCH_VOID(name, params, args) VEC_DISPATCH_VOID_(VEC_NOFMA, name, params, args)
#define VEC_DISPATCH_VOID_FMA(name, params, args) VEC_DISPATCH_VOID_(VEC_FMA, name, params, args)

VINLINE void vload(vreal *v, const real *p) { memcpy(v, p, sizeof *v); }
VINLINE void vstore(real *p, const vreal *v) { memcpy(p, v, sizeof *v); }
/* All lanes x (not for -0.0: 0 + -0.0 is +0.0). */
#define VSPLAT(x) ((vreal){0} + (real)(x))

/* The first n <= VLANES lanes: loads fill the rest with zeros, stores
 * leave memory past p[n - 1] alone (loop tails). */
VINLINE void vload_n(vreal *v, const real *p, int n) {
    if (n == VLANES) {
        memcpy(v, p, sizeof *v);
        return;
    }
    real tmp[VLANES] = {0};
    memcpy(tmp, p, (size_t)n * sizeof(real));
    memcpy(v, tmp, sizeof *v);
}
VINLINE void vstore_n(real *p, const vreal *v, int n) {
    if (n == VLANES) {
        memcpy(p, v, sizeof *v);
        return;
    }
    real tmp[VLANES];
    memcpy(tmp, v, sizeof tmp);
    memcpy(p, tmp, (size_t)n * sizeof(real));
}

/* Sums in double: a vector of reals widened to two vectors of VLANES / 2
 * doubles (in the double build, the vector itself and zero). */
typedef double vdbl __attribute__((vector_size(VEC_BYTES)));
VINLINE void vwiden(vdbl *lo, vdbl *hi, const vreal *v) {
#ifdef ANOMALY_F64
    *lo = *v;
    *hi = (vdbl){0};
#else
    typedef float vhalf __attribute__((vector_size(VEC_BYTES / 2)));
    vhalf a, b;
    memcpy(&a, v, sizeof a);
    memcpy(&b, (const char *)v + sizeof a, sizeof b);
    *lo = __builtin_convertvector(a, vdbl);
    *hi = __builtin_convertvector(b, vdbl);
#endif
}
#define VDSPLAT(x) ((vdbl){0} + (double)(x))

/* The lanes of lo + hi added in a fixed tree. */
VINLINE double vdbl_total(const vdbl *lo, const vdbl *hi) {
    const vdbl v = *lo + *hi;
    return (v[0] + v[2]) + (v[1] + v[3]);
}

/* Scalar sigmoid(x) and 1 - sigmoid(x) to full relative precision, without
 * overflow: exp() only ever sees -|x|. */
static inline void sigmoid_pair_scalar(real x, real *s, real *one_minus_s) {
#ifdef ANOMALY_F64
    const real e = exp(-fabs(x));
#else
    const real e = expf(-fabsf(x));
#endif
    const real p = (real)1 / ((real)1 + e); /* sigmoid(|x|) */
    const real q = e * p;                   /* sigmoid(-|x|) */
    if (x >= 0) {
        *s = p;
        *one_minus_s = q;
    } else {
        *s = q;
        *one_minus_s = p;
    }
}

#ifndef ANOMALY_F64
/* exp(x) for x <= 0 in float, within 1 ulp of the true value (Cody-Waite
 * reduction x = n ln2 + r, |r| <= ln2/2, and a degree-7 polynomial for
 * exp(r) with Cephes' coefficients). Below -87, where the result would
 * leave the normal range, it returns 0: sigmoid(-87) is 1.6e-38, and
 * keeping denormals out keeps every later multiply fast. NaN stays NaN. */
VINLINE void vexp_nonpos(vreal *out, const vreal *xp) {
    const vreal x = *xp;
    const vreal magic = VSPLAT(12582912.0f); /* 1.5 * 2^23: adding it rounds to an integer */
    const vreal n = (x * 1.44269504088896341f + magic) - magic;
    vreal r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vreal p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const vreal y = p * (r * r) + r + 1.0f;
    const vint scale = (__builtin_convertvector(n, vint) + 127) << 23; /* 2^n */
    const vint tiny = x < -87.0f;
    *out = (vreal)((vint)(y * (vreal)scale) & ~tiny);
}
#endif

/* s = sigmoid(x), q = 1 - sigmoid(x), lane by lane as sigmoid_pair_scalar
 * (in float through vexp_nonpos, which is within an ulp of expf). */
VINLINE void vsigmoid_pair(vreal *s, vreal *q, const vreal *x) {
#ifdef ANOMALY_F64
    for (int l = 0; l < VLANES; l++) {
        real a, b;
        sigmoid_pair_scalar((*x)[l], &a, &b);
        (*s)[l] = a;
        (*q)[l] = b;
    }
#else
    const vint sign = (vint){0} + INT32_MIN; /* the sign bit */
    const vreal neg_abs = (vreal)((vint)*x | sign);
    vreal e;
    vexp_nonpos(&e, &neg_abs);
    const vreal p = 1.0f / (1.0f + e); /* sigmoid(|x|) */
    const vreal m = e * p;             /* sigmoid(-|x|) */
    const vint pos = *x >= 0.0f;
    *s = (vreal)(((vint)p & pos) | ((vint)m & ~pos));
    *q = (vreal)(((vint)m & pos) | ((vint)p & ~pos));
#endif
}

#endif
