"""The twistd plugin: C{twistd -n twistedchat}. Only the ServiceMaker lives here."""

from twisted.application.service import ServiceMaker

twistedchat = ServiceMaker(
    "twistedchat",
    "twistedchat.server.tap",
    "A chat server: netcat-friendly line front, shared rooms, operators.",
    "twistedchat",
)
