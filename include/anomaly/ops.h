/* All kernel families. */
#ifndef ANOMALY_OPS_H
#define ANOMALY_OPS_H
#include "ops/conv2d.h"
#include "ops/depthwise.h"
#include "ops/batchnorm.h"
#include "ops/act.h"
#include "ops/pool.h"
#include "ops/linear.h"
#include "ops/elementwise.h"
#include "ops/attn.h"
#include "ops/loss.h"
#include "ops/optim.h"
#endif
