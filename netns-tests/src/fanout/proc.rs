//! Resource use of a process or thread, read from `/proc`.

use std::time::Duration;

/// RSS and CPU time (user + system) of a process or thread, from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub cpu: Duration,
}

impl ProcSample {
    /// Process `pid` (all its threads).
    pub fn of_process(pid: u32) -> Option<ProcSample> {
        Self::read(&format!("/proc/{pid}"))
    }

    /// The calling thread (its CPU time; the RSS is its process's).
    pub fn of_current_thread() -> Option<ProcSample> {
        Self::read("/proc/thread-self")
    }

    fn read(dir: &str) -> Option<ProcSample> {
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        // The command name (field 2) may hold spaces; fields after it start with the state
        // (field 3); utime and stime are fields 14 and 15.
        let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let utime: u64 = rest.next()?.parse().ok()?;
        let stime: u64 = rest.next()?.parse().ok()?;
        let cpu = Duration::from_secs_f64((utime + stime) as f64 / clock_ticks() as f64);
        Some(ProcSample { rss_kib, cpu })
    }
}

/// Clock ticks per second of `/proc/*/stat` times (`sysconf(_SC_CLK_TCK)`, 100 when unknown).
fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}
