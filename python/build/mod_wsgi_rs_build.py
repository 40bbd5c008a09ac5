"""PEP 517 build backend of mod_wsgi-rs.

`pip install .` calls `build_wheel`, which runs `cargo build --release` in
the checkout and packs the Apache module (target/release/libmod_wsgi.so)
with the `mod_wsgi_rs` Python package (python/mod_wsgi_rs) into a wheel.
Nothing is needed from PyPI; cargo must be installed (rustup).

The module links the libpython of the interpreter named by PYO3_PYTHON
(.cargo/config.toml: Debian's /usr/bin/python3.11), so the wheel is built
only by that interpreter or a virtual environment made from it.
"""

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import tomllib
import zipfile

PACKAGE = "mod_wsgi_rs"
# The name of the Apache module inside the package (mod_wsgi_rs.where()).
MODULE_FILE = "mod_wsgi-py%d%d.so" % sys.version_info[:2]

# Variables that change what cargo's build scripts see without changing the
# build (pyo3 reads VIRTUAL_ENV when PYO3_PYTHON is unset; pip points
# PYTHONPATH at its isolated build environment). Removed so that the build
# matches a plain `cargo build --release` and reuses its output.
_CARGO_ENV_DROP = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONSTARTUP")


class BuildError(Exception):
    """A build that cannot go on; the message says what to do."""


def _root():
    # PEP 517 runs the hooks in the source tree.
    root = os.getcwd()
    if not os.path.isfile(os.path.join(root, "Cargo.toml")):
        raise BuildError("mod_wsgi-rs: run the build from the checkout (no Cargo.toml in %s)" % root)
    return root


