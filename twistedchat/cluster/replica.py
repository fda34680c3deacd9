"""
One node's chat when several nodes share it: the service, fed by the log.

A L{ReplicatedService} is a L{ChatService} whose commands are not carried out
when a front gives them: they are appended to the shared log
(L{twistedchat.cluster.log}) as entries (L{twistedchat.cluster.entries}),
and carried out when the node reads them back, in the log's order, like every
other node's. Each node so holds the whole chat (every user, every room,
every node's sessions) and applies the same commands in the same order to the
same state: the same outcome everywhere, and each room's events delivered in
the same order on every node, its own users' included. A command's time,
message id and new user id come from its entry, never from the node applying
it, so that applying is the same everywhere.

Sessions of other nodes are stand-ins (L{RemoteClient}): they are members,
they hold nicks and count as the user's other clients, and nothing is
delivered to them here; their own node delivers to them.

What a front hears back:
 - the commands whose answer a front shows (C{connect}, C{join},
   C{change_nick}, C{set_topic}, C{kick}, C{kill}, C{invite}, C{oper})
   return a Deferred, fired with the command's result, or failed with the
   L{ChatError} the log's order gave it (two nodes claiming one nick at
   once: the first entry wins, the second fails with "nick in use");
 - the others (C{say}, C{whisper}, C{part}...) return nothing: a refusal
   that only the log's order can tell reaches the connection through its
   client's C{refused}. C{say} checks first what the node can tell at once
   (the room, an empty text, whether the user may speak), so that the hot
   path answers those without a round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import count
from typing import Any, Protocol, TypeVar

from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..core import access, directory, errors, notices, status, tagging
from ..core.delivery import Direct, IDelivery
from ..core.events import (
    Event,
    Invited,
    Joined,
    Kicked,
    Killed,
    NickChanged,
    TopicChanged,
)
from ..core.history import IHistory
from ..core.identity import Identities
from ..core.names import fold_room
from ..core.service import ChatService
from ..core.session import IChatClient, Session
from .entries import Entry, decode, encode
from .markers import ClusterMarkers
from .position import LogPosition

__all__ = ["RemoteClient", "ReplicatedService"]

R = TypeVar("R")

NODE_GONE = "Connection lost (its server stopped)"  # a dead node's users' quit


class Journal(Protocol):
    """Where a node appends its entries (L{twistedchat.cluster.log.ILog})."""

    def append(self, entry: bytes) -> Deferred[str]: ...


@implementer(IChatClient)
class RemoteClient:
    """The client of a session on another node: its node delivers to it."""

    __slots__ = ("echo_actions", "echo_messages")

    def __init__(self, echo_messages: bool, echo_actions: bool) -> None:
        self.echo_messages = echo_messages
        self.echo_actions = echo_actions

    def deliver(self, event: Event) -> None:
        pass  # its own node delivers it

    def disconnect(self) -> None:
        pass  # its own node closes the connection


def is_remote(session: Session) -> bool:
    return type(session.client) is RemoteClient


@implementer(IDelivery)
class LocalDelivery:
    """This node's delivery, keeping the other nodes' sessions out of it."""

    def __init__(self, inner: IDelivery) -> None:
        self.inner = inner

    def enter(self, room: str, session: Session) -> None:
        if not is_remote(session):
            self.inner.enter(room, session)

    def leave(self, room: str, session: Session) -> None:
        if not is_remote(session):
            self.inner.leave(room, session)

    def to_room(
        self, room: str, event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        return self.inner.to_room(room, event, exclude)

    def to_rooms(
        self, rooms: Sequence[str], event: Event, exclude: Session | None
    ) -> Sequence[Session]:
        return self.inner.to_rooms(rooms, event, exclude)

    def to_sessions(
        self, sessions: Iterable[Session], event: Event
    ) -> Sequence[Session]:
        local = [session for session in sessions if not is_remote(session)]
        return self.inner.to_sessions(local, event) if local else ()

    def regroup(self, session: Session) -> None:
        """The fan-out's: an IRC client's rendering changed (its caps)."""
        regroup = getattr(self.inner, "regroup", None)
        if regroup is not None:
            regroup(session)


@implementer(IReactorTime)
class LogClock:
    """
    The reactor's clock, but for the time of day while an entry is applied:
    then it is the entry's, the same on every node.
    """

    def __init__(self, reactor: IReactorTime) -> None:
        self.reactor = reactor
        self.now: float | None = None  # the entry's time, while applying one

    def seconds(self) -> float:
        return self.reactor.seconds() if self.now is None else self.now

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: object, **kw: object
    ) -> IDelayedCall:
        return self.reactor.callLater(delay, callable, *args, **kw)

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        return self.reactor.getDelayedCalls()


class EntryIdentities(Identities):
    """Identities whose new user ids come from the entry being applied."""

    fresh = ""

    def new_id(self) -> str:
        return self.fresh

    def adopt(self, secret: bytes) -> None:
        """Sign with C{secret} from now on: the one every node shares."""
        self._secret = secret

    def chosen_id(self) -> str:
        """A new user id, chosen by the node that appends a connection."""
        return super().new_id()


class EntryIds(Iterator[str]):
    """Message ids: the id of the log entry that made the message."""

    def __init__(self, position: LogPosition) -> None:
        self.position = position

    def __next__(self) -> str:
        return self.position.current


class ReplicatedService(ChatService):
    """A node's L{ChatService}: commands go through the shared log first."""

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        journal: Journal,
        node: str,
        secret: bytes,
        *,
        default_room: str | None = "general",
        operators: ICredentialsChecker | None = None,
        history: IHistory | None = None,
        delivery: IDelivery | None = None,
        position: LogPosition | None = None,
        **kwargs: Any,
    ) -> None:
        """
        C{journal}: the shared log; C{node}: this node's id, unique in the
        cluster; C{secret}: the identity secret every node shares. The rest
        as L{ChatService}'s (its clock is this node's L{LogClock}).
        """
        self.time = LogClock(reactor)
        self.position = position or LogPosition()
        super().__init__(
            self.time,
            default_room,
            operators,
            EntryIdentities(secret),
            history,
            delivery=LocalDelivery(delivery or Direct()),
            **kwargs,
        )
        self._msgids = EntryIds(self.position)
        self.journal = journal
        self.node = node
        self._seq = count(1)  # this node's entries
        self._numbers = count(1)  # this node's sessions
        self._applied: dict[str, int] = {}  # node -> last entry (seq) applied
        self._waiting: dict[int, Deferred[Any]] = {}  # seq -> its command's answer
        self._arriving: dict[int, IChatClient] = {}  # number -> client, until connected
        self._sessions: dict[tuple[str, int], Session] = {}  # every node's
        self._refs: dict[Session, tuple[str, int]] = {}
        self._leaving: set[Session] = set()  # this node's, disconnect appended
        self._applying = False

    # Sessions

    def connect(  # type: ignore[override]
        self, client: IChatClient, nick: str, **how: Any
    ) -> Deferred[Session]:
        number = next(self._numbers)
        self._arriving[number] = client
        identities = self.identities
        assert isinstance(identities, EntryIdentities)
        entry = Entry(
            self.node,
            next(self._seq),
            self.time.reactor.seconds(),
            "connect",
            number,
            [nick],
            how,
            echo=[bool(client.echo_messages), bool(client.echo_actions)],
            user=identities.chosen_id(),
        )

        def gone(failure: Failure) -> Failure:
            self._arriving.pop(number, None)
            return failure

        connected = self._append(entry).addErrback(gone)
        markers = self.reading.markers
        user_id = identities.resume(how.get("token") or "")
        if user_id is not None and isinstance(markers, ClusterMarkers):
            # What it was shown, from Redis, before its joins are applied here.
            fetched = markers.fetch(user_id)  # never fails
            connected.addCallback(
                lambda session: fetched.addCallback(lambda _: session)
            )
        return connected

    def disconnect(self, session: Session, message: str = "") -> None:
        if self._applying:
            super().disconnect(session, message)
        else:
            self._leave(session, message)

    def _leave(self, session: Session, message: str) -> None:
        """Append that C{session} (this node's) is gone, once."""
        if session in self._leaving or not session.connected:
            return
        self._leaving.add(session)
        self._send(session, "disconnect", message)

    def change_nick(self, session: Session, nick: str) -> Deferred[NickChanged]:  # type: ignore[override]
        if self._applying:
            return super().change_nick(session, nick)  # type: ignore[return-value]
        return self._ask(session, "change_nick", nick)

    # Rooms

    def join(  # type: ignore[override]
        self, session: Session, name: str, **how: Any
    ) -> Deferred[Joined]:
        if self._applying:
            return super().join(session, name, **how)  # type: ignore[return-value]
        return self._ask(session, "join", name, **how)

    def part(self, session: Session, name: str, reason: str = "") -> None:  # type: ignore[override]
        if self._applying:
            super().part(session, name, reason)
            return
        self._send(session, "part", name, reason)

    def say(  # type: ignore[override]
        self,
        session: Session,
        name: str,
        text: str,
        *,
        notice: bool = False,
        action: bool = False,
        tags: Any = (),
    ) -> None:
        if self._applying:
            super().say(session, name, text, notice=notice, action=action, tags=tags)
            return
        # What this node can tell at once is answered at once (as on one node).
        room = self._state.room(fold_room(name)) or self._existing_room(name)
        if not text.strip():
            raise errors.EmptyMessage()
        if room.guarded:
            access.check_may_speak(room, self._record(session))
        style: dict[str, Any] = {}
        if notice:
            style["notice"] = True
        if action:
            style["action"] = True
        if tags:
            style["tags"] = [list(tag) for tag in tags]
        self._send(session, "say", name, text, **style)

    def whisper(self, session: Session, nick: str, text: str, **style: Any) -> None:  # type: ignore[override]
        if self._applying:
            super().whisper(session, nick, text, **style)
            return
        self._find_user(nick)  # NoSuchNick at once
        if "tags" in style:
            style["tags"] = [list(tag) for tag in style["tags"]]
        self._send(session, "whisper", nick, text, **style)

    def show_image(  # type: ignore[override]
        self, session: Session, name: str, art: str, picture: str = ""
    ) -> None:
        if self._applying:
            super().show_image(session, name, art, picture)
            return
        self._existing_room(name)
        self._send(session, "show_image", name, art, picture)

    def set_topic(  # type: ignore[override]
        self, session: Session, name: str, topic: str
    ) -> Deferred[TopicChanged]:
        if self._applying:
            return super().set_topic(session, name, topic)  # type: ignore[return-value]
        return self._ask(session, "set_topic", name, topic)

    def change_modes(  # type: ignore[override]
        self, session: Session, name: str, changes: Sequence[tuple[str, str]]
    ) -> None:
        if self._applying:
            super().change_modes(session, name, [tuple(c) for c in changes])  # type: ignore[misc]
            return
        self._send(session, "change_modes", name, [list(c) for c in changes])

    def set_away(self, session: Session, message: str | None) -> None:
        if self._applying:
            super().set_away(session, message)
            return
        self._send(session, "set_away", message)

    def invite(self, session: Session, nick: str, name: str) -> Deferred[Invited]:  # type: ignore[override]
        if self._applying:
            return super().invite(session, nick, name)  # type: ignore[return-value]
        return self._ask(session, "invite", nick, name)

    def kick(  # type: ignore[override]
        self, actor: Session, name: str, nick: str, reason: str = ""
    ) -> Deferred[Kicked]:
        if self._applying:
            return super().kick(actor, name, nick, reason)  # type: ignore[return-value]
        return self._ask(actor, "kick", name, nick, reason)

    def kill(self, actor: Session, nick: str, message: str) -> Deferred[Killed]:  # type: ignore[override]
        if self._applying:
            return super().kill(actor, nick, message)  # type: ignore[return-value]
        return self._ask(actor, "kill", nick, message)

    def oper(self, session: Session, name: str, password: str) -> Deferred[str]:
        """The password is checked here; the grant goes through the log."""

        def granted(operator: str) -> Deferred[str]:
            asked = self._ask(session, "operator", operator)
            return asked.addCallback(lambda _: operator)

        return self._oper_check.check(session, name, password).addCallback(granted)

    def act(self, command: Callable[..., R], session: Session, *args: object) -> Any:
        if self._applying:
            return command(self, session, *args)
        name = ACT_NAMES[command]
        sent = [_as_json(arg) for arg in args]
        if command in ANSWERED_ACTS:
            return self._ask(session, "act", name, *sent)
        self._send(session, "act", name, *sent)
        return None

    def gone(self, node: str) -> Deferred[None]:
        """Node C{node} is dead (or, itself, stopping): its users are gone."""
        entry = Entry(self.node, next(self._seq), self.time.reactor.seconds(), "gone")
        entry.args = [node]
        return self._append(entry).addErrback(self._not_sent, "gone")

    def nodes(self) -> set[str]:
        """The nodes this node knows sessions of (itself included)."""
        return {node for node, _ in self._sessions} | {self.node}

    # Appending

    def _entry(
        self, session: Session, command: str, args: list[Any], how: dict[str, Any]
    ) -> Entry:
        node, number = self._refs[session]
        assert node == self.node, f"{session!r} is not this node's"
        return Entry(
            self.node,
            next(self._seq),
            self.time.reactor.seconds(),
            command,
            number,
            args,
            how,
        )

    def _ask(
        self, session: Session, command: str, *args: Any, **how: Any
    ) -> Deferred[Any]:
        """Append a command whose result the front waits for."""
        if session not in self._refs:
            return fail(errors.ChatError("not connected"))
        return self._append(self._entry(session, command, list(args), how))

    def _send(self, session: Session, command: str, *args: Any, **how: Any) -> None:
        """Append a command; a refusal goes to the session's client."""
        if session not in self._refs:
            return
        asked = self._append(self._entry(session, command, list(args), how))
        asked.addErrback(self._refused, session, command)

    def _append(self, entry: Entry) -> Deferred[Any]:
        answer: Deferred[Any] = Deferred()
        self._waiting[entry.seq] = answer

        def not_appended(failure: Failure) -> None:
            waiting = self._waiting.pop(entry.seq, None)
            if waiting is not None:
                waiting.errback(failure)

        self.journal.append(encode(entry)).addErrback(not_appended)
        return answer

    def _refused(self, failure: Failure, session: Session, command: str) -> None:
        refused = getattr(session.client, "refused", None)
        if failure.check(errors.ChatError) and refused is not None:
            if session.connected:
                refused(failure.value)
            return
        self.log.failure(
            "{command} from {nick} failed", failure, command=command, nick=session.nick
        )

    def _not_sent(self, failure: Failure, command: str) -> None:
        self.log.failure("appending {command} failed", failure, command=command)

    # Applying

    def apply(self, entry_id: str, data: bytes) -> None:
        """Carry out the log's entry C{entry_id}, as every node does."""
        entry = decode(data)
        if entry.seq <= self._applied.get(entry.node, 0):
            return  # appended twice (its first answer was lost): once is enough
        self._applied[entry.node] = entry.seq
        mine = entry.node == self.node
        waiting = self._waiting.pop(entry.seq, None) if mine else None
        self.position.current = entry_id
        self.time.now = entry.time
        self._applying = True
        try:
            outcome: Any = APPLY[entry.command](self, entry)
        except errors.ChatError as e:
            outcome = Failure(e)
        except Exception:
            outcome = Failure()
            self.log.failure("applying {entry!r} failed", outcome, entry=entry)
        finally:
            self._applying = False
            self.time.now = None
            self.position.current = ""
            self.position.applied = entry_id
        if waiting is None:
            return
        if isinstance(outcome, Failure):
            waiting.errback(outcome)
        else:
            waiting.callback(outcome)

    def _session(self, entry: Entry) -> Session | None:
        session = self._sessions.get((entry.node, entry.session))
        if session is None or not session.connected:
            return None
        return session

    def _forget(self, session: Session) -> None:
        ref = self._refs.pop(session, None)
        if ref is not None:
            del self._sessions[ref]
        self._leaving.discard(session)

    def _drop(self, broken: Sequence[Session]) -> None:
        """A connection of ours could not take an event: it leaves through the log."""
        for session in broken:
            if session.connected and not is_remote(session):
                session.client.disconnect()
                self._leave(session, "delivery failed")

    def _apply_connect(self, entry: Entry) -> Session:
        client = None
        if entry.node == self.node:  # None: its connection is gone meanwhile
            client = self._arriving.pop(entry.session, None)
        gone = client is None and entry.node == self.node
        if client is None:
            client = RemoteClient(*entry.echo)
        identities = self.identities
        assert isinstance(identities, EntryIdentities)
        identities.fresh = entry.user
        session = ChatService.connect(self, client, *entry.args, **entry.how)
        ref = (entry.node, entry.session)
        self._sessions[ref] = session
        self._refs[session] = ref
        if gone:  # as on every node, then out, with nobody to tell
            self._leaving.add(session)
            leaving = self._append(self._entry(session, "disconnect", [""], {}))
            leaving.addErrback(self._not_sent, "disconnect")
        return session

    def _apply_command(self, entry: Entry) -> Any:
        session = self._session(entry)
        if session is None:
            return None  # gone meanwhile: what it sent last goes with it
        how = entry.how
        if "tags" in how:
            how["tags"] = tuple(tuple(tag) for tag in how["tags"])
        result = getattr(self, entry.command)(session, *entry.args, **how)
        if entry.command == "kill":
            self._forget_disconnected()
        return result

    def _apply_act(self, entry: Entry) -> Any:
        session = self._session(entry)
        if session is None:
            return None
        name, *args = entry.args
        return ACTS[name](self, session, *map(_from_json, args))

    def _apply_disconnect(self, entry: Entry) -> None:
        session = self._sessions.get((entry.node, entry.session))
        if session is None:
            return
        if session.connected:
            ChatService.disconnect(self, session, *entry.args)
        self._forget(session)

    def _apply_operator(self, entry: Entry) -> str:
        session = self._session(entry)
        if session is None:
            return ""
        operator: str = entry.args[0]
        self._state.set_operator(session.user.id, operator)
        self.log.info(
            "{nick} is now server operator {operator}",
            nick=session.nick,
            operator=operator,
        )
        return operator

    def _apply_gone(self, entry: Entry) -> None:
        node: str = entry.args[0]
        sessions = [s for (n, _), s in self._sessions.items() if n == node]
        if sessions:
            self.log.info(
                "node {node} is gone with {count} session(s)",
                node=node,
                count=len(sessions),
            )
        for session in sessions:
            if session.connected:
                ChatService.disconnect(self, session, NODE_GONE)
            self._forget(session)
            if node == self.node:  # the others took us for dead
                session.client.disconnect()

    def _forget_disconnected(self) -> None:
        for session in [s for s in self._refs if not s.connected]:
            self._forget(session)


