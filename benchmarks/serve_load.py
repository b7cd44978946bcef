"""Load check of qa-serve on localhost: N concurrent clients for a fixed time, batched against
unbatched (--no-batching), and with --export the run's ONNX export (qa-export; int8 when it
holds one) served the default way, one server after the other in this run.

Each client posts one question about a SQuAD dev paragraph after another. Prints requests/s,
p50/p99 latency and errors (which must be 0) for each mode, and with --export the export's
requests/s and p50 against the PyTorch run's, both batched (qa-serve's default). Run it with
nothing else on the machine; only 127.0.0.1 is contacted.

    python benchmarks/serve_load.py RUN_DIR [--clients 8] [--seconds 30] [--export DIR]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from qa_experiments.config.paths import bundled_data_path
from qa_experiments.data.squad_files import read_squad_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(run_dir: Path, port: int, batching: bool) -> subprocess.Popen:
    """qa-serve on `run_dir` (a run or an export) at `port`, once its /health answers."""
    command = [sys.executable, "-m", "qa_experiments.serve", str(run_dir), "--port", str(port)]
    server = subprocess.Popen(command + ([] if batching else ["--no-batching"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def client(url: str, pairs: list[dict], stop: float, latencies: list, errors: list) -> None:
    index = 0
    while time.monotonic() < stop:
        body = json.dumps(pairs[index % len(pairs)]).encode()
        index += 1
        started = time.perf_counter()
        try:
            request = urllib.request.Request(url, data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
            latencies.append(time.perf_counter() - started)
        except OSError as error:
            errors.append(repr(error))


def load(port: int, pairs: list[dict], clients: int, seconds: float) -> dict:
    latencies, errors = [], []
    stop = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(f"http://127.0.0.1:{port}/answer",
                                                     pairs[i::clients], stop, latencies, errors))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    return {"requests_per_second": len(latencies) / seconds, "errors": len(errors),
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--export", type=Path, help="the run's qa-export directory: serve it too")
    args = parser.parse_args()
    records = read_squad_file(bundled_data_path("dev-v1.1.json.gz"))[:500]
    pairs = [{"question": r["question"], "context": r["context"]} for r in records]
    modes = [("unbatched", args.run_dir, False), ("batched", args.run_dir, True)]
    if args.export:
        modes.append(("export, batched", args.export, True))
    print(f"{args.clients} clients, {args.seconds:.0f} s each mode, {args.run_dir}")
    print("| mode | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|")
    rows = {}
    for name, path, batching in modes:
        port = free_port()
        server = start_server(path, port, batching)
        try:
            rows[name] = row = load(port, pairs, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"| {name} | {row['requests_per_second']:.1f} | "
              f"{row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['errors']} |", flush=True)
    if args.export:
        ours, base = rows["export, batched"], rows["batched"]
        print(f"export vs PyTorch run (both batched): "
              f"{ours['requests_per_second'] / base['requests_per_second']:.2f}x requests/s, "
              f"p50 {ours['p50_ms']:.0f} vs {base['p50_ms']:.0f} ms, "
              f"errors {ours['errors']} and {base['errors']}")

if __name__ == "__main__":
    main()
