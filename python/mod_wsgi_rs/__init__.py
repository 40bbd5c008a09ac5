"""mod_wsgi-rs: a Rust replacement for mod_wsgi, the Apache httpd module
hosting Python WSGI applications, and `mod_wsgi-express`, which runs an
application under Apache without writing its configuration.

`where()` is the path of the Apache module installed with this package,
for `LoadModule wsgi_module ...` (also `mod_wsgi-express module-config`).
"""

import os
import sys

MODULE_FILE = "mod_wsgi-py%d%d.so" % sys.version_info[:2]


def where():
    """The path of the Apache module (it may be missing from a broken install)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), MODULE_FILE)
