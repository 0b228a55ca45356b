/* The kernel device switch (kernel_device.h) and, in builds with the CUDA
 * twin, one staged wrapper per kernel: copy the arrays the kernel reads to
 * the device, run the twin, copy back the arrays it writes or accumulates
 * into. The sizes follow each kernel's documented shapes. */
#include "anomaly/kernel_device.h"
#include "anomaly/error.h"

#include <string.h>

#ifndef ANOMALY_CUDA

int kernel_device_is_cuda(void) { return 0; }

void kernel_device_select(const char *name) {
    if (strcmp(name, "cpu") == 0) return;
    if (strcmp(name, "cuda") == 0)
        fatal("--device cuda: this binary was built without CUDA (build it with make CUDA=1)");
    fatal("--device: '%s' is not cpu or cuda", name);
}

#else

#include "anomaly/cuda.h"
#include "anomaly/ops.h"
#include "anomaly/ops/fused.h"
#include "dispatch_decl.h"

static int on_cuda;

int kernel_device_is_cuda(void) { return on_cuda; }

void kernel_device_select(const char *name) {
    if (strcmp(name, "cpu") == 0) {
        on_cuda = 0;
        return;
    }
    if (strcmp(name, "cuda") != 0) fatal("--device: '%s' is not cpu or cuda", name);
    char err[256];
    if (cuda_device_ready(err, sizeof err) != 0) fatal("--device cuda: %s", err);
    on_cuda = 1;
}

/* ---- staging ---- */

#define STAGE_MAX 16

typedef struct Stage {
    void *dev[STAGE_MAX], *host[STAGE_MAX];
    size_t bytes[STAGE_MAX];
    int back[STAGE_MAX];
    int n;
} Stage;

static void *stage(Stage *s, const void *h, size_t bytes, int upload, int back) {
    if (!h) return NULL;
    if (s->n == STAGE_MAX) fatal("kernel staging: too many arrays");
    void *d = cuda_alloc(bytes, "a staged kernel array");
    if (upload) cuda_upload(d, h, bytes);
    s->dev[s->n] = d;
    s->host[s->n] = (void *)h;
    s->bytes[s->n] = bytes;
    s->back[s->n++] = back;
    return d;
}

/* read by the kernel */
#define IN(h, bytes) stage(&st, (h), (bytes), 1, 0)
/* read and written (accumulated gradients, updated statistics) */
#define IO(h, bytes) stage(&st, (h), (bytes), 1, 1)
/* written only */
#define OUT(h, bytes) stage(&st, (h), (bytes), 0, 1)
#define R(n) ((size_t)(n) * sizeof(real))
#define STAGE Stage st = {0}
#define DONE finish(&st)

static void finish(Stage *s) {
    cuda_sync("a staged kernel");
    for (int i = 0; i < s->n; i++) {
        if (s->back[i]) cuda_download(s->host[i], s->dev[i], s->bytes[i]);
        cuda_free(s->dev[i]);
    }
}

/* ---- activations, elementwise ---- */

