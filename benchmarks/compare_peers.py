"""Compare fastrnn with PyTorch and Keras 3 (TensorFlow and JAX backends) on the workloads
W0-W6 of DESIGN.md, at 1 and 2 threads, and print a markdown table.

Usage (from the repository root):

    python benchmarks/compare_peers.py --quick          # about 2 minutes
    python benchmarks/compare_peers.py                  # full: about 11 minutes

How it runs.  Every (framework, thread count) pair runs in its own subprocess of this
file (``--worker``), with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS
set to the thread count, the process pinned to that many cores
(os.sched_setaffinity), and torch.set_num_threads / TensorFlow's intra- and inter-op
thread settings for the peers.  Each worker prints one JSON line; this driver needs
only the standard library and NumPy.  The frameworks usually live in different
virtual environments, hence:

  --fastrnn-python EXE   Python that can import fastrnn (default: the Python running
                         this script, e.g. the project's .venv).
  --fastrnn-path DIR     Directory put in front of PYTHONPATH for the fastrnn workers,
                         e.g. src/ of an in-place build (default: none).
  --peers-python EXE     Python with torch and/or keras + tensorflow (default:
                         $FASTRNN_PEERS_PYTHON, else /work/peers/bin/python if it
                         exists, else the Python running this script).
  --torch-python EXE, --keras-python EXE   override --peers-python per framework.

A framework that cannot be imported shows as "n/a".

What is measured (float32, MSE, RMSprop lr 1e-3 rho 0.9 eps 1e-7 everywhere):
  W0        the seed program: SimpleRNN(10) + Dense(1), sin -> cos, 500 samples, whole
            fit with batch size 32, shuffled.  Timed as fit(1 epoch) + fit(E - 1
            epochs) on a fresh model; the second part is scaled to the 499 remaining
            epochs, so with E < 500 the figure is an estimate of the full program
            (E = 500 measures it).  PyTorch: the same loop written by hand.
  W1-W4     one train step.  fastrnn and Keras: train_on_batch; PyTorch:
            nn.RNN/LSTM/GRU(batch_first=True) + Linear on the last step, zero_grad,
            MSELoss, backward, RMSprop.step.
  W5, W6    one forward pass of the same model: the best of predict_on_batch and a
            direct call (fastrnn also predict(batch_size=B)); PyTorch under
            torch.inference_mode().
  Each figure is the median over --repeats timings of a block of calls lasting at
  least --min-time seconds (after two warm-up calls).

Options:
  --quick                 repeats 3, min-time 0.05 s, W0 with 50 epochs (scaled)
  --repeats N             timed repeats per figure (default 7; W0 uses min(N, 3))
  --min-time S            seconds per timed block (default 0.2)
  --w0-epochs E           epochs actually run for W0 (default 500, --quick 50)
  --skip-w0-peers         run W0 for fastrnn only (Keras needs ~45 s per full fit)
  --threads 1,2           thread counts (default 1,2)
  --frameworks LIST       subset of fastrnn,torch,keras,jax (default all; jax is Keras
                          on the JAX backend, from the --keras-python environment)
  --workloads LIST        subset of W0,...,W6 (default all)
  --rounds R              run every (framework, thread count) worker R times, the order
                          reversed every other round, and give each figure as the median
                          over the rounds (the lower middle one for an even R): a
                          machine whose speed drifts then slows all frameworks alike
                          (default 1)
  --json FILE             also write the raw results as JSON

The table gives times (W0 in s, W1-W5 in ms, W6 in us), the ratio fastrnn time /
best peer time (< 1: fastrnn is faster) and the achieved useful GFLOP/s (train step
3 x 2*B*T*(I+H)*G*H, inference 2*B*T*(I+H)*G*H), next to NumPy's SGEMM peak
(2048^3, measured by the fastrnn worker).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from workloads import (SEED_BATCH, SEED_EPOCHS, WORKLOADS, flops,  # noqa: E402
                       make_data, seed_data)

FRAMEWORKS = ("fastrnn", "torch", "keras", "jax")
LABELS = {"fastrnn": "fastrnn", "torch": "PyTorch", "keras": "Keras/TF", "jax": "Keras/JAX"}
UNITS = {"fit": ("s", 1.0), "train": ("ms", 1e3), "infer": ("ms", 1e3)}
LR, RHO, EPS = 1e-3, 0.9, 1e-7
RESULT_TAG = "RESULT "


# ================================================================ timing
def time_per_call(fn, repeats, min_time):
    """Median seconds per call over `repeats` blocks of calls of >= min_time each."""
    fn()
    fn()                                   # warm-up (Keras traces on the first call)
    start = time.perf_counter()
    fn()
    one = time.perf_counter() - start
    n = max(1, int(min_time / max(one, 1e-9)))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)


def time_seed_program(new_fit, epochs, repeats):
    """Median estimated time of the whole seed program (SEED_EPOCHS epochs).
    new_fit() returns fit(n_epochs) bound to a fresh model."""
    estimates = []
    for _ in range(repeats):
        fit = new_fit()
        start = time.perf_counter()
        fit(1)
        first = time.perf_counter() - start
        start = time.perf_counter()
        if epochs > 1:
            fit(epochs - 1)
        rest = time.perf_counter() - start
        estimates.append(first + rest * (SEED_EPOCHS - 1) / max(1, epochs - 1))
    return statistics.median(estimates)


def sgemm_peak(repeats=3, n=2048):
    """Best GFLOP/s of one n^3 float32 NumPy matmul."""
    import numpy as np
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ====================================================== framework adapters
# Each adapter offers train_step(w, x, y) -> callable, inferences(w, x) -> {name:
# callable}, new_seed_fit() -> fit(epochs) on a fresh seed model, and versions().

class FastrnnAdapter:
    def __init__(self, threads):
        import fastrnn
        self.fastrnn = fastrnn

    def versions(self):
        import numpy
        import scipy
        from fastrnn._ext import _blas
        kernels = {2: "AVX-512", 1: "AVX2"}.get(_blas.kernel_level(), "BLAS only")
        return {"fastrnn": getattr(self.fastrnn, "__version__", "?"),
                "numpy": numpy.__version__, "scipy": scipy.__version__, "kernels": kernels}

    def train_step(self, w, x, y):
        from workloads import fastrnn_model
        model = fastrnn_model(w.cell, w.T, w.I, w.H)
        return lambda: model.train_on_batch(x, y)

    def inferences(self, w, x):
        from workloads import fastrnn_model
        model = fastrnn_model(w.cell, w.T, w.I, w.H)
        return {"predict_on_batch": lambda: model.predict_on_batch(x),
                "predict": lambda: model.predict(x, batch_size=w.B),
                "call": lambda: model(x)}

    def new_seed_fit(self):
        from workloads import fastrnn_seed_model
        X, y = seed_data()
        model = fastrnn_seed_model()
        return lambda epochs: model.fit(X, y, epochs=epochs, batch_size=SEED_BATCH,
                                        verbose=0)


class TorchAdapter:
    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
        self.torch = torch

    def versions(self):
        return {"torch": self.torch.__version__}

    def _net(self, cell, I, H):
        nn = self.torch.nn
        rnn_class = {"simple": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = rnn_class(I, H, batch_first=True)
                self.fc = nn.Linear(H, 1)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.fc(out[:, -1])

        return Net()

    def _trainer(self, net):
        opt = self.torch.optim.RMSprop(net.parameters(), lr=LR, alpha=RHO, eps=EPS)
        loss_fn = self.torch.nn.MSELoss()

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    def train_step(self, w, x, y):
        step = self._trainer(self._net(w.cell, w.I, w.H))
        xt, yt = self.torch.from_numpy(x), self.torch.from_numpy(y)
        return lambda: step(xt, yt)

    def inferences(self, w, x):
        net = self._net(w.cell, w.I, w.H).eval()
        torch = self.torch

        def call():
            with torch.inference_mode():
                return net(torch.from_numpy(x))
        return {"call": call}

    def new_seed_fit(self):
        torch = self.torch
        X, y = seed_data()
        X = torch.from_numpy(X.astype("float32")).reshape(-1, 1, 1)
        y = torch.from_numpy(y.astype("float32"))
        step = self._trainer(self._net("simple", 1, 10))

        def fit(epochs):
            for _ in range(epochs):
                order = torch.randperm(len(X))
                for start in range(0, len(X), SEED_BATCH):
                    idx = order[start:start + SEED_BATCH]
                    step(X[idx], y[idx])
        return fit


class KerasAdapter:
    def __init__(self, threads):
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras
        self.tf, self.keras = tf, keras

    def versions(self):
        return {"keras": self.keras.__version__, "tensorflow": self.tf.__version__,
                "backend": self.keras.backend.backend()}

    def _model(self, cell, T, I, H):
        keras = self.keras
        layer = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM,
                 "gru": keras.layers.GRU}[cell]
        model = keras.Sequential([keras.Input((T, I)), layer(H), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.RMSprop(LR, rho=RHO, epsilon=EPS),
                      loss="mse")
        return model

    def train_step(self, w, x, y):
        model = self._model(w.cell, w.T, w.I, w.H)
        return lambda: model.train_on_batch(x, y)

    def inferences(self, w, x):
        model = self._model(w.cell, w.T, w.I, w.H)
        return {"predict_on_batch": lambda: model.predict_on_batch(x),
                "call": lambda: model(x, training=False)}

    def new_seed_fit(self):
        X, y = seed_data()
        model = self._model("simple", 1, 1, 10)
        return lambda epochs: model.fit(X, y, epochs=epochs, batch_size=SEED_BATCH,
                                        verbose=0)


class KerasJaxAdapter(KerasAdapter):
    """The same Keras models on the JAX backend (KERAS_BACKEND=jax, set by the driver);
    one thread: XLA's CPU thread pool off (the process is also pinned to its cores)."""

    def __init__(self, threads):
        if threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false").strip()
        import jax
        import keras
        if keras.backend.backend() != "jax":
            raise ImportError(f"Keras runs on {keras.backend.backend()}, not JAX")
        self.jax, self.keras = jax, keras

    def versions(self):
        return {"keras": self.keras.__version__, "jax": self.jax.__version__,
                "backend": self.keras.backend.backend()}


