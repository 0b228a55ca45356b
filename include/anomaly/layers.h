/* Layers as PyTorch modules: a name, parameter indices into the model's
 * ParamTable, and fixed hyper-parameters. Model files hold these in structs
 * and call the *_apply functions in the order the PyTorch forward does. */
#ifndef ANOMALY_LAYERS_H
#define ANOMALY_LAYERS_H

#include "error.h"
#include "model.h"
#include "ops.h"
#include "ops/fused.h"

#define LAYER_NAME_MAX 96

typedef struct Conv {
    char name[LAYER_NAME_MAX];
    int weight, bias;           /* entry indices; bias -1 when absent */
    int in, out, kh, kw, stride, dilation, groups;
    int pad_t, pad_b, pad_l, pad_r; /* fixed pads (symmetric or static SAME) */
    int same_dynamic;           /* 1: TF SAME pads computed from each input */
} Conv;

/* Registers <name>.weight [out, in/groups, k, k] (and <name>.bias). `pad` is
 * PyTorch's symmetric padding; use conv_set_static_same / same_dynamic for
 * TensorFlow SAME. */
void conv_register(Conv *c, ParamTable *t, const char *name, int in, int out, int k, int stride,
                   int pad, int groups, int bias);
/* TF SAME pads for an input of image_size x image_size, kept for any input
 * (lukemelas' Conv2dStaticSamePadding). */
void conv_set_static_same(Conv *c, int image_size);
/* TF SAME for input size i: o = ceil(i/s), pad = max((o-1)s + (k-1)d + 1 - i, 0),
 * split pad//2 before, the rest after. */
void same_pads(int i, int k, int s, int d, int *before, int *after);
Tensor *conv_apply(Tape *t, const ParamTable *p, const Conv *c, Tensor *x);
/* conv_apply for an output whose one consumer is the BatchNorm applied
 * right after, itself kept or transient but not another transient
 * convolution output's reader in between: a training step does not keep it
 * but recomputes it from x in backward (ag_conv2d_transient), bit for bit,
 * at the price of running the convolution's forward once more. x must be
 * kept (or a transient BatchNorm output). */
Tensor *conv_apply_transient(Tape *t, const ParamTable *p, const Conv *c, Tensor *x);

typedef struct BatchNorm {
    char name[LAYER_NAME_MAX];
    int weight, bias, running_mean, running_var, num_batches_tracked;
    real eps, momentum;
} BatchNorm;

void bn_register(BatchNorm *b, ParamTable *t, const char *name, int c, real eps, real momentum);
/* The bn_* functions below consume x: it must be a temporary that nothing
 * reads afterwards (a convolution's output, as conv_apply returns). In
 * inference (tape not recording) BatchNorm, the activation and the residual
 * add overwrite it rather than allocating, as PyTorch would free it; a
 * --dump has seen it when it was named. res is only read. */
Tensor *bn_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x);
/* act(bn(x)). Training without --dump: one fused op that does not keep the
 * BatchNorm output (ag_batchnorm2d_act, a fifth less activation memory);
 * otherwise bn_apply then the activation, so --dump still sees the output. */
Tensor *bn_act_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x, BnAct act);

/* bn_act_apply for an output whose one consumer is the convolution applied
 * right after: a training step does not keep it but recomputes it in
 * backward (ag_batchnorm2d_act_transient), bit for bit. */
Tensor *bn_act_apply_transient(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x,
                               BnAct act);
/* act(b(c(x))). Inference: one kernel (ag_conv2d_bn_act_eval) that never
 * writes the convolution's output to memory, the same bits. Otherwise
 * conv_apply and bn_act_apply, or their transient forms as flags say. */
enum { CONV_TRANSIENT = 1, BN_TRANSIENT = 2 };
Tensor *conv_bn_act_apply(Tape *t, const ParamTable *p, const Conv *c, const BatchNorm *b,
                          Tensor *x, BnAct act, int flags);
/* relu(bn(x) + res), a ResNet bottleneck's end. Training without --dump:
 * one fused op that keeps only x and the output (ag_batchnorm2d_add_relu);
 * otherwise the three ops, so --dump sees BatchNorm's output. */
Tensor *bn_add_relu_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x,
                          Tensor *res);

typedef struct Linear {
    char name[LAYER_NAME_MAX];
    int weight, bias; /* bias -1 when absent */
    int in, out;
} Linear;

void linear_register(Linear *l, ParamTable *t, const char *name, int in, int out, int bias);
Tensor *linear_apply(Tape *t, const ParamTable *p, const Linear *l, Tensor *x);

/* Module output reporting for --dump, with printf-style names. */
void layer_named(Tape *t, const Tensor *x, const char *fmt, ...) ANOMALY_PRINTF(3, 4);

/* PyTorch default initialisation of one layer, drawing from r. */
void conv_init(const ParamTable *p, const Conv *c, Rng *r);     /* kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)) */
void bn_init(const ParamTable *p, const BatchNorm *b);          /* weight 1, bias 0, mean 0, var 1, count 0 */
void linear_init(const ParamTable *p, const Linear *l, Rng *r); /* as conv_init with fan_in = in */
/* Xavier-uniform: U(+-sqrt(6/(fan_in+fan_out))). */
void xavier_uniform(real *w, int fan_out, int fan_in, Rng *r);

/* Dropout (element mask) and drop-connect (per-sample mask) drawing their
 * masks from the model's RNG when training; identity otherwise. */
Tensor *dropout_apply(Tape *t, Model *m, Tensor *x, double p);
Tensor *drop_connect_apply(Tape *t, Model *m, Tensor *x, double rate);

/* Inference memory: when the tape does not record, frees everything
 * allocated since `mark` except x, which is copied to a fresh allocation.
 * Returns the tensor to use from then on (x itself when recording). The
 * caller must not use any other tensor made after the mark. */
Tensor *keep_only(Tape *t, ArenaMark mark, Tensor *x);

#endif
