//! What Apache says about itself, read by `apache/` and described to
//! applications by `python/` (`mod_wsgi.server_metrics()`, the `apache`
//! module).

/// What the `apache` module says about the server: the Apache child's
/// view, in a daemon process too (as mod_wsgi's).
#[derive(Debug, Clone, Default)]
pub struct ApacheFacts {
    pub version: (u32, u32, u32),
    pub description: String,
    pub mpm_name: String,
    pub build_date: String,
    pub maximum_processes: u32,
    pub threads_per_process: u32,
}

/// Apache's scoreboard, as the server side reads it.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    pub server_limit: i32,
    pub thread_limit: i32,
    pub running_generation: i32,
    pub restart_time_us: i64,
    pub processes: Vec<ScoreProcess>,
}

#[derive(Debug, Clone, Default)]
pub struct ScoreProcess {
    pub pid: i32,
    pub generation: i32,
    pub quiescing: bool,
    pub workers: Vec<ScoreWorker>,
}

#[derive(Debug, Clone, Default)]
pub struct ScoreWorker {
    pub thread_num: i32,
    pub generation: i32,
    /// mod_status's letter: `_` waiting, `R` reading, `W` writing, ...
    pub status: char,
    pub access_count: u64,
    pub bytes_served: u64,
    pub start_time_us: i64,
    pub stop_time_us: i64,
    pub last_used_us: i64,
    pub client: String,
    pub request: String,
    pub vhost: String,
}
