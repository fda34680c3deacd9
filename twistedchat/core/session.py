"""
Sessions: this process's connected users, as the core knows them.

A front registers each connection with L{ChatService.connect}, giving an
L{IChatClient} (its way to hand events to the wire), and gets back a
L{Session}: the handle it passes to every later call. The session holds only
what belongs to this connection (its client, whether its user came back with
a resume token, the address it came from) and, for its front to read, two immutable
values the service replaces as they change: its C{user} (id, nick, colour)
and the names of its C{rooms}. The rest of what the chat knows of its user
(away, operator...) is in the state, read through the service's queries.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

from .events import Event, User


class IChatClient(Interface):
    """The front's side of a session: how the core reaches the connection."""

    echo_messages = Attribute(
        "Whether the user receives what they say (room messages, pictures, "
        "private messages) as an event, in order with everything else."
    )
    echo_actions = Attribute(
        "Whether the user receives the events of what they do (joins, parts, "
        "nick changes, kicks, topics, modes, kills of someone sharing a room) "
        "as the others do, rather than answering the user in the front's own "
        "words."
    )

    def deliver(event: Event) -> None:
        """
        Render C{event} for this connection. Called on the fan-out path: it
        must not block nor call back into the service, and should only render
        (once per front) and write. A L{twistedchat.core.events.Killed} of
        the user themselves is their farewell: the connection closes next.
        """

    def disconnect() -> None:
        """Close the connection once what was already delivered is written."""


class Session:
    """One connected user, whatever front it came through."""

    __slots__ = (
        "__weakref__",  # the reading's markers of the session's own lifetime
        "client",
        "connected",
        "echo_actions",
        "echo_messages",
        "host",
        "resumed",
        "rooms",
        "user",
    )

    def __init__(
        self, client: IChatClient, user: User, resumed: bool, host: str = ""
    ) -> None:
        self.client = client
        self.host = host  # the address the user came from ("" if none)
        self.user = user  # kept up to date by the service
        self.rooms: tuple[str, ...] = ()  # in join order, as the service names them
        self.resumed = resumed  # came back with a resume token
        self.echo_messages: bool = client.echo_messages
        self.echo_actions: bool = client.echo_actions
        self.connected = True

    @property
    def nick(self) -> str:
        return self.user.nick

    def __repr__(self) -> str:
        return f"<Session {self.nick!r}>"
