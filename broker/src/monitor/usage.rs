//! Resident memory and CPU use of this process for `/varz`, read from Linux's
//! `/proc` (both read 0 where `/proc` is missing or unreadable).
//!
//! CPU is nats-server's figure (`pse_linux.go`): percent of one core used
//! over a recent window, one decimal, so a busy multi-threaded process can
//! pass 100. nats-server samples on a 1 s timer; here the window runs from
//! the previous reading to this one and a new reading is taken only once
//! [`CPU_WINDOW_SECONDS`] have passed (earlier calls repeat the last value).
//! The first reading averages over the whole life of the process.

use std::sync::Mutex;

use crate::client::handle::lock;

/// Clock ticks per second of the times in `/proc/self/stat`. Linux fixes
/// this (USER_HZ) at 100 for userspace on every architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// Shortest window, in seconds, behind a fresh CPU reading (nats-server
/// samples once a second; `/proc/uptime` has 10 ms resolution).
pub const CPU_WINDOW_SECONDS: f64 = 1.0;

/// Memory and CPU readings of this process.
#[derive(Debug, Default)]
pub struct ProcessUsage {
    /// The previous CPU sample and the figure computed from it; locked by
    /// concurrent `/varz` requests for one read-compute-store step.
    cpu: Mutex<CpuWindow>,
}

#[derive(Debug, Default)]
struct CpuWindow {
    last: Option<CpuSample>,
    percent: f64,
}

/// CPU time used by the process, at a point of system uptime.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuSample {
    uptime_seconds: f64,
    cpu_ticks: u64,
}

impl ProcessUsage {
    /// Resident set size in bytes (`VmRSS`).
    pub fn resident_memory_bytes(&self) -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| parse_vm_rss(&status))
            .unwrap_or(0)
    }

    /// Percent of one core used recently (see the module doc).
    pub fn cpu_percent(&self) -> f64 {
        let Some((sample, start_ticks)) = read_sample() else {
            return 0.0;
        };
        let mut window = lock(&self.cpu);
        let (since, ticks_before) = match window.last {
            Some(last) => (last.uptime_seconds, last.cpu_ticks),
            None => (start_ticks as f64 / TICKS_PER_SECOND, 0),
        };
        let elapsed = sample.uptime_seconds - since;
        if window.last.is_some() && elapsed < CPU_WINDOW_SECONDS {
            return window.percent;
        }
        if elapsed > 0.0 {
            let busy_seconds =
                sample.cpu_ticks.saturating_sub(ticks_before) as f64 / TICKS_PER_SECOND;
            window.percent = (busy_seconds / elapsed * 1000.0).round() / 10.0;
        }
        window.last = Some(sample);
        window.percent
    }
}

/// Now's CPU sample and the process start time (ticks after boot).
fn read_sample() -> Option<(CpuSample, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let (cpu_ticks, start_ticks) = parse_stat(&stat)?;
    let uptime_seconds = uptime.split_whitespace().next()?.parse().ok()?;
    Some((
        CpuSample {
            uptime_seconds,
            cpu_ticks,
        },
        start_ticks,
    ))
}

/// (utime + stime, starttime) from `/proc/self/stat`, in ticks. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted
/// after its last `)`.
fn parse_stat(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 (state): utime is field 14, stime 15, starttime 22.
    let field = |number: usize| -> Option<u64> { fields.get(number - 3)?.parse().ok() };
    Some((field(14)? + field(15)?, field(22)?))
}

/// `VmRSS:   1234 kB` from `/proc/self/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                    150 25 0 0 20 0 9 0 123456 1000000 2000 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((175, 123_456)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tstarling\nVmPeak:\t  9000 kB\nVmRSS:\t    1536 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1536 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn readings_are_sane_on_linux() {
        let usage = ProcessUsage::default();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(usage.resident_memory_bytes() > 0);
            let percent = usage.cpu_percent();
            assert!(percent >= 0.0, "{percent}");
            // Within the window the figure is repeated.
            assert_eq!(usage.cpu_percent(), percent);
        }
    }
}
