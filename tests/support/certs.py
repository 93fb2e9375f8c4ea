"""Test certificates made at run time with the `openssl` command (stdlib only).

Every function writes `<name>.crt` and `<name>.key` (PEM, EC P-256, unencrypted) into the directory
it is given and returns their paths as a `Pair`. Leaf certificates are signed with `openssl ca`,
which takes explicit validity dates, so an expired certificate needs no fake clock.

As a command: `python3 certs.py DIR` writes the demo set (ca, server for localhost/127.0.0.1/::1,
client) into DIR.
"""

import dataclasses
import datetime
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

# Subject alternative names of a server certificate unless told otherwise.
DEFAULT_SANS = ("IP:127.0.0.1", "IP:::1", "DNS:localhost")

_OPENSSL_TIMEOUT = 30  # seconds, for any one openssl run

_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
"""

_CA_CONFIG = """\
[ca]
default_ca = ca_default
[ca_default]
database = {workdir}/index.txt
new_certs_dir = {workdir}
serial = {workdir}/serial
default_md = sha256
policy = policy_any
copy_extensions = none
unique_subject = no
[policy_any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = {usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{san_line}
"""


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its private key."""

    cert: Path
    key: Path


@dataclasses.dataclass(frozen=True)
class TestSet:
    """Everything the TLS tests need; see make_test_set."""

    ca: Pair  # the trusted CA
    server: Pair  # signed by ca, for DEFAULT_SANS
    other_ca: Pair  # a CA nobody trusts
    other_server: Pair  # signed by other_ca, for DEFAULT_SANS
    wrong_name: Pair  # signed by ca, for DNS:wrong.example only
    expired: Pair  # signed by ca, for DEFAULT_SANS, valid only in 2020
    client: Pair  # client certificate signed by ca (mTLS)


def _openssl(*args):
    """Runs openssl; raises RuntimeError with its output when it fails."""
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=_OPENSSL_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def _paths(directory, name):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return Pair(directory / f"{name}.crt", directory / f"{name}.key")


def _new_key_args(key):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key)]


def make_ca(directory, name="ca", common_name=None):
    """A self-signed CA valid for ten years."""
    pair = _paths(directory, name)
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "req.cnf"
        config.write_text(_REQ_CONFIG + f"CN = {common_name or 'cplb test ' + name}\n")
        _openssl("req", "-x509", "-config", str(config), *_new_key_args(pair.key), "-out", str(pair.cert),
                 "-days", "3650",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "subjectKeyIdentifier=hash")
    return pair


def _make_leaf(directory, name, ca, common_name, usage, sans, not_before, not_after):
    """A certificate signed by `ca`, valid from not_before to not_after (UTC datetimes)."""
    pair = _paths(directory, name)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "index.txt").write_text("")
        (work / "serial").write_text(f"{secrets.randbits(63) | 1 << 62:016x}\n")  # random, even hex length
        san_line = f"subjectAltName = {','.join(sans)}" if sans else ""
        (work / "ca.cnf").write_text(_CA_CONFIG.format(workdir=work, usage=usage, san_line=san_line))
        (work / "req.cnf").write_text(_REQ_CONFIG + f"CN = {common_name}\n")
        _openssl("req", "-new", "-config", str(work / "req.cnf"), *_new_key_args(pair.key),
                 "-out", str(work / "leaf.csr"))
        stamp = "%Y%m%d%H%M%SZ"
        _openssl("ca", "-batch", "-notext", "-config", str(work / "ca.cnf"),
                 "-cert", str(ca.cert), "-keyfile", str(ca.key), "-in", str(work / "leaf.csr"),
                 "-out", str(pair.cert), "-extensions", "leaf",
                 "-startdate", not_before.strftime(stamp), "-enddate", not_after.strftime(stamp))
    return pair


def _valid_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=365)


def make_server_cert(directory, ca, name="server", sans=DEFAULT_SANS, common_name="localhost"):
    """A server certificate signed by `ca` for `sans` (e.g. "IP:127.0.0.1", "DNS:localhost")."""
    return _make_leaf(directory, name, ca, common_name, "serverAuth", sans, *_valid_now())


def make_wrong_name_cert(directory, ca, name="wrong-name"):
    """A server certificate signed by `ca` that names only DNS:wrong.example."""
    sans = ("DNS:wrong.example",)
    return _make_leaf(directory, name, ca, "wrong.example", "serverAuth", sans, *_valid_now())


def make_expired_cert(directory, ca, name="expired", sans=DEFAULT_SANS):
    """A server certificate signed by `ca` for `sans` that expired on 2020-01-02."""
    utc = datetime.timezone.utc
    return _make_leaf(directory, name, ca, "localhost", "serverAuth", sans,
                      datetime.datetime(2020, 1, 1, tzinfo=utc), datetime.datetime(2020, 1, 2, tzinfo=utc))


def make_client_cert(directory, ca, name="client", common_name="cplb-client"):
    """A client certificate (mTLS) signed by `ca`."""
    return _make_leaf(directory, name, ca, common_name, "clientAuth", (), *_valid_now())


def make_test_set(directory):
    """Every certificate the TLS tests use, in `directory`."""
    ca = make_ca(directory, "ca")
    other_ca = make_ca(directory, "other-ca")
    return TestSet(
        ca=ca,
        server=make_server_cert(directory, ca),
        other_ca=other_ca,
        other_server=make_server_cert(directory, other_ca, name="other-server"),
        wrong_name=make_wrong_name_cert(directory, ca),
        expired=make_expired_cert(directory, ca),
        client=make_client_cert(directory, ca),
    )


def make_demo_set(directory):
    """ca.crt/key, server.crt/key (localhost, 127.0.0.1, ::1) and client.crt/key in `directory`."""
    ca = make_ca(directory, "ca")
    return ca, make_server_cert(directory, ca), make_client_cert(directory, ca)


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} DIR", file=sys.stderr)
        return 1
    for pair in make_demo_set(argv[1]):
        print(pair.cert)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
