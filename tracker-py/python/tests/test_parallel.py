"""Workers and threads: multiprocessing (fork, spawn and forkserver),
ProcessPoolExecutor and threading all report into the parent's run."""

from __future__ import annotations

import pytest

from conftest import Store, stdout_json

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
    # Forked workers' tasks nest under the parent's open task; spawned (and
    # forkserver) workers are fresh interpreters that join the run with tasks
    # of their own.
    depth = 1 if method == "fork" else 0
    assert items == [(f"item {i}", "completed", depth) for i in range(6)]
    assert len({t["stream"] for t in tasks if t["stream"] != 0}) >= 1
    assert store.history() and len(store.history()) == 1, "workers must not start runs of their own"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool_workers_report_into_the_parent_run(store: Store, method: str) -> None:
    store.run_script(WORKER_SCRIPT, args=[method, "pool"])
    _check_fan_out(store, method)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_process_pool_executor_workers_report_into_the_parent_run(store: Store, method: str) -> None:
    store.run_script(WORKER_SCRIPT, args=[method, "executor"])
    _check_fan_out(store, method)


TERMINATED_WORKER_SCRIPT = """
import ctypes, multiprocessing, os, signal, sys, pipetrack

def work(held, ready):
    pipetrack.genter("worker task")
    pipetrack.gmessage("before the SIGTERM")
    pipetrack.gexit()
    ready.set()
    held.acquire()  # blocked on a semaphore, as a pool's idle worker is

if __name__ == "__main__":
    method, target = sys.argv[1], sys.argv[2]
    context = multiprocessing.get_context(method)
    pipetrack.track_init()
    pipetrack.genter("Fan out")
    held, ready = context.Lock(), context.Event()
    held.acquire()
    worker = context.Process(target=work, args=(held, ready))
    worker.start()
    assert ready.wait(60), "the worker never ran its task"
    if target == "process":
        worker.terminate()  # what Pool.terminate() does
    else:
        # The kernel may hand a process's SIGTERM to any of its threads.
        others = sorted(int(t) for t in os.listdir(f"/proc/{worker.pid}/task") if int(t) != worker.pid)
        assert others, "the worker has no threads besides its main one"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.tgkill(worker.pid, others[0], signal.SIGTERM) == 0, ctypes.get_errno()
    worker.join(60)
    if worker.exitcode is None:
        worker.kill()
        worker.join()
        raise AssertionError("the worker did not die of its SIGTERM within 60 s")
    assert worker.exitcode == -signal.SIGTERM, f"worker exit code {worker.exitcode}"
    pipetrack.gexit()
"""


@pytest.mark.slow
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
@pytest.mark.parametrize("target", ["process", "thread"])
def test_a_terminated_worker_stores_its_events_then_dies(store: Store, method: str, target: str) -> None:
    # The worker's writer would only write after ten minutes: what it recorded
    # reaches the store through the flush its SIGTERM triggers. The SIGTERM
    # arrives while the worker's main thread waits on a semaphore; sent to
    # another thread of the worker, a Python-level handler would never run
    # (the worker used to hang there, and Pool.terminate() with it).
    store.run_script(
        TERMINATED_WORKER_SCRIPT,
        args=[method, target],
        env={"PIPETRACK_FLUSH_MS": "600000"},
    )
    detail = store.only_run()
    assert detail["run"]["status"] == "completed"
    tasks = {t["name"]: t for t in detail["tasks"]}
    assert tasks["Fan out"]["status"] == "completed"
    assert tasks["worker task"]["status"] == "completed"
    assert tasks["worker task"]["stream"] != tasks["Fan out"]["stream"]
    assert [m["message"] for m in detail["messages"]] == ["before the SIGTERM"]


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
    # One stack per process: a task nests under the tasks other threads have
    # open at that moment; each thread has at most one open, so the depth is
    # at most 3 (which depths occur depends on the interleaving).
    assert {t["depth"] for t in tasks} <= {0, 1, 2, 3}
    assert detail["run"]["status"] == "completed"


def test_threads_share_one_task_stack_per_process(store: Store) -> None:
    # The documented behaviour: one task stack per process. A task a thread
    # enters while another thread's task is open nests under it (depth 1),
    # and gexit closes the innermost task open in the process, whichever
    # thread entered it. Each step waits for the previous one (events), so
    # the order is fixed.
    proc = store.run_script(
        """
        import json, threading, pipetrack
        pipetrack.track_init()
        a_entered, b_entered, a_exited = threading.Event(), threading.Event(), threading.Event()
        seen = {}

        def open_tasks():
            pipetrack.flush()
            tasks = pipetrack.get_script_progress()
            return sorted(t["name"] for t in tasks if t["status"] == "running")

        def thread_a():
            pipetrack.genter("A")
            a_entered.set()
            b_entered.wait()
            pipetrack.gexit()            # closes B, the innermost task, not A
            seen["after A's gexit"] = open_tasks()
            a_exited.set()

        def thread_b():
            a_entered.wait()
            pipetrack.genter("B")        # nests under A
            b_entered.set()
            a_exited.wait()
            pipetrack.gexit()            # closes A
            seen["after B's gexit"] = open_tasks()

        threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps(seen))
        """,
    )
    assert stdout_json(proc) == {"after A's gexit": ["A"], "after B's gexit": []}
    tasks = store.only_run()["tasks"]
    assert [(t["name"], t["depth"], t["status"]) for t in tasks] == [
        ("A", 0, "completed"),
        ("B", 1, "completed"),
    ]
    a, b = tasks
    assert b["finished_at"] <= a["finished_at"]
