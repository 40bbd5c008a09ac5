# Run once in every new interpreter, before any WSGI script, after the
# standard streams and signal.signal are set. The names _settings and
# _group are provided by the caller; __name__ is "mod_wsgi", so the
# functions and classes below belong to that module.
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
_mod.event_callbacks = []
_mod.shutdown_callbacks = []
_mod.signal_callbacks = []


def subscribe_events(callback):
    """Calls callback(name, **event) for every event in this interpreter."""
    _mod.event_callbacks.append(callback)
    return callback


def subscribe_shutdown(callback):
    """Calls callback(name, **event) for process_stopping."""
    _mod.shutdown_callbacks.append(callback)
    return callback


def subscribe_signals(callback):
    """Calls callback(signum) when a daemon process gets SIGHUP or SIGUSR2,
    instead of the signal's usual effect."""
    _mod.signal_callbacks.append(callback)
    _settings["note_signal_subscriber"]()
    return callback


class RequestTimeout(BaseException):
    """Raised in a daemon's request thread that ran past request-timeout,
    when interrupt-timeout is set: re-raise it, and the client gets 504."""


def __getattr__(name):
    # active_requests is made on first use: until then requests need not
    # make their request_data() dicts (made when asked for).
    if name == "active_requests":
        active = {}
        _settings["list_active_request"](active)
        _mod.active_requests = active
        return active
    # LogHandler is made on first use: importing logging costs every
    # interpreter time most never need.
    if name == "LogHandler":
        import logging

        log = _settings["log"]

        class LogHandler(logging.Handler):
            """A logging handler writing to Apache's error log at the
            record's level, attributed to the request the thread runs."""

            def emit(self, record):
                try:
                    log(record.levelno, self.format(record))
                except RecursionError:
                    raise
                except Exception:
                    self.handleError(record)

        _mod.LogHandler = LogHandler
        return LogHandler
    raise AttributeError(f"module 'mod_wsgi' has no attribute {name!r}")


def __dir__():
    return sorted((set(_mod.__dict__) | {"LogHandler", "active_requests"}) - {"__getattr__", "__dir__"})


for _f in (subscribe_events, subscribe_shutdown, subscribe_signals, RequestTimeout, __getattr__, __dir__):
    setattr(_mod, _f.__name__, _f)
sys.modules["mod_wsgi"] = _mod

if _settings["apache"] is not None:
    _apache = types.ModuleType("apache")
    for _k, _v in _settings["apache"].items():
        setattr(_apache, _k, _v)
    sys.modules["apache"] = _apache

import site
for _p in _settings["python_path"]:
    site.addsitedir(_p)
