#!/usr/bin/env python3
"""Run the installed jupyter_server's own tests against ltt-ext.

    python3 tests/upstream/run.py            # the CI job (make test-upstream)
    python3 tests/upstream/run.py --stock    # the same tests without ltt-ext, for comparison
    python3 tests/upstream/run.py -- -k cull # extra pytest arguments after --

The tests are not vendored: the sdist of exactly the installed version is fetched with
``pip download --no-deps --no-binary :all: jupyter_server==<version>`` into ``build/upstream/``
(gitignored) once, and its ``tests/`` extracted beside it. ``upstream_conftest.py`` (copied in as
the root conftest) enables ltt-ext on every server those tests start; ``allowlist.txt`` lists the
tests that poke at upstream internals, each with its reason.

The run is bounded: pytest-timeout per test, and ``--max-seconds`` for the whole run (the
process group is killed past it). Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "build" / "upstream"

MODULES = [
    "tests/services/kernels",
    "tests/services/sessions",
    "tests/base/test_websocket.py",
    "tests/services/api/test_api.py",
    "tests/test_gateway.py",
]

# Upstream's own [tool.pytest.ini_options], minus what does not apply here: its
# `filterwarnings = error` would fail tests on deprecation warnings of unrelated packages
# (pycrdt, jupyter-server-documents) rather than on behaviour; `--doctest-modules` and
# `log_cli` only add noise; its `timeout_method = thread` ends the whole run at the first
# hanging test, `signal` fails that test and goes on.
PYTEST_INI = """\
[pytest]
xfail_strict = false
timeout = {timeout}
timeout_method = signal
filterwarnings =
    ignore::DeprecationWarning
    ignore::ResourceWarning
"""


def fetch_tests(jupyter_server_version: str) -> Path:
    """The extracted sdist folder holding ``tests/`` (downloaded once, then cached)."""
    root = CACHE / f"jupyter_server-{jupyter_server_version}"
    if (root / "tests" / "conftest.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"jupyter_server-{jupyter_server_version}.tar.gz"
    if not sdist.exists():
        print(f"Fetching the jupyter_server {jupyter_server_version} sdist…", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"jupyter_server=={jupyter_server_version}",
                "--dest",
                str(CACHE),
            ],
            check=True,
        )
    partial = CACHE / f".extract-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    prefix = f"jupyter_server-{jupyter_server_version}/tests/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(partial, members=members, filter="data")
    shutil.rmtree(root, ignore_errors=True)
    (partial / root.name).rename(root)
    shutil.rmtree(partial, ignore_errors=True)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", action="store_true", help="run without ltt-ext")
    parser.add_argument("--timeout", type=int, default=100, help="seconds per test (upstream's)")
    parser.add_argument("--max-seconds", type=int, default=900, help="bound for the whole run")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args(argv)

    try:
        root = fetch_tests(version("jupyter_server"))
    except (subprocess.CalledProcessError, OSError, tarfile.TarError) as e:
        print(
            f"upstream tests: could not fetch jupyter_server's sdist ({e}); "
            "`pip download` needs the package index.",
            file=sys.stderr,
        )
        return 2
    shutil.copyfile(HERE / "upstream_conftest.py", root / "conftest.py")
    ini = root / "pytest.ini"
    ini.write_text(PYTEST_INI.format(timeout=args.timeout))

    env = {
        **os.environ,
        "LTT_UPSTREAM_ALLOWLIST": str(HERE / "allowlist.txt"),
        "LTT_UPSTREAM_STOCK": "1" if args.stock else "0",
        "LTT_UPSTREAM_FULL_RUN": "0" if args.pytest_args else "1",
    }
    # Run from the sdist folder with conftests cut there: this repository's own conftest.py
    # (which configures ltt-ext differently) must not apply, and `tests` must be upstream's.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        str(root),
        "--confcutdir",
        str(root),
        "-p",
        "no:cacheprovider",
        "-ra",
        "--durations=5",
        # Unrelated plugins of this environment: hypothesis's terminal summary imports (and
        # AST-compiles) its package after the run, which a timeout's SIGALRM can break.
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:benchmark",
        *(args.pytest_args or MODULES),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=root, env=env, start_new_session=True)
    try:
        code = proc.wait(timeout=args.max_seconds)
    except subprocess.TimeoutExpired:
        print(f"upstream tests: over {args.max_seconds} s, stopping them", flush=True)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        code = 1
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    mode = "stock jupyter_server" if args.stock else "ltt-ext"
    print(f"upstream tests ({mode}): exit {code} in {time.monotonic() - started:.0f} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
