"""The tutor: pure domain (no tornado). See :mod:`ltt_ext.tutor.service`."""
