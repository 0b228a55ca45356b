"""Data-parallel training steps against PyTorch DistributedDataParallel.

    /usr/bin/python3 tools/ddp_parity.py [--model efficientnet-b0] [--size 64]
        [--batch 4] [--ranks 2] [--steps 3] [--anomaly build/f64-mpi/anomaly]

Both sides start from the same hash-initialised weights (tools/hash_init.py)
and take --steps training steps (label smoothing, backward, clipping, Adam)
on one global batch split over --ranks ranks, rank r taking the contiguous
share [B r / P, B (r+1) / P) as `anomaly step` does under mpirun:

  ours   mpirun -np P anomaly step ... (the double build with MPI=1)
  twin   P processes of torch.distributed (gloo, CPU), each running the
         PyTorch twin (tools/twin) in float64 wrapped in
         DistributedDataParallel with its defaults: per-rank BatchNorm batch
         statistics, gradients averaged over the ranks, rank 0's buffers
         broadcast before each forward.

Rank 0's state dicts are compared tensor by tensor: max abs error and error
relative to the tensor's largest value, which must stay within --tol (1e-6).
To show that the comparison can tell data-parallel from one process, the
twin's single-process run on the whole batch is measured against DDP as
well: it must differ by more than --tol. Exits 1 when either check fails,
with the reason.

Last run (b0, 64 px, batch 4 over 2 ranks, 3 steps): worst error 5.9e-8
relative, the float32 rounding of the checkpoint file; one process on the
whole batch is 1.9e-1 away. At 32 px the last BatchNorms see 2 values per
channel and rank, the gradient norm reaches 5e5 and the steps are too
ill-conditioned to compare at this level (5e-2 apart).
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hash_init  # noqa: E402
import safetensors_py  # noqa: E402
from twin import registry  # noqa: E402


def smoothing_loss(logits, labels, eps=0.1):
    c = logits.shape[1]
    q = torch.full_like(logits, eps / (c - 1))
    q.scatter_(1, labels[:, None], 1 - eps)
    return (-(q * F.log_softmax(logits, dim=1)).sum(1)).mean()


def twin_model(a):
    m = registry.build(a.model, a.num_classes, dropout=0.0, drop_connect=0.0)
    hash_init.init_model(m, a.seed)
    return m.double()


def share(n, rank, size):
    return n * rank // size, n * (rank + 1) // size


def train(model, x, labels, a):
    """a.steps steps as the trainer takes them; model may be DDP-wrapped."""
    model.train()
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    for _ in range(a.steps):
        opt.zero_grad()
        loss = smoothing_loss(model(x), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clipping)
        opt.step()


def ddp_worker(rank, a, x, labels, port, out):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    model = twin_model(a)
    ddp = DistributedDataParallel(model)
    lo, hi = share(x.shape[0], rank, a.ranks)
    train(ddp, torch.from_numpy(x[lo:hi]).double(), torch.from_numpy(labels[lo:hi]), a)
    if rank == 0:
        np.savez(out, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compare(ours, ref, tol):
    """Worst relative error over the tensors of ref, with its name and the failures."""
    worst, bad = (0.0, ""), []
    for name, r in ref.items():
        r = np.asarray(r)
        if name not in ours:
            bad.append(f"{name} missing")
            continue
        o = np.asarray(ours[name])
        if name.endswith("num_batches_tracked"):
            if int(o.reshape(-1)[0]) != int(r.reshape(-1)[0]):
                bad.append(f"{name}: {o} vs {r}")
            continue
        r = r.astype(np.float64).reshape(-1)
        err = np.abs(o.astype(np.float64).reshape(-1) - r).max() if r.size else 0.0
        rel = err / max(np.abs(r).max(), 1e-30)
        worst = max(worst, (rel, name))
        if not rel <= tol:
            bad.append(f"{name}: rel {rel:.3e}")
    return worst, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="efficientnet-b0")
    ap.add_argument("--anomaly", default=os.path.join(HERE, "..", "build", "f64-mpi", "anomaly"))
    ap.add_argument("--mpirun", default="mpirun --allow-run-as-root --oversubscribe --bind-to none")
    ap.add_argument("--num_classes", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight_decay", type=float, default=1e-4)
    ap.add_argument("--clipping", type=float, default=2.0)
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()
    if a.batch % a.ranks:
        sys.exit(f"--batch {a.batch} does not split over {a.ranks} ranks")
    rng = np.random.default_rng(a.seed)
    x = rng.standard_normal((a.batch, 3, a.size, a.size)).astype(np.float32)
    labels = rng.integers(0, a.num_classes, a.batch).astype(np.int64)

    with tempfile.TemporaryDirectory() as d:
        w, w2 = os.path.join(d, "w.safetensors"), os.path.join(d, "w2.safetensors")
        common = ["--model", a.model, "--num_classes", str(a.num_classes)]
        subprocess.run([a.anomaly, "init", *common, "--init", "hash", "--seed", str(a.seed), "--out", w], check=True,
                       stdout=subprocess.DEVNULL)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "l.npy"), labels)
        cmd = [*a.mpirun.split(), "-np", str(a.ranks), a.anomaly, "step", *common, "--dropout", "0",
               "--drop_connect", "0", "--weights", w, "--input", os.path.join(d, "x.npy"), "--labels",
               os.path.join(d, "l.npy"), "--criterion", "smoothing", "--optimizer", "Adam", "--lr", str(a.lr),
               "--weight_decay", str(a.weight_decay), "--clipping", str(a.clipping), "--steps", str(a.steps),
               "--threads", "1", "--out", w2]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
        print(r.stdout, end="")
        ours, _ = safetensors_py.load(w2)

        out = os.path.join(d, "ddp.npz")
        mp.spawn(ddp_worker, args=(a, x, labels, free_port(), out), nprocs=a.ranks, join=True)
        ref = dict(np.load(out))

    (rel, name), bad = compare(ours, ref, a.tol)
    print(f"{a.model}, batch {a.batch} over {a.ranks} ranks, {a.steps} Adam steps, float64: "
          f"ours vs DDP worst rel error {rel:.3e} ({name})")
    single = twin_model(a)
    train(single, torch.from_numpy(x).double(), torch.from_numpy(labels), a)
    (srel, sname), _ = compare({k: v.detach().numpy() for k, v in single.state_dict().items()}, ref, a.tol)
    print(f"one process on the whole batch vs DDP: worst rel error {srel:.3e} ({sname})")
    if bad:
        print(f"FAILED: {len(bad)} tensor(s) beyond {a.tol:g}: {', '.join(bad[:8])}")
        sys.exit(1)
    if srel <= a.tol:
        print(f"FAILED: one process is within {a.tol:g} of DDP too, so this comparison cannot tell them apart")
        sys.exit(1)
    print("within tolerance")


if __name__ == "__main__":
    main()
