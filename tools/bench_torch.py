"""The PyTorch side of `make bench`: time one model's training step or eval
forward on this CPU, exactly as the C side runs it, and print one JSON line.

    /usr/bin/python3 tools/bench_torch.py --model efficientnet-b0 --size 224
        --batch 8 --mode train|eval --threads 2 [--steps 5] [--warmup 1]
    /usr/bin/python3 tools/bench_torch.py --model efficientnet-b6 --size 640
        --batch 8 --mode test --threads 2 --data DIR

The model is the PyTorch twin (tools/twin: lukemelas' EfficientNet with its
memory-efficient swish, timm's ResNeXt), 88 classes. A train step is what
`anomaly step` does: forward in train mode, label-smoothing loss (0.1),
backward, clip_grad_norm_(2.0), Adam (lr 5e-5, weight decay 1e-4). Eval is
model.eval() under torch.no_grad(). Inputs are fixed random normal values.

Test is the inference job of `anomaly test`: every image of DIR/test_df.csv
(column file_name, under DIR/test) read with cv2.imread, BGR -> RGB,
cv2.resize to size x size (INTER_LINEAR), normalised with ImageNet's mean
and std, batches of --batch through the eval model under torch.no_grad().
As in `anomaly test`, one background thread prepares the next batch while
the model runs on the current one (OpenCV releases the GIL; cv2 runs one
thread, as the C loader's default decode team of one). Reported: the whole
job's wall and CPU seconds, images/s, the seconds inside the model, the
seconds the model waited for data, and the decode and resize seconds.

--profile: after the timed steps, as many again under torch.profiler, and
the JSON gains "profile": self CPU seconds per step in the categories
`anomaly step/forward --profile` is summed into by tools/bench_report.py
(op_category): conv (dense and grouped convolutions, forward and backward),
depthwise, bn_act (BatchNorm, activations, and their backward), other
(everything else: pooling, SE scaling, adds, linear, loss, optimizer), and
"ops" (the top ops by self time, for reading). The profiler's own cost is
in these numbers, not in the timed steps.

Reported: every timed step (wall and process CPU seconds), their medians,
the peak resident set size of the
process (ru_maxrss) and the resident size before the first step (so the
step's own working set can be told from the size of the torch libraries),
and what does the arithmetic: the oneDNN ISA (convolutions) and the OpenBLAS
core (matrix products outside oneDNN), as loaded in this process.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def rss_now():
    """Current resident set size in bytes (from /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def openblas_core():
    """The OpenBLAS kernel set this process uses (the library torch loaded)."""
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return "unknown"


def onednn_isa():
    """oneDNN's instruction set, from its verbose log of one convolution in a
    child process (verbose output would disturb the timed process)."""
    # big enough for PyTorch to hand the convolution to oneDNN
    code = ("import torch\n"
            "torch.nn.functional.conv2d(torch.ones(2, 16, 32, 32), torch.ones(16, 16, 3, 3))\n")
    env = dict(os.environ, DNNL_VERBOSE="1", ONEDNN_VERBOSE="1")
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in out.splitlines():
        if ",isa:" in line:
            return line.split(",isa:", 1)[1].strip()
    return "unknown"


# aten ops by category; a convolution is depthwise when its weight is
# [C, 1, kh, kw] with C > 1 (shapes recorded by the profiler)
CONV_OPS = {"aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::thnn_conv2d",
            "aten::convolution_backward", "aten::mkldnn_convolution_backward",
            "aten::_slow_conv2d_backward", "aten::slow_conv_dilated2d",
            "aten::_nnpack_spatial_convolution", "aten::_convolution"}
BN_ACT_OPS = {"aten::native_batch_norm", "aten::native_batch_norm_backward",
              "aten::_batch_norm_impl_index", "aten::batch_norm", "aten::sigmoid",
              "aten::sigmoid_backward", "aten::silu", "aten::silu_backward", "aten::relu",
              "aten::relu_", "aten::threshold_backward", "aten::clamp_min",
              "aten::clamp_min_", "aten::_native_batch_norm_legit"}


def conv_weight_shape(name, shapes):
    """The weight's shape among a convolution op's recorded input shapes."""
    if not shapes:
        return None
    idx = 2 if name.endswith("_backward") else 1  # backward: (grad_out, input, weight, ...)
    if len(shapes) > idx and len(shapes[idx]) == 4:
        return shapes[idx]
    return None


def op_category(name, shapes):
    if name in CONV_OPS:
        w = conv_weight_shape(name, shapes)
        return "depthwise" if w and w[1] == 1 and w[0] > 1 else "conv"
    if name in BN_ACT_OPS:
        return "bn_act"
    # the twin's swish is x * sigmoid(x) (a custom autograd function): a
    # multiply of two same-shaped 4-d tensors; the SE scaling multiplies by
    # [n, c, 1, 1] and stays in other
    if name in ("aten::mul", "aten::mul_") and shapes and len(shapes) >= 2 and \
            len(shapes[0]) == 4 and shapes[0] == shapes[1]:
        return "bn_act"
    return "other"


def profile_steps(step, steps):
    """Self CPU seconds per step by op category, and the top ops."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    cats = {"conv": 0.0, "depthwise": 0.0, "bn_act": 0.0, "other": 0.0}
    ops = {}
    for ev in prof.key_averages(group_by_input_shape=True):
        sec = ev.self_cpu_time_total / 1e6 / steps
        if sec <= 0:
            continue
        if not ev.key.startswith("aten::"):
            # a range (autograd node, optimizer.step): its ops are counted
            # on their own; its self time is glue, counted with the rest
            cats["other"] += sec
            continue
        cats[op_category(ev.key, ev.input_shapes)] += sec
        ops[ev.key] = ops.get(ev.key, 0.0) + sec
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:12]
    return {"categories": cats, "ops": dict(top)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--mode", choices=["train", "eval", "test"], required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--classes", type=int, default=88)
    ap.add_argument("--data", help="test mode: the data set (test_df.csv, test/)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile as many steps by op category (see above)")
    a = ap.parse_args()
    if a.mode == "test":
        if not a.data:
            ap.error("--mode test needs --data DIR")
        return test_job(a)

    import torch
    from torch.nn import functional as F
    from twin import registry

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = registry.build(a.model, a.classes)
    x = torch.randn(a.batch, 3, a.size, a.size)
    labels = torch.arange(a.batch) % a.classes
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=5e-5, weight_decay=1e-4)

    def smoothing(logits, y, eps=0.1):
        c = logits.shape[1]
        q = torch.full_like(logits, eps / (c - 1))
        q.scatter_(1, y[:, None], 1 - eps)
        return (-(q * F.log_softmax(logits, dim=1)).sum(1)).mean()

    def train_step():
        opt.zero_grad(set_to_none=False)
        loss = smoothing(model(x), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 2.0)
        opt.step()

    def eval_step():
        with torch.no_grad():
            model(x)

    if a.mode == "train":
        model.train()
        step = train_step
    else:
        model.eval()
        step = eval_step
    rss_before = rss_now()
    times, cpu = [], []
    for k in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if k >= a.warmup:
            times.append(dt)
            cpu.append(dc)
    prof = profile_steps(step, a.steps) if a.profile else None
    print(json.dumps({
        "profile": prof,
        "side": "pytorch", "model": a.model, "size": a.size, "batch": a.batch, "mode": a.mode,
        "threads": torch.get_num_threads(), "times": times, "median": statistics.median(times),
        "cpu": cpu, "cpu_median": statistics.median(cpu),
        "peak_rss": peak_rss(), "rss_before": rss_before, "torch": torch.__version__,
        "blas_core": openblas_core(), "onednn_isa": onednn_isa(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }))


def test_job(a):
    """The inference job (see the module's docstring); prints one JSON line."""
    import concurrent.futures
    import csv

    import cv2
    import numpy as np
    import torch
    from twin import registry

    with open(os.path.join(a.data, "test_df.csv"), newline="") as f:
        paths = [os.path.join(a.data, "test", row["file_name"]) for row in csv.DictReader(f)]
    if not paths:
        sys.exit(f"bench_torch: {a.data}/test_df.csv lists no images")
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(1)
    torch.manual_seed(0)
    model = registry.build(a.model, a.classes).eval()
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)

    def load(batch_paths):
        t0 = time.perf_counter()
        decode = resize = 0.0
        out = []
        for p in batch_paths:
            t1 = time.perf_counter()
            img = cv2.imread(p)
            if img is None:
                raise SystemExit(f"bench_torch: cannot read {p}")
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            t2 = time.perf_counter()
            img = cv2.resize(img, (a.size, a.size), interpolation=cv2.INTER_LINEAR)
            out.append(((img.astype(np.float32) / 255 - mean) / std).transpose(2, 0, 1))
            decode += t2 - t1
            resize += time.perf_counter() - t2
        x = torch.from_numpy(np.ascontiguousarray(np.stack(out)))
        return x, time.perf_counter() - t0, decode, resize

    batches = [paths[i:i + a.batch] for i in range(0, len(paths), a.batch)]
    rss_before = rss_now()
    busy = decode = resize = wait = network = 0.0
    t_start, c_start = time.perf_counter(), time.process_time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(load, batches[0])
        for k in range(len(batches)):
            t0 = time.perf_counter()
            x, b, d, r = ahead.result()
            wait += time.perf_counter() - t0
            busy, decode, resize = busy + b, decode + d, resize + r
            if k + 1 < len(batches):
                ahead = pool.submit(load, batches[k + 1])
            t0 = time.perf_counter()
            with torch.no_grad():
                model(x)
            network += time.perf_counter() - t0
    wall, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    print(json.dumps({
        "side": "pytorch", "model": a.model, "size": a.size, "batch": a.batch, "mode": "test",
        "threads": torch.get_num_threads(), "images": len(paths), "batches": len(batches),
        "wall": wall, "cpu": cpu, "network": network, "wait": wait, "busy": busy,
        "decode": decode, "resize": resize,
        "median": wall / len(batches), "cpu_median": cpu / len(batches),
        "peak_rss": peak_rss(), "rss_before": rss_before, "torch": torch.__version__,
        "blas_core": openblas_core(), "onednn_isa": onednn_isa(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }))


if __name__ == "__main__":
    main()