def _project(root):
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    with open(os.path.join(root, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    version = cargo["package"]["version"]
    if isinstance(version, dict):  # version.workspace = true
        version = cargo["workspace"]["package"]["version"]
    project["version"] = version
    return project


def _dist_name(project):
    return project["name"].replace("-", "_")


def _tag():
    impl = "cp%d%d" % sys.version_info[:2]
    abi = impl + sys.abiflags
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "%s-%s-%s" % (impl, abi, plat)


def _linked_python(root):
    """The interpreter whose libpython the module links (PYO3_PYTHON)."""
    python = os.environ.get("PYO3_PYTHON")
    if not python:
        config = os.path.join(root, ".cargo", "config.toml")
        with open(config, "rb") as f:
            python = tomllib.load(f).get("env", {}).get("PYO3_PYTHON")
    return python or "/usr/bin/python3.11"


def _check_python(root):
    linked = _linked_python(root)
    running = getattr(sys, "_base_executable", None) or sys.executable
    if os.path.realpath(linked) != os.path.realpath(running):
        raise BuildError(
            "mod_wsgi-rs links the libpython of %s, but this build runs %s: make the virtual "
            "environment with that interpreter (%s -m venv DIR) and install there" % (linked, running, linked)
        )


def _cargo():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        candidate = os.path.join(os.path.expanduser("~"), ".cargo", "bin", "cargo")
        cargo = candidate if os.access(candidate, os.X_OK) else None
    if not cargo:
        raise BuildError("mod_wsgi-rs: cargo not found: install Rust (https://rustup.rs) and run pip again")
    return cargo


def _build_module(root):
    """Runs cargo and returns the path of the built Apache module."""
    env = {k: v for k, v in os.environ.items() if k not in _CARGO_ENV_DROP}
    cmd = [_cargo(), "build", "--release", "--lib", "--message-format=json-render-diagnostics"]
    print("mod_wsgi-rs: %s" % " ".join(cmd[1:]), file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BuildError("mod_wsgi-rs: cargo build failed (exit status %d); its errors are above" % proc.returncode)
    module = None
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        target = message.get("target", {})
        if message.get("reason") == "compiler-artifact" and "cdylib" in target.get("kind", []):
            module = next((f for f in message.get("filenames", []) if f.endswith(".so")), module)
    if not module or not os.path.isfile(module):
        raise BuildError("mod_wsgi-rs: cargo did not report the built module (a cdylib)")
    print("mod_wsgi-rs: built %s in %.1f s" % (module, time.monotonic() - started), file=sys.stderr, flush=True)
    return module


def _python_files(root):
    """(path in the wheel, path on disk) of the Python package."""
    base = os.path.join(root, "python")
    for directory, dirs, files in os.walk(os.path.join(base, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                yield os.path.relpath(path, base).replace(os.sep, "/"), path


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % project["name"],
        "Version: %s" % project["version"],
        "Summary: %s" % project.get("description", ""),
        "License: %s" % project.get("license", {}).get("text", ""),
        "Requires-Python: %s" % project.get("requires-python", ""),
    ]
    return "\n".join(lines) + "\n"


def _dist_info_files(project):
    """{name: bytes} of the .dist-info directory, without RECORD."""
    entry_points = "[console_scripts]\n" + "".join(
        "%s = %s\n" % (name, target) for name, target in sorted(project.get("scripts", {}).items())
    )
    wheel = "Wheel-Version: 1.0\nGenerator: mod_wsgi_rs_build\nRoot-Is-Purelib: false\nTag: %s\n" % _tag()
    return {
        "METADATA": _metadata(project).encode(),
        "WHEEL": wheel.encode(),
        "entry_points.txt": entry_points.encode(),
        "top_level.txt": (PACKAGE + "\n").encode(),
    }


def _dist_info_name(project):
    return "%s-%s.dist-info" % (_dist_name(project), project["version"])


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project(_root())
    name = _dist_info_name(project)
    target = os.path.join(metadata_directory, name)
    os.makedirs(target, exist_ok=True)
    for filename, data in _dist_info_files(project).items():
        with open(os.path.join(target, filename), "wb") as f:
            f.write(data)
    return name


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [arcname, "sha256=" + digest, str(len(data))]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    try:
        root = _root()
        _check_python(root)
        project = _project(root)
        module = _build_module(root)
    except BuildError as e:
        # pip shows the backend's stderr; one line says what to do.
        print(e, file=sys.stderr)
        raise SystemExit(1)
    filename = "%s-%s-%s.whl" % (_dist_name(project), project["version"], _tag())
    dist_info = _dist_info_name(project)
    records = []
    os.makedirs(wheel_directory, exist_ok=True)
    path = os.path.join(wheel_directory, filename)
    # Level 1: the module is 12 MB and the wheel is installed at once.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as whl:

        def add(arcname, data, mode=0o644):
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data, compresslevel=1)
            records.append(_record_line(arcname, data))

        for arcname, source in _python_files(root):
            with open(source, "rb") as f:
                add(arcname, f.read())
        with open(module, "rb") as f:
            add("%s/%s" % (PACKAGE, MODULE_FILE), f.read(), 0o755)
        for name, data in _dist_info_files(project).items():
            add("%s/%s" % (dist_info, name), data)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(records)
        writer.writerow(["%s/RECORD" % dist_info, "", ""])
        info = zipfile.ZipInfo("%s/RECORD" % dist_info, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | 0o644) << 16
        whl.writestr(info, out.getvalue())
    return filename


def build_sdist(sdist_directory, config_settings=None):
    """The files git tracks (or, without git, the tree minus build output)."""
    root = _root()
    project = _project(root)
    base = "%s-%s" % (_dist_name(project), project["version"])
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
        files = [f for f in listed.decode().split("\0") if f and os.path.isfile(os.path.join(root, f))]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for directory, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in (".git", "target", "__pycache__")]
            files += [os.path.relpath(os.path.join(directory, n), root) for n in names]
    filename = base + ".tar.gz"
    os.makedirs(sdist_directory, exist_ok=True)
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(files):
            tar.add(os.path.join(root, f), arcname="%s/%s" % (base, f), recursive=False)
        data = _metadata(project).encode()
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        info.size = len(data)
        info.mtime = int(time.time())
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return filename
