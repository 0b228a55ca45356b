/* The lines `anomaly check-cuda` prints: an aligned table or CSV, one line
 * per compared output. */
#include "anomaly/cuda_check.h"

void check_report_header(CheckReport *r) {
    if (r->csv)
        fprintf(r->out, "op,shape,output,len,max_abs,max_rel,nmse,tol,nonfinite,mismatch,result\n");
    else
        fprintf(r->out, "%-18s %-58s %-14s %7s %10s %10s %10s %10s  %s\n", "op", "shape", "output",
                "len", "max_abs", "max_rel", "nmse", "tol", "result");
}

void check_report_line(CheckReport *r, const CudaCase *c, const char *output, double len,
                       const DiffStats *d) {
    char shape[160];
    cuda_case_shape(c, shape, sizeof shape);
    const double tol = diff_tolerance(c->tol, len);
    const int ok = diff_ok(d, tol);
    r->outputs++;
    if (!ok) r->failed++;
    if (r->csv) {
        fprintf(r->out, "%s,\"%s\",%s,%.0f,%.3e,%.3e,%.3e,%.3e,%zu,%zu,%s\n", c->op, shape, output,
                len, d->max_abs, d->max_rel, d->nmse, tol, d->nonfinite, d->mismatch,
                ok ? "OK" : "NOT OK");
    } else {
        fprintf(r->out, "%-18s %-58s %-14s %7.0f %10.3e %10.3e %10.3e %10.3e  %s", c->op, shape,
                output, len, d->max_abs, d->max_rel, d->nmse, tol, ok ? "OK" : "NOT OK");
        if (d->mismatch) fprintf(r->out, " (%zu NaN/Inf mismatches)", d->mismatch);
        fprintf(r->out, "\n");
    }
    fflush(r->out);
}
