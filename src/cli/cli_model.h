/* Flags and helpers shared by the model commands (init, forward, step). */
#ifndef ANOMALY_CLI_MODEL_H
#define ANOMALY_CLI_MODEL_H

#include "anomaly/args.h"
#include "anomaly/model.h"
#include "anomaly/real.h"

typedef struct ModelFlags {
    const char *model;
    int num_classes;
    int arcface;
    const char *same_padding;
    int image_size;
    double dropout, drop_connect;
    int threads;
    const char *device;
} ModelFlags;

#define MODEL_FLAG_SPECS(f)                                                                        \
    {"model", ARG_STRING, &(f).model, "model name (anomaly models lists them)", NULL, 1},          \
    {"num_classes", ARG_INT, &(f).num_classes, "number of output classes", NULL, 1},               \
    {"arcface", ARG_FLAG, &(f).arcface, "cosine (ArcFace) head instead of Linear", NULL, 0},       \
    {"same_padding", ARG_STRING, &(f).same_padding,                                                \
     "EfficientNet TF-SAME pads: at the native size (static, default) or per input", "static|dynamic", 0}, \
    {"image_size", ARG_INT, &(f).image_size, "EfficientNet static pads for this size (default native)", NULL, 0}, \
    {"dropout", ARG_DOUBLE, &(f).dropout, "dropout rate before the head (default: the model's)", NULL, 0}, \
    {"drop_connect", ARG_DOUBLE, &(f).drop_connect, "EfficientNet drop-connect rate (default 0.2)", NULL, 0}, \
    {"threads", ARG_INT, &(f).threads, "OpenMP threads (default: all cores)", NULL, 0},           \
    {"device", ARG_STRING, &(f).device,                                                            \
     "where the kernels run: cpu, or cuda (the CUDA twin, each kernel staged through the device)", \
     "cpu|cuda", 0}

void model_flags_default(ModelFlags *f);
/* Applies --threads and --device and builds the model (weights uninitialised). */
Model *model_from_flags(const ModelFlags *f);

/* Reads a float32 NCHW input with 3 channels (fatal with the file name
 * otherwise); returns `real` data and the shape. */
real *read_input_npy(const char *path, int *n, int *h, int *w);

#endif
