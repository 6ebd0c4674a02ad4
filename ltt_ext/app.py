"""The ltt-ext server extension: shared kernel clients, notebook writer, tutor."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.gateway.managers import GatewayMappingKernelManager
from jupyter_server.services.kernels.connection.base import BaseKernelWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.services.sessions.sessionmanager import SessionManager
from jupyter_server_documents.rooms.yroom_manager import YRoomManager
from traitlets import Float, Type
from traitlets.config import Config, LoggingConfigurable
from traitlets.utils.importstring import import_item

from .documents.rooms import SharedClientYRoomManager
from .documents.writer import NotebookWriter
from .handlers.execute import execute_handlers
from .kernels.manager import SharedClientMultiKernelManager
from .kernels.websocket import SharedClientWebsocketConnection
from .sessions import SharedClientSessionManager

DOCUMENTS_EXTENSION = "jupyter_server_documents"

# What Jupyter Server itself uses when a gateway is configured (ServerApp's trait defaults).
GATEWAY_SESSION_MANAGER = "jupyter_server.gateway.managers.GatewaySessionManager"
GATEWAY_WEBSOCKET_CONNECTION = "jupyter_server.gateway.connections.GatewayWebSocketConnection"
# What jupyter-server-documents (linked before us) puts in ServerApp's config, for local kernels.
DOCUMENTS_SESSION_MANAGER = "jupyter_server_documents.session_manager.YDocSessionManager"
DOCUMENTS_WEBSOCKET_CONNECTION = "jupyter_server_documents.websocket_connection.KernelWebsocketConnection"


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _as_class(value):
    if isinstance(value, str):
        try:
            return import_item(value)
        except Exception:
            return None
    return value if isinstance(value, type) else None


def _configured_gateway(serverapp) -> str | None:
    """The gateway the server will send its kernels to, or None for local kernels.

    Jupyter Server decides this in ``init_configurables`` (after every extension linked), from
    ``GatewayClient.url`` (``--gateway-url``, ``$JUPYTER_GATEWAY_URL``) or an explicitly configured
    gateway kernel manager. We read the same config without creating the ``GatewayClient``
    singleton, so that the server still builds it from its final config.
    """
    if GatewayClient.initialized():
        client = GatewayClient.instance()
    else:
        client = GatewayClient(parent=serverapp, log=serverapp.log)
    if client.gateway_enabled:
        return client.url
    configured = _as_class(serverapp.config.ServerApp.get("kernel_manager_class"))
    if configured is not None and issubclass(configured, GatewayMappingKernelManager):
        return client.url or f"(kernel manager {_dotted(configured)})"
    return None


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
    session_manager_class = Type(
        default_value=SharedClientSessionManager,
        klass=SessionManager,
        config=True,
        help="The server's session manager (jupyter-server-documents' one, for every session).",
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
    busy_activity_interval = Float(
        5.0,
        config=True,
        help="Seconds between checks that count a kernel running a cell as server activity (what JupyterHub's "
        "idle culler reads), so a silent long computation is not culled; 0: only kernel messages count, "
        "as upstream.",
    )

    # -- link: runs before the server builds its kernel manager ---------------------------

    gateway_url: str | None = None

    def _link_jupyter_server_extension(self, serverapp) -> None:
        super()._link_jupyter_server_extension(serverapp)  # loads our config first
        self._overridden: dict[str, list[str]] = {}
        self.gateway_url = _configured_gateway(serverapp)
        if self.gateway_url is not None:
            self._leave_gateway_in_force(serverapp)
        else:
            self._install_classes(serverapp)
        documents = self._extension_app(DOCUMENTS_EXTENSION)
        if documents is not None:
            # It linked before us (alphabetical order) but builds its room manager and reads
            # OutputProcessor.use_outputs_service at load: large outputs out of the YDoc.
            documents.yroom_manager_class = self.yroom_manager_class
            from .documents.outputs import enable as enable_large_outputs

            enable_large_outputs(documents)

    def _install_classes(self, serverapp) -> None:
        self._kept = {
            "kernel_manager_class": self.kernel_manager_class,
            "kernel_websocket_connection_class": self.kernel_websocket_connection_class,
            "session_manager_class": self.session_manager_class,
        }
        c = Config()
        for name, cls in self._kept.items():
            c.ServerApp[name] = _dotted(cls)
        # nextgen_kernels_api, when enabled too, sets AsyncMappingKernelManager.kernel_manager_class
        # (its per-kernel manager), which our manager, a subclass, would inherit: our class's own
        # section outranks it. A user's value in that section is kept.
        section = SharedClientMultiKernelManager.__name__
        if "kernel_manager_class" not in serverapp.config.get(section, {}):
            per_kernel = SharedClientMultiKernelManager.kernel_manager_class.default_value
            c[section].kernel_manager_class = per_kernel
            for parent in ("MappingKernelManager", "AsyncMappingKernelManager"):
                value = serverapp.config.get(parent, {}).get("kernel_manager_class")
                if value is not None:
                    self.log.warning(
                        "ltt_ext: %s.kernel_manager_class=%s is not used: ltt-ext's kernels need "
                        "its own per-kernel manager (set %s.kernel_manager_class to a subclass "
                        "of SharedClientKernelManager instead).",
                        parent,
                        value,
                        section,
                    )
        serverapp.update_config(c)
        # Extensions that link after us (alphabetically: nextgen_kernels_api among them) may set
        # these again; the server builds its managers only after every link, from these traits.
        serverapp.observe(self._keep_class, names=list(self._kept))

    def _keep_class(self, change) -> None:
        ours = self._kept[change.name]
        if _as_class(change.new) is ours:
            return
        other = _dotted(change.new) if isinstance(change.new, type) else str(change.new)
        package = other.split(".", 1)[0]  # an extension's classes live in its own package
        self.log.debug(
            "ltt_ext: %s set ServerApp.%s=%s; keeping %s", package, change.name, other, _dotted(ours)
        )
        self._overridden.setdefault(package, []).append(f"ServerApp.{change.name}")
        setattr(change.owner, change.name, ours)

    def _leave_gateway_in_force(self, serverapp) -> None:
        """Kernels are remote: Jupyter Server's gateway classes manage them, not ours.

        jupyter-server-documents linked before us and set its own session manager and kernel
        websocket class, both made for local kernels; when that is where they come from, put
        back what Jupyter Server uses with a gateway. Explicit user choices are left alone.
        """
        server = serverapp.config.ServerApp
        c = Config()
        if server.get("session_manager_class") == DOCUMENTS_SESSION_MANAGER:
            c.ServerApp.session_manager_class = GATEWAY_SESSION_MANAGER
        if server.get("kernel_websocket_connection_class") == DOCUMENTS_WEBSOCKET_CONNECTION:
            c.ServerApp.kernel_websocket_connection_class = GATEWAY_WEBSOCKET_CONNECTION
        serverapp.update_config(c)

    def _extension_app(self, name: str):
        assert self.serverapp is not None  # called once linked to the server
        package = self.serverapp.extension_manager.extensions.get(name)
        if package is None or not package.enabled:
            return None
        for point in package.extension_points.values():
            if point.app is not None:
                return point.app
        return None

    # -- load ------------------------------------------------------------------------------

    def initialize_settings(self):
        if getattr(self, "_kept", None):
            self.serverapp.unobserve(self._keep_class, names=list(self._kept))
        for package, settings in getattr(self, "_overridden", {}).items():
            self.log.warning(
                "ltt_ext: extension %s set %s after ltt-ext linked; ltt-ext kept its own "
                "(it replaces %s). Disable it: jupyter server extension disable %s",
                package,
                ", ".join(dict.fromkeys(settings)),
                package,
                package,
            )
        mkm = self.serverapp.kernel_manager
        self.kernel_hub = mkm if isinstance(mkm, SharedClientMultiKernelManager) else None
        if self.gateway_url is not None:
            self.log.info(
                "ltt_ext: kernels run on the gateway %s; Jupyter Server's %s, %s and %s stay in "
                "force. The notebook writer and the tutor's hints on errors need local kernels "
                "and are off; the tutor chat works.",
                self.gateway_url,
                _dotted(type(mkm)),
                _dotted(type(self.serverapp.session_manager)),
                _dotted(self.serverapp.kernel_websocket_connection_class),
            )
            self.kernel_hub = None
        elif self.kernel_hub is None:
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
                DOCUMENTS_EXTENSION,
                _dotted(type(rooms)) if rooms is not None else "nothing",
            )

        from .workspace import ServerWorkspace

        self.workspace = ServerWorkspace(self.serverapp)
        self.tutor = self._make_tutor()
        self.settings["ltt_writer"] = self.writer
        self.settings["ltt_tutor"] = self.tutor
        self.tools = self._make_tools()
        self.settings["ltt_tools"] = self.tools

        if self.kernel_hub is not None:
            self.kernel_hub.register_consumer(self.writer)
            if self.tutor is not None and getattr(self.tutor, "enabled", True):
                self.kernel_hub.register_consumer(self.tutor)
        self._tap_terminals()

    terminal_taps = None

    def _tap_terminals(self) -> None:
        """Follow jupyter_server_terminals' terminals for the tutor (ltt_ext.terminals.tap)."""
        tutor = self.tutor
        terminals = getattr(tutor, "terminal_tutor", None)
        if terminals is None or not getattr(tutor, "enabled", True) or not tutor.watch_terminals:
            return
        assert self.serverapp is not None  # loaded into a server
        manager = self.serverapp.web_app.settings.get("terminal_manager")
        if manager is None:
            return  # terminals are off (or load later: tried again at start)
        if self.terminal_taps is None:
            from .terminals.tap import TerminalTaps

            taps = self.terminal_taps = TerminalTaps(terminals.feed, terminals.closed, self.log)
            terminals.cwd_of = taps.cwd
            terminals.running_names = lambda: list(taps.taps)
        self.terminal_taps.install(manager)

    def _make_tutor(self):
        return self.tutor_class(parent=self, workspace=self.workspace)

    def initialize_handlers(self):
        from .documents.stdin import replace_documents_execute_handler
        from .handlers.stdin import stdin_handlers
        from .handlers.terminals import terminal_handlers
        from .handlers.tools import tools_handlers
        from .handlers.tutor import tutor_handlers

        self.handlers.extend(execute_handlers)
        self.handlers.extend(stdin_handlers)
        self.handlers.extend(tutor_handlers)
        self.handlers.extend(terminal_handlers)
        self.handlers.extend(tools_handlers)
        if self.kernel_hub is not None and not replace_documents_execute_handler(self.serverapp.web_app):
            self.log.warning(
                "ltt_ext: jupyter-server-documents' execute route not found; "
                "input() in notebook cells it runs will not prompt."
            )

    async def _start_jupyter_server_extension(self, serverapp):
        await super()._start_jupyter_server_extension(serverapp)
        self._tap_terminals()
        if self.kernel_hub is not None and self.busy_activity_interval > 0:
            from tornado.ioloop import PeriodicCallback

            self._busy_activity = PeriodicCallback(
                self._note_busy_kernels, self.busy_activity_interval * 1000
            )
            self._busy_activity.start()
        if self.tutor is not None:
            await self.tutor.start()

    def _make_tools(self):
        """The tool layer (c.Tools, c.Sidecars): the tutor's LLM, MCP clients and the panel use it."""
        from .tools.layer import Tools

        tools = Tools(parent=self, serverapp=self.serverapp, tutor=self.tutor, workspace=self.workspace)
        if self.gateway_url is not None and tools.sidecars.enabled:
            tools.sidecars.enabled = False  # kernels are the gateway's: start none on this host
            self.log.info("ltt_ext: sidecar kernels are off (kernels run on the gateway)")
        if self.tutor is not None:
            self.tutor.tools = tools
        tools.activate()
        return tools

    def _note_busy_kernels(self) -> None:
        """A kernel running a cell is activity: ``ServerApp.last_activity()`` takes the newest of the
        settings whose name ends in ``_last_activity`` (jupyterhub-singleuser reports it to the hub)."""
        from jupyter_server._tz import utcnow

        mkm = self.kernel_hub
        assert mkm is not None
        for kernel_id in list(mkm.list_kernel_ids()):
            if getattr(mkm.get_kernel(kernel_id), "execution_state", None) == "busy":
                assert self.serverapp is not None
                self.serverapp.web_app.settings["ltt_busy_kernels_last_activity"] = utcnow()
                return

    async def stop_extension(self):
        if getattr(self, "_busy_activity", None) is not None:
            self._busy_activity.stop()
        if getattr(self, "tools", None) is not None:
            await self.tools.close()
        if getattr(self, "tutor", None) is not None:
            await self.tutor.stop()

    # -- notebook rooms for kernels that have none attached --------------------------------

    async def _resolve_rooms(self, kernel_id: str) -> None:
        """Connect the room of every notebook session on ``kernel_id`` (rooms are freed when
        idle with no browser; a websocket execution then brings its notebook's room back)."""
        rooms = self.settings.get("yroom_manager")
        fileids = self.settings.get("file_id_manager")
        if rooms is None or fileids is None:
            return
        assert self.serverapp is not None  # the server is running
        km = self.serverapp.kernel_manager.get_kernel(kernel_id)
        # The same kernel -> notebooks lookup the tutor uses (ltt_ext.workspace).
        for path in await self.workspace.kernel_paths(kernel_id):
            file_id = fileids.index(path)
            room = rooms.get_room(f"json:notebook:{file_id}") if file_id else None
            if room is not None and room not in self.writer.rooms_of(kernel_id):
                await room.connect_kernel(km)
