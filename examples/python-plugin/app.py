"""The smallest useful d-back provider in Python: one server whose members
come from the plugin's config (`members = "alice,bob"`), and a greeting
every `greet_ms` milliseconds when set."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.activity import Timer
from wit_world.imports import host
from wit_world.imports.types import (
    DiscordUser,
    Event,
    Event_Message,
    MessageEvent,
    Server,
    StaticResponse,
    Status,
    User,
)

SNOWFLAKE = "100000000000000001"


# One class per exported interface, named after it.
class Callbacks(exports.Callbacks):
    def get_server_data(self) -> list[Server]:
        return [
            Server(
                snowflake=SNOWFLAKE,
                id="hello",
                name="Hello World",
                passworded=False,
                is_default=True,
                password=None,  # option<string>: None is `none`
            )
        ]

    def get_user_data(self, server: str) -> list[User]:
        if server != SNOWFLAKE:
            return []
        members = host.config_get("members") or "alice,bob"
        names = [name.strip() for name in members.split(",") if name.strip()]
        if not names:
            # Raising Err is how a callback returns the WIT `err`: the host
            # logs the reason and answers the browser with no members.
            raise Err("config value `members` names nobody")
        return [
            User(uid=str(1000 + i), username=name, status=Status.ONLINE, role_color="#7289da")
            for i, name in enumerate(names)
        ]

    def static_request(self, path: str) -> StaticResponse | None:
        return None  # the host serves its static files

    def validate_discord_user(self, token: str, user: DiscordUser, server: str) -> bool:
        return False

    def get_client_id(self, server: str) -> str | None:
        return None


class Activity(exports.Activity):
    def timers(self) -> list[Timer]:
        every = host.config_get("greet_ms")
        if every is None or not every.isdigit():
            return []
        return [Timer(name="greet", interval_ms=int(every))]

    def on_timer(self, name: str, servers: list[str]) -> list[Event]:
        host.log(host.Level.DEBUG, "greeting")
        # A variant case is a class wrapping the case's record.
        return [
            Event_Message(MessageEvent(server=server, uid="1000", message="hello!", channel="1"))
            for server in servers
        ]
