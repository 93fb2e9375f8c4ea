"""A retransmission on demand, with TCP_REPAIR (needs CAP_NET_ADMIN), as CRIU moves a connection:
`rewound(sock, back)` closes `sock` without a FIN or a reset and returns a socket of the same
connection (addresses, sequence numbers, options, window) whose next byte sent is `back` bytes
before the old one's. What it sends next therefore starts with bytes the peer has had already: a
retransmission that overlaps what arrived, as TCP's loss recovery sends when it merges segments."""

import socket
import struct

TCP_REPAIR = 19
TCP_REPAIR_QUEUE = 20
TCP_QUEUE_SEQ = 21
TCP_REPAIR_OPTIONS = 22
TCP_TIMESTAMP = 24
TCP_REPAIR_WINDOW = 29
TCP_RECV_QUEUE, TCP_SEND_QUEUE = 1, 2
TCPOPT_MAXSEG, TCPOPT_WINDOW, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP = 2, 3, 4, 8
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE = 1, 2, 4
TCP_REPAIR_WINDOW_SIZE = 20  # struct tcp_repair_window: five __u32


def _queue_seq(sock, queue, value=None):
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, queue)
    if value is not None:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, struct.pack("I", value & 0xFFFFFFFF))
        return value
    return struct.unpack("I", sock.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]


def _options(sock):
    """The options the connection agreed on, as TCP_REPAIR_OPTIONS takes them."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    options, wscales = info[5], info[6]
    mss = struct.unpack_from("I", info, 16)[0]
    agreed = [(TCPOPT_MAXSEG, mss)]
    if options & TCPI_OPT_WSCALE:
        agreed.append((TCPOPT_WINDOW, (wscales & 0xF) | (wscales >> 4) << 16))
    if options & TCPI_OPT_SACK:
        agreed.append((TCPOPT_SACK_PERM, 0))
    if options & TCPI_OPT_TIMESTAMPS:
        agreed.append((TCPOPT_TIMESTAMP, 0))
    return b"".join(struct.pack("II", code, value) for code, value in agreed)


def rewound(sock, back):
    """See the module's docstring. `sock` must have nothing unsent or unacknowledged."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    received = _queue_seq(sock, TCP_RECV_QUEUE)
    sent = _queue_seq(sock, TCP_SEND_QUEUE)
    window = sock.getsockopt(socket.IPPROTO_TCP, TCP_REPAIR_WINDOW, TCP_REPAIR_WINDOW_SIZE)
    timestamp = struct.unpack("I", sock.getsockopt(socket.IPPROTO_TCP, TCP_TIMESTAMP, 4))[0]
    options = _options(sock)
    local, remote = sock.getsockname(), sock.getpeername()
    sock.close()  # in repair mode: the kernel forgets it and tells the peer nothing

    new = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        new.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        new.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
        new.bind(local)
        _queue_seq(new, TCP_RECV_QUEUE, received)
        _queue_seq(new, TCP_SEND_QUEUE, sent - back)
        new.connect(remote)  # in repair mode: established at once, with no handshake
        new.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_OPTIONS, options)
        new.setsockopt(socket.IPPROTO_TCP, TCP_TIMESTAMP, struct.pack("I", timestamp))
        new.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_WINDOW, window)
        new.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)
    except BaseException:
        new.close()
        raise
    return new
