"""`python manage.py runmodwsgi [options]`: serves the Django project with
Apache and mod_wsgi-rs, as `mod_wsgi-express start-server` does (same
options). The application is settings.WSGI_APPLICATION, imported as a
module from the project directory (settings.BASE_DIR, else the current
directory); STATIC_URL serves STATIC_ROOT and MEDIA_URL serves MEDIA_ROOT
when they are set.
"""

import argparse
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mod_wsgi_rs import express


class Command(BaseCommand):
    help = "Starts Apache httpd with mod_wsgi-rs serving this project (mod_wsgi-express start-server)."

    def add_arguments(self, parser):
        express.add_server_options(parser, entry_point=False)

    def handle(self, *args, **options):
        application = getattr(settings, "WSGI_APPLICATION", None)
        if not application or "." not in application:
            raise CommandError("settings.WSGI_APPLICATION must name the WSGI application, as in mysite.wsgi.application")
        module, callable_object = application.rsplit(".", 1)
        values = {name: options[name] for name in _option_names()}
        values["entry_point"] = module
        values["application_type"] = "module"
        values["callable_object"] = callable_object
        if not values["working_directory"]:
            base = getattr(settings, "BASE_DIR", None)
            values["working_directory"] = str(base) if base else os.getcwd()
        aliases = list(values["url_aliases"] or [])
        for url_setting, root_setting in (("STATIC_URL", "STATIC_ROOT"), ("MEDIA_URL", "MEDIA_ROOT")):
            url, root = getattr(settings, url_setting, None), getattr(settings, root_setting, None)
            if url and root and "://" not in url:
                url = "/" + url.strip("/")
                if os.path.isdir(str(root)):
                    aliases.insert(0, [url, str(root)])
                else:
                    self.stderr.write("runmodwsgi: %s %s does not exist (run collectstatic?): %s is not served"
                                      % (root_setting, root, url))
        values["url_aliases"] = aliases
        ns = _Namespace(values)
        try:
            status = express.start_server(ns, "start-server")
        except (express.UsageError, express.Failure) as e:
            # One line, as from mod_wsgi-express.
            self.stderr.write("runmodwsgi: error: %s" % e)
            sys.exit(2 if isinstance(e, express.UsageError) else 1)
        if status:
            sys.exit(status)


class _Namespace:
    def __init__(self, values):
        self.__dict__.update(values)


def _option_names():
    parser = argparse.ArgumentParser(add_help=False)
    express.add_server_options(parser, entry_point=False)
    return list(vars(parser.parse_args([])))
