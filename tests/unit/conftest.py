"""What the token server's tests and the retention module's share: an ES256
signing key with its self-signed certificate, and the claims of a token once
its signature checks with that certificate alone."""

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID


@pytest.fixture()
def key_pair(tmp_path):
    """(key, certificate), also written to tmp_path as signing.key and signing.crt."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard token signer")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(datetime.datetime(2026, 1, 1)).not_valid_after(datetime.datetime(2028, 1, 1))
                   .sign(key, hashes.SHA256()))
    (tmp_path / "signing.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    (tmp_path / "signing.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def claims(token, certificate):
    """The claims, once the signature checks with the x5c certificate, which must be the signer's."""
    header, payload, signature = token.split(".")

    def decode(part):
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    head = json.loads(decode(header))
    assert head["alg"] == "ES256" and head["typ"] == "JWT"
    assert head["x5c"] == [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()]
    raw = decode(signature)
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    certificate.public_key().verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(decode(payload))


@pytest.fixture()
def token_claims():
    """claims(token, certificate)."""
    return claims
