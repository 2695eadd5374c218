"""Mutual TLS for the Dask batch cluster: a private CA and one certificate for its members.

``python -m obesity_risk.dask_tls FOLDER`` writes ``ca.pem``, ``cert.pem`` and ``key.pem`` (mode
0600) once (an existing set is kept). The scheduler, its workers and their clients read them
through Dask's own configuration (:func:`dask_environment`: ``DASK_DISTRIBUTED__COMM__...``
variables, no code of ours on the wire), refuse unencrypted connections, and accept only peers
that present a certificate of this CA: whoever can reach the scheduler's port without the files
can neither submit work nor join as a worker (which would hand it the workers' secrets).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FILES = ("ca.pem", "cert.pem", "key.pem")
NAMES = ("dask-scheduler", "dask-worker", "localhost")
VALID_DAYS = 825


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path) -> Path:
    """Write a CA and a member certificate into ``folder`` unless all three files exist."""
    folder = Path(folder)
    if all((folder / name).is_file() for name in FILES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("obesity-risk dask CA"))
        .issuer_name(_name("obesity-risk dask CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("obesity-risk dask member"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    secret = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(folder / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return folder


def dask_environment(folder: Path) -> dict[str, str]:
    """Dask's configuration (as environment variables) for a member using ``folder``."""
    folder = Path(folder)
    env = {
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(folder / "ca.pem"),
    }
    for role in ("SCHEDULER", "WORKER", "CLIENT"):
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__CERT"] = str(folder / "cert.pem")
        env[f"DASK_DISTRIBUTED__COMM__TLS__{role}__KEY"] = str(folder / "key.pem")
    return env


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m obesity_risk.dask_tls FOLDER\n")
        raise SystemExit(2)
    sys.stdout.write(f"certificates in {make_certificates(Path(sys.argv[1]))}\n")
