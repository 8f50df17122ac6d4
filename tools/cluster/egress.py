#!/usr/bin/env python
"""The apiserver's only way out: an HTTP CONNECT proxy on a Unix socket.

kube-apiserver sends all its "cluster" traffic (admission webhooks, aggregated APIs, calls to
pods and nodes) through this proxy, configured with an EgressSelectorConfiguration. On a local
plane with fake (kwok) nodes there is nothing real at Service or Pod addresses, and a connection
to such an address must never leave the machine. So the proxy forwards only the targets listed
in its routes file (`"<clusterIP>:<port>": "127.0.0.1:<port>"`, written by the plane when it runs
a real backend on loopback, e.g. pilot-discovery as the sidecar injector) and answers every
other CONNECT with 403, which the apiserver reports as a failed webhook call.

    egress.py SOCKET_PATH ROUTES_JSON
"""

import asyncio
import json
import os
import sys


def load_routes(path):
    try:
        with open(path) as handle:
            routes = json.load(handle)
    except (OSError, ValueError):
        return {}
    return routes if isinstance(routes, dict) else {}


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def handle(client_reader, client_writer, routes_path):
    try:
        request = await client_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    line = request.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    target = parts[1] if len(parts) == 3 and parts[0] == "CONNECT" else None
    destination = load_routes(routes_path).get(target) if target else None
    if destination is None or not destination.startswith("127.0.0.1:"):
        print("refused: {0!r}".format(line), flush=True)
        client_writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        await client_writer.drain()
        client_writer.close()
        return
    host, port = destination.rsplit(":", 1)
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
    except OSError as error:
        print("unreachable: {0} -> {1}: {2}".format(target, destination, error), flush=True)
        client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await client_writer.drain()
        client_writer.close()
        return
    print("forward: {0} -> {1}".format(target, destination), flush=True)
    client_writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await client_writer.drain()
    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


async def serve(socket_path, routes_path):
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    server = await asyncio.start_unix_server(lambda r, w: handle(r, w, routes_path), path=socket_path)
    async with server:
        await server.serve_forever()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: egress.py SOCKET_PATH ROUTES_JSON")
    asyncio.run(serve(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
