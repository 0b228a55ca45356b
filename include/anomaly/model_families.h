/* Declarations of every model family listed in model_families.def. */
#ifndef ANOMALY_MODEL_FAMILIES_H
#define ANOMALY_MODEL_FAMILIES_H
#include "model.h"
#define MODEL_FAMILY(sym) extern const ModelFamily sym;
#include "model_families.def"
#undef MODEL_FAMILY
#endif
