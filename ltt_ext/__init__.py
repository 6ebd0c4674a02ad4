"""ltt-ext: a tutored learning environment on top of Jupyter Server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ltt-ext")  # from labextension/package.json, the one place it is written
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"


def _jupyter_server_extension_points():
    from .app import LttExtApp

    return [{"module": "ltt_ext", "app": LttExtApp}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "ltt-ext"}]
