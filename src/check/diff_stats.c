/* Statistics of a CPU-versus-GPU comparison and the tolerance rule of
 * `anomaly check-cuda` (cuda_check.h). */
#include "anomaly/cuda_check.h"

#include <math.h>

/* 0 finite, 1 NaN, 2 +Inf, 3 -Inf */
static int value_class(double v) {
    if (isnan(v)) return 1;
    if (isinf(v)) return v > 0 ? 2 : 3;
    return 0;
}

void diff_stats(DiffStats *d, const real *ref, const real *got, size_t n) {
    double max_ref = 0, err2 = 0, ref2 = 0;
    d->n = n;
    d->nonfinite = d->mismatch = 0;
    d->max_abs = d->max_rel = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
    const double floor = 1e-6 * max_ref > 1e-300 ? 1e-6 * max_ref : 1e-300;
    for (size_t i = 0; i < n; i++) {
        const int cr = value_class(ref[i]), cg = value_class(got[i]);
        if (cr) d->nonfinite++;
        if (cr != cg) {
            d->mismatch++;
            continue;
        }
        if (cr) continue; /* the same NaN or infinity */
        const double e = fabs((double)got[i] - (double)ref[i]);
        const double r = fabs((double)ref[i]);
        if (e > d->max_abs) d->max_abs = e;
        if (e / (r > floor ? r : floor) > d->max_rel) d->max_rel = e / (r > floor ? r : floor);
        err2 += e * e;
        ref2 += r * r;
    }
    d->nmse = ref2 > 0 ? err2 / ref2 : err2 > 0 ? INFINITY : 0;
}

double diff_tolerance(double k, double len) {
    const double e = k * REAL_EPSILON;
    return e * e * (len > 1 ? len : 1);
}

int diff_ok(const DiffStats *d, double tol) { return d->mismatch == 0 && d->nmse <= tol; }
