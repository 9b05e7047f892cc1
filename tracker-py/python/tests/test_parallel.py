"""Workers and threads: multiprocessing (fork and spawn), ProcessPoolExecutor
and threading all report into the parent's run."""

from __future__ import annotations

import pytest

from conftest import Store

WORKER_SCRIPT = """
import sys, multiprocessing, concurrent.futures, pipetrack

def work(item):
    pipetrack.genter("item {item}")
    pipetrack.gmessage("working on {item}")
    pipetrack.gexit()
    return item * item

if __name__ == "__main__":
    method, pool = sys.argv[1], sys.argv[2]
    pipetrack.track_init()
    pipetrack.genter("Fan out")
    context = multiprocessing.get_context(method)
    if pool == "pool":
        with context.Pool(3) as workers:
            squares = workers.map(work, range(6))
    else:
        with concurrent.futures.ProcessPoolExecutor(3, mp_context=context) as workers:
            squares = list(workers.map(work, range(6)))
    assert squares == [i * i for i in range(6)], squares
    pipetrack.gexit()
    pipetrack.genter("Combine")
    pipetrack.gexit()
"""


def _check_fan_out(store: Store, method: str) -> None:
    detail = store.only_run()
    run = detail["run"]
    assert run["status"] == "completed"
    tasks = detail["tasks"]
    parent = [(t["name"], t["status"]) for t in tasks if t["stream"] == 0]
    assert parent == [("Fan out", "completed"), ("Combine", "completed")]
    items = sorted((t["name"], t["status"], t["depth"]) for t in tasks if t["stream"] != 0)
    # Forked workers' tasks nest under the parent's open task; spawned workers
    # are fresh interpreters that join the run with tasks of their own.
    depth = 1 if method == "fork" else 0
    assert items == [(f"item {i}", "completed", depth) for i in range(6)]
    assert len({t["stream"] for t in tasks if t["stream"] != 0}) >= 1
    assert store.history() and len(store.history()) == 1, "workers must not start runs of their own"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_pool_workers_report_into_the_parent_run(store: Store, method: str) -> None:
    store.run_script(WORKER_SCRIPT, args=[method, "pool"])
    _check_fan_out(store, method)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_executor_workers_report_into_the_parent_run(store: Store, method: str) -> None:
    store.run_script(WORKER_SCRIPT, args=[method, "executor"])
    _check_fan_out(store, method)


def test_threads_enter_and_exit_tasks_concurrently(store: Store) -> None:
    store.run_script(
        """
        import threading, pipetrack
        pipetrack.track_init()
        errors = []
        barrier = threading.Barrier(4)

        def work(worker):
            barrier.wait()
            try:
                for i in range(50):
                    pipetrack.genter(f"thread {worker} step {i}")
                    pipetrack.gmessage("tick")
                    pipetrack.gexit()
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        """,
    )
    detail = store.only_run()
    tasks = detail["tasks"]
    assert len(tasks) == 200
    assert {t["status"] for t in tasks} == {"completed"}
    assert sorted(t["name"] for t in tasks) == sorted(f"thread {w} step {i}" for w in range(4) for i in range(50))
    assert detail["run"]["status"] == "completed"
