/* Macro F1, per-label scores and the confusion matrix with scikit-learn's
 * arithmetic (see metrics.h). Counting is integer; the few divisions are done
 * in the order sklearn's NumPy expressions do them. */
#include "anomaly/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

#define PAIRWISE_BLOCK 128

double numpy_pairwise_sum(const double *a, size_t n) {
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= PAIRWISE_BLOCK) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

/* sklearn's _prf_divide with zero_division 'warn': 0 where the denominator is 0. */
static double prf_divide(size_t num, size_t den) { return den == 0 ? 0.0 : (double)num / (double)den; }

static double mean_of(const double *a, size_t n) { return n ? numpy_pairwise_sum(a, n) / (double)n : 0.0; }

void scores_compute(Scores *s, const int *truth, const int *pred, size_t n, int n_classes) {
    if (n_classes < 1) fatal("scores: need at least one class, not %d", n_classes);
    memset(s, 0, sizeof *s);
    s->n_classes = n_classes;
    s->n = n;
    size_t C = (size_t)n_classes;
    s->confusion = xcalloc(C * C, sizeof *s->confusion, "confusion matrix");
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= n_classes)
            fatal("scores: true label %d of sample %zu is outside [0, %d)", truth[i], i, n_classes);
        if (pred[i] < 0 || pred[i] >= n_classes)
            fatal("scores: predicted label %d of sample %zu is outside [0, %d)", pred[i], i, n_classes);
        s->confusion[(size_t)truth[i] * C + (size_t)pred[i]]++;
    }
    size_t *true_sum = xcalloc(C, sizeof *true_sum, "scores"), *pred_sum = xcalloc(C, sizeof *pred_sum, "scores");
    size_t correct = 0;
    for (size_t t = 0; t < C; t++)
        for (size_t p = 0; p < C; p++) {
            true_sum[t] += s->confusion[t * C + p];
            pred_sum[p] += s->confusion[t * C + p];
        }
    for (size_t c = 0; c < C; c++) {
        correct += s->confusion[c * C + c];
        if (true_sum[c] || pred_sum[c]) s->n_scored++;
    }
    s->label = xcalloc(s->n_scored ? (size_t)s->n_scored : 1, sizeof *s->label, "per-label scores");
    double *col = xmalloc(3 * (s->n_scored ? (size_t)s->n_scored : 1) * sizeof *col, "scores");
    double *cp = col, *cr = col + s->n_scored, *cf = col + 2 * s->n_scored;
    int k = 0;
    for (size_t c = 0; c < C; c++) {
        if (!true_sum[c] && !pred_sum[c]) continue;
        LabelScore *L = &s->label[k];
        L->label = (int)c;
        L->tp = s->confusion[c * C + c];
        L->support = true_sum[c];
        L->predicted = pred_sum[c];
        L->precision = prf_divide(L->tp, L->predicted);
        L->recall = prf_divide(L->tp, L->support);
        /* sklearn 1.2: (1 + beta^2) * p * r / (beta^2 * p + r), a zero
         * denominator replaced by 1; left to right as NumPy evaluates it. */
        double denom = L->precision + L->recall;
        if (denom == 0.0) denom = 1.0;
        L->f1 = 2.0 * L->precision * L->recall / denom;
        cp[k] = L->precision;
        cr[k] = L->recall;
        cf[k] = L->f1;
        k++;
    }
    s->macro_precision = mean_of(cp, (size_t)s->n_scored);
    s->macro_recall = mean_of(cr, (size_t)s->n_scored);
    s->macro_f1 = mean_of(cf, (size_t)s->n_scored);
    s->accuracy = n ? (double)correct / (double)n : 0.0;
    free(col);
    free(true_sum);
    free(pred_sum);
}

void scores_free(Scores *s) {
    free(s->confusion);
    free(s->label);
    memset(s, 0, sizeof *s);
}

double macro_f1(const int *truth, const int *pred, size_t n, int n_classes) {
    Scores s;
    scores_compute(&s, truth, pred, n, n_classes);
    double f = s.macro_f1;
    scores_free(&s);
    return f;
}

void scores_print(FILE *fp, const Scores *s, const char *const *names) {
    int width = 9;
    char buf[32];
    for (int k = 0; k < s->n_scored; k++) {
        int len = names ? (int)strlen(names[s->label[k].label])
                        : snprintf(buf, sizeof buf, "%d", s->label[k].label);
        if (len > width) width = len;
    }
    fprintf(fp, "%-*s  precision  recall      f1  support  predicted\n", width, "label");
    for (int k = 0; k < s->n_scored; k++) {
        const LabelScore *L = &s->label[k];
        if (names) fprintf(fp, "%-*s", width, names[L->label]);
        else fprintf(fp, "%-*d", width, L->label);
        fprintf(fp, "  %9.4f  %6.4f  %6.4f  %7zu  %9zu\n", L->precision, L->recall, L->f1, L->support,
                L->predicted);
    }
    fprintf(fp, "%-*s  %9.4f  %6.4f  %6.4f  %7zu\n", width, "macro avg", s->macro_precision, s->macro_recall,
            s->macro_f1, s->n);
    fprintf(fp, "accuracy %.6f (%zu samples), macro F1 %.6f over %d labels\n", s->accuracy, s->n, s->macro_f1,
            s->n_scored);
}
