/* The one floating-point type of the library.
 *
 * `make PRECISION=64` defines ANOMALY_F64 and the whole library computes in
 * double; the default computes in float like PyTorch. Files on disk
 * (checkpoints, .npy arrays) stay float32 either way unless a command says
 * otherwise, so the two builds read and write the same files. */
#ifndef ANOMALY_REAL_H
#define ANOMALY_REAL_H

#ifdef ANOMALY_F64
typedef double real;
#define REAL_BITS 64
#define REAL_EPSILON 2.220446049250313e-16
#else
typedef float real;
#define REAL_BITS 32
#define REAL_EPSILON 1.1920929e-07f
#endif

#endif
