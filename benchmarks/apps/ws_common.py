"""Shared pieces of the real-time benchmark apps: the typed message, the payloads and the paths.

Every WebSocket app module (``ws_*.py``) exposes ``create_app()`` serving three routes:
``/echo`` sends every text message back as it came; ``/json-untyped`` parses every message as
JSON and sends the parsed value back as JSON, with no validation; ``/json`` validates every
message as a `ChatMessage` (one pass from the raw JSON text) and sends the validated model back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ECHO_PATH = "/echo"
"""The untyped echo route: text in, the same text out."""

JSON_PATH = "/json"
"""The typed echo route: a `ChatMessage` in, validated, sent back as JSON."""

UNTYPED_PATH = "/json-untyped"
"""The untyped JSON echo route: any JSON in, parsed, sent back as JSON."""

TEXT_PAYLOAD = ("lanner websocket echo benchmark " * 40)[:1024]
"""The 1 KiB text message of the ``ws-echo`` scenario (ASCII, so 1,024 bytes on the wire too)."""


class Author(BaseModel):
    """Who wrote a message."""

    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=80)
    avatar: str
    roles: list[str] = []


class Attachment(BaseModel):
    """A file or link attached to a message."""

    kind: Literal["image", "file", "link"]
    url: str
    size: int = Field(ge=0)
    title: str | None = None


class ChatMessage(BaseModel):
    """A chat message, about 1 KiB as compact JSON: the typed message of the ``ws-json`` scenario."""

    type: Literal["message"]
    id: str = Field(min_length=8, max_length=64)
    room: str
    sent_at: datetime
    author: Author
    text: str = Field(max_length=4000)
    mentions: list[int] = []
    attachments: list[Attachment] = []
    reply_to: str | None = None
    edited: bool = False
    reactions: dict[str, int] = {}


JSON_MESSAGE = ChatMessage(
    type="message",
    id="msg-7f3a9c2e-41d8-4b6a-9e0f-2c5d8a1b3e47",
    room="engineering/platform-releases",
    sent_at=datetime.fromisoformat("2026-12-05T10:41:07.250000+00:00"),
    author=Author(
        id=5512,
        name="Ada Lovelace",
        avatar="https://cdn.example.com/avatars/5512/ada-lovelace-256x256.png",
        roles=["maintainer", "release-manager"],
    ),
    text=(
        "Release 4.2 is tagged and the wheels are on the staging index. Before we promote it, could "
        "everyone who owns a service run their smoke tests against staging and reply here with the "
        "result? The sessions migration is reversible, but it takes four minutes on the large "
        "shard: keep writes low in the window."
    ),
    mentions=[1042, 2203, 3317, 4480],
    attachments=[
        Attachment(
            kind="file",
            url="https://files.example.com/releases/4.2/CHANGELOG.md",
            size=18211,
            title="Changelog 4.2",
        ),
        Attachment(
            kind="link",
            url="https://wiki.example.com/platform/releases/4.2/rollback-plan",
            size=0,
            title="Rollback plan",
        ),
    ],
    reply_to="msg-1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b",
    reactions={"rocket": 4, "eyes": 2, "white_check_mark": 7},
)
"""The message every ``ws-json`` client sends."""

JSON_PAYLOAD: str = JSON_MESSAGE.model_dump_json()
"""`JSON_MESSAGE` as compact JSON text (about 1 KiB)."""
