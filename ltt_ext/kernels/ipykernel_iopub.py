"""An IPython extension the server loads into ipykernel kernels: IOPub keeps what it cannot send yet.

ipykernel leaves ZMQ's default send high-water mark (1000 messages) on its IOPub
socket, and a PUB socket *drops* what does not fit. With 20 kernels printing at full
speed on 2 cores, a kernel's own ZMQ I/O thread fell behind its Python threads and
whole blocks of lines vanished (measured with plain jupyter_client too, no server in
between: up to 501 of 2000 lines and the idle status). libzmq 4.3 applies a new
high-water mark to the connections already made, so setting it once the kernel runs
is enough. The server's side of the same pipe is ``SharedKernelClient.iopub_hwm``.
"""

from __future__ import annotations

import os

ENV = "LTT_KERNEL_IOPUB_HWM"  # set by the kernel manager for the kernels it starts


def load_ipython_extension(ipython) -> None:
    try:
        import zmq

        hwm = int(os.environ.get(ENV, "100000"))
        socket = ipython.kernel.iopub_thread.socket
        socket.setsockopt(zmq.SNDHWM, hwm)
    except Exception:  # another kernel flavour, an older ipykernel: leave it as it is
        pass
