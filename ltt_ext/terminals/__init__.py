"""Terminal awareness: the tutor follows the learner's terminals (jupyter_server_terminals).

- :mod:`.tap` hooks into terminado's PTY fan-out (the output the server already reads for the
  terminal websockets: no second reader of the PTY);
- :mod:`.monitor` turns that output into lines and command blocks (ANSI stripped, password
  prompts' input never recorded), keeps a bounded tail per terminal and detects failed commands;
- :mod:`.hints` words the hint ladder (nudge, hint, explanation) for each kind of failure;
- :mod:`.service` gives those hints in one conversation per terminal (``terminal:<name>``),
  stored and pushed like a notebook's, with or without a browser attached.
"""
