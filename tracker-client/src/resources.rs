//! Resource use read from `/proc`: memory (current and peak RSS), CPU seconds
//! and storage I/O, of this process or of a whole process tree (for
//! `pipetrack run`). Linux only; elsewhere every reading is `None`.

use std::collections::HashMap;
use std::fs;

use tracker_core::ResourceSample;

/// CPU and memory fields of `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stat {
    ppid: u32,
    /// user + system ticks of the process itself.
    ticks: u64,
    /// user + system ticks of its children that it has waited for.
    child_ticks: u64,
    rss_pages: u64,
}

fn read_stat(pid: &str) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: field(4)? as u32,
        ticks: field(14)? + field(15)?,
        child_ticks: field(16)? + field(17)?,
        rss_pages: field(24)?,
    })
}

fn read_io(pid: &str) -> (u64, u64) {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/io")) else { return (0, 0) };
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (value("read_bytes:"), value("write_bytes:"))
}

fn status_kib(pid: &str, key: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// A sample of this process: RSS now and at its peak (`VmRSS`, `VmHWM`), CPU
/// time, bytes read and written.
pub fn sample_self() -> Option<ResourceSample> {
    let stat = read_stat("self")?;
    let (read_bytes, write_bytes) = read_io("self");
    let rss = stat.rss_pages * crate::sys::page_size();
    let peak = status_kib("self", "VmHWM:").map_or(rss, |kib| kib * 1024);
    Some(ResourceSample {
        rss_bytes: rss,
        peak_rss_bytes: peak.max(rss),
        cpu_seconds: stat.ticks as f64 / crate::sys::clock_ticks_per_second() as f64,
        read_bytes,
        write_bytes,
    })
}

/// Samples a process and all its descendants, remembering the peak of their
/// summed RSS across samples.
#[derive(Debug)]
pub struct TreeSampler {
    root: u32,
    peak_rss: u64,
    max_cpu: f64,
    max_read: u64,
    max_write: u64,
}

impl TreeSampler {
    /// A sampler for the tree under `root` (a child process id).
    pub fn new(root: u32) -> Self {
        Self { root, peak_rss: 0, max_cpu: 0.0, max_read: 0, max_write: 0 }
    }

    /// Sums RSS, CPU (including waited-for children) and I/O over the tree now.
    /// `None` when the root is gone.
    pub fn sample(&mut self) -> Option<ResourceSample> {
        let mut stats: HashMap<u32, Stat> = HashMap::new();
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(pid) = name.parse::<u32>() else { continue };
            if let Some(stat) = read_stat(name) {
                stats.insert(pid, stat);
            }
        }
        stats.get(&self.root)?;
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (pid, stat) in &stats {
            children.entry(stat.ppid).or_default().push(*pid);
        }
        let (mut rss_pages, mut ticks, mut read, mut write) = (0, 0, 0, 0);
        let mut todo = vec![self.root];
        while let Some(pid) = todo.pop() {
            if let Some(stat) = stats.get(&pid) {
                rss_pages += stat.rss_pages;
                ticks += stat.ticks + stat.child_ticks;
                let (r, w) = read_io(&pid.to_string());
                read += r;
                write += w;
            }
            if let Some(kids) = children.get(&pid) {
                todo.extend(kids);
            }
        }
        let rss = rss_pages * crate::sys::page_size();
        self.peak_rss = self.peak_rss.max(rss);
        // Totals only grow; a process that exited takes its counters with it, so keep the maxima.
        self.max_cpu = self.max_cpu.max(ticks as f64 / crate::sys::clock_ticks_per_second() as f64);
        self.max_read = self.max_read.max(read);
        self.max_write = self.max_write.max(write);
        Some(self.current(rss))
    }

    /// The sample to record with `rss_bytes = rss` and the maxima seen so far.
    pub fn current(&self, rss: u64) -> ResourceSample {
        ResourceSample {
            rss_bytes: rss,
            peak_rss_bytes: self.peak_rss,
            cpu_seconds: self.max_cpu,
            read_bytes: self.max_read,
            write_bytes: self.max_write,
        }
    }

    /// Folds in totals known after the tree ended (from `getrusage` of the
    /// waited-for child): CPU seconds and the peak RSS of its largest process.
    pub fn finish(&mut self, cpu_seconds: f64, max_rss: u64) -> ResourceSample {
        self.max_cpu = self.max_cpu.max(cpu_seconds);
        self.peak_rss = self.peak_rss.max(max_rss);
        self.current(0)
    }
}

/// CPU seconds and peak RSS (bytes, of the largest process) of every child
/// process this process has waited for (`getrusage(RUSAGE_CHILDREN)`).
pub fn children_usage() -> Option<(f64, u64)> {
    crate::sys::children_usage()
}

/// Sends a signal (e.g. `libc::SIGTERM`, 15) to a process.
pub fn send_signal(pid: u32, signal: i32) -> std::io::Result<()> {
    crate::sys::kill(pid, signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu() {
        // Burn a little CPU so the tick counter moves.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let sample = sample_self().expect("linux /proc");
        assert!(sample.rss_bytes > 1024 * 1024, "{sample:?}");
        assert!(sample.peak_rss_bytes >= sample.rss_bytes);
        assert!(sample.cpu_seconds > 0.0, "{sample:?}");
    }

    #[test]
    fn a_tree_includes_the_children_of_the_root() {
        let mut child =
            std::process::Command::new("sh").args(["-c", "sleep 5 & sleep 5 & wait"]).spawn().expect("sh");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut sampler = TreeSampler::new(child.id());
        let sample = sampler.sample().expect("the root is alive");
        let single = read_stat(&child.id().to_string()).unwrap().rss_pages * crate::sys::page_size();
        // sh plus two sleeps: more than sh alone.
        assert!(sample.rss_bytes > single, "{sample:?} vs sh alone {single}");
        assert_eq!(sample.peak_rss_bytes, sample.rss_bytes);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(TreeSampler::new(u32::MAX - 1).sample().is_none());
    }
}
