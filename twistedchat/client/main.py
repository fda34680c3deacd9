"""
The C{twistedchat} command: settings, the nick question, then the reactor.

It asks for a nick synchronously when none was given and it holds no resume
token for the server (with one, the identity's nick is kept with it and
reused), then wires the console to standard input and output
(C{twisted.internet.stdio}; through the interactive terminal of
L{twistedchat.client.terminal} when both are a terminal, given back as it
was however the program ends) and to the server
through a reconnecting C{ClientService}, over TLS with C{--tls}. It exits 0
when the person leaves (C{/quit}, Ctrl+D, end of piped input, Ctrl+C), 1 when
the server cannot be reached, never comes back or shows a certificate we
refuse, 2 on bad settings.
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import stdio
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import (
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.logger import globalLogBeginner, textFileLogObserver

from ..core.names import is_valid_nick
from . import i18n
from .connection import ServerConnectionFactory
from .console import ChatConsole, ConsoleInput
from .images import render_image
from .options import ClientSettings, SettingsError, settings_from
from .state import TokenStore
from .terminal import RawMode, is_interactive, start_terminal

IMAGE_COLUMNS = 60


def read_line(fd: int = 0) -> str | None:
    """
    One line from C{fd}, read byte by byte so that nothing after it is taken
    from the stream stdio will read next; None at end of input.
    """
    data = bytearray()
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            return data.decode("utf-8", "replace") if data else None
        data += byte
    return data.decode("utf-8", "replace").rstrip("\r\n")


def ask_nick(translations: gettext.NullTranslations) -> str | None:
    """Ask for a nick until a valid one is typed; None if the input ends."""
    _ = translations.gettext
    while True:
        sys.stdout.write(_("Nick: "))
        sys.stdout.flush()
        answer = read_line()
        if answer is None:
            return None
        nick = answer.strip()
        if is_valid_nick(nick):
            return nick
        print(_("invalid nick: use 1 to 30 letters, digits or _-[]{}\\|^"))


def identity_nick(tokens: TokenStore, server: str) -> str:
    """The nick of the identity we hold a token of for C{server}, if any."""
    nick = tokens.nick(server) if tokens.get(server) else ""
    return nick if is_valid_nick(nick) else ""


def start_logging(path: str) -> None:
    """Send the conversation and Twisted's own messages to the log file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    log_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the run)
    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(log_file)], redirectStandardIO=False
    )


def server_endpoint(reactor: Any, settings: ClientSettings) -> IStreamClientEndpoint:
    """Where the server is: plain TCP, or TLS checking its certificate and name."""
    endpoint = HostnameEndpoint(reactor, settings.host, settings.port)
    if not settings.tls:
        return endpoint
    trust = (
        trustRootFromCertificates(list(settings.ca_certificates))
        if settings.ca_certificates
        else platformTrust()
    )
    # optionsForClientTLS checks the host name (or IP address) with
    # service_identity once OpenSSL has checked the chain.
    return wrapClientTLS(optionsForClientTLS(settings.host, trustRoot=trust), endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = settings_from(argv, os.environ)
    except SettingsError as e:
        print(f"twistedchat: {e}", file=sys.stderr)
        return 2
    translations = i18n.translations(settings.lang)
    tokens = TokenStore(settings.state_dir)
    if settings.nick is None:
        nick = identity_nick(tokens, settings.server) or ask_nick(translations)
        if nick is None:
            return 1
        settings = settings.with_nick(nick)
    try:
        start_logging(settings.log_file)
    except OSError as e:
        print(
            f"twistedchat: --log-file {settings.log_file}: {e.strerror}",
            file=sys.stderr,
        )
        return 2

    from twisted.internet import reactor

    terminal: list[stdio.StandardIO] = []
    console = ChatConsole(
        settings,
        reactor,
        lambda text: terminal[0].write(text.encode("utf-8")),
        translations,
        colour=sys.stdout.isatty() and "NO_COLOR" not in os.environ,
        tokens=tokens,
        render_image=partial(render_image, columns=IMAGE_COLUMNS),
    )
    raw = RawMode()
    if is_interactive(os.environ):
        screen, input_closed = start_terminal(reactor, console, raw)
        terminal.append(screen)
    else:
        keyboard = ConsoleInput(console)
        terminal.append(stdio.StandardIO(keyboard))
        input_closed = keyboard.closed
    connections = ClientService(
        server_endpoint(reactor, settings),
        ServerConnectionFactory(console),
        retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=5.0),
    )
    connections.startService()
    if settings.reconnect == 0:
        connections.whenConnected(failAfterFailures=1).addErrback(
            console.cannot_connect
        )
    else:
        console.wait_for_server()

    def leave(status: int) -> None:
        connections.stopService()
        terminal[0].loseConnection()  # writes what is left to show, then closes

    def stop(_: object) -> None:
        if reactor.running:
            reactor.stop()

    # Not from inside the callback: it may run within the ClientService's own
    # state machine (a failed first connection), which must not be re-entered.
    console.finished.addCallback(lambda status: reactor.callLater(0, leave, status))
    input_closed.addCallback(stop)
    reactor.addSystemEventTrigger("before", "shutdown", console.leave_now)
    try:
        reactor.run()
    finally:
        raw.restore()  # never a terminal left in raw mode
    return console.exit_status


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
