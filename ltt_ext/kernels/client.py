"""The one shared kernel client per kernel, with a fan-out that never waits.

nextgen-kernels-api's ``JupyterServerKernelClient`` gives us the listener
registry; its routing loop is what we replace:

- stock: each channel's loop awaits every listener in series, then sleeps
  10 ms, so one slow listener stalls every websocket and routing caps out near
  100 messages/s;
- here: a message is received, authenticated and decoded once, then handed to
  every listener *synchronously* (a listener is a cheap callback: a websocket
  write, a queue put). Coroutine listeners get their own bounded queue and
  task, so they run in order, one at a time, behind nobody and in front of
  nobody. The loop yields to the event loop every ``yield_every`` messages
  instead of sleeping.

Requests are sent through pyzmq's asyncio socket, never through
``Session.send``: jupyter_client sends on a *synchronous shadow* of an asyncio
socket, which processes ZMQ's command queue behind pyzmq's back — when a reply
arrived during such a send, its wake-up was consumed and the pending
``recv_multipart()`` of the channel loop waited forever (every later reply on
that socket was lost too: the stuck ``[*]`` cells). One reader per socket (the
channel loop), all sends through the asyncio socket, and replies routed by the
request registry (:mod:`.requests`) to the connection that asked.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import typing as t
from collections import deque
from collections.abc import Sequence

import zmq
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import DELIM
from jupyter_server._tz import utcnow
from nextgen_kernels_api.services.kernels.client import JupyterServerKernelClient
from traitlets import Int, Type

from .fanout import WebsocketGroup
from .message import KernelMessage
from .requests import Request, RequestRegistry

Listener = t.Callable[[str, list], t.Any]


class _Route:
    """A listener and the filter it subscribed with."""

    __slots__ = ("call", "include", "exclude", "queue")

    def __init__(self, call, include, exclude, queue=None):
        self.call = call
        self.include = include
        self.exclude = exclude
        self.queue = queue

    def wants(self, msg_type: str, channel: str) -> bool:
        if self.include is not None:
            return (msg_type, channel) in self.include
        if self.exclude is not None:
            return (msg_type, channel) not in self.exclude
        return True


class ListenerQueue:
    """Runs one coroutine listener in message order, with a bounded backlog.

    When the backlog is full the oldest message is dropped (and counted): a
    consumer that never catches up loses its own history, never anyone
    else's latency or the server's memory.
    """

    def __init__(self, listener: Listener, maxlen: int, log):
        self.listener = listener
        self.log = log
        self.maxlen = maxlen
        self.dropped = 0
        self._items: deque = deque()
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_event_loop().create_task(self._run())

    def __call__(self, channel: str, msg: list) -> None:
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                self.log.warning(
                    "Kernel listener %r is %d messages behind; dropped %d oldest so far.",
                    self.listener,
                    self.maxlen,
                    self.dropped,
                )
        self._items.append((channel, msg))
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._items:
                channel, msg = self._items.popleft()
                try:
                    await self.listener(channel, msg)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.log.exception("Error in kernel listener %r", self.listener)

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class RegisteringChannel(AsyncZMQSocketChannel):
    """A shell/control/stdin channel whose sends are remembered and go through pyzmq's
    asyncio socket (``Session.send`` would use a synchronous shadow: see the module doc)."""

    channel_name = ""
    client: SharedKernelClient | None = None

    def send(self, msg: dict[str, t.Any]) -> None:
        header = msg["header"]
        if self.client is not None:
            metadata = msg.get("metadata") or {}
            cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
            self.client.requests.add(
                header["msg_id"],
                header.get("msg_type", ""),
                self.channel_name,
                cell_id if isinstance(cell_id, str) else None,
            )
        frames = self.session.serialize(msg)
        frames.extend(msg.get("buffers") or [])
        assert self.socket is not None
        self.socket.send_multipart(frames, copy=False)


class ShellChannel(RegisteringChannel):
    channel_name = "shell"


class ControlChannel(RegisteringChannel):
    channel_name = "control"


class StdinChannel(RegisteringChannel):
    channel_name = "stdin"


class SharedKernelClient(JupyterServerKernelClient):
    """nextgen's shared kernel client with a non-blocking, decode-once fan-out."""

    listener_backlog = Int(
        10_000,
        config=True,
        help="Messages a coroutine listener may fall behind before its oldest are dropped.",
    )
    iopub_hwm = Int(
        100_000,
        config=True,
        help="Messages ZMQ may queue on the IOPub socket before dropping (0: no limit). "
        "ZMQ's default, 1000, silently dropped outputs (and even the idle status) of chatty cells.",
    )
    yield_every = Int(
        64,
        config=True,
        help="Messages routed per channel before the routing loop yields to the event loop.",
    )

    # Our channels, not nextgen's: nextgen's prefix every msg id with its channel (clients got
    # their ids back changed) and send through Session.send (see the module doc).
    shell_channel_class = Type(ShellChannel)
    control_channel_class = Type(ControlChannel)
    stdin_channel_class = Type(StdinChannel)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests = RequestRegistry()
        # input() in runs the server makes for a front end (see ltt_ext.documents.stdin):
        # websocket session id -> connection; document client id -> websocket session id.
        self.ws_sessions: dict[str, t.Any] = {}
        self.stdin_routes: dict[str, str] = {}
        self._routes: dict[t.Any, _Route] = {}
        self._listeners = self._routes  # nextgen code that counts listeners keeps working
        # The websockets that take pre-built frames: one route for all of them (see .fanout).
        self.websockets = WebsocketGroup(self)
        # Called when the kernel restarts: requests in flight will never be answered.
        self.restart_callbacks: set[t.Callable[[], None]] = set()

    def kernel_died(self, state: str) -> None:
        """The kernel process died (``state``: ``restarting`` or ``dead``). Tell every listener
        as upstream's connection does (an IOPub status with no parent), and end the requests
        in flight: their senders get an ``aborted`` reply, server-side runs end ``aborted``."""
        self.execution_state = state
        session = self.session
        status = session.msg("status", {"execution_state": state})
        self.dispatch("iopub", KernelMessage("iopub", _packed(session, status)))
        for request in self.requests.pending():
            request.replied = True
            if request.msg_type != "execute_request":
                continue
            parent = {"msg_id": request.msg_id, "msg_type": request.msg_type}
            reply = session.msg(
                "execute_reply", {"status": "aborted", "execution_count": None}, parent=parent
            )
            self.dispatch("shell", KernelMessage("shell", _packed(session, reply), request))
        self.notify_restarted()

    def notify_restarted(self) -> None:
        for callback in list(self.restart_callbacks):
            try:
                callback()
            except Exception:
                self.log.exception("Error in restart callback %r", callback)

    def _wired(self, channel):
        if channel is not None and getattr(channel, "client", None) is not self:
            channel.client = self
        return channel

    @property
    def shell_channel(self):
        return self._wired(super().shell_channel)

    @property
    def control_channel(self):
        return self._wired(super().control_channel)

    @property
    def stdin_channel(self):
        return self._wired(super().stdin_channel)

    # -- requests from connections ------------------------------------------------------

    def route_stdin(self, document_client_id: str, ws_session_id: str) -> None:
        """Prompts of runs made for that document client go to that kernel websocket."""
        self.stdin_routes.pop(document_client_id, None)
        self.stdin_routes[document_client_id] = ws_session_id
        while len(self.stdin_routes) > 1000:
            self.stdin_routes.pop(next(iter(self.stdin_routes)))

    def stdin_connection(self, document_client_id: str):
        """The open kernel websocket that answers prompts for that document client, if any."""
        session_id = self.stdin_routes.get(document_client_id)
        return self.ws_sessions.get(session_id) if session_id else None

    def send_request(
        self,
        channel: str,
        parts: Sequence[bytes | memoryview],
        header: dict[str, t.Any],
        cell_id: str | None = None,
        origin: t.Any = None,
    ) -> Request:
        """Send a websocket's request (``[header, parent, metadata, content, *buffers]``) with
        its bytes unchanged, remembering who sent it so the replies go back to them alone."""
        request = self.requests.add(header["msg_id"], header.get("msg_type", ""), channel, cell_id, origin)
        if request.origin_msg_id is not None:
            parts = [_repack_msg_id(header, request.msg_id), *parts[1:]]
        if not self._queue_message_if_not_ready(channel, parts):
            self._send_message(channel, parts)
        return request

    def _send_message(self, channel_name: str, msg: Sequence[bytes | memoryview]) -> None:
        """Sign and send raw parts through the asyncio socket (nextgen's version used
        ``Session.send_raw``, i.e. a synchronous shadow socket)."""
        channel = getattr(self, f"{channel_name}_channel", None)
        socket = getattr(channel, "socket", None)
        if socket is None or socket.closed:
            self.log.warning("Kernel %s channel is closed; dropping a %s message", channel_name, channel_name)
            return
        socket.send_multipart([DELIM, self.session.sign(msg[:4]), *msg], copy=False)

    def handle_incoming_message(self, channel_name: str, msg: list) -> None:
        """nextgen's entry point for raw parts from a connection: same path, origin unknown."""
        try:
            header = json.loads(msg[0])
        except (ValueError, TypeError, IndexError):
            self.log.warning("Dropping an undecodable message for the kernel's %s channel", channel_name)
            return
        self.send_request(channel_name, list(msg), header)

    def connect_iopub(self, identity=None):
        # ZMQ applies a high-water mark only to connections made after it is set, and the
        # socket connects as it is created: set it as a context default for that moment.
        sockopts = self.context.sockopts
        previous = sockopts.get(zmq.RCVHWM)
        sockopts[zmq.RCVHWM] = self.iopub_hwm
        try:
            return super().connect_iopub(identity=identity)
        finally:
            if previous is None:
                sockopts.pop(zmq.RCVHWM, None)
            else:
                sockopts[zmq.RCVHWM] = previous

    # -- listener registry ---------------------------------------------------------

    def add_listener(self, callback: Listener, msg_types=None, exclude_msg_types=None):
        """Subscribe ``callback(channel, parts)``; adding the same callback again is a no-op
        apart from updating its filter."""
        if msg_types is not None and exclude_msg_types is not None:
            raise ValueError("Cannot specify both msg_types and exclude_msg_types")
        include = {tuple(x) for x in msg_types} if msg_types else None
        exclude = {tuple(x) for x in exclude_msg_types} if exclude_msg_types else None
        route = self._routes.get(callback)
        if route is not None:
            route.include, route.exclude = include, exclude
            return
        queue = None
        call = callback
        if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)  # noqa: B004 -- an async __call__ method, not callability
        ):
            queue = ListenerQueue(callback, self.listener_backlog, self.log)
            call = queue
        self._routes[callback] = _Route(call, include, exclude, queue)

    def remove_listener(self, callback: Listener):
        route = self._routes.pop(callback, None)
        if route is not None and route.queue is not None:
            asyncio.ensure_future(route.queue.close())

    # -- routing ----------------------------------------------------------------------

    def dispatch(self, channel: str, parts: list) -> None:
        """Hand one message to every listener that wants it, without awaiting any."""
        msg = parts if isinstance(parts, KernelMessage) else KernelMessage(channel, parts)
        try:
            msg_type = msg.msg_type
            if msg.request is None:
                msg.request = self.requests.get(msg.parent_msg_id)
        except ValueError:
            self.log.warning("Dropping kernel message with an undecodable header on %s", channel)
            return
        if channel != "iopub" and msg.request is not None and msg_type.endswith("_reply"):
            msg.request.replied = True
        if channel == "iopub":
            self._track_activity(msg, msg_type)
        for route in list(self._routes.values()):
            if route.wants(msg_type, channel):
                try:
                    result = route.call(channel, msg)
                except Exception:
                    self.log.exception("Error in kernel listener %r", route.call)
                    continue
                if inspect.isawaitable(result):
                    # A plain callable that returned a coroutine: run it, but never wait on it.
                    asyncio.ensure_future(result)

    def _track_activity(self, msg: KernelMessage, msg_type: str) -> None:
        """Keep ``/api/kernels`` true: execution_state and last_activity, as upstream's
        ``start_watching_activity`` does (stock nextgen freezes both)."""
        km = self.parent
        mkm = getattr(km, "parent", None)
        track = getattr(mkm, "track_message_type", None) or (lambda _t: True)
        parent_type = msg.parent_header.get("msg_type")
        now = utcnow()
        if km is not None and (track(msg_type) or track(parent_type) or km.execution_state == "busy"):
            km.last_activity = now
            if mkm is not None:
                mkm.last_kernel_activity = now
        if msg_type != "status":
            return
        state = msg.content.get("execution_state")
        if state is None:
            return  # not a kernel protocol status message (they always carry execution_state)
        channel = msg.parent_channel
        # nextgen's connection test reads these; only shell requests define busy/idle.
        if channel == "shell":
            self.last_shell_status_time = now
            self.last_activity = now
            self.execution_state = state
        elif channel == "control":
            self.last_control_status_time = now
        if km is None:
            return
        if track(parent_type):
            km.execution_state = state
        elif km.execution_state == "starting" and state != "starting":
            km.execution_state = "idle"

    # nextgen's entry points for manufactured messages (e.g. broadcast_state) go the same way.
    def handle_outgoing_message(self, channel_name: str, msg: list) -> None:
        self.dispatch(channel_name, msg)

    async def _route_to_listeners(self, channel_name: str, msg: list) -> None:
        self.dispatch(channel_name, msg)

    def _authentic(self, session, msg_list: list) -> bool:
        """Check the HMAC signature exactly as ``Session.deserialize`` would."""
        if session.auth is None:
            return True
        signature = msg_list[0]
        if not signature:
            return False
        mac = session.auth.copy()
        for frame in msg_list[1:5]:
            mac.update(frame)
        return hmac.compare_digest(signature, mac.hexdigest().encode("ascii"))

    async def _monitor_channel_messages(self, channel_name: str, channel) -> None:
        socket = channel.socket
        session = channel.session
        # What ZMQ already holds is read without the asyncio socket's per-message Future (a
        # synchronous view of the same socket: this loop is its only reader, and the next
        # awaited recv checks ZMQ's events before it waits, so no wake-up is lost).
        drain: zmq.Socket = zmq.Socket.shadow(socket.underlying)
        routed = 0
        try:
            while channel.is_alive():
                frames = await socket.recv_multipart()
                while True:
                    self._route_frames(channel_name, session, frames)
                    routed += 1
                    if routed % self.yield_every == 0:
                        # Fairness: let websockets flush and other channels run.
                        await asyncio.sleep(0)
                    try:
                        frames = drain.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
        except (asyncio.CancelledError, zmq.ContextTerminated):
            pass
        except zmq.ZMQError as e:
            if not socket.closed:
                self.log.error("Channel monitoring failed for %s: %s", channel_name, e)
        except Exception:
            self.log.exception("Channel monitoring failed for %s", channel_name)

    def _route_frames(self, channel_name: str, session, frames: list) -> None:
        try:
            _idents, msg_list = session.feed_identities(frames)
        except ValueError:
            self.log.warning("Malformed message on %s (no delimiter)", channel_name)
            return
        if len(msg_list) < 5 or not self._authentic(session, msg_list):
            self.log.warning("Dropping unsigned or malformed message on %s", channel_name)
            return
        self.dispatch(channel_name, KernelMessage(channel_name, msg_list[1:]))

    async def stop_listening(self) -> None:
        """Cancel the channel loops *and wait for them*, so nothing is left pending."""
        tasks = getattr(self, "_monitoring_tasks", [])
        self._monitoring_tasks: list[asyncio.Future[t.Any]] = []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Full teardown at kernel shutdown: loops, listener tasks, sockets."""
        await self.stop_listening()
        routes = list(self._routes.values())
        self._routes.clear()
        await asyncio.gather(
            *(r.queue.close() for r in routes if r.queue is not None), return_exceptions=True
        )
        if self.channels_running:
            self.stop_channels()
        self._connecting = False
        self._connection_ready = False
        self._connection_ready_event.clear()


def _packed(session, msg: dict[str, t.Any]) -> list[bytes]:
    return [session.pack(msg[k]) for k in ("header", "parent_header", "metadata", "content")]


def _repack_msg_id(header: dict[str, t.Any], msg_id: str) -> bytes:
    return json.dumps({**header, "msg_id": msg_id}).encode("utf8", "surrogateescape")
