/* Where the model's kernels run: the CPU (always), or the CUDA twin
 * (`--device cuda`, builds with CUDA=1 or CUDA=emu).
 *
 * On CUDA every kernel call of the autograd wrappers (src/nn) and of the
 * optimizer step is staged: its arrays are copied to the device, the
 * `_cuda` twin runs, the results come back. Tensors, the tape and the
 * checkpoints stay in host memory, so a model, its dumps and its training
 * step run unchanged and can be diffed tensor by tensor against the CPU.
 * Slow by design: a cross-check, not an accelerator. */
#ifndef ANOMALY_KERNEL_DEVICE_H
#define ANOMALY_KERNEL_DEVICE_H

/* "cpu" or "cuda". fatal() for an unknown name, for cuda in a build
 * without CUDA, and for cuda on a machine without a device. */
void kernel_device_select(const char *name);
/* 1 while kernels run on the CUDA twin. */
int kernel_device_is_cuda(void);

#endif
