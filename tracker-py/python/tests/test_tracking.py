"""The tracking API, end to end: scripts run as users run them, and the
store is read back with the query functions. Every test runs on SQLite and
on PostgreSQL."""

from __future__ import annotations

import platform

import pipetrack
from conftest import Store, stdout_json


def test_every_tracking_function_lands_in_the_store(store: Store) -> None:
    proc = store.run_script(
        """
        import pipetrack
        run_id = pipetrack.track_init(total_tasks=3)
        pipetrack.genter("Load states")
        pipetrack.gmessage("Reading AL")
        pipetrack.progress(2, 5)
        pipetrack.gexit()
        pipetrack.track_status(message="halfway", current_task="Checking", progress=(4, 8), total_tasks=4)
        pipetrack.genter("Write tables")
        pipetrack.genter("Nested step")
        pipetrack.gexit()
        pipetrack.gexit()
        assert pipetrack.current_run_id() == run_id
        pipetrack.track_finish()
        print(run_id)
        """,
    )
    detail = store.only_run()
    run = detail["run"]
    assert run["run_id"] == proc.stdout.strip()
    assert run["status"] == "completed"
    assert run["category"] == "DAILY"
    assert run["total_tasks"] == 4
    assert run["tasks_done"] == 2
    assert run["language"] == "python"
    assert run["language_version"] == platform.python_version()
    tasks = [(t["name"], t["depth"], t["status"]) for t in detail["tasks"]]
    assert tasks == [
        ("Load states", 0, "completed"),
        ("Write tables", 0, "completed"),
        ("Nested step", 1, "completed"),
    ]
    load = detail["tasks"][0]
    assert (load["message"], load["progress_done"], load["progress_total"]) == ("Reading AL", 2, 5)
    assert [m["message"] for m in detail["messages"]] == ["Reading AL", "halfway"]


def test_first_genter_starts_the_run_with_the_script_identity(store: Store) -> None:
    store.run_script(
        """
        import pipetrack
        pipetrack.genter("Only task")
        pipetrack.gexit()
        """,
        name="ANNUAL_DEC_02_Auto.py",
    )
    detail = store.only_run("ANNUAL_DEC_02_Auto.py")
    run = detail["run"]
    assert run["script_name"] == "ANNUAL_DEC_02_Auto.py"
    assert run["script_path"] == str(store.tmp_path / "ANNUAL_DEC_02_Auto.py")
    assert run["category"] == "ANNUAL_DEC"
    assert run["language"] == "python"
    # Normal interpreter exit finished the run.
    assert run["status"] == "completed"
    assert run["finished_at"] is not None
    assert [t["name"] for t in detail["tasks"]] == ["Only task"]


def test_uncaught_exception_records_class_message_and_traceback(store: Store) -> None:
    proc = store.run_script(
        """
        import pipetrack

        class LoadError(Exception):
            pass

        def load_state(state):
            raise LoadError(f"no rows for {state}")

        pipetrack.genter("Load states")
        load_state("WY")
        """,
        expect_rc=1,
    )
    # The exception is still printed as usual.
    assert "LoadError: no rows for WY" in proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    detail = store.only_run()
    run = detail["run"]
    assert run["status"] == "failed"
    assert run["error_class"] == "LoadError"
    assert run["error_message"] == "no rows for WY"
    assert run["exit_code"] == 1
    traceback = run["error_traceback"]
    assert traceback.startswith("Traceback (most recent call last)")
    assert "in load_state" in traceback
    assert traceback.rstrip().endswith("LoadError: no rows for WY")
    assert [(t["name"], t["status"]) for t in detail["tasks"]] == [("Load states", "failed")]


def test_exception_of_a_library_class_is_qualified_with_its_module(store: Store) -> None:
    store.run_script(
        """
        import json, pipetrack
        pipetrack.track_init()
        json.loads("{not json")
        """,
        expect_rc=1,
    )
    run = store.only_run()["run"]
    assert run["error_class"] == "json.decoder.JSONDecodeError"
    assert run["error_message"].startswith("Expecting property name")


