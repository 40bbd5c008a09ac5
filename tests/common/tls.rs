//! A self-signed certificate made by the test, for TLS on loopback.

use std::path::Path;
use std::process::Command;

/// Writes `cert.pem`, `key.pem` and `both.pem` (certificate then key, as
/// HAProxy wants it) into `dir`, for `name` (an IP address or a host name).
pub fn self_signed(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let san = if name.parse::<std::net::IpAddr>().is_ok() { format!("IP:{name}") } else { format!("DNS:{name}") };
    let out = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "2", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-addext")
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut both = std::fs::read(dir.join("cert.pem")).unwrap();
    both.extend(std::fs::read(dir.join("key.pem")).unwrap());
    std::fs::write(dir.join("both.pem"), both).unwrap();
}
