"""Shared pieces of the benchmark suite: the `bench` fixture (pytest-benchmark's
pedantic mode + FLOP bookkeeping) and a closing summary that puts fastrnn and the
NumPy baseline of each workload side by side with their GFLOP/s.

BLAS threads: unless OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS is set
in the environment, the suite runs single-threaded (set here, before NumPy is
imported).  With the library defaults on a 2-core machine, NumPy's and SciPy's two
OpenBLAS thread pools compete and single calls become 3-10x slower at random, which
makes the figures meaningless.  Run with OPENBLAS_NUM_THREADS=2 (etc.) to measure
two threads on purpose.
"""
import os
import platform
import sys

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_PINNED = not any(k in os.environ for k in _THREAD_VARS)
if _PINNED:
    for _k in _THREAD_VARS:
        os.environ[_k] = "1"
_NUMPY_WAS_LOADED = "numpy" in sys.modules   # then the setting came too late

import pytest  # noqa: E402

_RESULTS = []   # (group, impl, median seconds, flops) of every benchmark that ran


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def pytest_report_header(config):
    threads = ", ".join(f"{k}={os.environ[k]}" for k in _THREAD_VARS if k in os.environ)
    if _PINNED:
        threads += (" (suite default; NumPy was already imported, so it may not apply)"
                    if _NUMPY_WAS_LOADED else " (suite default)")
    return f"benchmarks: {_cpu_model()}, {os.cpu_count()} CPUs, {threads}"


@pytest.fixture
def bench(benchmark):
    """bench(workload, impl, fn, rounds, iterations=1): time fn with one warm-up round,
    grouped by workload, with FLOPs and GFLOP/s in benchmark.extra_info."""
    from workloads import flops, group

    def run(w, impl, fn, rounds, iterations=1):
        benchmark.group = group(w)
        n_flops = flops(w)
        benchmark.extra_info.update(workload=w.id, impl=impl, shape=dict(
            B=w.B, T=w.T, I=w.I, H=w.H), flops=n_flops)
        result = benchmark.pedantic(fn, rounds=rounds, iterations=iterations,
                                    warmup_rounds=1)
        if benchmark.stats:   # None with --benchmark-disable
            median = benchmark.stats.stats.median
            if n_flops:
                benchmark.extra_info["gflops"] = n_flops / median / 1e9
            _RESULTS.append((group(w), impl, median, n_flops))
        return result

    return run


def _fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e3), ("us", 1e6)):
        if seconds >= 1 / scale or unit == "us":
            return f"{seconds * scale:.3g} {unit}"


@pytest.hookimpl(trylast=True)     # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    by_group = {}
    for grp, impl, median, n_flops in _RESULTS:
        by_group.setdefault(grp, {})[impl] = (median, n_flops)
    tr = terminalreporter
    tr.write_sep("-", "fastrnn vs NumPy baseline (medians; ratio > 1: fastrnn faster)")
    tr.write_line(f"{'workload':<32} {'fastrnn':>10} {'numpy':>10} {'ratio':>7} "
                  f"{'GFLOP/s fastrnn':>16} {'GFLOP/s numpy':>14}")
    for grp in sorted(by_group):
        row = by_group[grp]
        fr, npy = row.get("fastrnn"), row.get("numpy")
        cells = [_fmt_time(r[0]) if r else "-" for r in (fr, npy)]
        ratio = f"{npy[0] / fr[0]:.2f}" if fr and npy else "-"
        gf = [f"{r[1] / r[0] / 1e9:.1f}" if r and r[1] else "-" for r in (fr, npy)]
        tr.write_line(f"{grp:<32} {cells[0]:>10} {cells[1]:>10} {ratio:>7} "
                      f"{gf[0]:>16} {gf[1]:>14}")
