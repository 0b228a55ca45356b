/* Portable elementary functions (see anomaly/pmath.h). */
#include "anomaly/pmath.h"

double pm_exp(double x) { return exp(x); }
double pm_log(double x) { return log(x); }
double pm_pow(double x, double y) { return pow(x, y); }
double pm_sin(double x) { return sin(x); }
double pm_cos(double x) { return cos(x); }
double pm_acos(double x) { return acos(x); }
double pm_atan2(double y, double x) { return atan2(y, x); }