def test_task_context_manager_and_decorator(store: Store) -> None:
    store.run_script(
        """
        import pipetrack

        @pipetrack.tracked
        def clean():
            pass

        @pipetrack.tracked(name="Write {kind} tables")
        def write(kind):
            return kind.upper()

        for state in ["AL", "AK"]:
            with pipetrack.task("Load {state}") as name:
                assert name == f"Load {state}"
                clean()
        assert write("fcc") == "FCC"
        try:
            with pipetrack.task("Risky"):
                raise KeyError("missing")
        except KeyError:
            pass  # handled: the run goes on
        with pipetrack.task("After"):
            pass
        """,
    )
    detail = store.only_run()
    assert [(t["name"], t["depth"], t["status"]) for t in detail["tasks"]] == [
        ("Load AL", 0, "completed"),
        ("clean", 1, "completed"),
        ("Load AK", 0, "completed"),
        ("clean", 1, "completed"),
        ("Write fcc tables", 0, "completed"),
        ("Risky", 0, "failed"),
        ("After", 0, "completed"),
    ]
    assert detail["run"]["status"] == "completed"


def test_decorated_function_that_raises_fails_its_task_and_the_run(store: Store) -> None:
    store.run_script(
        """
        import pipetrack

        @pipetrack.tracked
        def explode():
            raise RuntimeError("boom")

        explode()
        """,
        expect_rc=1,
    )
    detail = store.only_run()
    assert [(t["name"], t["status"]) for t in detail["tasks"]] == [("explode", "failed")]
    assert (detail["run"]["status"], detail["run"]["error_class"]) == ("failed", "RuntimeError")


def test_run_context_finishes_the_run(store: Store) -> None:
    store.run_script(
        """
        import pipetrack
        with pipetrack.run("DAILY_03_Context.py", total_tasks=1) as run_id:
            with pipetrack.task("Work"):
                pass
        print(run_id)
        """,
    )
    run = store.only_run("DAILY_03_Context.py")["run"]
    # The script may go on after the block: no exit code is claimed.
    assert (run["status"], run["exit_code"], run["tasks_done"]) == ("completed", None, 1)


def test_run_context_records_sys_exit_codes_and_interrupts(store: Store) -> None:
    store.run_script(
        """
        import sys, pipetrack
        with pipetrack.run("DAILY_04_Exit.py"):
            sys.exit(3)
        """,
        expect_rc=3,
    )
    run = store.only_run("DAILY_04_Exit.py")["run"]
    assert (run["status"], run["exit_code"], run["error_class"]) == ("failed", 3, "SystemExit")
    store.run_script(
        """
        import pipetrack
        with pipetrack.run("DAILY_05_Interrupted.py"):
            raise KeyboardInterrupt
        """,
        expect_rc=None,
    )
    run = store.only_run("DAILY_05_Interrupted.py")["run"]
    assert (run["status"], run["exit_code"]) == ("cancelled", 130)


def test_track_error_records_a_handled_exception(store: Store) -> None:
    store.run_script(
        """
        import sys, pipetrack
        pipetrack.genter("Download")
        try:
            raise ConnectionError("server closed the connection")
        except ConnectionError as err:
            pipetrack.track_error(err, exit_code=2)
            sys.exit(2)
        """,
        expect_rc=2,
    )
    run = store.only_run()["run"]
    assert run["status"] == "failed"
    assert run["error_class"] == "ConnectionError"
    assert run["error_message"] == "server closed the connection"
    assert run["exit_code"] == 2
    assert "raise ConnectionError" in run["error_traceback"]


def test_interpolation_uses_the_caller_variables(store: Store) -> None:
    proc = store.run_script(
        """
        import json, types, pipetrack
        YEAR = 2025

        def process(state, rows):
            row = types.SimpleNamespace(county="Autauga")
            pipetrack.genter("Processing {state} for {YEAR}")
            pipetrack.gmessage("{rows:,} rows in {row.county}")
            pipetrack.gexit()
            data = {"a": 1}
            pipetrack.genter(f"Data {data}")          # an f-string showing a dict
            pipetrack.gexit()
            pipetrack.genter("Literal {{braces}}")
            pipetrack.gexit()
            try:
                pipetrack.genter("Processing {stat}")
            except pipetrack.InvalidInputError as err:
                print(json.dumps({"error": str(err), "is_value_error": isinstance(err, ValueError)}))

        process("AL", 1234567)
        """,
    )
    error = stdout_json(proc)
    assert "stat" in error["error"] and "no such variable" in error["error"]
    assert error["is_value_error"] is True
    detail = store.only_run()
    assert [t["name"] for t in detail["tasks"]] == [
        "Processing AL for 2025",
        "Data {'a': 1}",
        "Literal {braces}",
    ]
    assert detail["tasks"][0]["message"] == "1,234,567 rows in Autauga"


