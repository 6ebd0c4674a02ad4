"""ltt-ext's tool layer: one set of tools for the tutor's LLM, MCP clients and the learner's panel.

- :mod:`.base`: a tool's definition (schema, callers, authorization, size cap) and the registry;
- :mod:`.layer`: the tools themselves, configured with ``c.Tools.*``;
- :mod:`.sidecar`: sidecar kernels (``c.Sidecars.*``);
- :mod:`.interrupt`: interrupting a runaway cell, with its policy (used by the watchdog too);
- :mod:`.mcp`: the tools for jupyter-server-mcp, and its token check.
"""
