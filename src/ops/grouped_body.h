/* The direct kernels of grouped.c for one vector width, included once per
 * instruction-set level with
 *   GK_SUF     name suffix (v4, v3, v1)
 *   GK_TARGET  function attribute selecting the level (may be empty)
 *   GK_BYTES   bytes per vector: what the level's registers hold.
 * One width for every level is wrong for these kernels, whose many sums
 * must stay in registers: a vector wider than the level's registers lives
 * in memory (64-byte vectors made them twenty to fifty times slower on
 * AVX2 and SSE2), a narrower one wastes AVX-512's. Each output lane
 * computes the same operations in the same order whatever the width, so
 * the levels differ only where FMA does (v1 has none). */

#define GK_CAT_(a, b) a##_##b
#define GK_CAT(a, b) GK_CAT_(a, b)
#define GV GK_CAT(gvec, GK_SUF)
#define GL ((int)(GK_BYTES / sizeof(real)))

typedef real GV __attribute__((vector_size(GK_BYTES)));

#define GV_SPLAT(x) ((GV){0} + (real)(x))
#define GV_LOAD(v, p) memcpy(&(v), (p), sizeof(GV))

/* Eight sums, four channels by two vectors, in named variables:
 * a<channel><vector>. */
#define GACC8_ADD(w0, w1, w2, w3, x0, x1) \
    do {                                  \
        a00 += (w0) * (x0);               \
        a01 += (w0) * (x1);               \
        a10 += (w1) * (x0);               \
        a11 += (w1) * (x1);               \
        a20 += (w2) * (x0);               \
        a21 += (w2) * (x1);               \
        a30 += (w3) * (x0);               \
        a31 += (w3) * (x1);               \
    } while (0)

/* Stores the first n lanes of v at p (memory past p[n - 1] untouched). */
GK_TARGET static inline __attribute__((always_inline)) void GK_CAT(gv_store_n, GK_SUF)(real *p,
                                                                              const GV *v, int n) {
    if (n == GL) {
        memcpy(p, v, sizeof *v);
        return;
    }
    for (int l = 0; l < n; l++) p[l] = (*v)[l];
}

/* Stores the block's sums: channel k at dst + k * kstep, vector j at at[j]
 * (cnt[j] columns); only nk channels and nj vectors. */
#define GACC8_STORE(dst, kstep, at, cnt, nk, nj)                                          \
    do {                                                                                  \
        const GV acc_[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};           \
        for (int k_ = 0; k_ < (nk); k_++)                                                 \
            for (int j_ = 0; j_ < (nj); j_++)                                             \
                GK_CAT(gv_store_n, GK_SUF)((dst) + (size_t)k_ * (kstep) + (at)[j_],       \
                                           &acc_[k_][j_], (cnt)[j_]);                      \
    } while (0)

/* One (image, group): y [ocg, oh, ow] from the padded planes xp [cg][plane];
 * w [ocg, cg, kh, kw]; zero: a row of K zeros for a short last block. */
GK_TARGET VEC_FMA __attribute__((noinline)) static void GK_CAT(forward_group, GK_SUF)(
    real *y, const real *xp, const real *w, const real *bias, const real *zero,
    const ptrdiff_t *toff, const Conv2dShape *s, PadGeom g) {
    VEC_FMA_BODY
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, kk = g.kk, K = cg * kk;
    const size_t plane = dconv_plane_reals(g), ohw = (size_t)s->oh * s->ow;
    const int per_row = (s->ow + GL - 1) / GL, njobs = s->oh * per_row;
    for (int o0 = 0; o0 < ocg; o0 += 4) {
        const int nk = ocg - o0 < 4 ? ocg - o0 : 4;
        const real *wr[4];
        for (int k = 0; k < 4; k++) wr[k] = k < nk ? w + (size_t)(o0 + k) * K : zero;
        const real b0 = bias ? bias[o0] : 0, b1 = bias && nk > 1 ? bias[o0 + 1] : 0;
        const real b2 = bias && nk > 2 ? bias[o0 + 2] : 0, b3 = bias && nk > 3 ? bias[o0 + 3] : 0;
        for (int j0 = 0; j0 < njobs; j0 += 2) {
            const int nj = njobs - j0 < 2 ? njobs - j0 : 2;
            size_t base[2], at[2];
            int cnt[2];
            for (int j = 0; j < 2; j++) {
                const int job = j < nj ? j0 + j : j0; /* a spare vector redoes j0 */
                const int oy = job / per_row, ox = job % per_row * GL;
                base[j] = (size_t)oy * s->sh * g.rs + (size_t)ox;
                at[j] = (size_t)oy * s->ow + (size_t)ox;
                cnt[j] = s->ow - ox < GL ? s->ow - ox : GL;
            }
            GV a00 = GV_SPLAT(b0), a01 = a00, a10 = GV_SPLAT(b1), a11 = a10;
            GV a20 = GV_SPLAT(b2), a21 = a20, a30 = GV_SPLAT(b3), a31 = a30;
            for (int ci = 0; ci < cg; ci++) {
                const real *p0 = xp + (size_t)ci * plane + base[0];
                const real *p1 = xp + (size_t)ci * plane + base[1];
                const real *w0 = wr[0] + ci * kk, *w1 = wr[1] + ci * kk;
                const real *w2 = wr[2] + ci * kk, *w3 = wr[3] + ci * kk;
                for (int t = 0; t < kk; t++) {
                    GV x0, x1;
                    GV_LOAD(x0, p0 + toff[t]);
                    GV_LOAD(x1, p1 + toff[t]);
                    GACC8_ADD(w0[t], w1[t], w2[t], w3[t], x0, x1);
                }
            }
            GACC8_STORE(y + (size_t)o0 * ohw, ohw, at, cnt, nk, nj);
        }
    }
}

