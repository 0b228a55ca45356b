/* EfficientNet helpers exposed for tests and tools. */
#ifndef ANOMALY_EFFICIENTNET_H
#define ANOMALY_EFFICIENTNET_H

#include "model.h"

extern const ModelFamily efficientnet_family;

/* 0..7 for "efficientnet-b0".."efficientnet-b7", else -1. */
int efficientnet_variant(const char *name);
int efficientnet_round_filters(int filters, double width);
int efficientnet_round_repeats(int repeats, double depth);
int efficientnet_native_size(int variant);

#endif
