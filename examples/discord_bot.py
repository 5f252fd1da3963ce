"""Feed a Discord server's live presence and messages into d-back.

A discord.py bot that forwards every presence change and message of the
guilds it is in to d-back's broadcast API, so the actors in d-zone change
look and speak as your members do.

    pip install discord.py aiohttp
    export DISCORD_BOT_TOKEN=...        # the bot's token
    export D_BACK_ADMIN_TOKEN=...       # the same token d-back was started with
    export D_BACK_URL=http://localhost:3000
    python examples/discord_bot.py

The bot needs the Presence and Server Members intents and the Message
Content intent (Discord developer portal, Bot tab).
"""

import os

import aiohttp
import discord

D_BACK_URL = os.environ.get("D_BACK_URL", "http://localhost:3000").rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ['D_BACK_ADMIN_TOKEN']}"}

intents = discord.Intents.default()
intents.presences = True
intents.members = True
intents.message_content = True
client = discord.Client(intents=intents)
session: aiohttp.ClientSession | None = None


async def broadcast(kind: str, body: dict) -> None:
    """POSTs one broadcast; d-back answers with how many browsers got it."""
    assert session is not None
    async with session.post(f"{D_BACK_URL}/api/broadcast/{kind}", json=body, headers=HEADERS) as reply:
        if reply.status != 200:
            print(f"d-back refused a {kind} broadcast: {reply.status} {await reply.text()}")


def role_color(member: discord.Member) -> str | None:
    color = member.color
    return None if color.value == 0 else f"#{color.value:06x}"


def status(member: discord.Member) -> str:
    value = str(member.status)
    return value if value in ("online", "idle", "dnd", "offline") else "offline"


@client.event
async def on_ready() -> None:
    global session
    session = aiohttp.ClientSession()
    print(f"forwarding {len(client.guilds)} guild(s) to {D_BACK_URL}")


@client.event
async def on_presence_update(_before: discord.Member, after: discord.Member) -> None:
    body = {
        "server": str(after.guild.id),
        "uid": str(after.id),
        "status": status(after),
        "username": after.display_name,
    }
    if (color := role_color(after)) is not None:
        body["roleColor"] = color
    await broadcast("presence", body)


@client.event
async def on_member_remove(member: discord.Member) -> None:
    await broadcast(
        "presence",
        {"server": str(member.guild.id), "uid": str(member.id), "status": "offline", "delete": True},
    )


@client.event
async def on_message(message: discord.Message) -> None:
    if message.guild is None or message.author.bot:
        return
    await broadcast(
        "message",
        {
            "server": str(message.guild.id),
            "uid": str(message.author.id),
            "message": message.clean_content[:2000],
            "channel": str(message.channel.id),
        },
    )


client.run(os.environ["DISCORD_BOT_TOKEN"])
