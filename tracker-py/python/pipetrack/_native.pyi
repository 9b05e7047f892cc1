"""Stubs of ``pipetrack._native``, the pyo3 adapter (tracker-py/src).

Query functions return JSON text (monitor-queries' serde shapes); the Python
package decodes it. Errors are the classes of ``pipetrack._errors``.
"""

def track_init(
    script_name: str | None = None,
    *,
    total_tasks: int | None = None,
    script_path: str | None = None,
    category: str | None = None,
    language: str | None = None,
    language_version: str | None = None,
    log_path: str | None = None,
    command: str | None = None,
    join_run: str | None = None,
    pipeline_run_id: str | None = None,
    parent_run_id: str | None = None,
    skip_env: bool = False,
    skip_git: bool = False,
    no_join: bool = False,
) -> str | None: ...
def genter(name: str) -> None: ...
def gexit(status: str | None = None) -> None:
    """Exits the innermost task open in this process, as ``"completed"``
    (default) or ``"failed"``. Raises :class:`~pipetrack.StateError` when no
    task is open."""
def gmessage(message: str) -> None: ...
def progress(done: int, total: int) -> None: ...
def track_status(
    *,
    message: str | None = None,
    current_task: str | None = None,
    progress: tuple[int, int] | None = None,
    total_tasks: int | None = None,
) -> None: ...
def track_finish(status: str = "completed", *, exit_code: int | None = None) -> None: ...
def track_error(
    message: str,
    error_class: str | None = None,
    traceback: str | None = None,
    *,
    exit_code: int | None = None,
) -> None: ...
def run_id() -> str | None: ...
def flush(timeout: float = 2.0) -> bool: ...
def shutdown(exit_code: int | None = None) -> bool: ...
def flush_on_sigterm() -> bool: ...
def migrate(database_url: str | None = None) -> list[str]: ...
def current_status(database_url: str | None = None) -> str: ...
def history(
    database_url: str | None = None,
    *,
    script: str | None = None,
    category: str | None = None,
    statuses: list[str] = ...,
    since: str | None = None,
    until: str | None = None,
    search: str | None = None,
    sort: str = "started",
    descending: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> str: ...
def running(database_url: str | None = None) -> str: ...
def recent_failures(since: str, database_url: str | None = None, *, limit: int = 100) -> str: ...
def run_detail(run_id: str, database_url: str | None = None) -> str: ...
