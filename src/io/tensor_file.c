/* One array from a .npy file, or from a safetensors or torch.save file that
 * holds exactly one tensor (such as the original's features_*.pth). */
#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24); /* subnormal */
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(1024 + m), e - 25);
    return h >> 15 ? -v : v;
}

static float bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int npy_or_tensor_read(const char *path, NpyArray *a, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    unsigned char magic[6] = {0};
    size_t got = fp ? fread(magic, 1, 6, fp) : 0;
    if (fp) fclose(fp);
    if (!fp || (got == 6 && memcmp(magic, "\x93NUMPY", 6) == 0)) return npy_read(path, a, err, errlen);
    SafeTensors st;
    if (safetensors_open(path, &st, err, errlen)) return -1;
    int rc = 0;
    if (st.count != 1) {
        rc = error_format(err, errlen, "%s: holds %d tensors, expected one array", path, st.count);
    } else {
        const StTensor *t = &st.tensors[0];
        static const struct {
            StDtype from;
            NpyDtype to;
        } map[] = {{ST_F32, NPY_F4}, {ST_F16, NPY_F4}, {ST_BF16, NPY_F4}, {ST_F64, NPY_F8},
                   {ST_I64, NPY_I8}, {ST_I32, NPY_I4}, {ST_U8, NPY_U1},   {ST_BOOL, NPY_B1}};
        size_t k = 0;
        while (k < sizeof map / sizeof map[0] && map[k].from != t->dtype) k++;
        if (k == sizeof map / sizeof map[0] || t->ndim > NPY_MAX_DIMS) {
            rc = error_format(err, errlen, "%s: tensor '%s' is %s of rank %d, not an array this reads", path,
                              t->name, st_dtype_name(t->dtype), t->ndim);
        } else {
            memset(a, 0, sizeof *a);
            a->dtype = map[k].to;
            a->ndim = t->ndim;
            memcpy(a->shape, t->shape, (size_t)t->ndim * sizeof *a->shape);
            a->numel = t->numel;
            a->data = xmalloc(t->numel ? t->numel * npy_dtype_size(a->dtype) : 1, "an array");
            if (t->dtype == ST_F16 || t->dtype == ST_BF16) {
                float *out = a->data;
                for (size_t i = 0; i < t->numel; i++) {
                    uint16_t h;
                    memcpy(&h, t->data + 2 * i, 2);
                    out[i] = t->dtype == ST_F16 ? half_to_float(h) : bf16_to_float(h);
                }
            } else if (t->nbytes) {
                memcpy(a->data, t->data, t->nbytes);
            }
        }
    }
    safetensors_close(&st);
    return rc;
}