void dx_swish_forward(real *out, const real *inp, size_t n) {
    if (!on_cuda) {
        swish_forward(out, inp, n);
        return;
    }
    STAGE;
    swish_forward_cuda(OUT(out, R(n)), IN(inp, R(n)), n);
    DONE;
}
void dx_swish_backward(real *dinp, const real *dout, const real *inp, size_t n) {
    if (!on_cuda) {
        swish_backward(dinp, dout, inp, n);
        return;
    }
    STAGE;
    swish_backward_cuda(IO(dinp, R(n)), IN(dout, R(n)), IN(inp, R(n)), n);
    DONE;
}
void dx_relu_forward(real *out, const real *inp, size_t n) {
    if (!on_cuda) {
        relu_forward(out, inp, n);
        return;
    }
    STAGE;
    relu_forward_cuda(OUT(out, R(n)), IN(inp, R(n)), n);
    DONE;
}
void dx_relu_backward(real *dinp, const real *dout, const real *inp, size_t n) {
    if (!on_cuda) {
        relu_backward(dinp, dout, inp, n);
        return;
    }
    STAGE;
    relu_backward_cuda(IO(dinp, R(n)), IN(dout, R(n)), IN(inp, R(n)), n);
    DONE;
}
void dx_sigmoid_forward(real *out, const real *inp, size_t n) {
    if (!on_cuda) {
        sigmoid_forward(out, inp, n);
        return;
    }
    STAGE;
    sigmoid_forward_cuda(OUT(out, R(n)), IN(inp, R(n)), n);
    DONE;
}
void dx_sigmoid_backward(real *dinp, const real *dout, const real *out, size_t n) {
    if (!on_cuda) {
        sigmoid_backward(dinp, dout, out, n);
        return;
    }
    STAGE;
    sigmoid_backward_cuda(IO(dinp, R(n)), IN(dout, R(n)), IN(out, R(n)), n);
    DONE;
}
void dx_add_forward(real *out, const real *a, const real *b, size_t n) {
    if (!on_cuda) {
        add_forward(out, a, b, n);
        return;
    }
    STAGE;
    add_forward_cuda(OUT(out, R(n)), IN(a, R(n)), IN(b, R(n)), n);
    DONE;
}
void dx_add_backward(real *da, real *db, const real *dout, size_t n) {
    if (!on_cuda) {
        add_backward(da, db, dout, n);
        return;
    }
    STAGE;
    real *dda = IO(da, R(n));
    real *ddb = db == da ? dda : IO(db, R(n)); /* one buffer stays one */
    add_backward_cuda(dda, ddb, IN(dout, R(n)), n);
    DONE;
}
void dx_channel_scale_forward(real *out, const real *inp, const real *s, int n, int c, int hw) {
    if (!on_cuda) {
        channel_scale_forward(out, inp, s, n, c, hw);
        return;
    }
    const size_t t = (size_t)n * c * hw;
    STAGE;
    channel_scale_forward_cuda(OUT(out, R(t)), IN(inp, R(t)), IN(s, R((size_t)n * c)), n, c, hw);
    DONE;
}
void dx_channel_scale_backward(real *dinp, real *ds, const real *dout, const real *inp,
                               const real *s, int n, int c, int hw) {
    if (!on_cuda) {
        channel_scale_backward(dinp, ds, dout, inp, s, n, c, hw);
        return;
    }
    const size_t t = (size_t)n * c * hw, nc = (size_t)n * c;
    STAGE;
    channel_scale_backward_cuda(IO(dinp, R(t)), IO(ds, R(nc)), IN(dout, R(t)),
                                ds ? IN(inp, R(t)) : NULL, IN(s, R(nc)), n, c, hw);
    DONE;
}
void dx_dropout_forward(real *out, const real *inp, const uint8_t *mask, real scale, size_t n) {
    if (!on_cuda) {
        dropout_forward(out, inp, mask, scale, n);
        return;
    }
    STAGE;
    dropout_forward_cuda(OUT(out, R(n)), IN(inp, R(n)), IN(mask, n), scale, n);
    DONE;
}
void dx_dropout_backward(real *dinp, const real *dout, const uint8_t *mask, real scale, size_t n) {
    if (!on_cuda) {
        dropout_backward(dinp, dout, mask, scale, n);
        return;
    }
    STAGE;
    dropout_backward_cuda(IO(dinp, R(n)), IN(dout, R(n)), IN(mask, n), scale, n);
    DONE;
}
void dx_drop_connect_forward(real *out, const real *inp, const uint8_t *keep, real rate, int n,
                             size_t inner) {
    if (!on_cuda) {
        drop_connect_forward(out, inp, keep, rate, n, inner);
        return;
    }
    STAGE;
    drop_connect_forward_cuda(OUT(out, R(n * inner)), IN(inp, R(n * inner)), IN(keep, (size_t)n),
                              rate, n, inner);
    DONE;
}
void dx_drop_connect_backward(real *dinp, const real *dout, const uint8_t *keep, real rate, int n,
                              size_t inner) {
    if (!on_cuda) {
        drop_connect_backward(dinp, dout, keep, rate, n, inner);
        return;
    }
    STAGE;
    drop_connect_backward_cuda(IO(dinp, R(n * inner)), IN(dout, R(n * inner)),
                               IN(keep, (size_t)n), rate, n, inner);
    DONE;
}
void dx_l2norm_rows_forward(real *out, const real *inp, int rows, int cols, real eps) {
    if (!on_cuda) {
        l2norm_rows_forward(out, inp, rows, cols, eps);
        return;
    }
    const size_t t = (size_t)rows * cols;
    STAGE;
    l2norm_rows_forward_cuda(OUT(out, R(t)), IN(inp, R(t)), rows, cols, eps);
    DONE;
}
void dx_l2norm_rows_backward(real *dinp, const real *dout, const real *inp, int rows, int cols,
                             real eps) {
    if (!on_cuda) {
        l2norm_rows_backward(dinp, dout, inp, rows, cols, eps);
        return;
    }
    const size_t t = (size_t)rows * cols;
    STAGE;
    l2norm_rows_backward_cuda(IO(dinp, R(t)), IN(dout, R(t)), IN(inp, R(t)), rows, cols, eps);
    DONE;
}

