"""The tables of `make bench` (tools/bench.sh) from the raw outputs it left
in its work directory:

    /usr/bin/python3 tools/bench_report.py WORK THREADS CPU_ISA "ISAS" "CASES"

WORK/ISA/NAME.c.txt      our side of a case at one dispatch level (`anomaly
                         step|forward --profile`, or `anomaly test --profile`)
WORK/ISA/version.txt     `anomaly --version` at that level (kernels in use)
WORK/ISA/gemm.txt        tools/bench_gemm.c at that level
WORK/torch-MODE/NAME.torch.json   tools/bench_torch.py, MODE native or avx2
WORK/torch-MODE-heap/NAME.torch.json   the same with glibc's allocator keeping
                         freed memory (optional; see tools/bench.sh)
WORK/exact/NAME.c.txt    the exact mode (WORK/exact/NAME.isa: its level)

One table per level, each row with both sides' time, images/s, peak RSS and
their ratios (time against the faster PyTorch run, memory against PyTorch as
installed); then the exact mode, the inference job's breakdown, and the
notes. A missing or malformed output is an error naming the file.
"""
import json
import os
import re
import statistics
import sys

TITLE = {
    "b0-train-64": ("b0 train 64 px x8", 8),
    "b0-train-224": ("b0 train 224 px x8", 8),
    "b0-train-128": ("b0 train 128 px x16", 16),
    "b0-eval-224": ("b0 eval 224 px x8", 8),
    "rx50-train-224": ("resnext50 train 224 px x8", 8),
    "rs50-train-224": ("resnest50d train 224 px x8", 8),
    "b6-eval-528": ("b6 eval 528 px x1", 1),
    "b0-train-224-1t": ("b0 train 224 px x8, 1 thread", 8),
    "b6-test-640": ("b6 test 640 px, PNG 1024 px", None),
}
# the --profile line of `anomaly test`
PROFILE = re.compile(
    r"^profile \S+: (\d+) images in (\d+) batches, ([0-9.]+) s end to end .*?; network ([0-9.]+) s .*?"
    r"waiting for data ([0-9.]+) s .*?; loader busy ([0-9.]+) s \(.*?: decode ([0-9.]+) s, "
    r"resize and normalize ([0-9.]+) s.*?\); cpu ([0-9.]+) s; peak RSS ([0-9.]+) MiB", re.M)
WAIT_LIMIT = 0.05  # the network waiting for data more than this share of the time: a bottleneck


def fail(msg):
    sys.exit(f"bench_report: {msg}")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def c_side(path):
    text = read(path)
    m = PROFILE.search(text)
    if m:  # the inference job
        images, batches, wall, net, wait, busy, dec, res, cpu, peak = m.groups()
        images, batches = int(images), int(batches)
        wall, cpu = float(wall), float(cpu)
        return {"test": True, "images": images, "batches": batches, "wall": wall,
                "median": wall / batches, "cpu_median": cpu / batches, "network": float(net),
                "wait": float(wait), "busy": float(busy), "decode": float(dec), "resize": float(res),
                "peak": float(peak), "before": 0.0, "gflop": 0.0}
    times = [float(t) for t in re.findall(r"^time (?:step|pass) \d+ ([0-9.]+) s", text, re.M)][1:]
    cpu = [float(t) for t in re.findall(r"^time (?:step|pass) \d+ [0-9.]+ s \(cpu ([0-9.]+) s\)", text, re.M)][1:]
    rss = re.search(r"peak RSS ([0-9.]+) MiB \(([0-9.]+) MiB", text)
    if not times or not cpu or not rss:
        fail(f"{path}: no timed steps or no peak RSS line (the command's output is there)")
    m = re.search(r"([0-9.]+) GFLOP per step", text)
    return {"test": False, "median": statistics.median(times), "best": min(times),
            "cpu_median": statistics.median(cpu),
            "peak": float(rss.group(1)), "before": float(rss.group(2)),
            "gflop": float(m.group(1)) if m else 0.0}


# our --profile's op names by category, as bench_torch.py's op_category
# sorts PyTorch's (the fused convolution + BatchNorm + activation of
# inference counts as its convolution)
def c_category(op):
    if op.startswith("depthwise_conv2d"):
        return "depthwise"
    if op.startswith("conv2d"):
        return "conv"
    if op.startswith("batchnorm2d") or op in ("swish", "sigmoid", "relu"):
        return "bn_act"
    return "other"


