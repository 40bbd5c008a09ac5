# Run once in every new interpreter, before any WSGI script. The names
# _log_stream, _settings, _warn and _group are provided by the caller.
import sys
import threading  # on the thread that creates the interpreter, so a request thread is never taken for its main thread
import types

if _settings["restrict_stdin"]:
    class _RestrictedStdin:
        def _refuse(self, *args, **kwargs):
            raise OSError("sys.stdin access restricted by mod_wsgi")
        read = readline = readlines = __iter__ = _refuse
    sys.stdin = _RestrictedStdin()

if _settings["restrict_stdout"]:
    class _RestrictedStdout:
        def _refuse(self, *args, **kwargs):
            raise OSError("sys.stdout access restricted by mod_wsgi")
        write = writelines = _refuse
        def flush(self):
            pass
    sys.stdout = _RestrictedStdout()
else:
    sys.stdout = _log_stream

sys.stderr = _log_stream

if _settings["restrict_signal"]:
    import signal

    def _ignored_signal(signum, handler, _getsignal=signal.getsignal):
        _warn("mod_wsgi (pid=%d): Callback registration for signal %d ignored." % (__import__("os").getpid(), signum))
        return _getsignal(signum)

    signal.signal = _ignored_signal

_mod = types.ModuleType("mod_wsgi")
_mod.version = _settings["version"]
_mod.process_group = _settings["process_group"]
_mod.application_group = _group
_mod.maximum_processes = _settings["maximum_processes"]
_mod.threads_per_process = _settings["threads_per_process"]
_mod.implementation = "mod_wsgi-rs"
sys.modules["mod_wsgi"] = _mod

import site
for _p in _settings["python_path"]:
    site.addsitedir(_p)