def test_bad_arguments_raise_clear_exceptions(store: Store) -> None:
    proc = store.run_script(
        """
        import json, pipetrack

        outcomes = {}
        def attempt(label, call):
            try:
                call()
            except Exception as err:
                outcomes[label] = {
                    "class": type(err).__name__,
                    "bases": [c.__name__ for c in type(err).__mro__[1:]],
                    "kind": getattr(err, "kind", None),
                    "message": str(err),
                }
            else:
                outcomes[label] = None

        attempt("gexit before anything", lambda: pipetrack.gexit())
        attempt("join malformed", lambda: pipetrack.track_init(join_run="not-a-run"))
        attempt("total negative", lambda: pipetrack.track_init(total_tasks=-1))
        pipetrack.track_init()
        attempt("init twice", lambda: pipetrack.track_init())
        attempt("empty task", lambda: pipetrack.genter(""))
        attempt("multi-line task", lambda: pipetrack.genter("a\\nb"))
        attempt("not a string", lambda: pipetrack.genter(42))
        attempt("progress beyond total", lambda: pipetrack.progress(5, 3))
        attempt("negative progress", lambda: pipetrack.progress(-1, 3))
        attempt("gexit without task", lambda: pipetrack.gexit())
        attempt("unknown task status", lambda: pipetrack.gexit("exploded"))
        attempt("unknown run status", lambda: pipetrack.track_finish("done"))
        attempt("bad status progress", lambda: pipetrack.track_status(progress=(9, 2)))
        pipetrack.track_finish()
        attempt("genter after finish", lambda: pipetrack.genter("late"))
        attempt("finish twice", lambda: pipetrack.track_finish())
        print(json.dumps(outcomes))
        """,
    )
    outcomes = stdout_json(proc)

    def check(label: str, cls: str, kind: str, words: str) -> None:
        outcome = outcomes[label]
        assert outcome is not None, f"{label}: no exception"
        assert (outcome["class"], outcome["kind"]) == (cls, kind), (label, outcome)
        assert words in outcome["message"], (label, outcome["message"])
        assert "TrackerError" in outcome["bases"]
        expected_base = "ValueError" if cls == "InvalidInputError" else "RuntimeError"
        assert expected_base in outcome["bases"], (label, outcome)

    check("gexit before anything", "StateError", "not_started", "call track_init first")
    check("join malformed", "InvalidInputError", "invalid_argument", "not a valid run id")
    check("total negative", "InvalidInputError", "invalid_argument", "cannot be negative")
    check("init twice", "StateError", "already_started", "already open")
    check("empty task", "InvalidInputError", "invalid_argument", "task name is empty")
    check("multi-line task", "InvalidInputError", "invalid_argument", "control character")
    check("progress beyond total", "InvalidInputError", "invalid_argument", "greater than its total")
    check("negative progress", "InvalidInputError", "invalid_argument", "cannot be negative")
    check("gexit without task", "StateError", "no_open_task", "no task is open")
    check("unknown task status", "InvalidInputError", "invalid_argument", "exploded")
    check("unknown run status", "InvalidInputError", "invalid_argument", "expected one of")
    check("bad status progress", "InvalidInputError", "invalid_argument", "greater than its total")
    check("genter after finish", "StateError", "run_finished", "already finished")
    check("finish twice", "StateError", "run_finished", "already finished")
    assert outcomes["not a string"]["class"] == "TypeError"
    # The refused calls left no trace: the run is complete and has no task.
    detail = store.only_run()
    assert detail["run"]["status"] == "completed"
    assert detail["tasks"] == []


def test_disabled_tracking_records_nothing(store: Store) -> None:
    proc = store.run_script(
        """
        import pipetrack
        print(pipetrack.track_init())
        pipetrack.genter("Ignored")
        pipetrack.gexit()
        """,
        env={"PIPETRACK_DISABLED": "1"},
    )
    assert proc.stdout.strip() == "None"
    assert store.history() == []


