"""The config provider: servers, members and client ids straight from the
operator's configuration, and a timed presence rotation.

Its behaviour is specified in plugins/CONFIG-PROVIDER.md, which the Rust,
JavaScript and Go versions follow too: any difference in answers is a bug.

componentize-py maps the WIT like this: each exported interface is a class
named after it (`Callbacks`, `Activity`) subclassing the generated protocol;
a function's `ok` value is simply returned, and `err` is raised as
`componentize_py_types.Err(reason)`; `option` is `None` or the value; enums
are Python `Enum`s; records are dataclasses; variant cases are dataclasses
named `Event_Presence` and so on, wrapping the case's value.
"""

import json
from dataclasses import dataclass

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.activity import Timer
from wit_world.imports import host
from wit_world.imports.types import (
    DiscordUser,
    Event,
    Event_Presence,
    PresenceEvent,
    Server,
    StaticResponse,
    Status,
    User,
)

PRESENCE_TIMER = "presence"

# Presence order the timed rotation walks through, by config name.
STATUS_NAMES = ["online", "idle", "dnd", "offline"]
STATUSES = [Status.ONLINE, Status.IDLE, Status.DND, Status.OFFLINE]

# Color of members whose config names none (Discord's neutral grey).
NEUTRAL_COLOR = "#99aab5"

# Largest value of the WIT `u32` a timer interval is.
U32_MAX = 0xFFFFFFFF


class ConfigError(Exception):
    """Raised by the parsers below, turned into `err` before leaving the module."""


@dataclass
class ServerEntry:
    """One parsed entry of `servers`, with every default already applied."""

    snowflake: str
    id: str
    name: str
    is_default: bool
    password: str | None
    allowed_users: list[str]
    passworded: bool
    client_id: str | None
    # Kept as WIT `user` records, ready to be returned as they are.
    users: list[User]


@dataclass
class Config:
    servers: list[ServerEntry]
    client_id: str | None

    def server(self, snowflake):
        """The first configured server with this snowflake, or None."""
        for server in self.servers:
            if server.snowflake == snowflake:
                return server
        return None


# The parsed configuration (a Config, or the reason it is unusable as a str),
# read from the host on first use. componentize-py runs this module's top
# level once at build time and snapshots the result, when there is no host
# configuration yet, so it must not be read at import. Within an instance
# it cannot change, and parsing it on every call would dominate the cost of
# answering.
_cached = None

# Firings of the presence timer handled by this instance (`n` in the spec).
# A fresh instance starts the rotation again, which is harmless for a demo.
_firings = 0


def config():
    """This instance's configuration; raises `Err` when it is unusable."""
    global _cached
    if _cached is None:
        _cached = load_config()
    if isinstance(_cached, str):
        raise Err(_cached)
    return _cached


def load_config():
    text = host.config_get("servers")
    if text is None:
        return "config key `servers` is not set"
    try:
        servers = parse_servers(json.loads(text, parse_constant=reject_constant))
    except (ValueError, RecursionError, ConfigError) as e:
        # json.JSONDecodeError is a ValueError; absurdly deep nesting is a
        # RecursionError.
        return f"config key `servers` is not valid: {e}"
    return Config(servers, host.config_get("client_id"))


def reject_constant(name):
    # Python's json accepts NaN and Infinity, which are not JSON.
    raise ConfigError(f"`{name}` is not JSON")


# Strict checks: a value of the wrong type anywhere makes the whole list
# invalid rather than being skipped or coerced, so an operator's typo shows
# up in the log instead of as a silently missing server or member. Fields
# not listed in the spec are ignored. For the fields that may be left out
# without a fixed default (name, password, passworded, client_id, color),
# JSON `null` counts as left out, as in the other versions.


def parse_servers(value):
    if type(value) is not list:
        raise ConfigError(f"expected a list of servers, found {type_name(value)}")
    servers = []
    for i, entry in enumerate(value):
        try:
            servers.append(parse_server(entry))
        except ConfigError as e:
            raise ConfigError(f"server {i}: {e}") from None
    return servers


def parse_server(entry):
    expect_object(entry, "a server")
    # Checked in the spec's order, so the first problem is the one reported.
    snowflake = required(entry, "snowflake", str)
    id = required(entry, "id", str)
    name = optional(entry, "name", str)
    if name is None:
        name = id
    is_default = with_default(entry, "default", bool, False)
    password = optional(entry, "password", str)
    allowed_users = with_default(entry, "allowed_users", list, [])
    for i, uid in enumerate(allowed_users):
        if type(uid) is not str:
            raise ConfigError(f"`allowed_users` {i}: expected a string, found {type_name(uid)}")
        check_text(uid, "allowed_users")
    passworded = optional(entry, "passworded", bool)
    if passworded is None:
        passworded = password is not None or len(allowed_users) > 0
    client_id = optional(entry, "client_id", str)
    users = []
    for i, user in enumerate(with_default(entry, "users", list, [])):
        try:
            users.append(parse_user(user))
        except ConfigError as e:
            raise ConfigError(f"user {i}: {e}") from None
    return ServerEntry(
        snowflake=snowflake,
        id=id,
        name=name,
        is_default=is_default,
        password=password,
        allowed_users=allowed_users,
        passworded=passworded,
        client_id=client_id,
        users=users,
    )


