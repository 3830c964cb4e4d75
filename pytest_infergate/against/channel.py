"""The channel between this run and its companion: JSON messages, one per line, on a
loopback socket (never pickle: the companion runs another revision's code, and a message
is data, not objects).

Every message is an object with an ``op``; the first one each side sends carries
:data:`CHANNEL_VERSION`, and a peer of another version is refused.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

#: Channel format history: 1 -- first version; 2 -- ``warmed`` names the CPU clock,
#: ``samples`` carries each sample's CPU time, the turn's span and its run-queue wait.
CHANNEL_VERSION = 2


class ChannelError(Exception):
    """The other side went away, timed out or sent something that is not a message."""


class Channel:
    """Send and receive whole messages on a connected socket."""

    def __init__(self, sock: socket.socket, timeout_s: float) -> None:
        self._sock = sock
        self._sock.settimeout(timeout_s)
        self._file = sock.makefile("rb")

    def send(self, op: str, **fields: Any) -> None:
        line = json.dumps({"op": op, **fields}, separators=(",", ":")) + "\n"
        try:
            self._sock.sendall(line.encode())
        except OSError as exc:
            raise ChannelError(f"the companion's channel closed ({exc})") from None

    def receive(self, timeout_s: float | None = None) -> dict[str, Any]:
        if timeout_s is not None:
            self._sock.settimeout(timeout_s)
        try:
            line = self._file.readline()
        except TimeoutError:
            raise ChannelError("no message within the time allowed") from None
        except OSError as exc:
            raise ChannelError(f"the channel closed ({exc})") from None
        if not line:
            raise ChannelError("the other side closed the channel")
        try:
            message = json.loads(line)
        except ValueError:
            raise ChannelError(f"not a message: {line[:80]!r}") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ChannelError(f"not a message: {line[:80]!r}")
        return message

    def close(self) -> None:
        for closing in (self._file.close, self._sock.close):
            with contextlib.suppress(OSError):
                closing()