def _as_json(value: object) -> object:
    """Tags (pairs) as JSON arrays."""
    if isinstance(value, tuple):
        return [_as_json(item) for item in value]
    return value


def _from_json(value: object) -> object:
    """JSON arrays of pairs back as the tags they were (tuples of tuples)."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return tuple(tuple(item) for item in value)
    return value


# The commands kept in modules of their own (ChatService.act), by name.
ACTS: dict[str, Callable[..., Any]] = {
    "set_realname": status.set_realname,
    "change_user_modes": directory.change_user_modes,
    "wallops": notices.wallops,
    "say_to_operators": notices.say_to_operators,
    "tag_room": tagging.tag_room,
    "tag_user": tagging.tag_user,
}
ACT_NAMES = {command: name for name, command in ACTS.items()}
ANSWERED_ACTS = {status.set_realname, directory.change_user_modes}  # a front shows

APPLY: dict[str, Callable[[ReplicatedService, Entry], Any]] = {
    "connect": ReplicatedService._apply_connect,
    "act": ReplicatedService._apply_act,
    "disconnect": ReplicatedService._apply_disconnect,
    "operator": ReplicatedService._apply_operator,
    "gone": ReplicatedService._apply_gone,
    **{
        command: ReplicatedService._apply_command
        for command in (
            "change_nick",
            "join",
            "part",
            "say",
            "whisper",
            "show_image",
            "set_topic",
            "change_modes",
            "set_away",
            "invite",
            "kick",
            "kill",
        )
    },
}
