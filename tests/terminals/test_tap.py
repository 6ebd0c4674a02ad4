"""The tap in terminado's fan-out, against a stand-in manager with terminado's shape: terminals
present and future are tapped once, the websocket clients keep getting every chunk, and nothing the
tutor does can raise into terminado's read loop."""

import logging

from ltt_ext.terminals.tap import TerminalTap, TerminalTaps


class Pty:
    def __init__(self, name):
        self.term_name = name
        self.clients = []


class Manager:
    """terminado's NamedTermManager, as far as the tap is concerned."""

    def __init__(self):
        self.terminals = {"1": Pty("1")}

    def start_reading(self, pty):
        self.started = pty

    def new(self, name):
        pty = self.terminals[name] = Pty(name)
        self.start_reading(pty)
        return pty

    def pty_read(self, pty, text):  # terminado's loop: every client, in order
        for client in pty.clients:
            client.on_pty_read(text)


class Socket:
    size = (24, 80)

    def __init__(self):
        self.got = []

    def on_pty_read(self, text):
        self.got.append(text)


def test_terminals_present_and_future_are_tapped_once():
    seen, closed = [], []
    taps = TerminalTaps(lambda name, text: seen.append((name, text)), closed.append)
    manager = Manager()
    assert taps.install(manager) and taps.install(manager)  # idempotent
    pty2 = manager.new("2")
    assert manager.started is pty2  # terminado's own start_reading still ran
    for pty in manager.terminals.values():
        assert sum(isinstance(c, TerminalTap) for c in pty.clients) == 1
    taps.attach(pty2)
    assert sum(isinstance(c, TerminalTap) for c in pty2.clients) == 1
    socket = Socket()
    pty2.clients.append(socket)
    manager.pty_read(pty2, "hello\r\n")
    assert seen == [("2", "hello\r\n")] and socket.got == ["hello\r\n"]
    assert TerminalTap.size == (None, None)  # resize_to_smallest skips it
    pty2.clients[0].on_pty_died()
    assert closed == ["2"] and not taps.running("2") and taps.running("1")


def test_a_failing_tutor_never_starves_the_websockets(caplog):
    def boom(*args):
        raise RuntimeError("tutor bug")

    taps = TerminalTaps(boom, boom, logging.getLogger("test"))
    manager = Manager()
    taps.install(manager)
    socket = Socket()
    pty = manager.terminals["1"]
    pty.clients.append(socket)
    manager.pty_read(pty, "still delivered")
    pty.clients[0].on_pty_died()
    assert socket.got == ["still delivered"]


def test_not_a_terminado_manager():
    taps = TerminalTaps(lambda *a: None, lambda *a: None)
    assert not taps.install(object()) and not taps.install(None)
    assert taps.cwd("nope") is None