def c_categories(path):
    """Seconds per step by category from the op table of our --profile."""
    text = read(path)
    m = re.search(r"^op \(seconds per step\).*\n((?:.+\n)+)", text, re.M)
    if not m:
        return None
    cats = {"conv": 0.0, "depthwise": 0.0, "bn_act": 0.0, "other": 0.0, "fused": False}
    for line in m.group(1).splitlines():
        f = line.split()
        if len(f) >= 7:
            cats[c_category(f[0])] += float(f[4])
            cats["fused"] |= "+bn+" in f[0]
    return cats


CATEGORIES = [("conv", "convolutions (dense, grouped)"), ("depthwise", "depthwise convolutions"),
              ("bn_act", "BatchNorm + activations"), ("other", "the rest")]


def print_categories(work, isa, tm, names):
    """Per case, seconds per step by op category, ours against PyTorch
    heap's profile (bench_torch.py --profile), forward and backward."""
    rows = []
    for name in names:
        h = torch_heap(work, tm, name)
        c = c_categories(os.path.join(work, isa, name + ".c.txt"))
        if not h or not h.get("profile") or not c:
            continue
        t = h["profile"]["categories"]
        cells = []
        for key, _ in CATEGORIES:
            ratio = f"{c[key] / t[key]:.2f}" if t[key] > 0 else "-"
            cells.append(f"{c[key]:7.3f} {t[key]:7.3f} {ratio:>5}")
        ct, tt = sum(c[k] for k, _ in CATEGORIES), sum(t.values())
        rows.append(f"{TITLE[name][0]:30} " + "  ".join(cells) + f"  {ct:7.3f} {tt:7.3f} {ct / tt:5.2f}"
                    f"  {h['median']:7.3f} {tt - h['median']:+8.3f}"
                    + ("  (fused: our conv, depthwise with their BN + act)" if c["fused"] else ""))
    if not rows:
        return
    print(f"where the time goes, s/step by op category, ours and PyTorch heap's profiler"
          f" (self time; the profiler's own cost included):")
    print(f"{'':30} " + "  ".join(f"{k:>19}" for k, _ in CATEGORIES) + f"  {'sum':>19}"
          f"  {'torch timed':>16}")
    print(f"{'case':30} " + "  ".join(f"{'C':>7} {'torch':>7} {'C/t':>5}" for _ in CATEGORIES)
          + f"  {'C':>7} {'torch':>7} {'C/t':>5}  {'s/step':>7} {'profiler':>8}")
    for r in rows:
        print(r)
    print("  " + "; ".join(f"{k}: {d}" for k, d in CATEGORIES))
    print("  torch timed: the heap run's median step without the profiler; profiler: how much more"
          " its profiled ops add up to (its cost per op, most of it on the many small ops)")


def torch_side(path):
    try:
        d = json.loads(read(path))
    except ValueError:
        fail(f"{path}: not the JSON line of tools/bench_torch.py")
    d["peak"] = d["peak_rss"] / 2**20
    d["before"] = d["rss_before"] / 2**20
    d["best"] = min(d["times"]) if d.get("times") else d["median"]
    return d


def torch_heap(work, tm, name):
    """PyTorch's heap run of a case, or None when there is none."""
    path = os.path.join(work, "torch-" + tm + "-heap", name + ".torch.json")
    return torch_side(path) if os.path.exists(path) else None


def torch_mode(isa, cpu_isa):
    return "avx2" if isa == "avx2" and cpu_isa == "avx512" else "native"


def kernels(work, isa):
    text = read(os.path.join(work, isa, "version.txt"))
    k = re.search(r"^kernels: (.*)$", text, re.M)
    core = re.search(r"OpenBLAS core (\S+)", text)
    return f"{k.group(1) if k else isa}, OpenBLAS {core.group(1) if core else 'unknown'}"


def gemm(work, isa):
    g = read(os.path.join(work, isa, "gemm.txt")).split(maxsplit=5)
    if len(g) < 6:
        fail(f"{os.path.join(work, isa, 'gemm.txt')}: expected 'gemm SIZE THREADS G1 GALL NOTE'")
    return float(g[3]), float(g[4]), g[5].split(";")[0].strip()  # the core, not the OpenMP note


