"""A Slack Web API double on loopback: the methods the channel work calls, with Slack's answers and Slack's checks.

Every call's method, bearer token, content type and body are checked as Slack checks them (an unknown method, a
wrong token, a missing argument are refused as Slack refuses them) and recorded. Channels, members, topics,
bookmarks and messages are kept, so a test reads what the workspace looks like afterwards. `fail` queues answers
for a method (a 429 with Retry-After, a 500, an error); `hang` holds every call until `release` is set.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.helpers.http import HttpRequest, loopback_http

BOT_TOKEN = "xoxb-test-channel-token"
BOT_USER = "UBATONBOT"
NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
REQUIRED = {
    "auth.test": (),
    "conversations.create": ("name",),
    "conversations.setPurpose": ("channel", "purpose"),
    "conversations.setTopic": ("channel", "topic"),
    "conversations.invite": ("channel", "users"),
    "conversations.list": (),
    "conversations.archive": ("channel",),
    "bookmarks.add": ("channel_id", "title", "type"),
    "bookmarks.list": ("channel_id",),
    "chat.postMessage": ("channel",),
}


@dataclass
class Call:
    method: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Slack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    bookmarks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = field(default_factory=dict)
    down: bool = False
    """Every call answers 500."""
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def add_channel(self, name: str, purpose: str = "", creator: str = "UOTHER", archived: bool = False) -> str:
        cid = f"C{next(self.ids):08d}"
        self.channels[cid] = {
            "id": cid,
            "name": name,
            "creator": creator,
            "is_archived": archived,
            "purpose": {"value": purpose},
            "topic": {"value": ""},
        }
        self.members[cid] = {creator}
        return cid

    def by_name(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["name"] == name]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if channel is None or m["channel"] == channel]

    def answer(self, method: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if method not in REQUIRED:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        if headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 200, {}, {"ok": False, "error": "invalid_arguments"}
        if missing := [k for k in REQUIRED[method] if not body.get(k)]:
            return 200, {}, {"ok": False, "error": "invalid_arguments", "missing": missing}
        if self.down:
            return 500, {}, {"ok": False, "error": "internal_error"}
        if queued := self.fail.get(method):
            return queued.pop(0)
        return 200, {}, self._ok(method, body)

    def _ok(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(body.get("channel") or body.get("channel_id") or ""))
        needs_channel = method not in ("auth.test", "conversations.create", "conversations.list")
        if needs_channel and channel is None and method != "chat.postMessage":
            return {"ok": False, "error": "channel_not_found"}
        match method:
            case "auth.test":
                return {"ok": True, "user_id": BOT_USER}
            case "conversations.create":
                if not NAME.match(body["name"]):
                    return {"ok": False, "error": "invalid_name_specials"}
                if self.by_name(body["name"]):
                    return {"ok": False, "error": "name_taken"}
                cid = self.add_channel(body["name"], creator=BOT_USER)
                return {"ok": True, "channel": self.channels[cid]}
            case "conversations.list":
                every = [c for c in self.channels.values() if not (body.get("exclude_archived") and c["is_archived"])]
                start = int(body.get("cursor") or 0)
                limit = int(body.get("limit") or 100)
                page = every[start : start + limit]
                cursor = str(start + limit) if start + limit < len(every) else ""
                return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}
            case "conversations.setPurpose":
                assert channel is not None
                channel["purpose"] = {"value": body["purpose"]}
                return {"ok": True, "purpose": body["purpose"]}
            case "conversations.setTopic":
                assert channel is not None
                if len(body["topic"]) > 250:
                    return {"ok": False, "error": "too_long"}
                channel["topic"] = {"value": body["topic"]}
                return {"ok": True, "channel": channel}
            case "conversations.invite":
                assert channel is not None
                if body["users"] in self.members[channel["id"]]:
                    return {"ok": False, "error": "already_in_channel"}
                self.members[channel["id"]].add(body["users"])
                return {"ok": True, "channel": channel}
            case "conversations.archive":
                assert channel is not None
                if channel["is_archived"]:
                    return {"ok": False, "error": "already_archived"}
                channel["is_archived"] = True
                return {"ok": True}
            case "bookmarks.list":
                assert channel is not None
                return {"ok": True, "bookmarks": list(self.bookmarks.get(channel["id"], []))}
            case "bookmarks.add":
                assert channel is not None
                if body["type"] != "link" or not str(body.get("link", "")).startswith(("http://", "https://")):
                    return {"ok": False, "error": "invalid_link"}
                mark = {"id": f"Bk{next(self.ids)}", "title": body["title"], "link": body["link"]}
                self.bookmarks.setdefault(channel["id"], []).append(mark)
                return {"ok": True, "bookmark": mark}
        # chat.postMessage: to a channel by id, or by #name (a public channel)
        target = channel or next(iter(self.by_name(str(body["channel"]).removeprefix("#"))), None)
        if target is None:
            return {"ok": False, "error": "channel_not_found"}
        if target["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = f"{1_700_000_000 + next(self.ids)}.000100"
        with self.lock:
            self.messages.append({**body, "channel": target["id"], "ts": ts})
        return {"ok": True, "channel": target["id"], "ts": ts}


@contextmanager
def slack_web() -> Iterator[Slack]:
    state = Slack()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        method = req.path.removeprefix("/api/")
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            body = {}
        with state.lock:
            state.calls.append(Call(method, req.headers, body))
        if state.hang:
            state.release.wait(30)
        with state.lock:
            status, headers, answer = state.answer(method, req.headers, body)
        return status, {"Content-Type": "application/json", **headers}, json.dumps(answer).encode()

    with loopback_http(respond) as url:
        state.url = url
        try:
            yield state
        finally:
            state.release.set()
