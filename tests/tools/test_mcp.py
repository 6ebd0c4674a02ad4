"""MCP: ltt-ext's tools through jupyter-server-mcp (discovered by entry point), used with the `mcp`
Python client over streamable HTTP against a real server, and refused without the server's token."""

import importlib.metadata
import json

import httpx2
import nbformat
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ltt_ext.testing import read_notebook, wait_until


@pytest.fixture
def jp_server_config(ltt_tutored_server_config):
    config = ltt_tutored_server_config
    config["ServerApp"]["jpserver_extensions"]["jupyter_server_mcp"] = True
    config["MCPExtensionApp"] = {"mcp_port": 0}
    config["MCPServer"] = {"host": "127.0.0.1"}
    return config


@pytest.fixture
def mcp_url(jp_serverapp, jp_asyncio_loop):
    # pytest-jupyter starts the server without running extensions' start hooks: start this one.
    manager = jp_serverapp.extension_manager
    jp_asyncio_loop.run_until_complete(manager.start_extension("jupyter_server_mcp"))
    server = manager.extension_apps["jupyter_server_mcp"]
    (mcp_app,) = server if isinstance(server, set) else [server]
    return f"http://127.0.0.1:{mcp_app.mcp_server_instance.port}/mcp"


def session(url, token):
    headers = {"Authorization": f"token {token}"} if token is not None else {}
    return httpx2.AsyncClient(headers=headers, timeout=60)


async def call(url, token, name, args):
    async with session(url, token) as http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            if name is None:
                return await s.list_tools()
            return await s.call_tool(name, args)


def payload(result):
    assert not result.isError, result.content
    return result.structuredContent if result.structuredContent else json.loads(result.content[0].text)


def test_entry_points_are_registered():
    tools = {e.value for e in importlib.metadata.entry_points(group="jupyter_server_mcp.tools")}
    middleware = {e.value for e in importlib.metadata.entry_points(group="jupyter_server_mcp.middleware")}
    assert "ltt_ext.tools.mcp:mcp_tools" in tools
    assert "ltt_ext.tools.mcp:JupyterTokenAuth" in middleware


async def test_tools_are_listed_with_the_token(mcp_url, jp_serverapp):
    listed = await call(mcp_url, jp_serverapp.identity_provider.token, None, None)
    names = {t.name for t in listed.tools}
    assert {
        "ltt_read_notebook",
        "ltt_run_cell",
        "ltt_insert_cell",
        "ltt_ask_tutor",
        "ltt_run_in_sidecar",
    } <= names
    schema = next(t for t in listed.tools if t.name == "ltt_run_cell").inputSchema
    assert "path" in schema["properties"] and "path" in schema["required"]


@pytest.mark.parametrize("token", [None, "not-the-token", ""])
async def test_no_token_or_a_wrong_one_is_refused(mcp_url, jp_root_dir, token):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "nb.ipynb")
    with pytest.raises(Exception) as e:
        await call(mcp_url, token, "ltt_insert_cell", {"path": "nb.ipynb", "source": "import os"})
    assert (
        "token" in repr(e.value).lower()
        or "refused" in repr(e.value).lower()
        or "author" in repr(e.value).lower()
    )
    assert nbformat.read(jp_root_dir / "nb.ipynb", 4).cells == []  # nothing ran


async def test_identify_accepts_the_token_and_bearer(jp_serverapp):
    from ltt_ext.tools.mcp import NotAuthenticated, identify

    token = jp_serverapp.identity_provider.token
    assert await identify(jp_serverapp, f"token {token}")
    assert await identify(jp_serverapp, f"Bearer {token}")
    for bad in ("", "token nope", f"token {token}x", "Basic abc"):
        with pytest.raises(NotAuthenticated):
            await identify(jp_serverapp, bad)


async def test_a_cell_run_lands_in_the_ipynb(mcp_url, jp_serverapp, jp_root_dir, jp_fetch):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('ran by an agent')\n6 * 7")
    cell["id"] = "agent-cell"
    nb.cells.append(cell)
    nbformat.write(nb, jp_root_dir / "agent.ipynb")
    token = jp_serverapp.identity_provider.token

    result = payload(
        await call(mcp_url, token, "ltt_run_cell", {"path": "agent.ipynb", "cell_id": "agent-cell"})
    )
    assert result["status"] == "ok" and result["execution_count"] == 1
    assert result["outputs"] == ["ran by an agent\n", "42"]
    # a session was started for the notebook (it had none)
    sessions = json.loads((await jp_fetch("api", "sessions")).body)
    assert [s["path"] for s in sessions] == ["agent.ipynb"]

    def on_disk():
        nb = read_notebook(jp_root_dir, "agent.ipynb")  # None while a save is halfway
        cells = nb.cells if nb is not None else [{}]
        outs = cells[0].get("outputs") or []
        return outs if len(outs) == 2 and cells[0].get("execution_count") == 1 else None

    outs = await wait_until(on_disk, timeout=30)
    assert outs[0]["text"] == "ran by an agent\n" and outs[1]["data"]["text/plain"] == "42"


async def test_insert_cell_and_read_it_back(mcp_url, jp_serverapp, jp_root_dir):
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / "new.ipynb")
    token = jp_serverapp.identity_provider.token
    inserted = payload(
        await call(mcp_url, token, "ltt_insert_cell", {"path": "new.ipynb", "source": "x = 1"})
    )
    assert inserted["written_to"] == "file" and inserted["index"] == 0
    cells = nbformat.read(jp_root_dir / "new.ipynb", 4).cells
    assert [(c.id, c.source) for c in cells] == [(inserted["cell_id"], "x = 1")]
    read = payload(await call(mcp_url, token, "ltt_read_notebook", {"path": "new.ipynb"}))
    assert [c["source"] for c in read["cells"]] == ["x = 1"]


async def test_interrupt_needs_the_learners_permission(
    mcp_url, jp_serverapp, jp_root_dir, jp_fetch, ltt_notebook
):
    nb = await ltt_notebook("busy.ipynb", {"c1": "import time\nwhile True:\n    time.sleep(0.05)"})
    token = jp_serverapp.identity_provider.token
    km = jp_serverapp.kernel_manager.get_kernel(nb.kernel_id)
    await nb.run_cell("c1")
    await wait_until(lambda: km.execution_state == "busy")

    refused = await call(mcp_url, token, "ltt_interrupt_cell", {"path": "busy.ipynb"})
    assert refused.isError and "permission" in refused.content[0].text
    assert km.execution_state == "busy"

    r = await jp_fetch(
        "ltt",
        "api",
        "tutor",
        "permissions",
        method="PUT",
        body=json.dumps({"path": "busy.ipynb", "interrupt": True}),
    )
    assert json.loads(r.body)["interrupt"] is True
    done = payload(await call(mcp_url, token, "ltt_interrupt_cell", {"path": "busy.ipynb"}))
    assert done["interrupted"] is True
    await wait_until(lambda: km.execution_state == "idle", timeout=30)


async def test_tool_errors_are_mcp_errors(mcp_url, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    result = await call(mcp_url, token, "ltt_read_notebook", {"path": "../etc/passwd"})
    assert result.isError and "path" in result.content[0].text
