"""The tutor as a JupyterHub service (``ltt-tutor-service``).

- :mod:`ltt_ext.hub.app`: the service (traitlets ``Application``, tornado, HubOAuth);
- :mod:`ltt_ext.hub.handlers`: its HTTP API and the instructor dashboard;
- :mod:`ltt_ext.hub.store`: its SQLAlchemy store (records, budgets, activity; versioned schema);
- :mod:`ltt_ext.hub.protocol`: the structured context learner servers send (shared by both sides);
- :mod:`ltt_ext.hub.dashboard`: what the dashboard shows, computed from the records.

The learner side is :mod:`ltt_ext.tutor.engines.remote`. See docs/deploy-course.md.
"""
