//! The few operating-system calls the client needs that have no safe wrapper:
//! fork detection (`pthread_atfork`), the exit hook (`atexit`), two `sysconf`
//! values, `kill` and `getrusage` (for `pipetrack run`). This is the crate's only `unsafe` code.
//!
//! Why it is sound: each call passes plain `extern "C"` functions with no
//! arguments (or integer constants) to libc; the handlers only touch atomics,
//! a thread-local and mutexes owned by this crate, never memory shared with C.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};

use crate::tracker::State;

/// Bumped in every child right after `fork()`: a tracker that sees a value other
/// than the one it was created with knows it runs in a forked child.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

static REGISTER: Once = Once::new();

/// A tracker state locked across `fork()`, with the `Arc` that keeps it alive.
/// Fields drop in declaration order: the guard before its owner.
struct Held {
    _guard: MutexGuard<'static, State>,
    _owner: Arc<Mutex<State>>,
}

thread_local! {
    // Locks held by the forking thread from `prepare` until `parent`/`child`, so
    // the child never inherits a tracker state locked by a thread it lacks.
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

extern "C" fn prepare() {
    let mut held = Vec::new();
    for owner in crate::tracker::live_states() {
        // SAFETY: the reference points into the allocation `owner` keeps alive,
        // and `Held` drops the guard before `owner` (field order), so the
        // 'static lifetime never outlives the mutex.
        let mutex: &'static Mutex<State> = unsafe { &*Arc::as_ptr(&owner) };
        held.push(Held { _guard: crate::tracker::lock(mutex), _owner: owner });
    }
    HELD.with(|slot| *slot.borrow_mut() = held);
}

extern "C" fn parent() {
    HELD.with(|held| held.borrow_mut().clear());
}

extern "C" fn child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
    HELD.with(|held| held.borrow_mut().clear());
}

/// Installs the fork handlers once per process.
pub(crate) fn register_fork_handlers() {
    REGISTER.call_once(|| {
        // SAFETY: the three handlers are `extern "C" fn()` with static lifetime;
        // pthread_atfork only stores the pointers.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            crate::warn::warn(
                "cannot install fork handlers: forked worker processes will not report into the run",
            );
        }
    });
}

/// The current fork generation (0 in the original process).
#[inline]
pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Registers `hook` to run at normal process exit (`exit()`, return from main).
pub(crate) fn at_exit(hook: extern "C" fn()) -> bool {
    // SAFETY: `hook` is a plain function pointer with static lifetime.
    unsafe { libc::atexit(hook) == 0 }
}

/// Clock ticks per second, the unit of CPU times in `/proc/<pid>/stat`.
pub(crate) fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf with a valid name has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// Memory page size in bytes, the unit of RSS in `/proc/<pid>/stat`.
pub(crate) fn page_size() -> u64 {
    // SAFETY: as above.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// Sends `signal` to process `pid`.
pub(crate) fn kill(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: kill takes plain integers.
    if unsafe { libc::kill(pid, signal) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// CPU seconds (user + system) and peak RSS in bytes of all waited-for children.
pub(crate) fn children_usage() -> Option<(f64, u64)> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the buffer we own.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above (and zeroed before it).
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    // ru_maxrss is in KiB on Linux.
    Some((seconds(usage.ru_utime) + seconds(usage.ru_stime), (usage.ru_maxrss.max(0) as u64) * 1024))
}
