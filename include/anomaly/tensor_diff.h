/* How far one tensor is from a reference: the numbers `anomaly compare`
 * prints, computed in double.
 *
 * With ref_max = max |b_i| over the finite reference values (or scale_min
 * when that is larger), element i is out of tolerance when
 * |a_i - b_i| > atol + rtol * ref_max (the tolerance
 * scales with the tensor's magnitude, since values near zero carry the
 * rounding of the large ones). Positions where exactly one side is NaN, or
 * the two are different infinities, count as NaN/Inf mismatches; positions
 * where both are NaN or the same infinity agree. */
#ifndef ANOMALY_TENSOR_DIFF_H
#define ANOMALY_TENSOR_DIFF_H

#include <stddef.h>

typedef struct TensorDiff {
    double max_abs;          /* max |a - b| over positions finite on both sides */
    double max_rel;          /* max_abs / ref_max (0 when both are 0) */
    double nmse;             /* sum (a - b)^2 / sum b^2 (0 when both are 0) */
    double ref_max;          /* the scale used: max |b_i|, at least scale_min */
    size_t out_of_tol;       /* finite positions beyond the tolerance */
    size_t nonfinite_mismatch;
} TensorDiff;

void tensor_diff(const double *a, const double *b, size_t n, double rtol, double atol, double scale_min,
                 TensorDiff *d);

/* The default tolerances for a dtype of machine epsilon eps and smallest
 * normal number tiny: rtol = sqrt(eps) (half the digits), atol = tiny (so
 * that only subnormal noise, which a GPU may flush to zero, passes at a
 * zero reference). */
void tensor_diff_default_tol(double eps, double tiny, double *rtol, double *atol);

#endif
