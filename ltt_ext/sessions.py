"""The session manager: jupyter-server-documents' one, for every kind of session.

``YDocSessionManager`` gives a notebook session a room (its YDoc, connected to the kernel) only
when the session has a name and a path, and not for consoles; yet its ``delete_session`` and
``update_session(kernel_id=...)`` look that room up for every session and raise ``LookupError``
(HTTP 500) when there is none. Stock Jupyter Server answers 204/200 for those sessions (created
without a name, of type ``file``, ...). Here a session without a room is handled exactly as
upstream's ``SessionManager`` does.
"""

from __future__ import annotations

from jupyter_server.services.sessions.sessionmanager import SessionManager
from jupyter_server_documents.session_manager import YDocSessionManager


class SharedClientSessionManager(YDocSessionManager):
    """``YDocSessionManager`` that does not fail on sessions it made no room for."""

    def _has_room(self, session_id: str) -> bool:
        # `_room_ids` (private to YDocSessionManager) is where it records the sessions it made a
        # room for; it has no public way to ask, and get_yroom() raises for the others.
        return session_id in self._room_ids

    async def delete_session(self, session_id):
        if not self._has_room(session_id) and not self._is_console_session(session_id):
            return await SessionManager.delete_session(self, session_id)
        return await super().delete_session(session_id)

    async def update_session(self, session_id, **update):
        if "kernel_id" in update and not self._has_room(session_id):
            # The parent does the same for consoles; other sessions without a room raised.
            return await SessionManager.update_session(self, session_id, **update)
        return await super().update_session(session_id, **update)
