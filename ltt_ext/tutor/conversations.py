"""Conversations: the stored messages of each notebook, and their live subscribers.

A notebook's conversation is keyed by its file id (jupyter_server_fileid), so it
follows renames and moves; the path is what clients and messages show. Every
store call is awaited (the store has its own thread);
:class:`~ltt_ext.store.StoreUnavailable` reaches the handlers (503).

A reply is stored first as ``streaming``, filled by a producer task (an engine),
and stored again when it ends — done, stopped or failed. Each step is pushed to
the notebook's subscribers (websockets) and finished messages are emitted as
jupyter_events records (metadata only, never the text).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..store import Message, Store, StoreUnavailable

Event = dict[str, Any]
Subscriber = Callable[[Event], Any]


def conversation_of(msg: Message) -> str:
    """A stored message's conversation key (``add`` sets it; the store fills it in for old rows)."""
    assert msg.file_id is not None, "the message was never stored"
    return msg.file_id


class Conversations:
    def __init__(
        self,
        store: Callable[[], Store],
        key_of: Callable[[str], str],
        emit: Callable[[Message], None],
        log: logging.Logger | None = None,
    ):
        self._store = store
        self.key_of = key_of
        self.emit = emit
        self.log = log or logging.getLogger(__name__)
        self.stopping = False
        self._adopted: set[tuple[str, str]] = set()
        self._subscribers: dict[str, list[tuple[str, Subscriber]]] = {}
        self.active: dict[str, tuple[Message, asyncio.Task]] = {}
        self._unsaved: dict[str, Message] = {}
        self._background: set[asyncio.Task] = set()
        self.on_change: Callable[[str], None] = lambda key: None  # thinking started/stopped

    @property
    def store(self) -> Store:
        return self._store()

    async def key(self, path: str) -> str:
        """The key of ``path``'s conversation, its rows from before file ids adopted (once per process)."""
        key = self.key_of(path)
        if key != path and (path, key) not in self._adopted:
            await self.store.adopt(path, key)
            self._adopted.add((path, key))
        return key

    # -- live subscribers ------------------------------------------------------------------------
    def subscribe(self, path: str, callback: Subscriber) -> Callable[[], None]:
        """Push every event of ``path``'s conversation to ``callback`` (sync, must not block) until
        unsubscribed; messages are shown under ``path`` even if the notebook is renamed meanwhile."""
        key = self.key_of(path)
        entry = (path, callback)
        subs = self._subscribers.setdefault(key, [])
        subs.append(entry)

        def unsubscribe() -> None:
            if entry in subs:
                subs.remove(entry)
            if not subs and self._subscribers.get(key) is subs:
                del self._subscribers[key]

        return unsubscribe

    def publish(self, key: str, event: Event) -> None:
        for path, cb in list(self._subscribers.get(key, ())):
            message = event.get("message")
            if message is not None and message.get("path") != path:
                event = {**event, "message": {**message, "path": path}}  # renamed since it was written
            try:
                cb(event)
            except Exception:
                self.log.debug("ltt tutor: subscriber failed", exc_info=True)

    def thinking(self, key: str) -> bool:
        return any(m.file_id == key for m, _ in self.active.values())

    # -- messages --------------------------------------------------------------------------------
    async def add(self, msg: Message) -> Message:
        if msg.file_id is None:
            msg.file_id = self.key_of(msg.path)
        await self.store.add(msg)
        self.publish(msg.file_id, {"type": "message", "message": msg.to_json()})
        if msg.status != "streaming":
            self.emit(msg)
        return msg

    async def notice(self, path: str, text: str, cell_id: str | None, role: str = "system") -> Message:
        return await self.add(Message(path, role, "notice", text=text, cell_id=cell_id))

    def write(self, reply: Message, text: str) -> None:
        """Append a streamed piece to a reply and push it."""
        if not text:
            return
        reply.text += text
        self.publish(conversation_of(reply), {"type": "delta", "id": reply.id, "text": text})

    async def history(self, path: str, since: float | None = None) -> list[dict]:
        key = await self.key(path)
        out = []
        for m in await self.store.history(key, since):
            live = self.active.get(m.id)
            d = (live[0] if live else self._unsaved.get(m.id, m)).to_json()
            d["path"] = path  # where the notebook is now, whatever it was called then
            out.append(d)
        return out

    async def stop_reply(self, path: str, msg_id: str) -> bool:
        entry = self.active.get(msg_id)
        if entry is None or entry[0].file_id != self.key_of(path):
            return False
        entry[1].cancel()
        await asyncio.wait([entry[1]])
        return True

    # -- producing replies -----------------------------------------------------------------------
    def launch(self, reply: Message, produce: Callable[[Message], Awaitable[Any]]) -> None:
        task = asyncio.create_task(self._run(reply, produce))
        self.active[reply.id] = (reply, task)
        self.on_change(conversation_of(reply))

    async def _run(self, reply: Message, produce: Callable[[Message], Awaitable[Any]]) -> None:
        try:
            await produce(reply)
            reply.status = "done"
        except asyncio.CancelledError:
            reply.status = "stopped"
        except Exception:
            self.log.exception("ltt tutor: answer failed")
            reply.status = "error"
            reply.text += "\n\n_Sorry — the tutor failed to answer. Please try again._"
        finally:
            self.active.pop(reply.id, None)
            try:
                if not self.store.closed:
                    await self.store.update(reply)
            except StoreUnavailable as e:
                self.log.warning("ltt tutor: message %s not stored yet: %s", reply.id, e)
                self._save_later(reply)
            except Exception:
                self.log.exception("ltt tutor: cannot store message %s", reply.id)
            self.publish(conversation_of(reply), {"type": "update", "message": reply.to_json()})
            self.on_change(conversation_of(reply))
            self.emit(reply)

    def _save_later(self, reply: Message) -> None:
        """A finished answer the store could not take (locked): keep serving it, and retry for a while
        (else history would show it streaming until the next server start)."""
        if self.stopping:
            return  # shutting down: the next start marks it stopped
        self._unsaved[reply.id] = reply

        async def retry() -> None:
            for delay in (1, 2, 5, 10, 30, 60, 120):
                await asyncio.sleep(delay)
                try:
                    await self.store.update(reply)
                    break
                except StoreUnavailable:
                    continue
            else:
                self.log.error("ltt tutor: message %s could not be stored", reply.id)
            self._unsaved.pop(reply.id, None)

        self.background(retry())

    def background(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def stop(self) -> None:
        self.stopping = True
        tasks = [t for _, t in self.active.values()] + list(self._background)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
