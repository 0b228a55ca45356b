/* Portable elementary functions for the exact mode.
 *
 * The C library's exp, log, sin, ... differ in their last bits between
 * libraries, versions and CPUs (glibc picks FMA variants on CPUs that have
 * FMA). These are written with +, -, *, /, sqrt and exact operations only
 * (floor, ldexp, frexp, comparisons), each of which IEEE 754 rounds the same
 * everywhere, so, compiled without contraction (-ffp-contract=off), they
 * return the same bits on every CPU. Accuracy: within 1 ulp of the true
 * value over the whole range, sin/cos included (exact Payne-Hanek argument
 * reduction for every |x| > pi/4); measured max 0.50-0.51 ulp against
 * long-double references by tests/test_pmath.c, which also checks the C99
 * Annex F special values and committed golden bits. NaN results are NaN
 * with the CPU's sign and payload.
 *
 * am_exp() and friends are what the library calls: the C library's function
 * normally, the portable one in the exact mode. */
#ifndef ANOMALY_PMATH_H
#define ANOMALY_PMATH_H

#include <math.h>

#include "anomaly/exact.h"

double pm_exp(double x);
double pm_log(double x);
double pm_pow(double x, double y);
double pm_sin(double x);
double pm_cos(double x);
double pm_acos(double x);
double pm_atan2(double y, double x);

static inline double am_exp(double x) { return exact_mode() ? pm_exp(x) : exp(x); }
static inline double am_log(double x) { return exact_mode() ? pm_log(x) : log(x); }
static inline double am_pow(double x, double y) { return exact_mode() ? pm_pow(x, y) : pow(x, y); }
static inline double am_sin(double x) { return exact_mode() ? pm_sin(x) : sin(x); }
static inline double am_cos(double x) { return exact_mode() ? pm_cos(x) : cos(x); }
static inline double am_acos(double x) { return exact_mode() ? pm_acos(x) : acos(x); }
static inline double am_atan2(double y, double x) { return exact_mode() ? pm_atan2(y, x) : atan2(y, x); }

#endif
