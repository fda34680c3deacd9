"""twistedchat: a chat service on Twisted, with several fronts sharing one set of rooms."""

__version__ = "0.1.0"
