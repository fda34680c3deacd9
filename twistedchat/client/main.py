"""
The C{twistedchat} command: settings, the conversation log, then the reactor.

It wires the console to standard input and output (C{twisted.internet.stdio};
through the interactive terminal of L{twistedchat.client.terminal} when both
are a terminal, given back as it was however the program ends) and to the
server through a reconnecting C{ClientService}, over TLS with C{--tls}; the
console says at once where it connects, and says each failure as it happens.
With a resume token for the server it comes back as that identity, with its
nick; without one or C{--nick}, it asks for a nick once the server is there.
The conversation log (private messages included) and the folders made for it
are the user's alone. It exits 0 when the person leaves (C{/quit}, Ctrl+D, end
of piped input, Ctrl+C at any moment), 1 when the server cannot be reached,
never comes back or shows a certificate we refuse, 2 on bad settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any, TextIO

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import stdio
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import platformTrust, trustRootFromCertificates
from twisted.logger import globalLogBeginner, textFileLogObserver

from ..core.names import is_valid_nick
from . import i18n
from .connection import ReportedEndpoint, ServerConnectionFactory
from .console import ChatConsole, ConsoleInput
from .images import render_image
from .options import ClientSettings, SettingsError, settings_from
from .state import TokenStore, make_private_folder
from .terminal import RawMode, is_interactive, start_terminal
from .tls import server_tls_options

IMAGE_COLUMNS = 60
# Seconds an attempt to connect may take (the console says after one second
# that it is slow).
CONNECT_TIMEOUT = 10.0


def open_log_file(path: str) -> TextIO:
    """
    The log file at C{path}, to append to, readable by the user alone (0600,
    an existing one's mode tightened); its folder is made private if missing.
    """
    make_private_folder(os.path.dirname(os.path.abspath(path)))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return open(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def identity_nick(tokens: TokenStore, server: str) -> str:
    """The nick of the identity we hold a token of for C{server}, if any."""
    nick = tokens.nick(server) if tokens.get(server) else ""
    return nick if is_valid_nick(nick) else ""


def start_logging(path: str) -> None:
    """Send the conversation and Twisted's own messages to the log file."""
    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(open_log_file(path))], redirectStandardIO=False
    )


def server_endpoint(reactor: Any, settings: ClientSettings) -> IStreamClientEndpoint:
    """Where the server is: plain TCP, or TLS checking its certificate and name."""
    endpoint = HostnameEndpoint(
        reactor, settings.host, settings.port, timeout=CONNECT_TIMEOUT
    )
    if not settings.tls:
        return endpoint
    trust = (
        trustRootFromCertificates(list(settings.ca_certificates))
        if settings.ca_certificates
        else platformTrust()
    )
    # The host name (or IP address) is checked once OpenSSL has checked the
    # chain; a certificate naming no host is refused too.
    return wrapClientTLS(server_tls_options(settings.host, trust), endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return chat(argv)
    except KeyboardInterrupt:  # Ctrl+C before the reactor runs (it handles it then)
        return 0


def chat(argv: Sequence[str] | None) -> int:
    try:
        settings = settings_from(argv, os.environ)
    except SettingsError as e:
        print(f"twistedchat: {e}", file=sys.stderr)
        return 2
    translations = i18n.translations(settings.lang)
    tokens = TokenStore(settings.state_dir)
    if settings.nick is None and identity_nick(tokens, settings.server):
        # Our identity's nick; with none, the console asks once connected.
        settings = settings.with_nick(identity_nick(tokens, settings.server))
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
    keyboard: ConsoleInput | None = None  # on pipes
    if is_interactive(os.environ):
        screen, input_closed = start_terminal(reactor, console, raw)
        terminal.append(screen)
    else:
        keyboard = ConsoleInput(console)
        terminal.append(stdio.StandardIO(keyboard))
        input_closed = keyboard.closed
    connections = ClientService(
        ReportedEndpoint(server_endpoint(reactor, settings), console, reactor),
        ServerConnectionFactory(console, reactor, settings.keepalive),
        retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=5.0),
    )
    connections.startService()

    def leave(status: int) -> None:
        connections.stopService()
        if keyboard is not None and keyboard.output_gone:
            # Nobody reads us (`twistedchat | head`): stdio would wait for an
            # output that is already closed, and never say it is done.
            stop(None)
        else:
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
