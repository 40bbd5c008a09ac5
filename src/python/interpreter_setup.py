# Run once in every new interpreter, before any WSGI script, after the
# standard streams and signal.signal are set. The names _settings and
# _group are provided by the caller.
import sys
import threading  # on the thread that creates the interpreter, so a request thread is never taken for its main thread
import types

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
