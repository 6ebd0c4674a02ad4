"""ltt-ext benchmarks: upstream jupyter-server vs stock nextgen-kernels-api vs ltt-ext.

Run ``python -m benchmarks --help``.  Everything runs against real ``jupyter server``
subprocesses on 127.0.0.1 that the harness starts and stops itself.
"""
