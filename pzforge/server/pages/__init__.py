"""The web pages of the site (server-rendered Jinja2, offline, no CDN): the next release.

Pages will live here as views over the same handlers the API uses (datasette's habit: the HTML
page and the JSON come from one view), with their templates in ``pages/templates/``.
"""