def num(x, fmt, ok=True):
    return format(x, fmt) if ok else "-".rjust(len(format(0.0, fmt)))


def main():
    if len(sys.argv) != 6:
        fail("usage: bench_report.py WORK THREADS CPU_ISA 'ISAS' 'CASES'")
    work, threads, cpu_isa = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    isas, cases = sys.argv[4].split(), sys.argv[5].split()
    fast = {}  # (isa, name) -> c side
    torch_info = {}
    head = (f"{'case':30} {'C s/step':>9} {'torch s':>9} {'heap s':>9} {'C/torch':>8} {'best C/t':>8}"
            f" {'C img/s':>8}"
            f" {'torch img/s':>11}"
            f" {'C peak MiB':>10} {'torch MiB':>9} {'mem C/torch':>11} {'C GFLOP/s':>9} {'torch GFLOP/s':>13}"
            f" {'C cpu s':>8} {'torch cpu s':>11} {'cpu C/torch':>11}")
    for isa in isas:
        tm = torch_mode(isa, cpu_isa)
        names = [n for n in cases if os.path.exists(os.path.join(work, isa, n + ".c.txt"))]
        if not names:
            continue
        info = None
        rows = []
        for name in names:
            c = c_side(os.path.join(work, isa, name + ".c.txt"))
            t = torch_side(os.path.join(work, "torch-" + tm, name + ".torch.json"))
            h = torch_heap(work, tm, name)
            fast[(isa, name)] = c
            torch_info[(tm, name)] = t
            info = t
            # time against the faster PyTorch run, memory against the installed one
            best = h if h and h["median"] < t["median"] else t
            # the fastest step of each side: what a step costs when nothing
            # else on the machine got in its way (a VM's neighbours do)
            tbest = min(t["best"], h["best"]) if h else t["best"]
            cbest = c.get("best", c["median"])
            cpu = min(t["cpu_median"], h["cpu_median"]) if h else t["cpu_median"]
            n = c["images"] / c["batches"] if c["test"] else TITLE[name][1]
            tn = best["images"] / best["batches"] if c["test"] else n
            g = c["gflop"] > 0
            rows.append(
                f"{TITLE[name][0]:30} {c['median']:9.3f} {t['median']:9.3f} {num(h['median'] if h else 0, '9.3f', h)}"
                f" {c['median'] / best['median']:8.2f} {cbest / tbest:8.2f}"
                f" {n / c['median']:8.2f} {tn / best['median']:11.2f} {c['peak']:10.0f} {t['peak']:9.0f}"
                f" {c['peak'] / t['peak']:11.2f} {num(c['gflop'] / c['median'], '9.1f', g)}"
                f" {num(c['gflop'] / best['median'], '13.1f', g)} {c['cpu_median']:8.3f} {cpu:11.3f}"
                f" {c['cpu_median'] / cpu:11.2f}")
        g1, gall, gnote = gemm(work, isa)
        print()
        print(f"== {isa}: ours {kernels(work, isa)} | PyTorch {info['torch']} "
              f"({'held to AVX2: ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2' if tm == 'avx2' else 'as installed'}):"
              f" oneDNN ISA {info['onednn_isa']}, OpenBLAS core {info['blas_core']}")
        print(head)
        for r in rows:
            print(r)
        print(f"sgemm 1024^3 at this level, one core: {g1:.1f} GFLOP/s; {threads} cores at once:"
              f" {gall:.1f} GFLOP/s ({gnote})")
        print_categories(work, isa, tm, names)
        if (isa, "b0-train-224") in fast and (isa, "b0-train-224-1t") in fast:
            c2, c1 = fast[(isa, "b0-train-224")], fast[(isa, "b0-train-224-1t")]
            t2, t1 = torch_info[(tm, "b0-train-224")], torch_info[(tm, "b0-train-224-1t")]
            print(f"b0 train 224 px x8, 1 -> {threads} threads: C {c1['median'] / c2['median']:.2f}x faster,"
                  f" PyTorch {t1['median'] / t2['median']:.2f}x faster (as installed)")

    exact = [n for n in cases if os.path.exists(os.path.join(work, "exact", n + ".c.txt"))]
    if exact:
        print()
        print(f"{'exact mode (--exact)':30} {'s/step':>9} {'fast s':>9} {'exact/fast':>10} {'peak MiB':>9}"
              f" {'GFLOP/s':>8}  fast path")
        for name in exact:
            isa = read(os.path.join(work, "exact", name + ".isa")).strip()
            e, c = c_side(os.path.join(work, "exact", name + ".c.txt")), fast[(isa, name)]
            print(f"{TITLE[name][0]:30} {e['median']:9.3f} {c['median']:9.3f} {e['median'] / c['median']:10.1f}"
                  f" {e['peak']:9.0f} {e['gflop'] / e['median']:8.1f}  {isa}")

    jobs = [(isa, name) for (isa, name), c in fast.items() if c["test"]]
    if jobs:
        print()
        print("the inference job (anomaly test --profile; PyTorch: cv2.imread + cv2.resize + the twin, one"
              " prefetch thread each):")
        shown = set()
        for isa, name in jobs:
            c = fast[(isa, name)]
            tm = torch_mode(isa, cpu_isa)
            w = c["wall"]
            verdict = ("THE LOADER IS THE BOTTLENECK" if c["wait"] > WAIT_LIMIT * w
                       else f"the loader kept up (waits under {100 * WAIT_LIMIT:.0f} %)")
            print(f"  ours, {isa}: {c['images']} images in {w:.1f} s, {c['images'] / w:.2f} images/s;"
                  f" network {c['network']:.1f} s ({100 * c['network'] / w:.1f} %), waiting for data"
                  f" {c['wait']:.2f} s ({100 * c['wait'] / w:.1f} %); loader thread busy {c['busy']:.1f} s"
                  f" ({100 * c['busy'] / w:.1f} %: decode {c['decode']:.1f} s, resize and normalize"
                  f" {c['resize']:.1f} s, {1e3 * c['busy'] / c['images']:.0f} ms per image): {verdict}")
            if tm in shown:
                continue
            shown.add(tm)
            for label, t in (("", torch_info[(tm, name)]), (", heap", torch_heap(work, tm, name))):
                if not t:
                    continue
                tw = t["wall"]
                print(f"  PyTorch, {tm}{label}: {t['images']} images in {tw:.1f} s, {t['images'] / tw:.2f} images/s;"
                      f" network {t['network']:.1f} s ({100 * t['network'] / tw:.1f} %), waiting for data"
                      f" {t['wait']:.2f} s ({100 * t['wait'] / tw:.1f} %); loader thread busy {t['busy']:.1f} s"
                      f" ({100 * t['busy'] / tw:.1f} %: decode {t['decode']:.1f} s, resize and normalize"
                      f" {t['resize']:.1f} s)")

    print()
    first = next(((isa, n) for isa in isas for n in cases if (isa, n) in fast and not fast[(isa, n)]["test"]), None)
    if first:
        c, t = fast[first], torch_info[(torch_mode(first[0], cpu_isa), first[1])]
        print(f"peak MiB: peak resident set of the whole process (before the first step: {first[1]}"
              f" C {c['before']:.0f} / torch {t['before']:.0f})")
    print("best C/t: the fastest timed step of ours over the fastest of PyTorch's two runs (each"
          " side's step when nothing else got in its way; C/torch uses medians)")
    print("torch s: PyTorch as installed; heap s: the same with glibc's allocator keeping freed memory"
          " (GLIBC_TUNABLES mmap_max=0, trim_threshold 64 GiB; '-': not run); C/torch, torch img/s, torch"
          " GFLOP/s and cpu against the faster of the two, memory against PyTorch as installed")
    print("GFLOP/s: multiply-adds of the convolutions and linear layers (forward, and in training both"
          " gradients) per second of a whole step, the same count for both sides")
    print("cpu s: CPU seconds of the whole process per step (all threads): what a step costs when other"
          " processes share the cores; wall seconds count the waits for a core as well")
    if jobs:
        print("inference job: s/step and cpu s are per batch, img/s end to end (decode, resize and network;"
              " the checkpoint load before it is left out)")
    load = open("/proc/loadavg").read().split()[:3]
    print(f"load average at the end: {' '.join(load)} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
