/* tensor_diff: the error measures of `anomaly compare` (see tensor_diff.h). */
#include "anomaly/tensor_diff.h"

#include <math.h>

void tensor_diff_default_tol(double eps, double tiny, double *rtol, double *atol) {
    *rtol = sqrt(eps);
    *atol = tiny;
}

void tensor_diff(const double *a, const double *b, size_t n, double rtol, double atol, double scale_min,
                 TensorDiff *d) {
    double ref_max = scale_min > 0 ? scale_min : 0, max_abs = 0, se = 0, sb = 0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(b[i]) && fabs(b[i]) > ref_max) ref_max = fabs(b[i]);
        int fa = isfinite(a[i]) != 0, fb = isfinite(b[i]) != 0;
        if (fa && fb) {
            double e = fabs(a[i] - b[i]);
            if (e > max_abs) max_abs = e;
            se += e * e;
            sb += b[i] * b[i];
        } else if (fa != fb || !(isnan(a[i]) ? isnan(b[i]) : a[i] == b[i])) {
            nonfinite++;
        }
    }
    double limit = atol + rtol * ref_max;
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]) && isfinite(b[i]) && fabs(a[i] - b[i]) > limit) out++;
    d->max_abs = max_abs;
    d->max_rel = ref_max > 0 ? max_abs / ref_max : max_abs > 0 ? INFINITY : 0;
    d->nmse = sb > 0 ? se / sb : se > 0 ? INFINITY : 0;
    d->ref_max = ref_max;
    d->out_of_tol = out;
    d->nonfinite_mismatch = nonfinite;
}
