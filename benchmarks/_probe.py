"""A tiny server extension the harness loads into every benchmarked server.

It reports which kernel manager / websocket connection classes are really in use (so the
table can prove that "upstream" is upstream), and for shared-client servers it can attach a
deliberately slow listener to a kernel's shared client (isolation benchmark).
It adds two authenticated handlers under /bench/ and nothing else.
"""

from __future__ import annotations

import asyncio
import json

from jupyter_server.base.handlers import APIHandler
from tornado import web


def _qual(obj) -> str | None:
    if obj is None:
        return None
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class ProbeHandler(APIHandler):
    @web.authenticated
    def get(self):
        app = self.serverapp
        km = app.kernel_manager
        exts = {}
        for name, ext in app.extension_manager.extensions.items():
            exts[name] = {
                "enabled": bool(getattr(ext, "enabled", False)),
            }
        self.finish(
            json.dumps(
                {
                    "multi_kernel_manager": _qual(km),
                    "kernel_manager_class": str(getattr(km, "kernel_manager_class", None)),
                    "kernel_websocket_connection_class": _qual(app.kernel_websocket_connection_class),
                    "extensions": exts,
                    "ltt_tutor": _qual(self.settings.get("ltt_tutor")),
                    "ltt_tutor_enabled": (
                        bool(getattr(self.settings["ltt_tutor"], "enabled", True))
                        if self.settings.get("ltt_tutor") is not None
                        else None
                    ),
                    "ltt_tutor_proactive_delay": getattr(
                        self.settings.get("ltt_tutor"), "proactive_delay", None
                    ),
                    "ltt_tutor_has_enabled_trait": (
                        self.settings["ltt_tutor"].has_trait("enabled")
                        if self.settings.get("ltt_tutor") is not None
                        else None
                    ),
                }
            )
        )


_SLOW = {}


class KernelProbeHandler(APIHandler):
    def _km(self, kernel_id):
        try:
            return self.serverapp.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            raise web.HTTPError(404, "no such kernel") from None

    @web.authenticated
    def get(self, kernel_id):
        km = self._km(kernel_id)
        client = getattr(km, "kernel_client", None)
        listeners = getattr(client, "_listeners", None)
        self.finish(
            json.dumps(
                {
                    "kernel_manager": _qual(km),
                    "shared_client": _qual(client),
                    "listeners": len(listeners) if listeners is not None else None,
                }
            )
        )

    @web.authenticated
    def post(self, kernel_id):
        """Attach a listener that sleeps `sleep` seconds (asyncio) on every message."""
        km = self._km(kernel_id)
        client = getattr(km, "kernel_client", None)
        if client is None or not hasattr(client, "add_listener"):
            raise web.HTTPError(404, "no shared kernel client on this server")
        body = json.loads(self.request.body or b"{}")
        delay = float(body.get("sleep", 1.0))
        state = {"calls": 0}

        async def slow_listener(channel, msg):
            state["calls"] += 1
            await asyncio.sleep(delay)

        client.add_listener(slow_listener)
        _SLOW[kernel_id] = (client, slow_listener, state)
        self.finish(json.dumps({"attached": True, "sleep": delay}))

    @web.authenticated
    def delete(self, kernel_id):
        entry = _SLOW.pop(kernel_id, None)
        if entry:
            client, cb, state = entry
            client.remove_listener(cb)
            self.finish(json.dumps({"removed": True, "calls": state["calls"]}))
        else:
            self.finish(json.dumps({"removed": False}))


class OutputsProbeHandler(APIHandler):
    """ltt-ext's large-outputs manager: GET its limit, POST ``{"inline_limit": n}`` to change it."""

    def _om(self):
        om = self.settings.get("outputs_manager")
        if om is None or not hasattr(om, "inline_limit"):
            raise web.HTTPError(404, "no large-outputs manager on this server")
        return om

    @web.authenticated
    def get(self):
        self.finish(json.dumps({"inline_limit": self._om().inline_limit}))

    @web.authenticated
    def post(self):
        om = self._om()
        om.inline_limit = int(json.loads(self.request.body)["inline_limit"])
        self.finish(json.dumps({"inline_limit": om.inline_limit}))


class YDocProbeHandler(APIHandler):
    """Size of a notebook's server YDoc (its full state as one update) and of its outputs."""

    @web.authenticated
    async def get(self):
        path = self.get_argument("path")
        file_id = self.settings["file_id_manager"].index(path)
        room = self.settings["yroom_manager"].get_room(f"json:notebook:{file_id}")
        ydoc = await room.get_jupyter_ydoc()
        outputs = [len(json.dumps(c.get("outputs", []).to_py())) for c in ydoc.ycells if "outputs" in c]
        self.finish(
            json.dumps(
                {
                    "file_id": file_id,
                    "update_bytes": len(ydoc.ydoc.get_update()),
                    "outputs_json_bytes": sum(outputs),
                }
            )
        )


def _jupyter_server_extension_points():
    return [{"module": "benchmarks._probe"}]


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (base.rstrip("/") + "/bench/probe", ProbeHandler),
            (base.rstrip("/") + r"/bench/probe/kernels/([^/]+)", KernelProbeHandler),
            (base.rstrip("/") + "/bench/probe/outputs", OutputsProbeHandler),
            (base.rstrip("/") + "/bench/probe/ydoc", YDocProbeHandler),
        ],
    )
