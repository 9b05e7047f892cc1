"""Cost of tracking on the script's thread: median nanoseconds per
``genter`` + ``gexit`` pair (budget: < 1 µs, docs/performance.md).

    python tracker-py/bench/bench_calls.py [--pairs 10000] [--repeat 30]

Runs against a temporary, migrated SQLite store, as a script would. Each
sample times ``--pairs`` calls in a loop (loop overhead included, so the
figures are slightly pessimistic), then waits untimed for the writer to
store them: the figures are the cost of the normal path, with room in the
queue. (A script producing events faster than the store takes them for long
enough to fill the queue, 16,384 events by default (``PIPETRACK_QUEUE_SIZE``),
spills to the disk spool instead, which costs more per call; see
docs/performance.md.) Printed: median and
fastest sample per call for plain names, names with a ``{placeholder}``,
``gmessage``, ``progress`` and ``with pipetrack.task(...)``, each measured
twice: in wall-clock time (``time.perf_counter``) and in CPU time of the
script's thread (``time.thread_time``). On a busy machine the wall-clock
figures include time the thread spent preempted by other processes; the
thread CPU time is the cost the calls add to the script itself, and it is
the figure the budget applies to.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import timeit

STATE = "AL"  # read by the interpolated genter below


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5_000, help="calls per timed sample")
    parser.add_argument("--repeat", type=int, default=30, help="timed samples")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="pipetrack-bench-")
    url = f"sqlite:///{tmp}/bench.db"
    os.environ["PIPETRACK_DATABASE_URL"] = url
    os.environ["PIPETRACK_SPOOL_DIR"] = f"{tmp}/spool"
    os.environ.setdefault("PIPETRACK_SAMPLE_S", "0")

    import pipetrack

    pipetrack.migrate(database_url=url)
    pipetrack.track_init("BENCH_calls.py", skip_env=True, skip_git=True)
    genter, gexit, gmessage, progress, task = (
        pipetrack.genter,
        pipetrack.gexit,
        pipetrack.gmessage,
        pipetrack.progress,
        pipetrack.task,
    )
    def pair() -> None:
        genter("Load states")
        gexit()

    def pair_interpolated() -> None:
        genter("Processing {STATE}")
        gexit()

    def message() -> None:
        gmessage("county 12 of 3000")

    def tick() -> None:
        progress(12, 3000)

    def context() -> None:
        with task("Load states"):
            pass

    print(f"pipetrack {pipetrack.__version__}, Python {sys.version.split()[0]}, {args.repeat} x {args.pairs} calls")
    results = {}
    for label, function in [
        ("genter+gexit", pair),
        ("genter+gexit, interpolated", pair_interpolated),
        ("gmessage", message),
        ("progress", tick),
        ("with task()", context),
    ]:
        function()  # warm up
        for clock_name, clock in (("wall", time.perf_counter), ("thread cpu", time.thread_time)):
            per_call = []
            for _ in range(args.repeat):
                timer = timeit.Timer(function, timer=clock)
                per_call.append(timer.timeit(number=args.pairs) / args.pairs * 1e9)
                pipetrack.flush(60)  # untimed: the writer stores what was recorded
            per_call.sort()
            results[(label, clock_name)] = statistics.median(per_call)
            print(
                f"{label:<28} {clock_name:<10} median {statistics.median(per_call):8.0f} ns"
                f"   best {per_call[0]:8.0f} ns",
            )
    pipetrack.track_finish()
    cpu = results[("genter+gexit", "thread cpu")]
    wall = results[("genter+gexit", "wall")]
    print(f"median ns per genter+gexit pair: {cpu:.0f} (thread CPU time), {wall:.0f} (wall clock)")
    return 0 if cpu < 1000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
