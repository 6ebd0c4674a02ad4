"""ltt-ext: a tutored learning environment on top of Jupyter Server."""

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    from .app import LttExtApp

    return [{"module": "ltt_ext", "app": LttExtApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "ltt-ext"}]
