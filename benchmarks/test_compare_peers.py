"""The comparison script's own logic: merging rounds, the table, and one quick run of a
fastrnn worker end to end (peers are not needed: absent frameworks show as n/a)."""
import os
import subprocess
import sys

import compare_peers as cp


def _run(seconds, peak=100.0, how="call"):
    return {"results": {"W6": {"seconds": seconds, "how": how}}, "errors": {},
            "sgemm_gflops": peak, "versions": {}, "python": "3"}


def test_merge_rounds_takes_the_median_round():
    rounds = [{("fastrnn", 1): _run(3.0, 90), ("torch", 1): _run(30.0)},
              {("fastrnn", 1): _run(1.0, 110), ("torch", 1): {"unavailable": "gone"}},
              {("fastrnn", 1): _run(2.0, 100, "predict"), ("torch", 1): _run(10.0)}]
    merged = cp.merge_rounds(rounds)
    mine = merged[("fastrnn", 1)]
    assert mine["results"]["W6"]["seconds"] == 2.0
    assert mine["results"]["W6"]["how"] == "predict"          # that round's own call
    assert sorted(mine["results"]["W6"]["rounds"]) == [1.0, 2.0, 3.0]
    assert mine["sgemm_gflops"] == 100
    # a round where a framework failed does not count; two left: the lower middle one
    assert merged[("torch", 1)]["results"]["W6"]["seconds"] == 10.0


def test_table_ratio_uses_the_best_peer():
    args = cp.parse_args(["--frameworks", "fastrnn,torch,keras", "--workloads", "W6",
                          "--threads", "1"])
    runs = {("fastrnn", 1): _run(10e-6), ("torch", 1): _run(100e-6),
            ("keras", 1): _run(50e-6)}
    table = cp.make_table(args, runs)
    row = [line for line in table.splitlines() if line.startswith("| W6")][0]
    assert "0.20 (Keras/TF)" in row


def test_quick_run_of_a_fastrnn_worker_in_two_rounds():
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "compare_peers.py"), "--quick",
                          "--frameworks", "fastrnn", "--workloads", "W6", "--threads", "1",
                          "--rounds", "2", "--repeats", "1", "--min-time", "0.01"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "2 rounds of every worker" in out
    row = [line for line in out.splitlines() if line.startswith("| W6")][0]
    assert float(row.split("|")[2]) > 0                       # fastrnn's time in us
