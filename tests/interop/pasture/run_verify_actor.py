"""Run fediverse-pasture's verify_actor against actor URIs and print its results as one JSON line.

    .pasture-venv/bin/python pasture/run_verify_actor.py [--only alice,bob,...] URI [URI ...]

Runs inside tests/interop/.pasture-venv (not fedisupport's venv). verify_actor is a Quart app
(`fediverse_pasture.verify_actor.build_app`) that serves six test actors of its own (alice ...
frank, each with a fresh RSA key) and, for each URI POSTed to its front page, has every one of
them fetch the remote actor and POST to its inbox:

    alice, dean   fetch the actor unsigned; POST an unsigned EchoRequest (should be refused)
    bob, emily    fetch it unsigned; POST a Like signed with their key (draft-cavage)
    claire, frank as bob, and their own actor document answers only signed GETs, so the server
                  under test must sign the key fetch it makes to verify their POST
    webfinger     the actor's preferredUsername@host resolves back to the actor by WebFinger

alice, bob and claire have WebFinger entries on the pasture server; dean, emily and frank have none.
"GET Actor" is true when the actor document with its inbox was fetched, "POST Inbox" when the
inbox answered 1xx-3xx (a 400 to a signed POST counts as a pass: the signature was accepted).

Loopback only: the pasture CLI (`python -m fediverse_pasture.verify_actor`) binds 0.0.0.0, so this
script builds the same app and serves it with uvicorn on a socket bound to 127.0.0.1; the app is
built with https=False so the pasture actors' ids are http://127.0.0.1:PORT/NAME. The URIs given
must be on 127.0.0.1 too.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import tempfile
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10  # seconds, for each request the verifier makes


def _check_loopback(uri: str) -> None:
    host = urlsplit(uri).hostname if "://" in uri else uri.rsplit("@", 1)[-1].split(":")[0]
    if host != "127.0.0.1":
        sys.exit(f"refusing a non-loopback target: {uri}")


async def serve_and_verify(uris: list[str], only: list[str]) -> dict:
    import uvicorn
    from fediverse_pasture.runner.verify_actor import VerifyActorRunner
    from fediverse_pasture.types import ApplicationAdapterForActor
    from fediverse_pasture.verify_actor import build_app

    logging.getLogger().setLevel(logging.WARNING)  # importing verify_actor sets DEBUG everywhere

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = build_app(False, f"127.0.0.1:{port}", False, REQUEST_TIMEOUT)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        results = {}
        # verify_actor reads `only_NAME` query arguments to run with some of its actors only.
        query = "&".join(f"only_{name}=1" for name in only)
        for uri in uris:
            runner = VerifyActorRunner(ApplicationAdapterForActor(actor_uri=uri, application_name=uri),
                                       verify_actor_url=f"http://127.0.0.1:{port}/" + (f"?{query}" if query else ""))
            outcome = await runner.run()
            results[uri] = {"table": outcome["verify_actor_table"], "messages": json.loads(outcome["messages"])}
        return {"pasture": f"http://127.0.0.1:{port}", "results": results}
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def main() -> None:
    args = sys.argv[1:]
    only: list[str] = []
    if args[:1] == ["--only"] and len(args) > 1:
        only, args = args[1].split(","), args[2:]
    uris = args
    if not uris:
        sys.exit(__doc__)
    for uri in uris:
        _check_loopback(uri)
    os.chdir(tempfile.mkdtemp(prefix="pasture-"))  # build_app writes data.toml (the keys) to the cwd
    print(json.dumps(asyncio.run(serve_and_verify(uris, only))))


if __name__ == "__main__":
    main()