ADAPTERS = {"fastrnn": FastrnnAdapter, "torch": TorchAdapter, "keras": KerasAdapter,
            "jax": KerasJaxAdapter}


# ================================================================ worker
def run_worker(args):
    """Measure one framework at one thread count; print one JSON line."""
    threads = args.threads[0]
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[:threads])
    out = {"framework": args.worker, "threads": threads, "results": {}, "errors": {},
           "python": platform.python_version()}
    try:
        adapter = ADAPTERS[args.worker](threads)
    except ImportError as exc:
        out["unavailable"] = f"{type(exc).__name__}: {exc}"
        print(RESULT_TAG + json.dumps(out), flush=True)
        return
    out["versions"] = adapter.versions()
    for wid in args.workloads:
        w = WORKLOADS[wid]
        try:
            if w.kind == "fit":
                if args.worker != "fastrnn" and args.skip_w0_peers:
                    continue
                seconds = time_seed_program(adapter.new_seed_fit, args.w0_epochs,
                                            min(args.repeats, 3))
                how = "fit"
            elif w.kind == "train":
                x, y = make_data(w)
                seconds = time_per_call(adapter.train_step(w, x, y), args.repeats,
                                        args.min_time)
                how = "train_on_batch" if args.worker != "torch" else "fwd+bwd+step"
            else:
                x, _ = make_data(w)
                timed = {name: time_per_call(fn, args.repeats, args.min_time)
                         for name, fn in adapter.inferences(w, x).items()}
                how = min(timed, key=timed.get)
                seconds = timed[how]
            out["results"][wid] = {"seconds": seconds, "how": how}
        except Exception as exc:    # report and go on with the other workloads
            out["errors"][wid] = f"{type(exc).__name__}: {exc}"
        print(f"  {args.worker} {threads}T {wid} done", file=sys.stderr, flush=True)
    if args.worker == "fastrnn":
        out["sgemm_gflops"] = sgemm_peak()
    print(RESULT_TAG + json.dumps(out), flush=True)


