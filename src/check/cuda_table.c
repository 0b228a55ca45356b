/* The case table of `anomaly check-cuda`, in the style of ggml's
 * test-backend-ops: each row is an op, its integer parameters and the
 * tolerance factor k of its outputs (NMSE <= (k eps)^2 * reduction length,
 * cuda_check.h). The shapes cover every shape class the models use:
 * EfficientNet-b0 and -b6 early and late layers (TF "SAME" asymmetric
 * padding, depthwise 3x3 and 5x5, squeeze-excitation), ResNeXt's 7x7 stem,
 * max pool and 32-group 3x3 convolutions, ResNeSt's split attention and
 * average pools, the classifier heads and losses, plus odd sizes and batch 1.
 * Spatial sizes are small: the reduction lengths are the models', the
 * checks stay quick on the CPU side. Elementwise ops with special = 1 get
 * NaN, +-Inf and signed zeros among their inputs. */
#include "anomaly/cuda_check.h"

#include <stdio.h>
#include <string.h>

const CudaOp cuda_ops[] = {
    {"swish", "n%d special%d", "swish_forward, swish_backward"},
    {"relu", "n%d special%d", "relu_forward, relu_backward"},
    {"sigmoid", "n%d special%d", "sigmoid_forward, sigmoid_backward"},
    {"add", "n%d", "add_forward, add_backward"},
    {"channel_scale", "n%d c%d hw%d", "channel_scale_forward, channel_scale_backward"},
    {"dropout", "n%d p%d%%", "dropout_forward, dropout_backward"},
    {"drop_connect", "n%d inner%d rate%d%%", "drop_connect_forward, drop_connect_backward"},
    {"l2norm_rows", "rows%d cols%d zero_row%d", "l2norm_rows_forward, l2norm_rows_backward"},
    {"batchnorm_train", "n%d c%d hw%d eps1e-%d mom%d%% mean%+d",
     "batchnorm2d_forward_train, batchnorm2d_backward"},
    {"batchnorm_eval", "n%d c%d hw%d eps1e-%d mom%d%% mean%+d",
     "batchnorm2d_forward_eval, batchnorm2d_backward_eval"},
    {"bn_swish", "n%d c%d hw%d eps1e-%d mom%d%% mean%+d",
     "batchnorm2d_act_forward_train, _recompute, _backward (swish)"},
    {"bn_relu", "n%d c%d hw%d eps1e-%d mom%d%% mean%+d",
     "batchnorm2d_act_forward_train, _recompute, _backward (ReLU)"},
    {"bn_add_relu", "n%d c%d hw%d eps1e-%d mom%d%% mean%+d",
     "batchnorm2d_add_relu_forward_train, batchnorm2d_add_relu_backward"},
    {"global_avgpool", "n%d c%d hw%d", "global_avgpool_forward, global_avgpool_backward"},
    {"maxpool2d", "n%d c%d %dx%d k%d s%d p%d ceil%d special%d",
     "maxpool2d_forward, maxpool2d_backward"},
    {"avgpool2d", "n%d c%d %dx%d k%d s%d p%d ceil%d count_pad%d",
     "avgpool2d_forward, avgpool2d_backward"},
    {"conv2d", "n%d c%d %dx%d oc%d k%d s%d pad%d,%d,%d,%d g%d dil%d bias%d",
     "conv2d_forward, conv2d_backward"},
    {"depthwise", "n%d c%d %dx%d k%d s%d pad%d,%d,%d,%d bias%d",
     "depthwise_conv2d_forward, depthwise_conv2d_backward"},
    {"linear", "n%d in%d out%d bias%d", "linear_forward, linear_backward"},
    {"radix_softmax", "n%d card%d radix%d inner%d",
     "radix_softmax_forward, radix_softmax_backward"},
    {"radix_sum", "n%d radix%d c%d hw%d", "radix_sum_forward, radix_sum_backward"},
    {"radix_weighted_sum", "n%d radix%d c%d hw%d",
     "radix_weighted_sum_forward, radix_weighted_sum_backward"},
    {"cross_entropy", "n%d c%d", "cross_entropy_forward, cross_entropy_backward"},
    {"label_smoothing", "n%d c%d classes%d eps%d%%",
     "label_smoothing_forward, label_smoothing_backward"},
    {"arcface", "n%d c%d margin%d%% scale%d subset%d", "arcface_forward, arcface_backward"},
    {"adam", "n%d steps%d decay%d", "adam_update"},
    {"sgd", "n%d steps%d momentum%d%% decay%d", "sgd_update"},
    {"clip_grad_norm", "n%d max_norm%d", "grad_global_norm, clip_grad_norm"},
};
const size_t cuda_op_count = sizeof cuda_ops / sizeof cuda_ops[0];

