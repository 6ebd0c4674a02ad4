"""``input()`` in notebook cells that the server runs.

With jupyter-server-documents, JupyterLab runs a cell with ``POST /api/kernels/<id>/execute``
and the notebook room sends the request itself, with ``allow_stdin=False``: every ``input()``
raised ``StdinNotImplementedError``. Here a room run may prompt when the client that asked
for it has a kernel websocket that can answer:

- the front end tells the server which kernel websocket (its ``session_id``) belongs to its
  document client (the ``client_id`` jupyter-server-documents' front end sends with each run):
  ``PUT /ltt/api/kernels/<id>/stdin``;
- the execute request's ``client_id`` reaches the room through a context variable set by
  :class:`StdinAwareExecuteHandler` (jupyter-server-documents' handler does not pass it on);
- the room's run then allows stdin, and the prompt goes to that websocket alone (the shared
  client routes stdin by request), whose front end shows JupyterLab's own prompt box.

With no such websocket the run keeps ``allow_stdin=False`` (as before: nothing could answer).
"""

from __future__ import annotations

import json
from contextvars import ContextVar

from jupyter_server_documents.execution_handlers import KernelExecuteHandler

# The document client (jupyter-server-documents' front end) asking for the current run.
requesting_client: ContextVar[str | None] = ContextVar("ltt_requesting_client", default=None)


class StdinAwareExecuteHandler(KernelExecuteHandler):
    """jupyter-server-documents' execute handler, passing the requesting client on."""

    async def post(self, kernel_id: str):
        client_id = None
        try:
            body = json.loads(self.request.body or b"{}")
            if isinstance(body, dict) and isinstance(body.get("client_id"), (str, int)):
                client_id = str(body["client_id"])[:64]
        except (ValueError, RecursionError):
            pass  # the handler itself answers bad bodies
        token = requesting_client.set(client_id)
        try:
            return await super().post(kernel_id)
        finally:
            requesting_client.reset(token)


def replace_documents_execute_handler(web_app) -> bool:
    """Serve jupyter-server-documents' execute route with :class:`StdinAwareExecuteHandler`.

    Both extensions would register the same route and tornado picks the first match (theirs,
    loaded first), so the target of their rule is swapped in place."""

    def walk(router) -> bool:
        found = False
        for rule in getattr(router, "rules", []):
            target = rule.target
            if target is KernelExecuteHandler:
                rule.target = StdinAwareExecuteHandler
                found = True
            elif hasattr(target, "rules"):
                found = walk(target) or found
        return found

    return walk(web_app.default_router) | walk(web_app.wildcard_router)
