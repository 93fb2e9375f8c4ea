"""HTTP/2 over TLS peers for the rebalance tests, on Python's `h2` (Debian's python3-h2).

`H2Apiserver` answers `GET /watch` with a stream that never ends (a DATA frame naming the server
every 50 ms, as a watch does) and any other GET at once. `H2Watcher` holds one watch open and,
while it receives, acknowledges the DATA (WINDOW_UPDATE) and pings the server every second (more
often than client-go's HTTP/2 health check), so its connection is never silent; whenever the connection
ends it re-opens a new one. `H2Requester` sends a real request every few hundred milliseconds on
one connection and records any that was cut in flight. Everything runs in daemon threads that
stop with `stop()`.
"""

import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.events

POLL = 0.02  # seconds a socket read waits before the loops look at their timers


def _server_context(pair):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pair.cert), str(pair.key))
    context.set_alpn_protocols(["h2"])
    return context


def _client_context(ca):
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    # A proxy's FIN arrives without a TLS close_notify: read it as EOF (a reset stays an error).
    context.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    return context


class H2Apiserver:
    """An HTTP/2 TLS server on `port` (0: any) until stop()."""

    def __init__(self, name, pair, port=0):
        self.name = name
        self._context = _server_context(pair)
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(POLL)
        self.port = self._listener.getsockname()[1]
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self._halt.set()
        for t in self._threads:
            t.join(5)
        self._listener.close()

    def _accept(self):
        while not self._halt.is_set():
            try:
                raw, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, raw):
        try:
            raw.settimeout(5)
            sock = self._context.wrap_socket(raw, server_side=True)
            sock.settimeout(POLL)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        watches, next_event = [], time.monotonic()
        try:
            sock.sendall(conn.data_to_send())
            while not self._halt.is_set():
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.RequestReceived):
                            path = dict(event.headers).get(b":path", b"")
                            conn.send_headers(event.stream_id, [(":status", "200")])
                            if path.startswith(b"/watch"):
                                watches.append(event.stream_id)
                            else:
                                conn.send_data(event.stream_id, f"{self.name}\n".encode(), end_stream=True)
                        elif isinstance(event, h2.events.DataReceived):
                            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                except socket.timeout:
                    pass
                if watches and time.monotonic() >= next_event:
                    next_event = time.monotonic() + 0.05
                    for stream in watches:
                        conn.send_data(stream, f'{{"server":"{self.name}"}}\n'.encode())
                sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()


class _Client(threading.Thread):
    def __init__(self, port, ca):
        super().__init__(daemon=True)
        self.port, self.ca = port, ca
        self._context = _client_context(ca)
        self._halt = threading.Event()
        self.errors = []

    def stop(self):
        self._halt.set()
        self.join(10)

    def _connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock = self._context.wrap_socket(raw, server_hostname="127.0.0.1")
        sock.settimeout(POLL)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        return sock, conn

    @staticmethod
    def _request(conn, path):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "GET"), (":path", path), (":scheme", "https"),
                                   (":authority", "cplb")], end_stream=True)
        return stream


class H2Watcher(_Client):
    """One watch at a time; `servers` lists who answered each, `ends` how each connection ended
    (`eof` for a clean close, else the error), `gaps` the seconds from an end to the next event."""

    def __init__(self, port, ca):
        super().__init__(port, ca)
        self.servers, self.ends, self.gaps = [], [], []

    def run(self):
        ended_at = None
        while not self._halt.is_set():
            try:
                sock, conn = self._connect()
            except OSError as error:
                self.errors.append(repr(error))
                time.sleep(0.1)
                continue
            try:
                self._request(conn, "/watch")
                sock.sendall(conn.data_to_send())
                next_ping, named = time.monotonic() + 1.0, False
                while not self._halt.is_set():
                    try:
                        data = sock.recv(65536)
                    except socket.timeout:
                        data = None
                    if data == b"":
                        self.ends.append("eof")
                        break
                    for event in conn.receive_data(data) if data else ():
                        if isinstance(event, h2.events.DataReceived):
                            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                            if not named:
                                named = True
                                self.servers.append(event.data.split(b'"')[3].decode())
                                if ended_at is not None:
                                    self.gaps.append(time.monotonic() - ended_at)
                    if time.monotonic() >= next_ping:
                        next_ping = time.monotonic() + 1.0
                        conn.ping(b"cplbping")
                    sock.sendall(conn.data_to_send())
            except (OSError, ssl.SSLError, h2.exceptions.ProtocolError) as error:
                self.ends.append(repr(error))
            finally:
                sock.close()
            ended_at = time.monotonic()


class H2Requester(_Client):
    """Requests a lease, as a controller renewing it does (a new resourceVersion each time),
    every `every` seconds on one connection; `answers` counts the answered ones, `cut` the ones
    whose connection ended before the answer."""

    def __init__(self, port, ca, every=0.2):
        super().__init__(port, ca)
        self.every, self.answers, self.cut, self.connections = every, 0, 0, 0

    def run(self):
        n = 0
        while not self._halt.is_set():
            try:
                sock, conn = self._connect()
                self.connections += 1
            except OSError as error:
                self.errors.append(repr(error))
                time.sleep(0.1)
                continue
            try:
                while not self._halt.is_set():
                    n += 1
                    stream = self._request(
                        conn, f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler?resourceVersion={n}")
                    sock.sendall(conn.data_to_send())
                    deadline, done = time.monotonic() + 5, False
                    while not done and time.monotonic() < deadline:
                        try:
                            data = sock.recv(65536)
                        except socket.timeout:
                            continue
                        if data == b"":
                            self.cut += 1
                            raise ConnectionError("closed with a request in flight")
                        for event in conn.receive_data(data):
                            if isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                                done = True
                            elif isinstance(event, h2.events.DataReceived):
                                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                        sock.sendall(conn.data_to_send())
                    if not done:
                        raise TimeoutError("no answer within 5 s")
                    self.answers += 1
                    self._halt.wait(self.every)
            except (OSError, ssl.SSLError, h2.exceptions.ProtocolError, ConnectionError) as error:
                self.errors.append(repr(error))
            finally:
                sock.close()
