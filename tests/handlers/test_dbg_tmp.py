import json, time, asyncio, random, logging, urllib.parse
import importlib.util, pathlib
_s = importlib.util.spec_from_file_location("fz", pathlib.Path(__file__).with_name("test_fuzz.py")); fz = importlib.util.module_from_spec(_s); _s.loader.exec_module(fz)
from tornado.httpclient import AsyncHTTPClient
readable_and_broken_files = fz.readable_and_broken_files
post_requests, encode, NOT_NOTEBOOKS, VALUES, SINCE_VALUES = fz.post_requests, fz.encode, fz.NOT_NOTEBOOKS, fz.VALUES, fz.SINCE_VALUES
async def test_dbg(jp_http_port, jp_base_url, jp_auth_header, notebook_session, readable_and_broken_files, caplog):
    caplog.set_level(logging.WARNING)
    path, cells = readable_and_broken_files
    session, room = await notebook_session(path)
    kid = session["kernel"]["id"]
    client = fz.Client(jp_http_port, jp_base_url, dict(jp_auth_header))
    execute = f"ltt/api/kernels/{kid}/execute"
    rng = random.Random(9)
    api = "ltt/api/tutor"
    requests = [
        # "nope" is no cell of the notebook: a run that passes validation cannot change it
        *post_requests(execute, {"code": "1+1", "timeout": 2, "cell_id": "nope", "path": path}, rng),
        *post_requests(f"{api}/ask", {"path": path, "text": "why?", "cell_id": cells[1], "consent": True}, rng),
        *post_requests(f"{api}/more", {"path": path, "cell_id": cells[1], "consent": False}, rng),
        *post_requests(f"{api}/stop", {"path": path, "id": "m-unknown"}, rng),
        # paths with every code (not/executable) note: code 1+1 in a cell the notebook does not have
        *(("POST", execute, encode({"code": "1+1", "cell_id": "nope", "path": p})) for p in NOT_NOTEBOOKS),
        *(("POST", f"ltt/api/kernels/{k}/execute", encode({"code": "1"}))
          for k in ("0000", "%C3%A9", "%F0%9F%98%80", "a" * 5000)),
        # wrong methods
        ("GET", execute, None), ("PUT", f"{api}/ask", b"{}"), ("DELETE", f"{api}/history", None),
        ("GET", f"{api}/stop", None), ("PATCH", f"{api}/info", b"[["),
        # query strings: bad paths, bad numbers, bytes that are not UTF-8
        *(("GET", f"{api}/history", None, urllib.parse.urlencode({"path": v}, errors="surrogatepass"))
          for v in VALUES if isinstance(v, str)),
        *(("GET", f"{api}/history", None, urllib.parse.urlencode({"path": path, "since": s})) for s in SINCE_VALUES),
        *(("GET", f"{api}/history", None, q) for q in (
            "path=%ED%A0%80", "path=%FF%FE", "path=%00", f"path={path}&path=%ED%A0%80", "path", "since=1",
            f"path={path}&since=%ED%A0%80")),
        ("GET", f"{api}/info", None, "path=%ED%A0%80&x=" + "y" * 10_000),
    ]

    for i in range(0, len(requests), 25):
        await client.all(requests[i:i+25], concurrency=4)
        t = time.monotonic()
        r = await AsyncHTTPClient().fetch(f"http://{client.base}{execute}", method="POST", body=encode({"code": "1+1", "timeout": 3}), headers=client.headers)
        print("DBG", i, round(time.monotonic() - t, 2), r.body[:40], requests[i][:2], str(requests[i][2])[:100], flush=True)