/* k: 4 for plain arithmetic, 16 where exp/log/sin differ by an ulp or two
 * between the CPU's and the GPU's libraries. */
const CudaCase cuda_cases[] = {
    {"swish", {100003, 0}, 16, "odd length"},
    {"swish", {4096, 1}, 16, "NaN/Inf inputs"},
    {"relu", {100003, 0}, 4, "odd length"},
    {"relu", {4096, 1}, 4, "NaN/Inf inputs"},
    {"sigmoid", {100003, 0}, 16, "odd length"},
    {"sigmoid", {4096, 1}, 16, "NaN/Inf inputs"},
    {"add", {65537}, 4, "residual"},
    {"channel_scale", {2, 96, 64}, 4, "b0 SE 8x8"},
    {"channel_scale", {1, 2064, 9}, 4, "b6 late SE, batch 1"},
    {"dropout", {20011, 20}, 4, "head dropout"},
    {"drop_connect", {4, 12288, 20}, 4, "b0 drop-connect"},
    {"l2norm_rows", {4, 1280, 0}, 4, "ArcFace b0 features"},
    {"l2norm_rows", {3, 2048, 1}, 4, "ArcFace resnext, a zero row"},
    {"batchnorm_train", {2, 32, 256, 3, 1, 0}, 4, "b0 stem"},
    {"batchnorm_train", {1, 1280, 4, 3, 1, 3}, 4, "b0 head 2x2, batch 1"},
    {"batchnorm_train", {2, 256, 16, 5, 10, 5}, 4, "resnext 4x4"},
    {"batchnorm_train", {3, 7, 13, 5, 10, -2}, 4, "odd"},
    {"batchnorm_eval", {2, 32, 64, 3, 1, 1}, 4, "b0 eval"},
    {"batchnorm_eval", {1, 2048, 4, 5, 10, 0}, 4, "resnext late eval, batch 1"},
    {"bn_swish", {2, 96, 64, 3, 1, 0}, 16, "b0 expand"},
    {"bn_swish", {1, 2304, 9, 3, 1, 2}, 16, "b6 head, batch 1"},
    {"bn_relu", {2, 64, 256, 5, 10, 0}, 4, "resnext stem 16x16"},
    {"bn_relu", {3, 5, 7, 5, 10, 1}, 4, "odd"},
    {"bn_add_relu", {2, 256, 16, 5, 10, 0}, 4, "resnext bottleneck end"},
    {"bn_add_relu", {1, 2048, 4, 5, 10, -1}, 4, "resnext layer4, batch 1"},
    {"global_avgpool", {2, 1280, 49}, 4, "b0 head 7x7"},
    {"global_avgpool", {1, 2304, 9}, 4, "b6 head, batch 1"},
    {"global_avgpool", {2, 96, 64}, 4, "b0 SE squeeze"},
    {"maxpool2d", {2, 64, 16, 16, 3, 2, 1, 0, 0}, 4, "resnext stem pool"},
    {"maxpool2d", {1, 3, 7, 7, 3, 2, 0, 1, 0}, 4, "odd, ceil mode"},
    {"maxpool2d", {2, 4, 9, 9, 3, 2, 1, 0, 1}, 4, "NaN/Inf inputs"},
    {"avgpool2d", {2, 64, 16, 16, 3, 2, 1, 0, 1}, 4, "resnest avd 3x3 s2"},
    {"avgpool2d", {2, 32, 7, 7, 2, 2, 0, 1, 0}, 4, "resnest avg_down, odd, ceil"},
    {"conv2d", {2, 3, 32, 32, 32, 3, 2, 0, 1, 0, 1, 1, 1, 0}, 4, "b0 stem, SAME pad"},
    {"conv2d", {1, 3, 33, 33, 56, 3, 2, 1, 1, 1, 1, 1, 1, 0}, 4, "b6 stem, odd, batch 1"},
    {"conv2d", {2, 16, 16, 16, 96, 1, 1, 0, 0, 0, 0, 1, 1, 0}, 4, "b0 1x1 expand"},
    {"conv2d", {2, 96, 8, 8, 24, 1, 1, 0, 0, 0, 0, 1, 1, 0}, 4, "b0 1x1 project"},
    {"conv2d", {2, 320, 4, 4, 1280, 1, 1, 0, 0, 0, 0, 1, 1, 0}, 4, "b0 head"},
    {"conv2d", {1, 576, 3, 3, 2304, 1, 1, 0, 0, 0, 0, 1, 1, 0}, 4, "b6 head, batch 1"},
    {"conv2d", {2, 96, 1, 1, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1}, 4, "b0 SE reduce"},
    {"conv2d", {2, 4, 1, 1, 96, 1, 1, 0, 0, 0, 0, 1, 1, 1}, 4, "b0 SE expand"},
    {"conv2d", {2, 3, 32, 32, 64, 7, 2, 3, 3, 3, 3, 1, 1, 0}, 4, "resnext stem 7x7"},
    {"conv2d", {2, 128, 8, 8, 128, 3, 1, 1, 1, 1, 1, 32, 1, 0}, 4, "resnext grouped, 4/group"},
    {"conv2d", {2, 256, 8, 8, 256, 3, 2, 1, 1, 1, 1, 32, 1, 0}, 4, "resnext grouped s2, 8/group"},
    {"conv2d", {1, 1024, 2, 2, 1024, 3, 1, 1, 1, 1, 1, 32, 1, 0}, 4, "resnext late grouped, batch 1"},
    {"conv2d", {2, 256, 8, 8, 512, 1, 2, 0, 0, 0, 0, 1, 1, 0}, 4, "resnext downsample 1x1 s2"},
    {"conv2d", {3, 6, 7, 9, 4, 3, 2, 1, 0, 2, 1, 2, 2, 1}, 4, "odd, dilated, 2 groups"},
    {"conv2d", {1, 8, 5, 5, 8, 5, 1, 2, 2, 2, 2, 4, 1, 1}, 4, "5x5, 4 groups, batch 1"},
    {"depthwise", {2, 32, 16, 16, 3, 1, 1, 1, 1, 1, 0}, 4, "b0 3x3 s1"},
    {"depthwise", {2, 144, 8, 8, 5, 2, 1, 2, 1, 2, 0}, 4, "b0 5x5 s2 SAME"},
    {"depthwise", {1, 2064, 3, 3, 5, 1, 2, 2, 2, 2, 0}, 4, "b6 late 5x5, batch 1"},
    {"depthwise", {1, 3, 7, 5, 3, 2, 0, 1, 0, 1, 1}, 4, "odd, bias"},
    {"linear", {2, 1280, 88, 1}, 4, "b0 head"},
    {"linear", {1, 2304, 88, 1}, 4, "b6 head, batch 1"},
    {"linear", {2, 2048, 88, 1}, 4, "resnext head"},
    {"linear", {3, 17, 5, 0}, 4, "odd, no bias"},
    {"radix_softmax", {2, 1, 2, 128}, 16, "resnest radix 2"},
    {"radix_softmax", {2, 1, 1, 64}, 16, "radix 1 (sigmoid)"},
    {"radix_softmax", {1, 2, 4, 16}, 16, "radix 4, 2 groups, batch 1"},
    {"radix_sum", {2, 2, 64, 64}, 4, "resnest 8x8"},
    {"radix_sum", {1, 4, 5, 7}, 4, "odd, batch 1"},
    {"radix_weighted_sum", {2, 2, 64, 64}, 4, "resnest 8x8"},
    {"radix_weighted_sum", {1, 4, 5, 7}, 4, "odd, batch 1"},
    {"cross_entropy", {8, 88}, 16, "88 labels"},
    {"cross_entropy", {1, 15}, 16, "15 classes, batch 1"},
    {"label_smoothing", {8, 88, 88, 10}, 16, "88 labels"},
    {"label_smoothing", {4, 15, 88, 10}, 16, "15 outputs, classes 88 (the original)"},
    {"arcface", {8, 88, 10, 8, 0}, 16, "all labels"},
    {"arcface", {5, 15, 50, 30, 1}, 16, "label subset"},
    {"adam", {100003, 3, 1}, 4, "weight decay"},
    {"adam", {4099, 2, 0}, 4, "no decay"},
    {"sgd", {100003, 3, 90, 1}, 4, "momentum, decay"},
    {"sgd", {4099, 2, 0, 0}, 4, "plain"},
    {"clip_grad_norm", {100003, 1}, 4, "clips"},
    {"clip_grad_norm", {5000, 1000000}, 4, "no clip"},
};
const size_t cuda_case_count = sizeof cuda_cases / sizeof cuda_cases[0];

const CudaOp *cuda_op_find(const char *name) {
    for (size_t i = 0; i < cuda_op_count; i++)
        if (strcmp(cuda_ops[i].name, name) == 0) return &cuda_ops[i];
    return NULL;
}

void cuda_case_shape(const CudaCase *c, char *buf, size_t len) {
    const CudaOp *op = cuda_op_find(c->op);
    const int *p = c->p;
    int k = op ? snprintf(buf, len, op->format, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                          p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15])
               : snprintf(buf, len, "?");
    if (k >= 0 && (size_t)k < len && c->note && c->note[0])
        snprintf(buf + k, len - (size_t)k, " (%s)", c->note);
}
