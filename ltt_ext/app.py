"""The ltt-ext server extension: shared kernel clients, notebook writer, tutor."""

from __future__ import annotations

from jupyter_core.utils import ensure_async
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.services.kernels.connection.base import BaseKernelWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server_documents.rooms.yroom_manager import YRoomManager
from traitlets import Type
from traitlets.config import Config, LoggingConfigurable

from . import __version__
from .documents.rooms import SharedClientYRoomManager
from .documents.writer import NotebookWriter
from .handlers.execute import execute_handlers
from .kernels.manager import SharedClientMultiKernelManager
from .kernels.websocket import SharedClientWebsocketConnection

DOCUMENTS_EXTENSION = "jupyter_server_documents"


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class LttExtApp(ExtensionApp):
    """Turns a Jupyter server into a tutored learning environment."""

    name = "ltt_ext"
    app_name = "ltt-ext"
    description = __doc__
    load_other_extensions = True

    kernel_manager_class = Type(
        default_value=SharedClientMultiKernelManager,
        klass=AsyncMappingKernelManager,
        config=True,
        help="The server's kernel manager: one shared kernel client per kernel.",
    )
    kernel_websocket_connection_class = Type(
        default_value=SharedClientWebsocketConnection,
        klass=BaseKernelWebsocketConnection,
        config=True,
        help="Kernel websockets, as listeners on the shared client.",
    )
    yroom_manager_class = Type(
        default_value=SharedClientYRoomManager,
        klass=YRoomManager,
        config=True,
        help="jupyter-server-documents' room manager: rooms execute through the shared client.",
    )
    tutor_class = Type(
        default_value="ltt_ext.tutor.service.Tutor",
        klass=LoggingConfigurable,
        config=True,
        help="The tutor service (configure it with c.Tutor.*).",
    )

    # -- link: runs before the server builds its kernel manager ---------------------------

    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)  # loads our config first
        c = Config()
        c.ServerApp.kernel_manager_class = _dotted(self.kernel_manager_class)
        c.ServerApp.kernel_websocket_connection_class = _dotted(
            self.kernel_websocket_connection_class
        )
        serverapp.update_config(c)
        documents = self._extension_app(DOCUMENTS_EXTENSION)
        if documents is not None:
            # It linked before us (alphabetical order) but builds its room manager at load.
            documents.yroom_manager_class = self.yroom_manager_class

    def _extension_app(self, name: str):
        package = self.serverapp.extension_manager.extensions.get(name)
        if package is None or not package.enabled:
            return None
        for point in package.extension_points.values():
            if point.app is not None:
                return point.app
        return None

    # -- load ------------------------------------------------------------------------------

    def initialize_settings(self):
        mkm = self.serverapp.kernel_manager
        self.kernel_hub = mkm if isinstance(mkm, SharedClientMultiKernelManager) else None
        if self.kernel_hub is None:
            self.log.error(
                "ltt_ext: the kernel manager is %s, not ltt-ext's shared-client manager "
                "(another extension or config overrode ServerApp.kernel_manager_class); "
                "the notebook writer and the tutor cannot listen to kernels.",
                _dotted(type(mkm)),
            )

        rooms = self.settings.get("yroom_manager")
        self.writer = NotebookWriter(self.log, resolver=self._resolve_rooms)
        if isinstance(rooms, SharedClientYRoomManager):
            rooms.writer = self.writer
        else:
            self.log.error(
                "ltt_ext: %s is required (enabled, with ltt-ext's room manager); found %s. "
                "Executions will not reach notebook documents.",
                DOCUMENTS_EXTENSION, _dotted(type(rooms)) if rooms is not None else "nothing",
            )

        self.tutor = self._make_tutor()
        self.settings["ltt_writer"] = self.writer
        self.settings["ltt_tutor"] = self.tutor

        if self.kernel_hub is not None:
            self.kernel_hub.register_consumer(self.writer)
            if self.tutor is not None and getattr(self.tutor, "enabled", True):
                self.kernel_hub.register_consumer(self.tutor)

    def _make_tutor(self):
        from .workspace import ServerWorkspace

        return self.tutor_class(parent=self, workspace=ServerWorkspace(self.serverapp))

    def initialize_handlers(self):
        from .handlers.tutor import tutor_handlers

        self.handlers.extend(execute_handlers)
        self.handlers.extend(tutor_handlers)

    async def _start_jupyter_server_extension(self, serverapp):
        await super()._start_jupyter_server_extension(serverapp)
        if self.tutor is not None:
            await self.tutor.start()

    async def stop_extension(self):
        if getattr(self, "tutor", None) is not None:
            await self.tutor.stop()

    # -- notebook rooms for kernels that have none attached --------------------------------

    async def _resolve_rooms(self, kernel_id: str) -> None:
        """Connect the room of every notebook session on ``kernel_id`` (rooms are freed when
        idle with no browser; a websocket execution then brings its notebook's room back)."""
        import os

        rooms = self.settings.get("yroom_manager")
        fileids = self.settings.get("file_id_manager")
        if rooms is None or fileids is None:
            return
        km = self.serverapp.kernel_manager.get_kernel(kernel_id)
        for session in await self.serverapp.session_manager.list_sessions():
            if session.get("type") != "notebook" or session["kernel"]["id"] != kernel_id:
                continue
            path = session["path"]
            if not await ensure_async(self.serverapp.contents_manager.file_exists(path)):
                path = os.path.join(os.path.dirname(path), session.get("name") or "")
            file_id = fileids.index(path)
            room = rooms.get_room(f"json:notebook:{file_id}") if file_id else None
            if room is not None and room not in self.writer.rooms_of(kernel_id):
                await room.connect_kernel(km)
