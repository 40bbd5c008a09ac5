//! `WSGIDaemonProcess ... chroot=DIR`: the group's processes run inside a
//! jail. As in mod_wsgi, a script delegated to them must lie within the
//! jail (Apache names it from outside, the daemon from inside). The test
//! builds a jail with read-only bind mounts of the system's /usr, /lib and
//! /lib64 (Python and its libraries) and removes it afterwards.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const APP: &str = include_str!("apps/daemon_chroot/app.py");

/// A jail directory and the mounts in it, undone on drop (also on failure).
struct Jail {
    dir: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Jail {
    fn new() -> Jail {
        let dir = PathBuf::from(format!("/tmp/mod_wsgi_rs-jail-{}", unique_token("chroot")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("JAIL_MARKER"), "").unwrap();
        let mut jail = Jail { dir, mounts: Vec::new() };
        for system in ["/usr", "/lib", "/lib64"] {
            jail.bind(Path::new(system));
        }
        std::fs::create_dir_all(jail.dir.join("app")).unwrap();
        std::fs::write(jail.dir.join("app/where.wsgi"), APP).unwrap();
        jail
    }

    fn bind(&mut self, from: &Path) {
        let to = self.dir.join(from.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&to).unwrap();
        let ok = Command::new("mount").arg("--bind").arg("-o").arg("ro").arg(from).arg(&to).status().unwrap();
        assert!(ok.success(), "mount --bind {} {}", from.display(), to.display());
        self.mounts.push(to);
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg(m).status();
        }
        // Only empty directories and the marker are left once unmounted.
        if self.mounts.iter().all(|m| std::fs::read_dir(m).map(|mut d| d.next().is_none()).unwrap_or(true)) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn daemon_processes_run_inside_their_chroot_jail() {
    assert!(process::is_root(), "chroot needs the tests to run as root, as CI does");
    let jail = Jail::new();
    let apache = ApacheBuilder::new()
        .file("scripts/outside.wsgi", APP)
        .conf(&format!(
            "WSGIDaemonProcess jailed chroot={jail}\n\
             WSGIScriptAlias /jailed {jail}/app/where.wsgi process-group=jailed\n\
             WSGIScriptAlias /free {jail}/app/where.wsgi\n\
             WSGIScriptAlias /outside {{root}}/scripts/outside.wsgi process-group=jailed\n\
             <Directory {jail}/app>\n    Require all granted\n</Directory>",
            jail = jail.dir.display()
        ))
        .start();
    for (path, jailed) in [("/jailed", "True"), ("/free", "False")] {
        let mark = apache.log_mark();
        let resp = apache.get(path);
        apache.assert_status(&resp, 200, mark);
        assert!(resp.text().starts_with(&format!("jailed={jailed} ")), "{path}: {}", resp.text());
    }
    // A script outside the jail cannot be run there: 500, and why.
    let mark = apache.log_mark();
    let resp = apache.get("/outside");
    apache.assert_status(&resp, 500, mark);
    assert!(apache.log_since(mark).contains("not located within chroot directory"), "{}", apache.log_since(mark));
    drop(apache);
}
