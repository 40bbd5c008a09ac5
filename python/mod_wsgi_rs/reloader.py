"""Replaces the daemon process when a Python file it loaded changes.

Started inside a daemon process by the scripts mod_wsgi-express generates
(`--reload-on-changes`, and the module file of `--application-type
module`). A thread looks at the modification times of the files every
`interval` seconds; on a change it logs one line and sends SIGUSR1 to its
own process: mod_wsgi-rs then starts a replacement process, which loads the
new code, and lets this one finish its requests (no request fails).
"""

import os
import signal
import sys
import threading
import time

_lock = threading.Lock()
_started = False
# The scripts import this module before the application: a file changed
# since then may have been loaded in its old version.
_IMPORTED_NS = time.time_ns()

# The signals mod_wsgi-rs waits for on the daemon's main thread. This
# thread may be started before the daemon blocks them (an import script
# runs first), so it blocks them itself: a stop signal must never be
# delivered to it.
_DAEMON_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2}


def start(files=(), modules=True, interval=1.0):
    """Watches `files`, and with `modules` the file of every loaded module."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    thread = threading.Thread(
        target=_watch, args=(list(files), modules, interval), name="mod_wsgi-express reloader", daemon=True
    )
    thread.start()


def _source(path):
    if path.endswith((".pyc", ".pyo")) and "__pycache__" not in path:
        return path[:-1]
    return path


def _paths(files, modules):
    yield from files
    if modules:
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                yield _source(path)


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _changed_since_import(mtime):
    # A file first seen with a modification time between this module's
    # import and now changed after the process started (perhaps before the
    # application imported it: replacing the process is then harmless). A
    # time in the future (clock skew, unpacked archives) is no change, or
    # every new process would replace itself.
    return mtime is not None and _IMPORTED_NS < mtime <= time.time_ns()


def _watch(files, modules, interval):
    signal.pthread_sigmask(signal.SIG_BLOCK, _DAEMON_SIGNALS)
    seen = {}
    while True:
        for path in _paths(files, modules):
            mtime = _mtime(path)
            if path not in seen and not _changed_since_import(mtime):
                seen[path] = mtime
            elif mtime != seen.get(path):
                print(
                    "mod_wsgi-express (pid=%d): %s changed; replacing this daemon process." % (os.getpid(), path),
                    file=sys.stderr,
                    flush=True,
                )
                os.kill(os.getpid(), signal.SIGUSR1)
                return
        time.sleep(interval)
