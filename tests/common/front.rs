//! Real front proxies (Debian's HAProxy and nginx) started by a test with
//! its own configuration, in the foreground, and stopped by pid on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::netns::Netns;
use super::wait_until;

pub struct Front {
    child: Child,
    what: &'static str,
    log: PathBuf,
}

impl Front {
    /// HAProxy with `config` (written to `dir/haproxy.cfg`), in `ns` when
    /// given; returns once `listen` accepts.
    pub fn haproxy(dir: &Path, config: &str, ns: Option<&Netns>, listen: SocketAddr) -> Front {
        let cfg = dir.join("haproxy.cfg");
        std::fs::write(&cfg, config).unwrap();
        let check = Command::new("haproxy").arg("-c").arg("-f").arg(&cfg).output().unwrap();
        assert!(check.status.success(), "haproxy -c:\n{}{config}", String::from_utf8_lossy(&check.stdout));
        // -db: foreground, no daemon; its messages go to the log file.
        Self::spawn("haproxy", &["-db", "-f", &cfg.display().to_string()], dir, ns, listen)
    }

    /// nginx with `http_block` as its `http { }` contents, in `ns` when given.
    pub fn nginx(dir: &Path, http_block: &str, ns: Option<&Netns>, listen: SocketAddr) -> Front {
        let d = dir.display();
        let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .iter()
            .map(|t| format!("{t}_temp_path {d}/nginx-{t};\n"))
            .collect();
        let config = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\naccess_log off;\n{temp}{http_block}\n}}\n"
        );
        let cfg = dir.join("nginx.conf");
        std::fs::write(&cfg, &config).unwrap();
        let cfg = cfg.display().to_string();
        let check = Command::new("nginx").args(["-t", "-c", &cfg]).output().unwrap();
        assert!(check.status.success(), "nginx -t:\n{}{config}", String::from_utf8_lossy(&check.stderr));
        Self::spawn("nginx", &["-c", &cfg, "-g", "daemon off;"], dir, ns, listen)
    }

    fn spawn(program: &'static str, args: &[&str], dir: &Path, ns: Option<&Netns>, listen: SocketAddr) -> Front {
        let log = dir.join(format!("{program}.out"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = match ns {
            Some(ns) => {
                let prefix = ns.prefix();
                let mut c = Command::new(&prefix[0]);
                c.args(&prefix[1..]).arg(program);
                c
            }
            None => Command::new(program),
        };
        let child = cmd.args(args).stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
        let mut front = Front { child, what: program, log };
        let up = wait_until(Duration::from_secs(10), || match ns {
            Some(ns) => ns.accepts(listen),
            None => TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok(),
        });
        if !up || front.child.try_wait().ok().flatten().is_some() {
            panic!("{program} is not accepting on {listen}:\n{}", front.output());
        }
        front
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        // SIGTERM (both stop at once on it), then SIGKILL if need be.
        super::process::kill(self.pid(), libc::SIGTERM);
        let gone = wait_until(Duration::from_secs(5), || self.child.try_wait().ok().flatten().is_some());
        if !gone {
            eprintln!("{} did not stop on SIGTERM; killing it", self.what);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