def test_python_version_is_recorded_as_language_version(store: Store) -> None:
    proc = store.run_script(
        """
        import platform, pipetrack
        pipetrack.genter("x")
        print(platform.python_version())
        """,
    )
    assert store.only_run()["run"]["language_version"] == proc.stdout.strip()
    assert proc.stdout.strip() == platform.python_version()


def test_more_bad_arguments_raise_clear_exceptions(store: Store) -> None:
    proc = store.run_script(
        """
        import json, math, pipetrack

        outcomes = {}
        def attempt(label, call):
            try:
                call()
            except Exception as err:
                outcomes[label] = [type(err).__name__, getattr(err, "kind", None), str(err)]
            else:
                outcomes[label] = None

        attempt("empty script name", lambda: pipetrack.track_init(script_name=""))
        attempt("blank script name", lambda: pipetrack.track_init(script_name="   "))
        attempt("pipeline id", lambda: pipetrack.track_init(pipeline_run_id="pipeline-7"))
        attempt("parent id", lambda: pipetrack.track_init(parent_run_id="12345"))
        pipetrack.track_init()
        attempt("negative total", lambda: pipetrack.track_status(total_tasks=-1))
        attempt("flush negative", lambda: pipetrack.flush(-1))
        attempt("flush nan", lambda: pipetrack.flush(math.nan))
        attempt("empty message", lambda: pipetrack.gmessage(""))
        attempt("nul in message", lambda: pipetrack.gmessage("row\\x00 7"))
        attempt("escape in message", lambda: pipetrack.gmessage("\\x1b[31mred"))
        attempt("tab in task", lambda: pipetrack.genter("a\\tb"))
        attempt("multi-line message", lambda: pipetrack.gmessage("line 1\\nline 2"))
        attempt("control char in error class", lambda: pipetrack.track_error("x", "Bad\\nClass"))
        attempt("empty error", lambda: pipetrack.track_error(""))
        print(json.dumps(outcomes))
        """,
        expect_rc=0,
    )
    outcomes = stdout_json(proc)

    def check(label: str, words: str) -> None:
        outcome = outcomes[label]
        assert outcome is not None, f"{label}: no exception"
        assert outcome[:2] == ["InvalidInputError", "invalid_argument"], (label, outcome)
        assert words in outcome[2], (label, outcome[2])

    check("empty script name", "script name is empty")
    check("blank script name", "script name is empty")
    check("pipeline id", 'pipeline_run_id "pipeline-7" is not a UUID')
    check("parent id", "not a valid run id")
    check("negative total", "cannot be negative")
    check("flush negative", "timeout -1 is not a number of seconds >= 0")
    check("flush nan", "is not a number of seconds >= 0")
    check("nul in message", "control character U+0000")
    check("escape in message", "control character U+001B")
    check("tab in task", "control character U+0009")
    check("control char in error class", "error class contains the control character U+000A")
    # Accepted: an empty message (clears it), a multi-line message, and an
    # empty error message (recorded as "(no error message)": an error is never
    # lost for want of a message).
    assert outcomes["empty message"] is None
    assert outcomes["multi-line message"] is None
    assert outcomes["empty error"] is None
    detail = store.only_run()
    run = detail["run"]
    assert (run["status"], run["error_message"]) == ("failed", "(no error message)")
    assert [m["message"] for m in detail["messages"] if m["message"]][-1] == "line 1\nline 2"


def test_malformed_database_url_warns_and_the_script_completes(sqlite_store: Store) -> None:
    proc = sqlite_store.run_script(
        """
        import warnings, pipetrack
        warnings.simplefilter("always")
        with pipetrack.task("Work"):
            pipetrack.gmessage("still going")
        pipetrack.flush(1)
        print("script finished")
        """,
        env={"PIPETRACK_DATABASE_URL": "mysql://db.example/tracking"},
    )
    assert proc.stdout.strip() == "script finished"
    assert "TrackingWarning" in proc.stderr
    assert "PIPETRACK_DATABASE_URL" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sqlite_store.history() == []  # nothing reached the (other) store