/* ---- BatchNorm ---- */

#define BN_T(s) R((size_t)(s)->n * (s)->c * (s)->hw)
#define BN_C(s) R((s)->c)

void dx_batchnorm2d_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                                  real *running_var, const real *inp, const real *gamma,
                                  const real *beta, const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_forward_train(out, mean, rstd, running_mean, running_var, inp, gamma,
                                         beta, s);
        return;
    }
    STAGE;
    batchnorm2d_forward_train_cuda(OUT(out, BN_T(s)), OUT(mean, BN_C(s)), OUT(rstd, BN_C(s)),
                                   IO(running_mean, BN_C(s)), IO(running_var, BN_C(s)),
                                   IN(inp, BN_T(s)), IN(gamma, BN_C(s)), IN(beta, BN_C(s)), s);
    DONE;
}
void dx_batchnorm2d_forward_eval(real *out, const real *inp, const real *gamma, const real *beta,
                                 const real *running_mean, const real *running_var,
                                 const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_forward_eval(out, inp, gamma, beta, running_mean, running_var, s);
        return;
    }
    STAGE;
    batchnorm2d_forward_eval_cuda(OUT(out, BN_T(s)), IN(inp, BN_T(s)), IN(gamma, BN_C(s)),
                                  IN(beta, BN_C(s)), IN(running_mean, BN_C(s)),
                                  IN(running_var, BN_C(s)), s);
    DONE;
}
void dx_batchnorm2d_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                             const real *inp, const real *mean, const real *rstd,
                             const real *gamma, const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_backward(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, s);
        return;
    }
    STAGE;
    batchnorm2d_backward_cuda(IO(dinp, BN_T(s)), IO(dgamma, BN_C(s)), IO(dbeta, BN_C(s)),
                              IN(dout, BN_T(s)), IN(inp, BN_T(s)), IN(mean, BN_C(s)),
                              IN(rstd, BN_C(s)), IN(gamma, BN_C(s)), s);
    DONE;
}
void dx_batchnorm2d_backward_eval(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                  const real *inp, const real *running_mean,
                                  const real *running_var, const real *gamma,
                                  const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_backward_eval(dinp, dgamma, dbeta, dout, inp, running_mean, running_var,
                                         gamma, s);
        return;
    }
    STAGE;
    batchnorm2d_backward_eval_cuda(IO(dinp, BN_T(s)), IO(dgamma, BN_C(s)), IO(dbeta, BN_C(s)),
                                   IN(dout, BN_T(s)), IN(inp, BN_T(s)),
                                   IN(running_mean, BN_C(s)), IN(running_var, BN_C(s)),
                                   IN(gamma, BN_C(s)), s);
    DONE;
}
void dx_batchnorm2d_act_forward_train(real *out, real *z, real *mean, real *rstd, real *affine,
                                      real *running_mean, real *running_var, const real *inp,
                                      const real *gamma, const real *beta,
                                      const BatchNormShape *s, BnAct act) {
    if (!on_cuda) {
        batchnorm2d_act_forward_train(out, z, mean, rstd, affine, running_mean, running_var,
                                             inp, gamma, beta, s, act);
        return;
    }
    STAGE;
    batchnorm2d_act_forward_train_cuda(OUT(out, BN_T(s)), OUT(z, BN_T(s)), OUT(mean, BN_C(s)),
                                       OUT(rstd, BN_C(s)), OUT(affine, 2 * BN_C(s)),
                                       IO(running_mean, BN_C(s)), IO(running_var, BN_C(s)),
                                       IN(inp, BN_T(s)), IN(gamma, BN_C(s)), IN(beta, BN_C(s)), s,
                                       act);
    DONE;
}
void dx_batchnorm2d_act_recompute(real *out, const real *inp, const real *affine,
                                  const BatchNormShape *s, BnAct act) {
    if (!on_cuda) {
        batchnorm2d_act_recompute(out, inp, affine, s, act);
        return;
    }
    STAGE;
    batchnorm2d_act_recompute_cuda(OUT(out, BN_T(s)), IN(inp, BN_T(s)), IN(affine, 2 * BN_C(s)), s,
                                   act);
    DONE;
}
void dx_batchnorm2d_act_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                 const real *inp, const real *z, const real *mean,
                                 const real *rstd, const real *affine, const real *gamma,
                                 const BatchNormShape *s, BnAct act) {
    if (!on_cuda) {
        batchnorm2d_act_backward(dinp, dgamma, dbeta, dout, inp, z, mean, rstd, affine,
                                        gamma, s, act);
        return;
    }
    STAGE;
    batchnorm2d_act_backward_cuda(IO(dinp, BN_T(s)), IO(dgamma, BN_C(s)), IO(dbeta, BN_C(s)),
                                  IN(dout, BN_T(s)), IN(inp, BN_T(s)), IN(z, BN_T(s)),
                                  IN(mean, BN_C(s)), IN(rstd, BN_C(s)), IN(affine, 2 * BN_C(s)),
                                  IN(gamma, BN_C(s)), s, act);
    DONE;
}
void dx_batchnorm2d_add_relu_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                                           real *running_var, const real *inp, const real *res,
                                           const real *gamma, const real *beta,
                                           const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_add_relu_forward_train(out, mean, rstd, running_mean, running_var, inp,
                                                  res, gamma, beta, s);
        return;
    }
    STAGE;
    batchnorm2d_add_relu_forward_train_cuda(
        OUT(out, BN_T(s)), OUT(mean, BN_C(s)), OUT(rstd, BN_C(s)), IO(running_mean, BN_C(s)),
        IO(running_var, BN_C(s)), IN(inp, BN_T(s)), IN(res, BN_T(s)), IN(gamma, BN_C(s)),
        IN(beta, BN_C(s)), s);
    DONE;
}
void dx_batchnorm2d_add_relu_backward(real *dinp, real *dres, real *dgamma, real *dbeta,
                                      const real *dout, const real *out, const real *inp,
                                      const real *mean, const real *rstd, const real *gamma,
                                      const BatchNormShape *s) {
    if (!on_cuda) {
        batchnorm2d_add_relu_backward(dinp, dres, dgamma, dbeta, dout, out, inp, mean, rstd,
                                             gamma, s);
        return;
    }
    STAGE;
    batchnorm2d_add_relu_backward_cuda(IO(dinp, BN_T(s)), IO(dres, BN_T(s)), IO(dgamma, BN_C(s)),
                                       IO(dbeta, BN_C(s)), IN(dout, BN_T(s)), IN(out, BN_T(s)),
                                       IN(inp, BN_T(s)), IN(mean, BN_C(s)), IN(rstd, BN_C(s)),
                                       IN(gamma, BN_C(s)), s);
    DONE;
}

