//! The few operating-system calls the client needs that have no safe wrapper:
//! fork detection (`pthread_atfork`), the exit hook (`atexit`), the flush
//! before a SIGTERM ends the process (`sigaction`, a pipe and a thread), two
//! `sysconf` values, `kill` and `getrusage` (for `pipetrack run`), and
//! `clock_gettime` for event times. This is the crate's only `unsafe` code.
//!
//! Why it is sound: each call passes plain `extern "C"` functions (or integer
//! constants, or buffers this code owns) to libc; the fork handlers only touch
//! atomics, a thread-local and mutexes owned by this crate, never memory shared
//! with C; the signal handler only makes async-signal-safe calls (`write`).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
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
    sigterm_forget_in_child();
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

// The write end of the pipe the SIGTERM handler writes to (-1: not installed
// in this process), and its read end, which the flush thread blocks on.
static TERM_WRITE: AtomicI32 = AtomicI32::new(-1);
static TERM_READ: AtomicI32 = AtomicI32::new(-1);
static TERM_ONCE: Once = Once::new();

/// The SIGTERM handler: wakes the flush thread, nothing else (async-signal-safe).
extern "C" fn on_sigterm(_signal: libc::c_int) {
    // SAFETY: errno is thread-local; saved and restored around `write`, which
    // is async-signal-safe and writes one byte from a local buffer.
    unsafe {
        let errno = *errno_location();
        let fd = TERM_WRITE.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = 1u8;
            libc::write(fd, (&raw const byte).cast(), 1);
        }
        *errno_location() = errno;
    }
}

/// [`on_sigterm`] as sigaction stores it.
fn on_sigterm_handler() -> libc::sighandler_t {
    on_sigterm as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno_location() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__error() }
}

/// The handler installed for `signal` now, as sigaction reports it.
fn current_handler(signal: libc::c_int) -> Option<libc::sighandler_t> {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries; `old` is a buffer we own.
    if unsafe { libc::sigaction(signal, std::ptr::null(), old.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised by the successful call above (and zeroed before it).
    Some(unsafe { old.assume_init() }.sa_sigaction)
}

fn set_handler(signal: libc::c_int, handler: libc::sighandler_t) -> bool {
    let mut action = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); we set the
    // handler and SA_RESTART, so system calls the signal interrupts resume.
    unsafe {
        let action = action.as_mut_ptr();
        (*action).sa_sigaction = handler;
        (*action).sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&raw mut (*action).sa_mask);
        libc::sigaction(signal, action, std::ptr::null_mut()) == 0
    }
}

/// Until the process ends: when a SIGTERM arrives, runs `flush` on a thread
/// of its own, then lets the signal end the process as it would have.
///
/// For worker processes a pool ends with SIGTERM (Python's
/// `multiprocessing.Pool.terminate()`). The handler only writes to a pipe; the
/// thread does the work, so a SIGTERM is acted on whatever the process's
/// threads are doing: blocked in a system call, holding locks, or not the
/// thread the kernel delivered it to. (A handler in the script's language
/// would run only when its main thread gets around to it, which a thread
/// blocked on a semaphore never does.)
///
/// Leaves SIGTERM alone (returns false) when something already handles or
/// ignores it. A forked child starts with the default action again. Does
/// nothing after the first call. Returns whether the handler is installed.
pub(crate) fn flush_on_sigterm(flush: fn()) -> bool {
    TERM_ONCE.call_once(|| {
        if current_handler(libc::SIGTERM) != Some(libc::SIG_DFL) {
            return;
        }
        register_fork_handlers();
        let mut fds = [-1; 2];
        // SAFETY: pipe writes two descriptors into the array we own.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        let [read, write] = fds;
        // SAFETY: fcntl on descriptors we own: not inherited by programs this
        // process runs, and a full pipe never blocks the handler.
        unsafe {
            libc::fcntl(read, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(write, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(write, libc::F_SETFL, libc::O_NONBLOCK);
        }
        let spawned = std::thread::Builder::new().name("pipetrack-sigterm".into()).spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into a local buffer from our descriptor.
                let n = unsafe { libc::read(read, (&raw mut byte).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return; // closed: forgotten in a forked child
            }
            flush();
            // Die by the signal, as without the handler (the parent sees -SIGTERM).
            set_handler(libc::SIGTERM, libc::SIG_DFL);
            // SAFETY: plain integers; SIGTERM unblocked in this thread, then raised at it.
            unsafe {
                let mut set = std::mem::zeroed::<libc::sigset_t>();
                libc::sigemptyset(&raw mut set);
                libc::sigaddset(&raw mut set, libc::SIGTERM);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &raw const set, std::ptr::null_mut());
                libc::raise(libc::SIGTERM);
            }
        });
        if spawned.is_err() {
            // SAFETY: closing descriptors we own.
            unsafe {
                libc::close(read);
                libc::close(write);
            }
            return;
        }
        TERM_READ.store(read, Ordering::SeqCst);
        TERM_WRITE.store(write, Ordering::SeqCst);
        if !set_handler(libc::SIGTERM, on_sigterm_handler()) {
            TERM_WRITE.store(-1, Ordering::SeqCst);
        }
    });
    TERM_WRITE.load(Ordering::SeqCst) >= 0
}

/// In a forked child (no flush thread there): the default SIGTERM action again,
/// unless the program replaced the handler meanwhile. Only async-signal-safe calls.
fn sigterm_forget_in_child() {
    let write = TERM_WRITE.swap(-1, Ordering::SeqCst);
    if write < 0 {
        return;
    }
    if current_handler(libc::SIGTERM) == Some(on_sigterm_handler()) {
        set_handler(libc::SIGTERM, libc::SIG_DFL);
    }
    // SAFETY: closing the inherited descriptors of the pipe.
    unsafe {
        libc::close(write);
        libc::close(TERM_READ.swap(-1, Ordering::SeqCst));
    }
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

/// The wall clock as a UTC time, for every event a call makes. The same as
/// `Utc::now()`, at about half its cost: one `clock_gettime` (vDSO, no system
/// call) and the calendar date reused while the day has not changed, instead
/// of `SystemTime` arithmetic and a date computed from scratch each time.
pub(crate) fn wall_clock() -> chrono::DateTime<chrono::Utc> {
    use chrono::{NaiveDate, NaiveTime};
    thread_local! {
        static DAY: std::cell::Cell<(u64, NaiveDate)> = const { std::cell::Cell::new((u64::MAX, NaiveDate::MIN)) };
    }
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME always exists.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut ts) } == 0;
    let (true, Ok(secs), Ok(nanos)) = (ok, u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) else {
        return chrono::Utc::now();
    };
    let day = secs / 86_400;
    let date = DAY.with(|cell| {
        let (cached, date) = cell.get();
        if cached == day {
            return Some(date);
        }
        let date = chrono::DateTime::from_timestamp((day * 86_400) as i64, 0)?.date_naive();
        cell.set((day, date));
        Some(date)
    });
    match (date, NaiveTime::from_num_seconds_from_midnight_opt((secs % 86_400) as u32, nanos)) {
        (Some(date), Some(time)) => date.and_time(time).and_utc(),
        _ => chrono::Utc::now(),
    }
}

#[cfg(test)]
mod clock_tests {
    #[test]
    fn the_wall_clock_agrees_with_chrono() {
        for _ in 0..1_000 {
            let before = chrono::Utc::now();
            let now = super::wall_clock();
            let after = chrono::Utc::now();
            assert!(before <= now && now <= after, "{before} <= {now} <= {after}");
        }
    }
}
