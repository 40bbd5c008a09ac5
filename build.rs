//! Refuses a build of the module without the pyo3 flags of
//! .cargo/config.toml (the httpd bindings are built by `sys/`).
//!
//! `--cfg pyo3_disable_reference_pool` keeps a `Py<T>` dropped without an
//! attached interpreter out of pyo3's process-wide pool, from which it would
//! later be released in whichever sub-interpreter happens to be current.
//! Any `RUSTFLAGS` in the environment replaces `[build] rustflags` of
//! .cargo/config.toml, and the build would silently lose it.

use std::env;

const REQUIRED: [&str; 2] = ["pyo3_disable_reference_pool", "pyo3_leak_on_drop_without_reference_pool"];

fn main() {
    // Cargo sets CARGO_CFG_<NAME> for each --cfg the crate is compiled with.
    let missing: Vec<&str> =
        REQUIRED.into_iter().filter(|cfg| env::var_os(format!("CARGO_CFG_{}", cfg.to_uppercase())).is_none()).collect();
    if !missing.is_empty() {
        let flags: Vec<String> = REQUIRED.iter().map(|cfg| format!("--cfg {cfg}")).collect();
        println!(
            "cargo::error=mod_wsgi-rs must be built with {}, missing: {}. RUSTFLAGS (or \
             CARGO_ENCODED_RUSTFLAGS) in the environment replaces the rustflags of \
             .cargo/config.toml: unset it, or add those flags to it, e.g. \
             RUSTFLAGS=\"$RUSTFLAGS {}\"",
            flags.join(" "),
            missing.join(", "),
            flags.join(" ")
        );
    }
}
