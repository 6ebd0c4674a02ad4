"""jupyter-server-documents rooms that run cells through the shared kernel client.

The stock ``YNotebookRoom`` opens its own ZMQ client per notebook and writes
outputs itself, only for the executions it runs. Ours sends the request
through the kernel's shared client, tagged with the cell id, and lets the
:class:`~ltt_ext.documents.writer.NotebookWriter` record it like every other
execution of a cell. The manager keeps a notebook room alive while a cell of it
runs, whether or not a browser is attached.
"""

from __future__ import annotations

import asyncio

from jupyter_server_documents.rooms.ynotebook_room import YNotebookRoom, _ExecutionItem
from jupyter_server_documents.rooms.yroom_manager import YRoomManager

from ..kernels.client import SharedKernelClient
from ..kernels.execute import execute
from .stdin import requesting_client
from .writer import NotebookWriter


class SharedClientNotebookRoom(YNotebookRoom):
    """A notebook room whose executions go through the kernel's shared client."""

    _running = 0  # cells of this room being executed by its worker right now

    @property
    def has_pending_executions(self) -> bool:
        queue = self._execution_queue
        return self._running > 0 or (queue is not None and not queue.empty())

    @property
    def writer(self) -> NotebookWriter | None:
        return getattr(self.parent, "writer", None)

    async def execute_cells(self, cells, clear_outputs=False, request_id=None, previous_request_id=None):
        # Remember who asked, so that the run can prompt them (see .stdin).
        client_id = requesting_client.get()
        if client_id is not None and isinstance(cells, list):
            stdin_clients = self.__dict__.setdefault("_stdin_clients", {})
            for entry in cells:
                cell_id = entry.get("cell_id") if isinstance(entry, dict) else entry
                if isinstance(cell_id, str):
                    stdin_clients[cell_id] = client_id
        return await super().execute_cells(
            cells, clear_outputs=clear_outputs, request_id=request_id, previous_request_id=previous_request_id
        )

    def _stdin_origin(self, cell_id: str):
        client_id = self.__dict__.get("_stdin_clients", {}).pop(cell_id, None)
        if client_id is None or self._kernel_manager is None:
            return None
        return self._kernel_manager.kernel_client.stdin_connection(client_id)

    def _shared(self, kernel_manager=None) -> bool:
        km = kernel_manager or self._kernel_manager
        return isinstance(getattr(km, "kernel_client", None), SharedKernelClient) and (
            self.writer is not None
        )

    async def _connect_client(self, kernel_manager) -> None:
        if not self._shared(kernel_manager):
            return await super()._connect_client(kernel_manager)
        await self.get_jupyter_ydoc()  # the writer looks cells up synchronously
        self._kernel_client = kernel_manager.kernel_client
        self.output_processor = None
        self._shell_confirmed = False
        assert self.writer is not None  # _shared() checked it
        self.writer.attach_room(kernel_manager.kernel_id, self)

    async def _fetch_kernel_info(self) -> None:
        if not self._shared():
            return await super()._fetch_kernel_info()
        self._shell_confirmed = await self._kernel_client.wait_for_connection_ready(timeout=30.0)

    # jupyter-server-documents registers these coroutine functions as the kernel manager's restart
    # callbacks, which jupyter_client calls without awaiting ("never awaited"). On the shared client
    # there is nothing to reconnect after a restart; a kernel that is dead for good detaches.
    def _on_kernel_restart(self):
        if not self._shared():
            return asyncio.ensure_future(super()._on_kernel_restart())
        return None

    def _on_kernel_dead(self):
        return asyncio.ensure_future(self.disconnect_kernel())

    async def disconnect_kernel(self) -> None:
        km = self._kernel_manager
        if km is not None and self._shared(km):
            assert self.writer is not None  # _shared() checked it
            self.writer.detach_room(km.kernel_id, self)
            # Not ours to stop: the shared client belongs to the kernel.
            self._kernel_client = None
        await super().disconnect_kernel()

    async def _run_item(self, item: _ExecutionItem) -> None:
        if not self._shared():
            return await super()._run_item(item)
        ycell = item.ycell
        self._running += 1
        try:
            await execute(
                self._kernel_manager,
                str(ycell.get("source", "")),
                timeout=None,
                cell_id=item.cell_id,
                stdin_origin=self._stdin_origin(item.cell_id),
            )
        except Exception as e:
            self.log.error("Cell %s execution failed: %s", item.cell_id, e)
        finally:
            self._running -= 1
            # The writer set it at the kernel's idle status; this covers interrupts/restarts.
            ycell["execution_state"] = "idle"


class SharedClientYRoomManager(YRoomManager):
    """Creates :class:`SharedClientNotebookRoom` for notebooks; never frees a running one."""

    writer: NotebookWriter | None = None

    def create_room(self, room_id: str, **room_kwargs):
        if not room_id.startswith("json:notebook:"):
            return super().create_room(room_id, **room_kwargs)
        if self.has_room(room_id):
            raise Exception(f"Room already exists: '{room_id}'.")
        self.log.info(f"Initializing room '{room_id}'.")
        yroom = SharedClientNotebookRoom(parent=self, room_id=room_id, **room_kwargs)
        self._rooms_by_id[room_id] = yroom
        self._freeing_rooms.discard(room_id)
        return yroom

    def _should_free_room(self, room) -> bool:
        if getattr(room, "has_pending_executions", False):
            return False
        km = getattr(room, "_kernel_manager", None)
        if km is not None and getattr(km, "execution_state", None) == "busy":
            return False
        if self.writer is not None and self.writer.busy_cells(room):
            return False
        return super()._should_free_room(room)

    async def stop(self) -> None:
        # jupyter-server-documents disconnects a stopped room's kernel in a task it does not
        # await, so at shutdown the execution worker outlived the event loop. Await it here.
        rooms = [r for r in self._rooms_by_id.values() if isinstance(r, SharedClientNotebookRoom)]
        await super().stop()
        for room in rooms:
            await room.disconnect_kernel()
