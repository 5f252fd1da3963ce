"""d-back, the Python reference server, run for the side-by-side bench.

Its own mock servers and members are served through callbacks (with no
callbacks d-back starts random activity for every connection, which would
pollute the measurement), its prints are silenced, and a small HTTP
endpoint makes it broadcast:

    POST /broadcast  {"server": ..., "uid": ..., "message": ..., "channel": ...}

Usage: python dback_runner.py WS_PORT TRIGGER_PORT
"""

import asyncio
import builtins
import json
import sys

from d_back.server import WebSocketServer


async def main(ws_port: int, trigger_port: int) -> None:
    builtins.print = lambda *args, **kwargs: None
    server = WebSocketServer(port=ws_port, host="127.0.0.1")
    mock = server.mock_provider

    async def servers():
        return mock.get_mock_server_data()

    async def users(server_id):
        return mock.get_mock_user_data(server_id)

    server.on_get_server_data(servers)
    server.on_get_user_data(users)

    async def trigger(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip() or 0)
                body = json.loads(await reader.readexactly(length)) if length else {}
                await server.broadcast_message(
                    body["server"], body["uid"], body["message"], body.get("channel", "")
                )
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, KeyError, ValueError):
            pass
        finally:
            writer.close()

    await asyncio.start_server(trigger, "127.0.0.1", trigger_port)
    await server.run_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
