"""
One write to a plain TCP connection, sent at once when nothing waits before it.

Twisted's C{transport.write} never sends: it buffers the bytes, asks the
reactor to watch the socket for writability (an C{epoll_ctl}), sends when the
reactor says the socket is writable, then stops watching (another
C{epoll_ctl}). A broadcast writes once to each of hundreds of connections, and
that cycle costs three system calls and a reactor dispatch per connection
instead of one C{send}: measured with C{benchmarks/fanout.py}, going through
it costs the server 1.3 - 1.8 times the CPU per delivery (see L{write_now}).
"""

from __future__ import annotations

from twisted.internet import tcp


def write_now(transport: object, data: bytes) -> bytes:
    """
    Send C{data} on C{transport} now if it is a plain TCP server transport
    holding nothing unsent; return what is left to C{transport.write} (all of
    C{data} if nothing was sent, C{b""} if all was).

    This relies on the private state of L{twisted.internet.tcp.Server}
    (L{twisted.internet.abstract.FileDescriptor}); C{tests/test_tcpwrite.py}
    fails if any of it changes:

     - C{connected}, C{_writeDisconnected}: what C{write} itself checks before
       accepting bytes (the latter is set once the write side is shut down);
     - C{dataBuffer} (bytes being written, at C{offset}) and C{_tempDataLen}
       (the length of C{_tempDataBuffer}, bytes written since): both empty
       means no earlier bytes wait in the transport, so sending now keeps the
       order;
     - C{TLS}: false unless C{startTLS} made the transport encrypt (then its
       C{writeSomeData} would bypass the encryption);
     - C{writeSomeData(data)}: sends at most C{SEND_LIMIT} bytes with one
       C{send}, returns how many (0 when the kernel takes none) or, on an
       error, a C{ConnectionLost} instance, which is left to the transport to
       find again in its own write.

    Only the exact type C{tcp.Server} qualifies: a subclass or a wrapper (TLS,
    a test transport) goes the usual way.
    """
    if (
        type(transport) is not tcp.Server
        or transport.TLS
        or not transport.connected
        or transport._writeDisconnected
        or transport.dataBuffer
        or transport._tempDataLen
        or not data
    ):
        return data
    sent = transport.writeSomeData(data)
    if isinstance(sent, int) and sent > 0:
        return data[sent:]
    return data
