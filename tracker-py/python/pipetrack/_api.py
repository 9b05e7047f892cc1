"""The tracking API of pipetrack for Python scripts.

Each function is a thin layer over the native module (``pipetrack._native``,
the pyo3 adapter over the Rust ``tracker-client``), adding only what is
Python-specific: ``{name}`` interpolation from the caller's variables, the
script's identity (``__main__``'s file, Python's version) for the run a first
``genter`` starts, ``PIPETRACK_RUN_ID`` for workers started with
``multiprocessing``'s *spawn* method, and the context manager, decorator and
``run()`` context.

Cost: ``gexit`` *is* the native function; ``genter``, ``gmessage`` and
``progress`` add one Python call and a substring test (see
``bench/bench_calls.py``).
"""

from __future__ import annotations

import functools
import inspect
import os
import platform
import sys
import threading
import traceback as traceback_module
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, overload

from pipetrack import _native
from pipetrack._errors import StateError, TrackerError, TrackingWarning
from pipetrack._glue import fill, interpolate
from pipetrack._glue import interpolate as _interpolate

__all__ = [
    "current_run_id",
    "flush",
    "genter",
    "gexit",
    "gmessage",
    "progress",
    "run",
    "task",
    "track_error",
    "track_finish",
    "track_init",
    "track_status",
    "tracked",
]

F = TypeVar("F", bound=Callable[..., Any])

RUN_ID_VAR = "PIPETRACK_RUN_ID"

# Whether this process started (or joined) a run through this module. Read on
# every genter; a forked child inherits it, and with it its parent's run.
_started = False
_init_lock = threading.Lock()
# The PIPETRACK_RUN_ID value this module exported for spawned workers (so it
# removes only its own value, never one set by `pipetrack run`).
_exported_run_id: str | None = None


