"""The Django application of mod_wsgi-rs.

Add "mod_wsgi_rs.server" to INSTALLED_APPS and `python manage.py
runmodwsgi` serves the project with Apache, as `mod_wsgi-express
start-server` would (it takes the same options).
"""
