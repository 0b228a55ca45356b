"""The hash initialisation of src/models/hash_init.c in NumPy: the same
float32 values for the same (seed, state-dict name, element index), so a
parity fixture needs only the seed, not the weights."""
import numpy as np

_MASK = (1 << 64) - 1


def _fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & _MASK
    return h


def _mix64(z):
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def values(name, shape, seed, trainable=True):
    """The float32 array params_init_hash gives the entry `name`."""
    shape = tuple(int(s) for s in shape)
    numel = int(np.prod(shape)) if shape else 1
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    if len(shape) >= 2:
        hi = 1.0 / np.sqrt(float(numel // shape[0]))
        lo = -hi
    elif name.endswith("running_var"):
        lo, hi = 0.5, 1.5
    elif name.endswith(".weight") and trainable:
        lo, hi = 0.8, 1.2
    else:
        lo, hi = -0.1, 0.1
    base = np.uint64((seed ^ _fnv1a64(name)) & _MASK)
    k = np.arange(1, numel + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = _mix64(base + k * np.uint64(0x9E3779B97F4A7C15))
    u = (bits >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def init_model(model, seed):
    """Overwrites every parameter and buffer of a torch module in place."""
    import torch
    trainable = {n for n, _ in model.named_parameters()}
    with torch.no_grad():
        for name, t in model.state_dict().items():
            v = values(name, t.shape, seed, name in trainable)
            t.copy_(torch.from_numpy(v).to(t.dtype))
    return model
