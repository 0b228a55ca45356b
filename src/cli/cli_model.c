#include "cli_model.h"
#include "anomaly/kernel_device.h"

#include <omp.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/npy.h"

void model_flags_default(ModelFlags *f) {
    memset(f, 0, sizeof *f);
    f->same_padding = "static";
    f->dropout = -1;
    f->drop_connect = -1;
    f->device = "cpu";
}

Model *model_from_flags(const ModelFlags *f) {
    if (f->threads < 0) fatal("--threads must be positive, not %d", f->threads);
    if (f->threads > 0) omp_set_num_threads(f->threads);
    kernel_device_select(f->device);
    if (f->dropout >= 1 || f->drop_connect >= 1)
        fatal("--dropout and --drop_connect must be below 1");
    ModelConfig c = model_config_default(f->model, f->num_classes);
    c.arcface = f->arcface;
    c.same_padding = strcmp(f->same_padding, "dynamic") == 0 ? SAME_DYNAMIC : SAME_STATIC;
    if (f->image_size < 0) fatal("--image_size must be positive, not %d", f->image_size);
    c.image_size = f->image_size;
    c.dropout = f->dropout;
    c.drop_connect = f->drop_connect;
    return model_create(&c);
}

real *read_input_npy(const char *path, int *n, int *h, int *w) {
    NpyArray a;
    char err[512];
    if (npy_read(path, &a, err, sizeof err) != 0) fatal("%s", err);
    if (npy_expect(&a, path, NPY_F4, 4, err, sizeof err) != 0) fatal("%s", err);
    if (a.shape[1] != 3)
        fatal("%s: expected an NCHW array with 3 channels, got %lld channels", path, (long long)a.shape[1]);
    if (a.shape[0] < 1 || a.shape[2] < 1 || a.shape[3] < 1) fatal("%s: the input is empty", path);
    *n = (int)a.shape[0];
    *h = (int)a.shape[2];
    *w = (int)a.shape[3];
    real *x = npy_to_real(&a);
    npy_free(&a);
    return x;
}
