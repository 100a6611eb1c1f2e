"""Authentication: Basic, Digest, throttling of failed logins, TLS."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import logging
import re
import subprocess
import time

import pytest

from tests.dav_support import PASSWORDS, add_doc, running


def docs(archive):
    add_doc(archive, 1, "Invoice", dt.date(2024, 3, 15))


def test_basic(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with running(tmp_path, docs) as dav:
        r = dav.request("PROPFIND", "/", None, headers={"Depth": "0"})
        assert r.status == 401
        assert r.headers["www-authenticate"].startswith('Basic realm="paperfs"')
        assert dav.request("GET", "/by-id/1.pdf", "alice", password="Wrong-Secret-42").status == 401
        assert dav.request("GET", "/by-id/1.pdf", "nobody", password="x").status == 401
        assert dav.request("GET", "/by-id/1.pdf", "alice").status == 200
        # Digest is not accepted when dav.auth is basic
        r = dav.request("GET", "/", None, headers={"Authorization": 'Digest username="alice"'})
        assert r.status == 401 and "Digest" not in r.headers["www-authenticate"]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed WebDAV login for 'alice'" in text
    assert "Wrong-Secret-42" not in text and PASSWORDS["alice"] not in text


def _digest_header(challenge: str, method: str, uri: str, user: str, password: str,
                   nc: str = "00000001") -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    ha1 = hashlib.md5(f"{user}:{params['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cnonce = "0a4f113b"
    response = hashlib.md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
            f'opaque="{params.get("opaque", "")}", algorithm=MD5')


def test_digest(tmp_path):
    with running(tmp_path, docs, digest=True, extra="  auth: both\n") as dav:
        conn = dav.connection()
        conn.request("GET", "/by-id/1.pdf")
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        challenges = r.headers.get_all("WWW-Authenticate")
        digest = next(c for c in challenges if c.startswith("Digest"))
        assert any(c.startswith("Basic") for c in challenges)
        header = _digest_header(digest, "GET", "/by-id/1.pdf", "alice", PASSWORDS["alice"])
        conn.request("GET", "/by-id/1.pdf", headers={"Authorization": header})
        r = conn.getresponse()
        assert r.status == 200 and r.read().startswith(b"%PDF")
        # the same request again (a replay) gets a fresh challenge; the next count
        # of the nonce works, and counts may arrive out of order
        conn.request("GET", "/by-id/1.pdf", headers={"Authorization": header})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        assert "stale=true" in next(c for c in r.headers.get_all("WWW-Authenticate")
                                    if c.startswith("Digest"))
        for nc in ("00000003", "00000002"):
            again = _digest_header(digest, "GET", "/by-id/1.pdf", "alice", PASSWORDS["alice"],
                                   nc=nc)
            conn.request("GET", "/by-id/1.pdf", headers={"Authorization": again})
            r = conn.getresponse()
            r.read()
            assert r.status == 200, nc
        # the digest is bound to the request target and to the password
        conn.request("GET", "/by-id/2.pdf", headers={"Authorization": header})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        bad = _digest_header(digest, "GET", "/by-id/1.pdf", "alice", "wrong")
        conn.request("GET", "/by-id/1.pdf", headers={"Authorization": bad})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        # a nonce this server did not issue is refused
        forged = _digest_header(digest.replace('nonce="', 'nonce="AAAA'), "GET", "/by-id/1.pdf",
                                "alice", PASSWORDS["alice"])
        conn.request("GET", "/by-id/1.pdf", headers={"Authorization": forged})
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        conn.close()
        # Basic works too with 'both'
        assert dav.request("GET", "/by-id/1.pdf").status == 200


def test_failed_logins_are_throttled_per_address(tmp_path):
    extra = ("  throttle_failures: 3\n  throttle_window_seconds: 60\n"
             "  throttle_block_seconds: 1.5\n")
    with running(tmp_path, docs, extra=extra) as dav:
        assert dav.request("GET", "/", None).status == 401  # no credentials: no failure
        for _ in range(3):
            assert dav.request("GET", "/by-id/1.pdf", "alice", password="guess").status == 401
        r = dav.request("GET", "/by-id/1.pdf", "alice")
        assert r.status == 429 and int(r.headers["retry-after"]) >= 1
        time.sleep(1.6)
        assert dav.request("GET", "/by-id/1.pdf", "alice").status == 200


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls(tmp_path, certificate):
    with running(tmp_path, docs, tls=certificate) as dav:
        assert dav.url.startswith("https://")
        assert dav.request("GET", "/by-id/1.pdf").status == 200
        plain = http.client.HTTPConnection("127.0.0.1", dav.port, timeout=5)
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            plain.request("GET", "/")
            r = plain.getresponse()
            if r.status < 400:
                raise AssertionError("plain HTTP must not be served on the TLS port")
            raise ConnectionError(r.status)