/* The input gradient of one (image, group), as depthwise.c's gather with a
 * sum over the group's output channels: the value at padded row pr, phase
 * ph, index j of input channel ci is the sum over output channels o, then
 * taps (ky, kx) with ky = pr (mod sh), kx = ph (mod sw), of
 * w[o, ci, ky, kx] * dout[o, (pr - ky) / sh, j - kx / sw].
 * dp [cg][plane] (interior rows written); dyp [ocg][dplane] (dconv_pad_dout). */
GK_TARGET VEC_FMA __attribute__((noinline)) static void GK_CAT(dinp_group, GK_SUF)(
    real *dp, const real *dyp, const real *w, const real *zero, int *tap, ptrdiff_t *off,
    const Conv2dShape *s, PadGeom g, DoutGeom d) {
    VEC_FMA_BODY
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, kk = g.kk, K = cg * kk;
    const size_t plane = dconv_plane_reals(g), dplane = (size_t)d.rows * d.cols;
    const int per_seg = (g.wq + GL - 1) / GL;
    for (int a = 0; a < s->sh; a++) {
        const int pr0 = s->pad_t + ((a - s->pad_t) % s->sh + s->sh) % s->sh;
        const int nrows = pr0 < s->pad_t + s->h ? (s->pad_t + s->h - 1 - pr0) / s->sh + 1 : 0;
        for (int ph = 0; ph < s->sw; ph++) {
            int nt = 0; /* taps of this class, in (ky, kx) order */
            for (int ky = a; ky < s->kh; ky += s->sh)
                for (int kx = ph; kx < s->kw; kx += s->sw) {
                    tap[nt] = ky * s->kw + kx;
                    off[nt] = -((ptrdiff_t)((ky - a) / s->sh) * d.cols + kx / s->sw);
                    nt++;
                }
            const int njobs = nrows * per_seg;
            for (int c0 = 0; c0 < cg; c0 += 4) {
                const int nk = cg - c0 < 4 ? cg - c0 : 4;
                for (int j0 = 0; j0 < njobs; j0 += 2) {
                    const int nj = njobs - j0 < 2 ? njobs - j0 : 2;
                    size_t base[2], at[2];
                    int cnt[2];
                    for (int j = 0; j < 2; j++) {
                        const int job = j < nj ? j0 + j : j0;
                        const int pr = pr0 + job / per_seg * s->sh, jj = job % per_seg * GL;
                        base[j] = (size_t)(d.top + (pr - a) / s->sh) * d.cols + d.left + jj;
                        at[j] = (size_t)pr * g.rs + (size_t)ph * g.wq + jj;
                        cnt[j] = g.wq - jj < GL ? g.wq - jj : GL;
                    }
                    GV a00 = GV_SPLAT(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
                    GV a30 = a00, a31 = a00;
                    for (int o = 0; o < ocg; o++) {
                        const real *q0 = dyp + (size_t)o * dplane + base[0];
                        const real *q1 = dyp + (size_t)o * dplane + base[1];
                        const real *w0 = w + (size_t)o * K + (size_t)c0 * kk;
                        const real *w1 = nk > 1 ? w0 + kk : zero, *w2 = nk > 2 ? w0 + 2 * kk : zero;
                        const real *w3 = nk > 3 ? w0 + 3 * kk : zero;
                        for (int t = 0; t < nt; t++) {
                            GV x0, x1;
                            GV_LOAD(x0, q0 + off[t]);
                            GV_LOAD(x1, q1 + off[t]);
                            const int ti = tap[t];
                            GACC8_ADD(w0[ti], w1[ti], w2[ti], w3[ti], x0, x1);
                        }
                    }
                    GACC8_STORE(dp + (size_t)c0 * plane, plane, at, cnt, nk, nj);
                }
            }
        }
    }
}

#undef GACC8_STORE
#undef GACC8_ADD
#undef GV_LOAD
#undef GV_SPLAT
#undef GL
#undef GV