/* ---- pools ---- */

#define P_IN(s) R((size_t)(s)->n * (s)->c * (s)->h * (s)->w)
#define P_OUT(s) R((size_t)(s)->n * (s)->c * (s)->oh * (s)->ow)

void dx_global_avgpool_forward(real *out, const real *inp, int n, int c, int hw) {
    if (!on_cuda) {
        global_avgpool_forward(out, inp, n, c, hw);
        return;
    }
    STAGE;
    global_avgpool_forward_cuda(OUT(out, R((size_t)n * c)), IN(inp, R((size_t)n * c * hw)), n, c,
                                hw);
    DONE;
}
void dx_global_avgpool_backward(real *dinp, const real *dout, int n, int c, int hw) {
    if (!on_cuda) {
        global_avgpool_backward(dinp, dout, n, c, hw);
        return;
    }
    STAGE;
    global_avgpool_backward_cuda(IO(dinp, R((size_t)n * c * hw)), IN(dout, R((size_t)n * c)), n, c,
                                 hw);
    DONE;
}
void dx_maxpool2d_forward(real *out, const real *inp, const Pool2dShape *s) {
    if (!on_cuda) {
        maxpool2d_forward(out, inp, s);
        return;
    }
    STAGE;
    maxpool2d_forward_cuda(OUT(out, P_OUT(s)), IN(inp, P_IN(s)), s);
    DONE;
}
void dx_maxpool2d_backward(real *dinp, const real *dout, const real *inp, const Pool2dShape *s) {
    if (!on_cuda) {
        maxpool2d_backward(dinp, dout, inp, s);
        return;
    }
    STAGE;
    maxpool2d_backward_cuda(IO(dinp, P_IN(s)), IN(dout, P_OUT(s)), IN(inp, P_IN(s)), s);
    DONE;
}
void dx_avgpool2d_forward(real *out, const real *inp, const Pool2dShape *s) {
    if (!on_cuda) {
        avgpool2d_forward(out, inp, s);
        return;
    }
    STAGE;
    avgpool2d_forward_cuda(OUT(out, P_OUT(s)), IN(inp, P_IN(s)), s);
    DONE;
}
void dx_avgpool2d_backward(real *dinp, const real *dout, const Pool2dShape *s) {
    if (!on_cuda) {
        avgpool2d_backward(dinp, dout, s);
        return;
    }
    STAGE;
    avgpool2d_backward_cuda(IO(dinp, P_IN(s)), IN(dout, P_OUT(s)), s);
    DONE;
}

