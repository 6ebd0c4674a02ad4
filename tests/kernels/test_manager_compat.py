"""ltt-ext's kernel manager keeps the parts of upstream's contract other connection classes use."""


async def test_buffered_streams_of_upstream_connections_are_closed(jp_serverapp, start_kernel):
    # Upstream's ZMQ websocket connection hands its streams to start_buffering on disconnect,
    # which closes the ones buffered before through stop_buffering (nextgen made that a no-op:
    # upstream's fd-leak test counted 8 leaked fds per disconnect).
    mkm = jp_serverapp.kernel_manager
    kid = await start_kernel()

    km = mkm.get_kernel(kid)

    def streams():  # what upstream's connection opens (ZMQStreams, from the kernel's manager)
        return {name: getattr(km, f"connect_{name}")() for name in ("shell", "iopub", "stdin", "control")}

    first, second = streams(), streams()
    mkm.start_buffering(kid, "session-a", first)
    mkm.start_buffering(kid, "session-b", second)
    assert all(s.closed() for s in first.values())
    assert not any(s.closed() for s in second.values())
    mkm.stop_buffering(kid)
    assert all(s.closed() for s in second.values())