def _script_identity() -> tuple[str | None, str | None]:
    """(script name, absolute script path) of the program being run: the file
    of ``__main__`` (``python X.py``, ``python -m pkg.mod``), else ``sys.argv[0]``.
    ``(None, None)`` in an interactive session (the native layer then detects
    what it can from the command line)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) if main is not None else None
    if not path and sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        path = sys.argv[0]
    if not path:
        return None, None
    path = os.path.abspath(path)
    return os.path.basename(path), path


def _export_run_id(run_id: str) -> None:
    """Lets processes this one starts (``multiprocessing`` spawn workers,
    instrumented child scripts) join the run, as ``pipetrack run`` does."""
    global _exported_run_id
    if os.environ.get(RUN_ID_VAR) != run_id:
        os.environ[RUN_ID_VAR] = run_id
        _exported_run_id = run_id


def _unexport_run_id() -> None:
    global _exported_run_id
    if _exported_run_id is not None and os.environ.get(RUN_ID_VAR) == _exported_run_id:
        del os.environ[RUN_ID_VAR]
    _exported_run_id = None


def _flush_on_terminate_in_workers() -> None:
    """In a ``multiprocessing`` worker started by *spawn* or *forkserver*
    (a fresh interpreter that joined the parent's run), makes sure the
    worker's events are stored before it ends:

    - at the worker's normal end, from a ``multiprocessing`` finalizer: a
      *forkserver* worker ends with ``os._exit``, which skips ``atexit``
      (and so the flush of :func:`pipetrack.install_hooks`), losing events
      still queued for the writer;
    - before a SIGTERM kills it: ``Pool.terminate()`` (and so ``with
      Pool()``) ends workers that way. The signal then kills the process as
      before. A SIGTERM handler the program installed itself is left alone.

      The flush runs on a native thread, not in a Python signal handler: the
      pool's workers wait for tasks on a semaphore, and a Python handler only
      runs when the main thread next executes Python code, which a worker
      blocked there may never do (``terminate()`` would then wait for it
      forever).

    Forked workers need neither: they write each event to disk synchronously."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None or multiprocessing.parent_process() is None:
        return
    from multiprocessing import util as multiprocessing_util

    # Lowest priority: after the program's own finalizers. Idempotent with
    # the atexit flush that spawn workers also run.
    multiprocessing_util.Finalize(None, _native.shutdown, exitpriority=-1000)
    # Declines when the program handles or ignores SIGTERM already.
    _native.flush_on_sigterm()


def track_init(
    script_name: str | None = None,
    *,
    total_tasks: int | None = None,
    script_path: str | None = None,
    category: str | None = None,
    log_path: str | None = None,
    command: str | None = None,
    join_run: str | None = None,
    pipeline_run_id: str | None = None,
    parent_run_id: str | None = None,
    skip_env: bool = False,
    skip_git: bool = False,
    no_join: bool = False,
) -> str | None:
    """Starts the run of this script and returns its id (a UUID string;
    ``None`` when ``PIPETRACK_DISABLED=1`` turns tracking off).

    Optional: the first :func:`genter` (or :func:`gmessage`, :func:`progress`,
    :func:`track_status`) starts a run with the defaults. Everything not given
    is detected: the script name and path from ``__main__``, the category from
    the name's prefix (``DAILY_01_x.py`` -> ``DAILY``), host, pid, user, git
    commit and branch, working directory, Python's version and the environment
    (secrets redacted).

    A process started by ``pipetrack run`` (or a worker of a tracked script)
    joins the run named by ``PIPETRACK_RUN_ID`` instead of starting one,
    unless ``no_join`` is true.

    Raises :class:`~pipetrack.StateError` while a run is open in this process,
    :class:`~pipetrack.InvalidInputError` for an invalid argument (empty or
    over-long name, negative ``total_tasks``, malformed id).
    """
    global _started
    if script_name is None and script_path is None:
        script_name, script_path = _script_identity()
    run_id = _native.track_init(
        script_name,
        total_tasks=total_tasks,
        script_path=script_path,
        category=category,
        language="python",
        language_version=platform.python_version(),
        log_path=log_path,
        command=command,
        join_run=join_run,
        pipeline_run_id=pipeline_run_id,
        parent_run_id=parent_run_id,
        skip_env=skip_env,
        skip_git=skip_git,
        no_join=no_join,
    )
    _started = True
    if run_id is not None:
        _export_run_id(run_id)
        _flush_on_terminate_in_workers()
    return run_id


def _auto_init() -> None:
    """Starts a run with the defaults unless one was started; two threads may race here."""
    global _started
    with _init_lock:
        if _started:
            return
        try:
            track_init()
        except StateError:
            _started = True  # started through the native API directly


def genter(name: str) -> None:
    """Enters a task named ``name`` (starting the run first if none was
    started). Tasks nest: a ``genter`` inside an open task is its sub-task.

    ``{name}`` placeholders are filled from the caller's variables, like R's
    ``glue``: ``genter("Processing {state}")``. f-strings work as usual. See
    :mod:`pipetrack._glue` for the exact rules.

    Raises :class:`~pipetrack.InvalidInputError` for an empty, over-long or
    multi-line name or a placeholder naming no variable, and
    :class:`~pipetrack.StateError` after the run finished.
    """
    if "{" in name:
        name = interpolate(name, 1)
    if not _started:
        _auto_init()
    _native.genter(name)


gexit = _native.gexit


def gmessage(message: str) -> None:
    """Records a progress message (shown next to the current task), starting
    the run first if none was started. ``{name}`` placeholders are filled like
    :func:`genter`'s. Frequent messages may be coalesced to the latest one
    before they are stored; tasks and errors never are."""
    if "{" in message:
        message = interpolate(message, 1)
    if not _started:
        _auto_init()
    _native.gmessage(message)


def progress(done: int, total: int) -> None:
    """Records sub-progress of the current task: ``done`` of ``total`` items
    (``0 <= done <= total``), starting the run first if none was started.
    Raises :class:`~pipetrack.InvalidInputError` for a negative count or
    ``done > total``."""
    if not _started:
        _auto_init()
    _native.progress(done, total)


def track_status(
    *,
    message: str | None = None,
    current_task: str | None = None,
    progress: tuple[int, int] | None = None,
    total_tasks: int | None = None,
) -> None:
    """Updates any subset of the run's live fields in one event: the progress
    ``message``, a ``current_task`` label (without entering a task), the
    sub-``progress`` as ``(done, total)`` and the expected ``total_tasks``.
    Fields left ``None`` keep their value. The whole update is validated
    before anything is recorded. Starts the run first if none was started."""
    if not _started:
        _auto_init()
    _native.track_status(
        message=message,
        current_task=current_task,
        progress=progress,
        total_tasks=total_tasks,
    )


def track_finish(status: str = "completed", *, exit_code: int | None = None) -> None:
    """Ends the run: ``completed`` (the default), ``failed`` or ``cancelled``,
    with an optional process ``exit_code``. Open tasks are closed first. In a
    process that joined a run (a worker, a script under ``pipetrack run``)
    only this process's tasks close: the run belongs to its starter.

    Not needed at the end of a script: normal interpreter exit finishes the
    run as completed, and an uncaught exception finishes it as failed.

    Raises :class:`~pipetrack.StateError` when no run was started or it
    already finished, :class:`~pipetrack.InvalidInputError` for an unknown
    status.
    """
    _native.track_finish(status, exit_code=exit_code)
    _unexport_run_id()


def _error_parts(
    error: BaseException,
) -> tuple[str, str, str]:
    cls = type(error)
    name = cls.__qualname__ if cls.__module__ in ("builtins", "__main__") else f"{cls.__module__}.{cls.__qualname__}"
    text = "".join(traceback_module.format_exception(cls, error, error.__traceback__))
    message = str(error) or name
    return message, name, text


def track_error(
    error: str | BaseException,
    error_class: str | None = None,
    traceback: str | None = None,
    *,
    exit_code: int | None = None,
) -> None:
    """Ends the run as failed with an error.

    ``error`` is a message, or an exception: then its message, its class
    (``module.Class``) and its formatted traceback are recorded unless given.
    ``track_error`` is called for you when an exception is not caught (see
    :func:`pipetrack.install_hooks`); call it yourself to record an error you
    handle, e.g. before ``sys.exit(1)``.

    An empty message is recorded as ``(no error message)`` (the error is
    never lost for want of a message). Raises :class:`~pipetrack.StateError`
    when no run was started or it already finished,
    :class:`~pipetrack.InvalidInputError` for an over-long message or a
    control character (other than newline/tab) in it or in ``error_class``.
    """
    if isinstance(error, BaseException):
        message, name, text = _error_parts(error)
        error_class = error_class if error_class is not None else name
        traceback = traceback if traceback is not None else text
    else:
        message = error
    _native.track_error(message, error_class, traceback, exit_code=exit_code)
    _unexport_run_id()


def current_run_id() -> str | None:
    """The id of this process's run (started or joined), or ``None`` before one started."""
    return _native.run_id()


def flush(timeout: float = 2.0) -> bool:
    """Waits at most ``timeout`` seconds until everything recorded so far is
    in the store; returns whether it all is (the rest is spooled and written
    later). Rarely needed: the run is flushed at exit."""
    return _native.flush(timeout)


class task:  # noqa: N801 - used like a function: `with pipetrack.task(...)`
    """A task as a context manager: ``with pipetrack.task("Load {state}"):``
    enters the task (``genter``) and exits it (``gexit``) when the block ends.

    When an exception leaves the block, the task ends as ``failed`` and the
    exception goes on as usual: if nothing catches it, the run records it
    (class, message, traceback) as its error; if your code catches it, the
    run goes on. ``{name}`` placeholders are filled from the variables of
    the code creating the task.
    """

    __slots__ = ("name",)

    def __init__(self, name: str, *, interpolate: bool = True) -> None:
        self.name = _interpolate(name, 1) if interpolate and "{" in name else name

    def __enter__(self) -> str:
        if not _started:
            _auto_init()
        try:
            _native.genter(self.name)
        except Warning:
            # A TrackingWarning turned into an error (``python -W error``):
            # the task was entered before the warning was issued, and the
            # block will not run, so close the task before the warning raises.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TrackingWarning)
                try:
                    _native.gexit("failed")
                except TrackerError:
                    pass
            raise
        return self.name

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            _native.gexit()
            return
        try:
            _native.gexit("failed")
        except TrackerError:
            pass  # the run already ended (e.g. track_error in the block): keep the user's exception
        return


@overload
def tracked(func: F, /) -> F: ...
@overload
def tracked(*, name: str | None = None) -> Callable[[F], F]: ...
def tracked(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Decorator: every call of the function is a task, named after the
    function (its ``__qualname__``) or ``name``, whose ``{arg}`` placeholders
    are filled from the call's arguments. Use it bare, ``@pipetrack.tracked``, or with a name,
    ``@pipetrack.tracked(name="Load states")``. An exception leaving the
    function ends the task as ``failed`` and propagates."""

    def decorate(function: F) -> F:
        label = name or function.__qualname__
        signature = inspect.signature(function) if "{" in label else None

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            task_name = label
            if signature is not None:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                task_name = fill(label, bound.arguments)
            with task(task_name, interpolate=False):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate


class run:  # noqa: N801 - used like a function: `with pipetrack.run(...)`
    """The whole script as one run: ``with pipetrack.run(total_tasks=3):``.

    Starts the run on entry (arguments as :func:`track_init`) and finishes it
    on exit: ``completed`` when the block ends normally or with
    ``sys.exit(0)``; ``failed`` with the exception's class, message and
    traceback when an exception leaves it, or with the exit code for
    ``sys.exit(n)``; ``cancelled`` (exit code 130) on ``KeyboardInterrupt``.
    The exception always goes on. ``as`` gives the run id.
    """

    __slots__ = ("_kwargs", "_script_name")

    def __init__(
        self,
        script_name: str | None = None,
        *,
        total_tasks: int | None = None,
        script_path: str | None = None,
        category: str | None = None,
        log_path: str | None = None,
        command: str | None = None,
        join_run: str | None = None,
        pipeline_run_id: str | None = None,
        parent_run_id: str | None = None,
        skip_env: bool = False,
        skip_git: bool = False,
        no_join: bool = False,
    ) -> None:
        self._script_name = script_name
        self._kwargs: dict[str, Any] = {
            "total_tasks": total_tasks,
            "script_path": script_path,
            "category": category,
            "log_path": log_path,
            "command": command,
            "join_run": join_run,
            "pipeline_run_id": pipeline_run_id,
            "parent_run_id": parent_run_id,
            "skip_env": skip_env,
            "skip_git": skip_git,
            "no_join": no_join,
        }

    def __enter__(self) -> str | None:
        return track_init(self._script_name, **self._kwargs)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                track_finish()
            elif isinstance(exc, SystemExit):
                code = exc.code
                if code is None or code == 0:
                    track_finish(exit_code=0)
                elif isinstance(code, int):
                    track_error(f"the script exited with status {code}", "SystemExit", exit_code=code)
                else:
                    track_error(str(code), "SystemExit", exit_code=1)
            elif isinstance(exc, KeyboardInterrupt):
                track_finish("cancelled", exit_code=130)
            else:
                track_error(exc, exit_code=1)
        except StateError:
            if exc is None:
                raise  # e.g. no run open: a bug in the block worth seeing
            # The block already ended the run: keep the user's exception.
