"""A provider that fails the Python way: an uncaught exception.

It offers one server, `hostile` (snowflake 700000000000000002, the default);
`get-user-data` and the `boom` timer's `on-timer` raise ZeroDivisionError
from code that really fails, not from a deliberate `Err`. The host must
contain it: the join is answered without members, the failure is logged
with plugin, callback and cause, and later joins are answered as before.

componentize-py does not turn such an exception into the WIT `err`: it
prints the traceback to stderr and traps the instance.
"""

from wit_world import exports
from wit_world.exports.activity import Timer
from wit_world.imports.types import DiscordUser, Event, Server, StaticResponse, User

SNOWFLAKE = "700000000000000002"


def members_per_server(servers: int) -> float:
    # A real computation that divides by zero when there is nothing to share.
    return 1 / servers


class Callbacks(exports.Callbacks):
    def get_server_data(self) -> list[Server]:
        return [
            Server(
                snowflake=SNOWFLAKE,
                id="hostile",
                name="Hostile Python",
                passworded=False,
                is_default=True,
                password=None,
            )
        ]

    def get_user_data(self, server: str) -> list[User]:
        members_per_server(0)
        return []

    def static_request(self, path: str) -> StaticResponse | None:
        return None

    def validate_discord_user(self, token: str, user: DiscordUser, server: str) -> bool:
        return False

    def get_client_id(self, server: str) -> str | None:
        return None


class Activity(exports.Activity):
    def timers(self) -> list[Timer]:
        return [Timer(name="boom", interval_ms=200)]

    def on_timer(self, name: str, servers: list[str]) -> list[Event]:
        members_per_server(0)
        return []