def test_tracking_warning_raised_as_error_leaves_no_task_open(sqlite_store: Store) -> None:
    # With warnings turned into errors a TrackingWarning raises out of the
    # call that delivers it (the call itself was recorded); `with task()`
    # then closes the task it opened, as failed, instead of leaving it open.
    # The store is not migrated at first, so the writer warns; the script
    # then migrates it and its spooled events land.
    url = f"sqlite:///{sqlite_store.tmp_path / 'later.db'}"
    proc = sqlite_store.run_script(
        """
        import json, os, time, pipetrack
        outcomes = []
        # Returns well before the writer's first write (PIPETRACK_FLUSH_MS).
        pipetrack.track_init(skip_git=True, skip_env=True)
        time.sleep(4)  # the writer failed to store the start: a warning is pending
        for step in range(2):
            try:
                with pipetrack.task("Step {step}"):
                    outcomes.append("ran")
            except pipetrack.TrackingWarning as warning:
                outcomes.append("warning")
        pipetrack.migrate(os.environ["PIPETRACK_DATABASE_URL"])
        print(json.dumps([outcomes, pipetrack.flush(30)]))
        """,
        env={
            "PIPETRACK_DATABASE_URL": url,
            "PYTHONWARNINGS": "error::UserWarning",
            "PIPETRACK_RETRY_MAX_S": "1",
            "PIPETRACK_FLUSH_MS": "2000",
        },
    )
    assert stdout_json(proc) == [["warning", "ran"], True]
    runs = pipetrack.get_script_history(database_url=url)
    assert len(runs) == 1
    tasks = pipetrack.get_run_detail(runs[0]["run_id"], database_url=url)["tasks"]
    assert [(t["name"], t["depth"], t["status"]) for t in tasks] == [
        ("Step 0", 0, "failed"),
        ("Step 1", 0, "completed"),
    ]


def test_sys_exit_outside_run_is_recorded_completed(store: Store) -> None:
    # Documented: atexit handlers are not told the exit status, so
    # sys.exit(n) outside `with pipetrack.run()` finishes the run as completed.
    store.run_script(
        """
        import sys, pipetrack
        pipetrack.genter("Work")
        sys.exit(3)
        """,
        expect_rc=3,
    )
    detail = store.only_run()
    assert (detail["run"]["status"], detail["run"]["error_class"]) == ("completed", None)
    assert [(t["name"], t["status"]) for t in detail["tasks"]] == [("Work", "completed")]


def test_uncaught_exception_in_a_thread_is_a_message_and_the_run_goes_on(store: Store) -> None:
    proc = store.run_script(
        """
        import threading, pipetrack
        pipetrack.genter("Fan out")

        def work():
            raise ValueError("bad county\\n 01001")

        thread = threading.Thread(target=work, name="county-worker")
        thread.start()
        thread.join()
        pipetrack.gexit()
        with pipetrack.task("After"):
            pass
        print("main went on")
        """,
    )
    # The previous hook (Python's) still printed the exception.
    assert "Exception in thread county-worker" in proc.stderr
    assert "ValueError: bad county" in proc.stderr
    assert proc.stdout.strip() == "main went on"
    detail = store.only_run()
    assert detail["run"]["status"] == "completed"
    assert [m["message"] for m in detail["messages"]] == [
        "uncaught exception in thread county-worker: ValueError: bad county 01001",
    ]
    assert [(t["name"], t["status"]) for t in detail["tasks"]] == [("Fan out", "completed"), ("After", "completed")]


def test_thread_hook_chains_a_hook_installed_before_the_import(sqlite_store: Store) -> None:
    proc = sqlite_store.run_script(
        """
        import threading
        seen = []
        threading.excepthook = lambda args: seen.append(args.exc_type.__name__)
        import pipetrack
        pipetrack.track_init()

        def work():
            raise KeyError("k")

        def quits():
            raise SystemExit(4)

        for target in (work, quits):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
        print(seen)
        """,
    )
    assert proc.stdout.strip() == "['KeyError', 'SystemExit']"
    messages = [m["message"] for m in sqlite_store.only_run()["messages"]]
    assert len(messages) == 1 and messages[0].endswith(": KeyError: 'k'")
