"""
Who may enter a room, who may speak in it and who sees it: the rules its
modes (L{twistedchat.core.modes}) make, checked by the service for every
front alike.

A joiner needs the room's key (C{+k}) if it has one; then an invitation lets
it in once, past C{+i}, C{+l} and the bans; otherwise an invite-only room
(C{+i}) takes only those an invite exception (C{+I}) names, a full room
(C{+l}) nobody more, and a ban (C{+b}) keeps out those it names unless an
exception (C{+e}) names them too. In a room, operators and voiced members
always speak; under C{+m} nobody else does, and a banned member does not
either. A secret room (C{+s}) is left out of the listings of those not in it.
"""

from __future__ import annotations

from . import masks
from .errors import (
    BadRoomKey,
    BannedFromRoom,
    CannotSendToRoom,
    InviteOnlyRoom,
    NoSuchRoom,
    RoomFull,
)
from .session import Session
from .state import IChatState, RoomRecord, UserRecord


def mask_of(record: UserRecord) -> str:
    """The user's C{nick!user@host}, as WHO shows it on the IRC front."""
    return masks.user_mask(record.user.nick, record.username, record.user.id)


def masks_of(record: UserRecord) -> tuple[str, ...]:
    """
    The masks a list's entry may name the user by: the one WHO shows and,
    if the user gave a user name, the one its messages come from (the start
    of its id in place of that name).
    """
    shown = mask_of(record)
    if not record.username:
        return (shown,)
    return (shown, masks.user_mask(record.user.nick, "", record.user.id))


def listed(room: RoomRecord, kind: str, names: tuple[str, ...]) -> bool:
    """Whether a mask on the room's list C{kind} holds for one of C{names}."""
    return any(
        masks.matches(entry.mask, name)
        for entry in room.masks[kind].values()
        for name in names
    )


def banned(room: RoomRecord, names: tuple[str, ...]) -> bool:
    """Whether a ban of the room holds for C{names}, and no exception does."""
    return listed(room, "b", names) and not listed(room, "e", names)


def admit(
    state: IChatState, room: RoomRecord, record: UserRecord, join_key: str
) -> None:
    """
    Raise the L{ChatError} that keeps the user out of C{room}, if one does;
    else the user may join, and an invitation it had to the room is spent.
    """
    if room.join_key and join_key != room.join_key:
        raise BadRoomKey(room.name)
    if room.key in record.invited:
        state.use_invitation(record.user.id, room.key)
        return
    names = masks_of(record)
    if "i" in room.modes and not listed(room, "I", names):
        raise InviteOnlyRoom(room.name)
    if room.limit and len(room.members) >= room.limit:
        raise RoomFull(room.name, room.limit)
    if room.masks["b"] and banned(room, names):
        raise BannedFromRoom(room.name)


def check_may_speak(room: RoomRecord, record: UserRecord) -> None:
    """Raise L{CannotSendToRoom} if the user may not speak in C{room}."""
    user_id = record.user.id
    if "n" in room.modes and user_id not in room.members:
        raise CannotSendToRoom(room.name, "only its members may speak (+n)")
    operator = user_id in room.operators or record.operator is not None
    if operator or user_id in room.voiced:
        return
    if "m" in room.modes:
        raise CannotSendToRoom(room.name, "it is moderated (+m)")
    if room.masks["b"] and banned(room, masks_of(record)):
        raise CannotSendToRoom(room.name, "you are banned from it (+b)")


def hidden(room: RoomRecord, viewer: Session | None) -> bool:
    """Whether C{room} is left out of what C{viewer} (None: anyone) sees."""
    return "s" in room.modes and (viewer is None or viewer.user.id not in room.members)


def seen(room: RoomRecord, viewer: Session | None) -> RoomRecord:
    """C{room}, if C{viewer} may see it (None: no check); else L{NoSuchRoom}."""
    if viewer is not None and hidden(room, viewer):
        raise NoSuchRoom(room.name)
    return room


def listing(
    state: IChatState, after: str, count: int, viewer: Session | None
) -> list[RoomRecord]:
    """
    Up to C{count} rooms whose folded names come after C{after}, in that
    order, among those C{viewer} sees (None: an anonymous asker, who sees
    no secret room).
    """
    page = count or state.room_count()
    rooms: list[RoomRecord] = []
    while True:
        batch = state.rooms_after(after, page)
        rooms += [room for room in batch if not hidden(room, viewer)]
        if len(batch) < page or len(rooms) >= page:
            return rooms[:page]
        after = batch[-1].key
