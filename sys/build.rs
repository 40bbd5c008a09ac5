//! Generates the httpd/APR bindings and compiles the C shim.
//!
//! Include paths and flags come from `apxs -q` and `apr-1-config`, so the
//! build follows whatever httpd development files the machine has. `APXS`,
//! `APR_CONFIG` and `APU_CONFIG` name other copies of those tools (an httpd
//! built from source, say).

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The tool named by the environment variable `var`, else `default` on PATH.
fn tool(var: &str, default: &str) -> String {
    println!("cargo:rerun-if-env-changed={var}");
    env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

fn query(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{cmd}` ({e}); install apache2-dev (scripts/setup.sh) or set APXS, APR_CONFIG, APU_CONFIG")
    });
    assert!(out.status.success(), "`{cmd} {}` failed", args.join(" "));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    let apxs = tool("APXS", "apxs");
    let apr_config = tool("APR_CONFIG", "apr-1-config");
    let apu_config = tool("APU_CONFIG", "apu-1-config");
    let httpd_include = query(&apxs, &["-q", "INCLUDEDIR"]);
    let apr_include = query(&apr_config, &["--includedir"]);
    let apr_cppflags = query(&apr_config, &["--cppflags"]);
    let apu_include = query(&apu_config, &["--includedir"]);

    let mut clang_args = vec![format!("-I{httpd_include}"), format!("-I{apr_include}")];
    if apu_include != apr_include {
        clang_args.push(format!("-I{apu_include}"));
    }
    clang_args.extend(apr_cppflags.split_whitespace().map(String::from));

    println!("cargo:rerun-if-changed=shim/wsgi_shim.c");
    println!("cargo:rerun-if-changed=shim/wsgi_shim.h");
    println!("cargo:rerun-if-changed=build.rs");

    // Only what the module uses; a new call into httpd is added here.
    let bindings = bindgen::Builder::default()
        .header("shim/wsgi_shim.h")
        .clang_args(&clang_args)
        .allowlist_function("ap_.*|apr_.*|wsgi_shim_.*")
        .allowlist_type("request_rec|server_rec|conn_rec|module|command_rec|cmd_parms|process_rec|apr_.*|ap_.*|authn_provider|authz_provider|authn_status|authz_status|global_score|process_score|worker_score|scoreboard")
        .allowlist_var("ap_scoreboard_image|ap_server_conf|ap_server_root|ap_top_module|unixd_config|ap_unixd_config|MODULE_MAGIC_.*|APLOG_.*|OPT_.*|HTTP_.*|OK|DECLINED|DONE|APR_.*|M_.*|REQUEST_CHUNKED_.*|AP_MPMQ_.*|RSRC_CONF|ACCESS_CONF|OR_.*|NOT_IN_.*|GLOBAL_ONLY|AP_MAX_REG_MATCH|AP_SQ_.*|AP_AUTH_INTERNAL_.*|AUTHN_PROVIDER_.*|AUTHZ_PROVIDER_.*|REMOTE_HOST|SATISFY_.*|AP_FILTER_ERROR|wsgi_shim_.*")
        .blocklist_function("ap_log_.*printf.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed over the httpd headers");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings.write_to_file(out.join("httpd_bindings.rs")).expect("cannot write bindings");

    let mut build = cc::Build::new();
    build.file("shim/wsgi_shim.c").include(&httpd_include).include(&apr_include);
    if apu_include != apr_include {
        build.include(&apu_include);
    }
    for flag in apr_cppflags.split_whitespace() {
        if let Some(def) = flag.strip_prefix("-D") {
            match def.split_once('=') {
                Some((k, v)) => build.define(k, v),
                None => build.define(def, None),
            };
        }
    }
    build.warnings(true).compile("wsgi_shim");
}