/* ---- convolutions, linear ---- */

#define C_IN(s) R((size_t)(s)->n * (s)->c * (s)->h * (s)->w)
#define C_OUT(s) R((size_t)(s)->n * (s)->oc * (s)->oh * (s)->ow)
#define C_W(s) R((size_t)(s)->oc * ((s)->c / (s)->groups) * (s)->kh * (s)->kw)

void dx_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                       const Conv2dShape *s, void *work) {
    if (!on_cuda) {
        conv2d_forward(out, inp, weight, bias, s, work);
        return;
    }
    STAGE;
    conv2d_forward_cuda(OUT(out, C_OUT(s)), IN(inp, C_IN(s)), IN(weight, C_W(s)),
                        IN(bias, R(s->oc)), s);
    DONE;
}
void dx_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, const Conv2dShape *s, void *work) {
    if (!on_cuda) {
        conv2d_backward(dinp, dweight, dbias, dout, inp, weight, s, work);
        return;
    }
    STAGE;
    conv2d_backward_cuda(IO(dinp, C_IN(s)), IO(dweight, C_W(s)), IO(dbias, R(s->oc)),
                         IN(dout, C_OUT(s)), IN(inp, C_IN(s)), IN(weight, C_W(s)), s);
    DONE;
}
void dx_depthwise_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                                 const Conv2dShape *s) {
    if (!on_cuda) {
        depthwise_conv2d_forward(out, inp, weight, bias, s);
        return;
    }
    STAGE;
    depthwise_conv2d_forward_cuda(OUT(out, C_OUT(s)), IN(inp, C_IN(s)), IN(weight, C_W(s)),
                                  IN(bias, R(s->oc)), s);
    DONE;
}
void dx_depthwise_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                                  const real *inp, const real *weight, const Conv2dShape *s) {
    if (!on_cuda) {
        depthwise_conv2d_backward(dinp, dweight, dbias, dout, inp, weight, s);
        return;
    }
    STAGE;
    depthwise_conv2d_backward_cuda(IO(dinp, C_IN(s)), IO(dweight, C_W(s)), IO(dbias, R(s->oc)),
                                   IN(dout, C_OUT(s)), IN(inp, C_IN(s)), IN(weight, C_W(s)), s);
    DONE;
}
void dx_linear_forward(real *out, const real *inp, const real *weight, const real *bias, int n,
                       int in_f, int out_f) {
    if (!on_cuda) {
        linear_forward(out, inp, weight, bias, n, in_f, out_f);
        return;
    }
    STAGE;
    linear_forward_cuda(OUT(out, R((size_t)n * out_f)), IN(inp, R((size_t)n * in_f)),
                        IN(weight, R((size_t)out_f * in_f)), IN(bias, R(out_f)), n, in_f, out_f);
    DONE;
}
void dx_linear_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                        const real *weight, int n, int in_f, int out_f) {
    if (!on_cuda) {
        linear_backward(dinp, dweight, dbias, dout, inp, weight, n, in_f, out_f);
        return;
    }
    STAGE;
    linear_backward_cuda(IO(dinp, R((size_t)n * in_f)), IO(dweight, R((size_t)out_f * in_f)),
                         IO(dbias, R(out_f)), IN(dout, R((size_t)n * out_f)),
                         IN(inp, R((size_t)n * in_f)), IN(weight, R((size_t)out_f * in_f)), n,
                         in_f, out_f);
    DONE;
}

