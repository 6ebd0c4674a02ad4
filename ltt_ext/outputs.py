"""Kernel IOPub messages -> nbformat outputs, for plain lists and notebook YDocs.

One set of rules for every place that records outputs (the execute API, the
notebook writer), so an execution looks the same whichever path ran it:
consecutive chunks of the same stream are merged into one output, the way
JupyterLab's output area stores them.
"""

from __future__ import annotations

import re
from typing import Any

OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error", "update_display_data")

# CSI sequences (colours, cursor moves) and OSC sequences (titles, links), as tracebacks carry them.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str | None) -> str:
    return _ANSI.sub("", text or "")


def to_output(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    """The nbformat output for one IOPub message, or None if it is not an output."""
    if msg_type == "stream":
        return {
            "output_type": "stream",
            "name": content.get("name", "stdout"),
            "text": content.get("text", ""),
        }
    if msg_type in ("display_data", "update_display_data"):
        return {
            "output_type": "display_data",
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
    if msg_type == "execute_result":
        return {
            "output_type": "execute_result",
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
            "execution_count": content.get("execution_count"),
        }
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    return None


class OutputList:
    """Collects outputs into a plain list with JupyterLab's merge rules.

    Handles ``clear_output`` (including ``wait=True``) and display updates by
    ``display_id``.
    """

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self._clear_pending = False
        self._display_index: dict[str, list[int]] = {}

    def add(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self.clear()
            return
        output = to_output(msg_type, content)
        if output is None:
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if msg_type == "update_display_data":
            # only truthy display ids are indexed (below)
            for index in self._display_index.get(display_id or "", []):
                self.outputs[index] = output
            return
        if self._clear_pending:
            self.clear()
        last = self.outputs[-1] if self.outputs else None
        if (
            output["output_type"] == "stream"
            and last is not None
            and last["output_type"] == "stream"
            and last["name"] == output["name"]
        ):
            last["text"] += output["text"]
            return
        self.outputs.append(output)
        if display_id:
            self._display_index.setdefault(display_id, []).append(len(self.outputs) - 1)

    def clear(self) -> None:
        self.outputs.clear()
        self._display_index.clear()
        self._clear_pending = False
