//! Server CPU time and RSS from `/proc` (Linux). Elsewhere every reading is `None`.

use serde::Serialize;

/// `/proc` reports CPU time in clock ticks of `USER_HZ`, which Linux fixes at 100 for
/// user space on every architecture it supports.
const USER_HZ: f64 = 100.0;

/// Where the server under test runs, for reading its CPU time and memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerProbe {
    /// Unknown (a remote server without `--server-pid`): no CPU or RSS numbers.
    None,
    /// Another process on this machine.
    Pid(u32),
    /// In this process: CPU time is the process's minus the harness threads'; RSS is the whole
    /// process's (it includes the client's memory).
    InProcess,
}

/// One reading of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sample {
    /// User + system CPU seconds since the process started.
    pub(crate) cpu_secs: Option<f64>,
    /// Resident set size in bytes.
    pub(crate) rss_bytes: Option<u64>,
    /// CPU seconds of the harness's own threads (the load generator), for comparison.
    pub(crate) client_cpu_secs: Option<f64>,
}

impl ServerProbe {
    /// Reads the server's CPU time and RSS now. `harness_tids` are the threads of this process
    /// that belong to the harness (excluded for [`ServerProbe::InProcess`]).
    pub(crate) fn sample(&self, harness_tids: &[u32]) -> Sample {
        let harness = harness_tids
            .iter()
            .map(|tid| cpu_secs(&format!("/proc/self/task/{tid}/stat")))
            .sum::<Option<f64>>();
        match self {
            Self::None => Sample {
                client_cpu_secs: harness,
                ..Sample::default()
            },
            Self::Pid(pid) => Sample {
                cpu_secs: cpu_secs(&format!("/proc/{pid}/stat")),
                rss_bytes: rss_bytes(&format!("/proc/{pid}/status")),
                client_cpu_secs: harness,
            },
            Self::InProcess => {
                let total = cpu_secs("/proc/self/stat");
                Sample {
                    cpu_secs: total.map(|t| (t - harness.unwrap_or(0.0)).max(0.0)),
                    rss_bytes: rss_bytes("/proc/self/status"),
                    client_cpu_secs: harness,
                }
            }
        }
    }
}

/// The id of the calling thread (Linux), read without `unsafe` from `/proc/thread-self`.
pub(crate) fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// utime + stime of a `/proc/.../stat` file, in seconds.
fn cpu_secs(path: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_stat_cpu(&text)
}

/// Fields 14 and 15 (utime, stime) of a stat line; the command name (field 2) may contain
/// spaces and parentheses, so counting starts after its last `)`.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// `VmRSS` of a `/proc/.../status` file, in bytes.
fn rss_bytes(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_status_rss(&text)
}

fn parse_status_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The CPU model name from `/proc/cpuinfo`, when there is one.
pub(crate) fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_counts_fields_after_the_command_name() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 5 1 1";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn status_rss_is_read_in_kib() {
        let status = "Name:\tx\nVmPeak:\t 10 kB\nVmRSS:\t    2048 kB\nThreads: 3\n";
        assert_eq!(parse_status_rss(status), Some(2 * 1024 * 1024));
        assert_eq!(parse_status_rss("VmRSS: lots"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = ServerProbe::InProcess.sample(&[]);
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes.unwrap_or(0) > 0);
            assert!(current_tid().is_some());
        }
    }
}
