"""The shared site: web pages and an HTTP API (``/api/v1``) over the same registry, and the
workers that run pipelines submitted through them.

- ``settings``: what a site configures (database, site folder, limits, login options);
- ``auth``: who is asking - an API token, a login session, or a trusted single-sign-on header;
  never an environment variable;
- ``api/``: one module per resource, thin handlers over the registry's Python API (no SQL);
- ``uploads`` (streamed multipart with the size limit enforced while reading), ``links``
  (signed, expiring download links), ``submissions`` (a run's config checked before it is queued);
- ``worker``: claims queued runs and runs them exactly as ``pzforge run`` does;
- ``pages/``: the web site (server-rendered Jinja2, CSRF-protected forms, a CSP, no CDN).

``pzforge serve`` and ``pzforge worker`` start them; docs/server.md says how to deploy a site.
"""
