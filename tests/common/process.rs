//! Process inspection through /proc, and signals sent by pid only.

use std::fs;

/// What /proc/<pid>/stat tells about a process.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { pid, state, ppid, pgrp })
}

/// The command line, NUL separators turned into spaces.
pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default()
}

/// The command line without trailing NULs, other NULs as spaces: a
/// process's title, `(wsgi:NAME)` for a daemon started with
/// `display-name=%{GROUP}`.
pub fn title(pid: i32) -> String {
    cmdline(pid).trim_end_matches(' ').to_string()
}

/// Alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    pid > 0 && stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

/// Every live (non-zombie) process.
pub fn all() -> Vec<Stat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .filter(|s| s.state != 'Z' && s.state != 'X')
        .collect()
}

pub fn kill(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) on a positive pid; at worst it fails.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