/* ---- split attention ---- */

void dx_radix_softmax_forward(real *out, const real *inp, int n, int card, int radix, int inner) {
    if (!on_cuda) {
        radix_softmax_forward(out, inp, n, card, radix, inner);
        return;
    }
    const size_t t = (size_t)n * card * radix * inner;
    STAGE;
    radix_softmax_forward_cuda(OUT(out, R(t)), IN(inp, R(t)), n, card, radix, inner);
    DONE;
}
void dx_radix_softmax_backward(real *dinp, const real *dout, const real *out, int n, int card,
                               int radix, int inner) {
    if (!on_cuda) {
        radix_softmax_backward(dinp, dout, out, n, card, radix, inner);
        return;
    }
    const size_t t = (size_t)n * card * radix * inner;
    STAGE;
    radix_softmax_backward_cuda(IO(dinp, R(t)), IN(dout, R(t)), IN(out, R(t)), n, card, radix,
                                inner);
    DONE;
}
void dx_radix_sum_forward(real *out, const real *inp, int n, int radix, int c, int hw) {
    if (!on_cuda) {
        radix_sum_forward(out, inp, n, radix, c, hw);
        return;
    }
    const size_t o = (size_t)n * c * hw;
    STAGE;
    radix_sum_forward_cuda(OUT(out, R(o)), IN(inp, R(o * radix)), n, radix, c, hw);
    DONE;
}
void dx_radix_sum_backward(real *dinp, const real *dout, int n, int radix, int c, int hw) {
    if (!on_cuda) {
        radix_sum_backward(dinp, dout, n, radix, c, hw);
        return;
    }
    const size_t o = (size_t)n * c * hw;
    STAGE;
    radix_sum_backward_cuda(IO(dinp, R(o * radix)), IN(dout, R(o)), n, radix, c, hw);
    DONE;
}
void dx_radix_weighted_sum_forward(real *out, const real *inp, const real *attn, int n, int radix,
                                   int c, int hw) {
    if (!on_cuda) {
        radix_weighted_sum_forward(out, inp, attn, n, radix, c, hw);
        return;
    }
    const size_t o = (size_t)n * c * hw, a = (size_t)n * radix * c;
    STAGE;
    radix_weighted_sum_forward_cuda(OUT(out, R(o)), IN(inp, R(o * radix)), IN(attn, R(a)), n,
                                    radix, c, hw);
    DONE;
}
void dx_radix_weighted_sum_backward(real *dinp, real *dattn, const real *dout, const real *inp,
                                    const real *attn, int n, int radix, int c, int hw) {
    if (!on_cuda) {
        radix_weighted_sum_backward(dinp, dattn, dout, inp, attn, n, radix, c, hw);
        return;
    }
    const size_t o = (size_t)n * c * hw, a = (size_t)n * radix * c;
    STAGE;
    radix_weighted_sum_backward_cuda(IO(dinp, R(o * radix)), IO(dattn, R(a)), IN(dout, R(o)),
                                     IN(inp, R(o * radix)), IN(attn, R(a)), n, radix, c, hw);
    DONE;
}

/* ---- losses: the CPU kernel checks the labels first (its fatal error),
 * then the twin computes ---- */

static void check_labels(const char *what, const int *labels, int n, int c) {
    if (n <= 0 || c <= 0) fatal("%s: empty input (batch %d, classes %d)", what, n, c);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            fatal("%s: label %d of sample %d is outside [0, %d) (the model has %d outputs)", what,
                  labels[i], i, c, c);
}

