//! Where the CPU went during a measurement: per-process user+system time from `/proc/<pid>/stat`
//! (or per named thread, from `/proc/<pid>/task/<tid>/stat`) and the whole machine's busy share
//! from `/proc/stat`. Linux only, read-only.

use std::collections::HashMap;
use std::fs;
use std::process::Command;

/// Decides from a command line whether a process belongs to a group.
type Matcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Which processes to account for, by a predicate on their command line (NUL-separated args
/// joined with spaces). `/proc/self` is always accounted separately.
pub struct CpuWatch {
    groups: Vec<Group>,
    ticks_per_second: f64,
}

struct Group {
    name: String,
    matches: Matcher,
    /// Only the threads of that name (`comm`), not the whole process.
    thread: Option<String>,
}

/// One reading: ticks per group (per pid or tid, so processes that start later still count), the bench
/// process's own ticks, and the machine's busy and total ticks.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    per_group: Vec<HashMap<u32, u64>>,
    own: u64,
    machine_busy: u64,
    machine_total: u64,
}

/// CPU seconds spent between two snapshots.
#[derive(Debug, Clone, Default)]
pub struct CpuUsage {
    /// `(group name, CPU seconds)`, in the order the groups were added.
    pub groups: Vec<(String, f64)>,
    /// This bench process (load generator, and the static server when it runs).
    pub bench: f64,
    /// Share of all cores busy on the machine (everyone's work, not only ours), 0.0–1.0.
    pub machine_busy: f64,
}

impl CpuWatch {
    pub fn new() -> CpuWatch {
        let ticks_per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        CpuWatch {
            groups: Vec::new(),
            ticks_per_second,
        }
    }

    /// Accounts every process whose command line satisfies `matches` under `name`.
    pub fn group(
        self,
        name: &str,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> CpuWatch {
        self.with_group(name, None, Box::new(matches))
    }

    /// Accounts, under `name`, only the threads called `thread` of the processes `matches`
    /// selects: how much of a process one of its threads spends (e.g. the daemon's event writer).
    pub fn thread_group(
        self,
        name: &str,
        thread: &str,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> CpuWatch {
        self.with_group(name, Some(thread.to_string()), Box::new(matches))
    }

    fn with_group(mut self, name: &str, thread: Option<String>, matches: Matcher) -> CpuWatch {
        self.groups.push(Group {
            name: name.to_string(),
            matches,
            thread,
        });
        self
    }

    pub fn snapshot(&self) -> CpuSnapshot {
        let mut per_group = vec![HashMap::new(); self.groups.len()];
        if let Ok(entries) = fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
                    continue;
                };
                let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
                for (i, group) in self.groups.iter().enumerate() {
                    if !(group.matches)(&cmdline) {
                        continue;
                    }
                    match &group.thread {
                        None => {
                            if let Some(ticks) = process_ticks(&format!("/proc/{pid}/stat")) {
                                per_group[i].insert(pid, ticks);
                            }
                        }
                        Some(name) => per_group[i].extend(thread_ticks(pid, name)),
                    }
                }
            }
        }
        let (machine_busy, machine_total) = machine_ticks().unwrap_or_default();
        CpuSnapshot {
            per_group,
            own: process_ticks("/proc/self/stat").unwrap_or(0),
            machine_busy,
            machine_total,
        }
    }

    /// What was spent from `before` to `after`.
    pub fn usage(&self, before: &CpuSnapshot, after: &CpuSnapshot) -> CpuUsage {
        let seconds = |ticks: u64| ticks as f64 / self.ticks_per_second;
        let groups = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, group)| {
                let spent: u64 = after.per_group[i]
                    .iter()
                    .map(|(pid, t)| {
                        t.saturating_sub(before.per_group[i].get(pid).copied().unwrap_or(0))
                    })
                    .sum();
                (group.name.clone(), seconds(spent))
            })
            .collect();
        let total = after.machine_total.saturating_sub(before.machine_total);
        let busy = after.machine_busy.saturating_sub(before.machine_busy);
        CpuUsage {
            groups,
            bench: seconds(after.own.saturating_sub(before.own)),
            machine_busy: if total == 0 {
                0.0
            } else {
                busy as f64 / total as f64
            },
        }
    }
}

impl Default for CpuWatch {
    fn default() -> Self {
        CpuWatch::new()
    }
}

/// utime + stime of one process, in clock ticks.
fn process_ticks(stat_path: &str) -> Option<u64> {
    let stat = fs::read_to_string(stat_path).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields are counted after the
    // last ')'. There, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `(tid, ticks)` of each thread of `pid` whose name is `name`.
fn thread_ticks(pid: u32, name: &str) -> Vec<(u32, u64)> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let comm = fs::read_to_string(task.path().join("comm")).ok()?;
            if comm.trim_end() != name {
                return None;
            }
            Some((tid, process_ticks(task.path().join("stat").to_str()?)?))
        })
        .collect()
}

/// `(busy, total)` ticks over all cores since boot.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}
