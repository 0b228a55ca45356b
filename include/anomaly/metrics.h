/* Classification metrics on integer label indices in [0, C): the competition's
 * macro F1 exactly as scikit-learn computes it, per-label scores and the
 * confusion matrix (SPEC §5), and a PNG drawing of the matrix.
 *
 * scikit-learn semantics (f1_score(y_true, y_pred, average='macro') with the
 * default labels and zero_division='warn', checked against scikit-learn 1.2):
 *   - the labels scored are the sorted union of those in truth and prediction,
 *     not all C;
 *   - per label: precision = tp / predicted, recall = tp / true, each 0 when
 *     its denominator is 0; F1 = 2·precision·recall / (precision + recall),
 *     0 when both are 0, evaluated in that order in double;
 *   - macro = the mean over the scored labels, summed as NumPy's pairwise
 *     summation does, so the result is the same double sklearn returns.
 * (scikit-learn >= 1.3 forms F1 as 2tp / (2tp + fp + fn) instead; the two
 * agree to about one unit in the last place.) */
#ifndef ANOMALY_METRICS_H
#define ANOMALY_METRICS_H

#include <stddef.h>
#include <stdio.h>

typedef struct LabelScore {
    int label;          /* label index */
    double precision, recall, f1;
    size_t support;     /* true samples of this label */
    size_t predicted;   /* samples predicted as this label */
    size_t tp;
} LabelScore;

typedef struct Scores {
    int n_classes;      /* C */
    size_t n;           /* samples */
    size_t *confusion;  /* [C][C]: row = truth, column = prediction */
    int n_scored;       /* labels in truth ∪ prediction */
    LabelScore *label;  /* [n_scored], increasing label index */
    double macro_precision, macro_recall, macro_f1;
    double accuracy;
} Scores;

/* Computes everything; fatal() on a label outside [0, n_classes). With n = 0
 * nothing is scored and every score is 0. */
void scores_compute(Scores *s, const int *truth, const int *pred, size_t n, int n_classes);
void scores_free(Scores *s);

/* Just the macro F1 (same numbers as scores_compute). */
double macro_f1(const int *truth, const int *pred, size_t n, int n_classes);

/* NumPy's pairwise sum of a double array (np.add.reduce): blocks of up to 128
 * summed with 8 accumulators, larger arrays split in halves. */
double numpy_pairwise_sum(const double *a, size_t n);

/* Prints the per-label table (precision, recall, F1, support) and the macro
 * line to fp; names[label] labels the rows (NULL: the index is printed). */
void scores_print(FILE *fp, const Scores *s, const char *const *names);

/* Draws the confusion matrix as an RGB PNG (written atomically): names on
 * both axes (columns' names written vertically), cells shaded by the count
 * divided by the row's total, the count printed in each nonzero cell, blue on
 * the diagonal and red off it, thin rules between groups of labels that share
 * a class (the text before the first '-'). Only labels in `show` are drawn
 * (e.g. the scored ones); show = NULL draws all C. cm: [C][C] as in Scores.
 * title may be NULL. fatal() on error. */
void confusion_png_write(const char *path, const size_t *cm, int n_classes, const char *const *names,
                         const int *show, int n_show, const char *title);

#endif