double dx_cross_entropy_forward(const real *logits, const int *labels, int n, int c) {
    if (!on_cuda) return cross_entropy_forward(logits, labels, n, c);
    check_labels("cross-entropy", labels, n, c);
    STAGE;
    double v = cross_entropy_forward_cuda(IN(logits, R((size_t)n * c)),
                                          IN(labels, (size_t)n * sizeof(int)), n, c);
    DONE;
    return v;
}
void dx_cross_entropy_backward(real *dlogits, const real *logits, const int *labels, int n, int c,
                               real dloss) {
    if (!on_cuda) {
        cross_entropy_backward(dlogits, logits, labels, n, c, dloss);
        return;
    }
    check_labels("cross-entropy", labels, n, c);
    STAGE;
    cross_entropy_backward_cuda(IO(dlogits, R((size_t)n * c)), IN(logits, R((size_t)n * c)),
                                IN(labels, (size_t)n * sizeof(int)), n, c, dloss);
    DONE;
}
double dx_label_smoothing_forward(const real *logits, const int *labels, int n, int c, real eps,
                                  int classes) {
    if (!on_cuda) return label_smoothing_forward(logits, labels, n, c, eps, classes);
    check_labels("label smoothing", labels, n, c);
    STAGE;
    double v = label_smoothing_forward_cuda(IN(logits, R((size_t)n * c)),
                                            IN(labels, (size_t)n * sizeof(int)), n, c, eps,
                                            classes);
    DONE;
    return v;
}
void dx_label_smoothing_backward(real *dlogits, const real *logits, const int *labels, int n,
                                 int c, real eps, int classes, real dloss) {
    if (!on_cuda) {
        label_smoothing_backward(dlogits, logits, labels, n, c, eps, classes, dloss);
        return;
    }
    check_labels("label smoothing", labels, n, c);
    STAGE;
    label_smoothing_backward_cuda(IO(dlogits, R((size_t)n * c)), IN(logits, R((size_t)n * c)),
                                  IN(labels, (size_t)n * sizeof(int)), n, c, eps, classes, dloss);
    DONE;
}
void dx_arcface_forward(real *out, const real *cos, const int *labels, const uint8_t *target, int n,
                        int c, real margin, real scale) {
    if (!on_cuda) {
        arcface_forward(out, cos, labels, target, n, c, margin, scale);
        return;
    }
    check_labels("ArcFace", labels, n, c);
    STAGE;
    arcface_forward_cuda(OUT(out, R((size_t)n * c)), IN(cos, R((size_t)n * c)),
                         IN(labels, (size_t)n * sizeof(int)), IN(target, (size_t)c), n, c, margin,
                         scale);
    DONE;
}
void dx_arcface_backward(real *dcos, const real *dout, const real *cos, const int *labels,
                         const uint8_t *target, int n, int c, real margin, real scale) {
    if (!on_cuda) {
        arcface_backward(dcos, dout, cos, labels, target, n, c, margin, scale);
        return;
    }
    check_labels("ArcFace", labels, n, c);
    STAGE;
    arcface_backward_cuda(IO(dcos, R((size_t)n * c)), IN(dout, R((size_t)n * c)),
                          IN(cos, R((size_t)n * c)), IN(labels, (size_t)n * sizeof(int)),
                          IN(target, (size_t)c), n, c, margin, scale);
    DONE;
}

/* ---- optimizer ---- */

void dx_adam_update(real *param, const real *grad, real *m, real *v, size_t n,
                    const AdamConfig *cfg, long step) {
    if (!on_cuda) {
        adam_update(param, grad, m, v, n, cfg, step);
        return;
    }
    STAGE;
    adam_update_cuda(IO(param, R(n)), IN(grad, R(n)), IO(m, R(n)), IO(v, R(n)), n, cfg, step);
    DONE;
}
void dx_sgd_update(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                   long step) {
    if (!on_cuda) {
        sgd_update(param, grad, buf, n, cfg, step);
        return;
    }
    STAGE;
    sgd_update_cuda(IO(param, R(n)), IN(grad, R(n)), IO(buf, R(n)), n, cfg, step);
    DONE;
}
double dx_clip_adam_update(real *param, real *grad, real *m, real *v, size_t n,
                           const AdamConfig *cfg, long step, double max_norm) {
    if (!on_cuda) return clip_adam_update(param, grad, m, v, n, cfg, step, max_norm);
    const double norm = max_norm > 0 ? dx_clip_grad_norm(grad, n, max_norm)
                                     : dx_grad_global_norm(grad, n);
    dx_adam_update(param, grad, m, v, n, cfg, step);
    return norm;
}
double dx_grad_global_norm(const real *grad, size_t n) {
    if (!on_cuda) return grad_global_norm(grad, n);
    STAGE;
    double v = grad_global_norm_cuda(IN(grad, R(n)), n);
    DONE;
    return v;
}
double dx_clip_grad_norm(real *grad, size_t n, double max_norm) {
    if (!on_cuda) return clip_grad_norm(grad, n, max_norm);
    STAGE;
    double v = clip_grad_norm_cuda(IO(grad, R(n)), n, max_norm);
    DONE;
    return v;
}

#endif
