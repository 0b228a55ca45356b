/* The losses' input check, shared by src/ops/loss.c and its reference
 * (src/ops/ref/loss.c). Private to src/ops. */
#ifndef ANOMALY_SRC_OPS_LOSS_CHECK_H
#define ANOMALY_SRC_OPS_LOSS_CHECK_H

/* Stops with one line naming `what` for an empty batch or a label outside
 * [0, c). */
void loss_check_batch(const char *what, const int *labels, int n, int c);

#endif