# ================================================================ driver
def default_peers_python():
    for exe in (os.environ.get("FASTRNN_PEERS_PYTHON"), "/work/peers/bin/python"):
        if exe and os.path.exists(exe):
            return exe
    return sys.executable


def worker_command(args, framework, threads):
    cmd = [args.python_for[framework], os.path.abspath(__file__), "--worker", framework,
           "--threads", str(threads), "--repeats", str(args.repeats),
           "--min-time", str(args.min_time), "--w0-epochs", str(args.w0_epochs),
           "--workloads", ",".join(args.workloads)]
    if args.skip_w0_peers:
        cmd.append("--skip-w0-peers")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads),
               KERAS_BACKEND="jax" if framework == "jax" else "tensorflow",
               TF_CPP_MIN_LOG_LEVEL="2")
    if framework == "fastrnn" and args.fastrnn_path:
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.abspath(args.fastrnn_path)] + ([env["PYTHONPATH"]]
                                                    if env.get("PYTHONPATH") else []))
    return cmd, env


def run_one(args, framework, threads):
    cmd, env = worker_command(args, framework, threads)
    start = time.perf_counter()
    print(f"running {LABELS[framework]} at {threads} thread(s) with {cmd[0]} ...",
          file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    print(f"  ... {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    print(f"  worker failed (exit {proc.returncode}):\n{tail}", file=sys.stderr)
    return {"framework": framework, "threads": threads,
            "unavailable": f"worker failed (exit {proc.returncode})"}


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt(value):
    return "–" if value is None else f"{value:.3g}" if value < 100 else f"{value:.0f}"


def make_table(args, runs):
    """Markdown table from runs[(framework, threads)] = worker output."""
    fws, ths = args.frameworks, args.threads
    peers = [f for f in fws if f != "fastrnn"]

    def seconds(fw, t, wid):
        r = runs.get((fw, t), {}).get("results", {}).get(wid)
        return r["seconds"] if r else None

    head = ["workload"] + [f"{LABELS[f]} {t}T" for t in ths for f in fws]
    if "fastrnn" in fws and peers:
        head += [f"fastrnn ÷ best peer {t}T" for t in ths]
    head += [f"GFLOP/s {LABELS[f]} " + "/".join(f"{t}T" for t in ths) for f in fws]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wid in args.workloads:
        w = WORKLOADS[wid]
        unit, scale = ("us", 1e6) if w.kind == "infer" and w.B == 1 else UNITS[w.kind]
        row = [f"{wid} {w.title} ({unit})"]
        for t in ths:
            for f in fws:
                s = seconds(f, t, wid)
                row.append(fmt(s * scale if s is not None else None))
        if "fastrnn" in fws and peers:
            for t in ths:
                mine = seconds("fastrnn", t, wid)
                best = min(((seconds(p, t, wid), p) for p in peers
                            if seconds(p, t, wid) is not None), default=None)
                row.append(f"{mine / best[0]:.2f} ({LABELS[best[1]]})"
                           if mine is not None and best else "–")
        n_flops = flops(w)
        for f in fws:
            gf = [seconds(f, t, wid) for t in ths]
            row.append("/".join(fmt(n_flops / s / 1e9) if s and n_flops else "–"
                                for s in gf))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(args, runs, elapsed):
    print(f"\n## fastrnn vs peers ({'quick' if args.quick else 'full'} mode)\n")
    print(f"- machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}; load average before the run {args.load:.1f} "
          "(other processes on the machine distort the 2-thread figures most)")
    for (fw, t), run in sorted(runs.items()):
        if t != args.threads[0]:
            continue
        if "unavailable" in run:
            print(f"- {LABELS[fw]}: n/a ({run['unavailable']})")
        else:
            vs = ", ".join(f"{k} {v}" for k, v in run.get("versions", {}).items())
            print(f"- {LABELS[fw]}: {vs} (Python {run.get('python')})")
    peaks = [f"{runs[('fastrnn', t)]['sgemm_gflops']:.0f} GFLOP/s at {t}T"
             for t in args.threads if "sgemm_gflops" in runs.get(("fastrnn", t), {})]
    if peaks:
        print(f"- SGEMM peak (NumPy 2048^3): {', '.join(peaks)}")
    sgemm = {t: runs.get(("fastrnn", t), {}).get("sgemm_gflops") for t in args.threads}
    if len(sgemm) > 1 and all(sgemm.values()) and \
            sgemm[max(sgemm)] < 1.2 * sgemm[min(sgemm)]:
        print(f"- WARNING: SGEMM did not scale from {min(sgemm)} to {max(sgemm)} threads: "
              "the machine was busy, the multi-thread figures are unreliable")
    if args.rounds > 1:
        print(f"- {args.rounds} rounds of every worker, the order reversed every other "
              "round; each figure is the median round's")
    print(f"- medians of {args.repeats} repeats of >= {args.min_time} s blocks; W0: "
          f"{min(args.repeats, 3)} fits of {args.w0_epochs} epochs"
          + (" scaled to 500" if args.w0_epochs != SEED_EPOCHS else "")
          + ("; W0 for fastrnn only" if args.skip_w0_peers else "")
          + f"; total run {elapsed:.0f} s\n")
    print(make_table(args, runs))
    hows = [f"{LABELS[fw]} {wid} {t}T: {r['how']}" for (fw, t), run in sorted(runs.items())
            for wid, r in run.get("results", {}).items() if WORKLOADS[wid].kind == "infer"]
    if hows:
        print("\nfastest inference call: " + "; ".join(hows))
    for (fw, t), run in sorted(runs.items()):
        for wid, msg in run.get("errors", {}).items():
            print(f"\nerror: {LABELS[fw]} {t}T {wid}: {msg}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="fastrnn vs PyTorch and Keras on W0-W6 (see the module docstring).")
    csv = lambda s: [p.strip() for p in s.split(",") if p.strip()]  # noqa: E731
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--min-time", type=float)
    parser.add_argument("--w0-epochs", type=int)
    parser.add_argument("--skip-w0-peers", action="store_true")
    parser.add_argument("--threads", type=lambda s: [int(t) for t in csv(s)],
                        default=[1, 2])
    parser.add_argument("--frameworks", type=csv, default=list(FRAMEWORKS))
    parser.add_argument("--workloads", type=csv, default=list(WORKLOADS))
    parser.add_argument("--fastrnn-python", default=sys.executable)
    parser.add_argument("--fastrnn-path")
    parser.add_argument("--peers-python", default=default_peers_python())
    parser.add_argument("--torch-python")
    parser.add_argument("--keras-python")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.min_time is None:
        args.min_time = 0.05 if args.quick else 0.2
    if args.w0_epochs is None:
        args.w0_epochs = 50 if args.quick else SEED_EPOCHS
    bad = [f for f in args.frameworks if f not in FRAMEWORKS] + \
          [w for w in args.workloads if w not in WORKLOADS]
    if bad:
        parser.error(f"unknown framework/workload: {', '.join(bad)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.python_for = {"fastrnn": args.fastrnn_python,
                       "torch": args.torch_python or args.peers_python,
                       "keras": args.keras_python or args.peers_python,
                       "jax": args.keras_python or args.peers_python}
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    args.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    start = time.perf_counter()
    order = [(fw, t) for t in args.threads for fw in args.frameworks]
    rounds = []
    for r in range(args.rounds):
        if args.rounds > 1:
            print(f"round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
        rounds.append({key: run_one(args, *key)
                       for key in (order if r % 2 == 0 else order[::-1])})
    runs = merge_rounds(rounds)
    report(args, runs, time.perf_counter() - start)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(run, framework=fw, threads=t, round=i)
                       for i, one in enumerate(rounds) for (fw, t), run in one.items()],
                      f, indent=1)


def merge_rounds(rounds):
    """runs[(framework, threads)] from the rounds' runs: each workload's result is the
    median round's (by seconds; the lower middle one for an even count), with every
    round's seconds under 'rounds'; the SGEMM peak likewise."""
    def middle(values, key):
        values = sorted(values, key=key)
        return values[(len(values) - 1) // 2] if values else None

    merged = {}
    for key in rounds[0]:
        ok = [one[key] for one in rounds if "unavailable" not in one[key]]
        if not ok:
            merged[key] = rounds[0][key]
            continue
        run = dict(ok[0])
        run["results"] = {}
        for wid in ok[0].get("results", {}):
            got = [r["results"][wid] for r in ok if wid in r.get("results", {})]
            run["results"][wid] = dict(middle(got, lambda v: v["seconds"]),
                                       rounds=[v["seconds"] for v in got])
        run["errors"] = {wid: msg for r in ok for wid, msg in r.get("errors", {}).items()}
        peaks = [r["sgemm_gflops"] for r in ok if "sgemm_gflops" in r]
        if peaks:
            run["sgemm_gflops"] = middle(peaks, float)
        merged[key] = run
    return merged


if __name__ == "__main__":
    main()