def parse_user(entry):
    expect_object(entry, "a user")
    uid = required(entry, "uid", str)
    username = required(entry, "username", str)
    status = with_default(entry, "status", str, "offline")
    if status not in STATUS_NAMES:
        raise ConfigError(f'`status`: expected one of {", ".join(STATUS_NAMES)}, found "{status}"')
    # Only the type is checked, like the other versions: a color that is not
    # `#rrggbb` reaches the host, which refuses that member list and logs why.
    color = optional(entry, "color", str)
    if color is None:
        color = NEUTRAL_COLOR
    return User(uid=uid, username=username, status=STATUSES[STATUS_NAMES.index(status)],
                role_color=color)


def expect_object(value, what):
    if type(value) is not dict:
        raise ConfigError(f"expected {what} (an object), found {type_name(value)}")


def required(entry, key, kind):
    if key not in entry:
        raise ConfigError(f"`{key}` is missing")
    return checked(entry, key, kind)


def optional(entry, key, kind):
    if entry.get(key) is None:
        return None
    return checked(entry, key, kind)


def with_default(entry, key, kind, fallback):
    return checked(entry, key, kind) if key in entry else fallback


def checked(entry, key, kind):
    value = entry[key]
    # `type(...) is`, not isinstance: bool is a subclass of int in Python, and
    # an exact check keeps every JSON type apart whatever is asked for.
    if type(value) is not kind:
        raise ConfigError(f"`{key}`: expected {TYPE_NAMES[kind]}, found {type_name(value)}")
    if kind is str:
        check_text(value, key)
    return value


def check_text(value, key):
    # json.loads lets a lone surrogate escape ("\ud800") through; such a str
    # cannot be sent as a WIT string, and failing there would trap instead of
    # naming the problem.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"`{key}`: not valid Unicode text") from None


# What each Python type parsed from JSON is called in error messages.
TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def type_name(value):
    return TYPE_NAMES.get(type(value), type(value).__name__)


def presence_interval_ms():
    """The presence timer's interval, when the operator asked for a usable one."""
    text = host.config_get("presence_interval_ms")
    if text is None:
        return None
    # Decimal digits only (an optional `+`), like an unsigned integer parse:
    # int() alone would also accept "1_000" or non-ASCII digits.
    digits = text.strip()
    body = digits[1:] if digits.startswith("+") else digits
    if body and body.isascii() and body.isdigit():
        ms = int(body)
        if 100 <= ms <= U32_MAX:
            return ms
    host.log(
        host.Level.WARN,
        f"config key `presence_interval_ms` must be an integer of at least 100, "
        f"got `{text}`: no presence timer",
    )
    return None


class Callbacks(exports.Callbacks):
    def get_server_data(self) -> list[Server]:
        return [
            Server(
                snowflake=s.snowflake,
                id=s.id,
                name=s.name,
                passworded=s.passworded,
                is_default=s.is_default,
                password=s.password,
            )
            for s in config().servers
        ]

    def get_user_data(self, server: str) -> list[User]:
        entry = config().server(server)
        return [] if entry is None else list(entry.users)

    def static_request(self, path: str) -> StaticResponse | None:
        # The host serves its static files.
        return None

    def validate_discord_user(self, token: str, user: DiscordUser, server: str) -> bool:
        # No network here, so the token cannot be checked with Discord: the
        # id the browser claims is trusted (see the spec).
        entry = config().server(server)
        return entry is not None and token != "" and user.id in entry.allowed_users

    def get_client_id(self, server: str) -> str | None:
        c = config()
        entry = c.server(server)
        if entry is not None and entry.client_id is not None:
            return entry.client_id
        return c.client_id


class Activity(exports.Activity):
    def timers(self) -> list[Timer]:
        interval_ms = presence_interval_ms()
        return [] if interval_ms is None else [Timer(name=PRESENCE_TIMER, interval_ms=interval_ms)]

    def on_timer(self, name: str, servers: list[str]) -> list[Event]:
        global _firings
        if name != PRESENCE_TIMER:
            return []
        n = _firings
        _firings += 1
        c = config()
        events = []
        for snowflake in servers:
            entry = c.server(snowflake)
            if entry is None or not entry.users:
                continue
            count = len(entry.users)
            user = entry.users[n % count]
            step = (STATUSES.index(user.status) + 1 + n // count) % len(STATUSES)
            events.append(
                Event_Presence(
                    PresenceEvent(
                        server=entry.snowflake,
                        uid=user.uid,
                        status=STATUSES[step],
                        username=user.username,
                        role_color=user.role_color,
                        remove=False,
                    )
                )
            )
        return events
