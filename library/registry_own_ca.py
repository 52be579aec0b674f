#!/usr/bin/python
"""Keep a host's own CA and the server certificate it signs, in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_own_ca
short_description: Keep a host's own CA and a server certificate signed by it
description:
  - Keeps a CA (an ECDSA key, P-384 unless O(ca_curve) says otherwise, and a
    self-signed certificate, valid for ten years) in O(ca_dir), and a server key (ECDSA P-256) and certificate signed
    by that CA in O(cert_dir), all in one run on the host. Separate key, CSR
    and certificate tasks would run seven modules on every converge.
  - Idempotent. The CA is made once and kept while its certificate matches its
    key and O(ca_common_name); with O(ca_certificate) and O(ca_private_key), the
    CA is that one instead (another host's, of the same name), written where
    the host's files differ. The server certificate is signed again when it
    is missing, does not match the server key, was not issued by the CA, names
    other names than O(names), or is not valid for O(renew_days) more days.
  - Creates O(ca_dir) and O(cert_dir) when they are missing, and keeps them
    (mode C(0750)) and the files (keys C(0600), certificates C(0644)) at their
    modes.
  - A key or certificate that cannot be read is an error, and nothing is
    written. Private keys are written readable by root only.
  - Supports check mode; on a host without the cryptography library, where neither directory exists yet,
    check mode reports that everything would be made.
options:
  ca_dir:
    description: Directory of the CA's C(ca.key) and C(ca.crt).
    type: path
    required: true
  ca_common_name:
    description: Common name of the CA certificate.
    type: str
    required: true
  cert_dir:
    description: Directory of the server's C(privkey.pem) and C(fullchain.pem).
    type: path
    required: true
  names:
    description: The names clients use, the first one the common name; IP addresses become IP entries.
    type: list
    elements: str
    required: true
  valid_days:
    description: Validity of a newly signed server certificate, in days.
    type: int
    required: true
  renew_days:
    description: Sign the server certificate again when it expires within this many days.
    type: int
    required: true
  ca_certificate:
    description:
      - The CA certificate to keep, in PEM, with O(ca_private_key). It is the CA of another host that serves
        the same name, so that clients trust every such host with one CA certificate. Empty for the host's own CA.
    type: str
    default: ""
  ca_private_key:
    description: The key of O(ca_certificate), in PEM, without a passphrase. Empty for the host's own CA.
    type: str
    default: ""
  ca_curve:
    description:
      - The curve of the key of a CA made here; a CA kept keeps its own key. C(P-256) for a CA whose
        signature is checked on every request, as the registry checks the token CA's on the signing
        certificate each token carries, since Go checks P-256 signatures many times faster than P-384 ones.
    type: str
    choices: [P-384, P-256]
    default: P-384
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
requirements:
  - The Python C(cryptography) library on the host (Debian's C(python3-cryptography)).
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Keep the host's CA and the registry's certificate.
  dockyard.registry.registry_own_ca:
    ca_dir: /etc/dockyard/ca
    ca_common_name: dockyard registry CA (registry1)
    cert_dir: /etc/dockyard/tls/registry
    names: [registry.example.com, 10.0.0.5]
    valid_days: 397
    renew_days: 30

- name: Keep the CA of registry1 on registry2, a replica of the same name, and the certificate it signs.
  dockyard.registry.registry_own_ca:
    ca_dir: /etc/dockyard/ca
    ca_common_name: dockyard registry CA (registry1)
    cert_dir: /etc/dockyard/tls/registry
    names: [registry.example.com, registry2.example.com]
    valid_days: 397
    renew_days: 30
    ca_certificate: "{{ registry1_ca_certificate }}"
    ca_private_key: "{{ registry1_ca_private_key }}"
"""

RETURN = r"""
ca_changed:
  description: Whether the CA's key or certificate was made (in check mode, would be).
  returned: always
  type: bool
  sample: false
server_changed:
  description: Whether the server key or certificate was made or signed again (in check mode, would be).
  returned: always
  type: bool
  sample: true
ca_certificate:
  description: The CA certificate, in PEM (in check mode, the one that would be kept).
  returned: always
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
certificate:
  description: The server certificate, in PEM (in check mode, the one that would be written or kept).
  returned: always
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
"""

import datetime
import ipaddress
import os
import secrets
from typing import NamedTuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils._file import (
    FileError,
    make_directory,
    read_text,
    set_mode,
    write_text,
)

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    x509 = None

ARGUMENT_SPEC = dict(
    ca_dir=dict(type="path", required=True),
    ca_common_name=dict(type="str", required=True),
    cert_dir=dict(type="path", required=True),
    names=dict(type="list", elements="str", required=True),
    valid_days=dict(type="int", required=True),
    renew_days=dict(type="int", required=True),
    ca_certificate=dict(type="str", default=""),
    ca_private_key=dict(type="str", default="", no_log=True),
    ca_curve=dict(type="str", choices=["P-384", "P-256"], default="P-384"),
)


def load_key(path):
    text = read_text(path)
    if text is None:
        return None
    try:
        return serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise FileError(f"{path} is not a PEM private key without a passphrase; remove it for a new one") from exc


def load_certificate(path):
    text = read_text(path)
    if text is None:
        return None
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError as exc:
        raise FileError(f"{path} is not a PEM certificate; remove it for a new one") from exc


def same_key(certificate, key):
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    return certificate.public_key().public_bytes(serialization.Encoding.PEM, public) == \
        key.public_key().public_bytes(serialization.Encoding.PEM, public)


def common_name(certificate):
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return names[0].value if names else None


def alt_names(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def certificate_names(certificate):
    try:
        return set(certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return set()


def issued_by(certificate, ca):
    if certificate.issuer != ca.subject:
        return False
    try:
        ca.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes,
                               ec.ECDSA(certificate.signature_hash_algorithm))
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def expires(certificate):
    after = getattr(certificate, "not_valid_after_utc", None)
    return after if after is not None else certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def starts(certificate):
    before = getattr(certificate, "not_valid_before_utc", None)
    return before if before is not None else certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def sign(subject, public_key, issuer, issuer_key, days, extensions):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
               .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def usage(**kinds):
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    return x509.KeyUsage(**dict(flags, **kinds))


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def certificate_pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def wrong_modes(params, paths, writes):
    """The existing directories and files (not about to be written) whose mode is not theirs."""
    written = {write.path for write in writes}
    wanted = [(params["ca_dir"], DIRECTORY_MODE), (params["cert_dir"], DIRECTORY_MODE)] + [
        (paths[name], mode) for name, mode in MODES.items() if paths[name] not in written]
    return [(path, mode) for path, mode in dict(wanted).items()
            if os.path.exists(path) and os.stat(path).st_mode & 0o7777 != mode]


def missing_directories(params):
    return [path for path in dict.fromkeys((params["ca_dir"], params["cert_dir"])) if not os.path.isdir(path)]


MODES = dict(ca_key=0o600, ca_crt=0o644, key=0o600, crt=0o644)
DIRECTORY_MODE = 0o750


class Write(NamedTuple):
    """A file to write."""
    path: str
    text: str
    mode: int


def plan(params, now):
    """The files to write ([Write]), the four paths by role, and the CA certificate."""
    paths = dict(ca_key=os.path.join(params["ca_dir"], "ca.key"), ca_crt=os.path.join(params["ca_dir"], "ca.crt"),
                 key=os.path.join(params["cert_dir"], "privkey.pem"),
                 crt=os.path.join(params["cert_dir"], "fullchain.pem"))
    writes = []
    if params["ca_certificate"]:
        ca, ca_key = given_ca(params)
        for path, text, mode in ((paths["ca_key"], params["ca_private_key"], 0o600),
                                 (paths["ca_crt"], params["ca_certificate"], 0o644)):
            if read_text(path) != text:
                writes.append(Write(path, text, mode))
        return writes + server(params, paths, ca, ca_key, now), paths, params["ca_certificate"]
    ca_key = load_key(paths["ca_key"])
    if ca_key is None:
        ca_key = ec.generate_private_key(ec.SECP256R1() if params["ca_curve"] == "P-256" else ec.SECP384R1())
        writes.append(Write(paths["ca_key"], key_pem(ca_key), 0o600))
    ca = load_certificate(paths["ca_crt"])
    if ca is None or not same_key(ca, ca_key) or common_name(ca) != params["ca_common_name"]:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, params["ca_common_name"])])
        ca = sign(subject, ca_key.public_key(), subject, ca_key, 3650, [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (usage(key_cert_sign=True, crl_sign=True), True)])
        writes.append(Write(paths["ca_crt"], certificate_pem(ca), 0o644))
    return writes + server(params, paths, ca, ca_key, now), paths, certificate_pem(ca)


def given_ca(params):
    """The CA of ca_certificate and ca_private_key, checked to be one."""
    try:
        ca = x509.load_pem_x509_certificate(params["ca_certificate"].encode())
        ca_key = serialization.load_pem_private_key(params["ca_private_key"].encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise FileError("ca_certificate and ca_private_key must be a PEM certificate and its PEM key without a "
                        "passphrase") from exc
    if not same_key(ca, ca_key):
        raise FileError("ca_certificate is not the certificate of ca_private_key")
    return ca, ca_key


def server(params, paths, ca, ca_key, now):
    """The server's key and certificate to write, signed by this CA."""
    writes = []
    key = load_key(paths["key"])
    if key is None:
        key = ec.generate_private_key(ec.SECP256R1())
        writes.append(Write(paths["key"], key_pem(key), 0o600))
    current = load_certificate(paths["crt"])
    names = alt_names(params["names"])
    renewal = now + datetime.timedelta(days=params["renew_days"])
    if (current is None or not same_key(current, key) or not issued_by(current, ca)
            or common_name(current) != params["names"][0] or certificate_names(current) != set(names)
            or not starts(current) <= renewal <= expires(current)):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, params["names"][0])])
        leaf = sign(subject, key.public_key(), ca.subject, ca_key, params["valid_days"], [
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
            (x509.SubjectAlternativeName(names), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (usage(digital_signature=True, key_agreement=True), False)])
        writes.append(Write(paths["crt"], certificate_pem(leaf), 0o644))
    return writes


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if x509 is None:
        # Check mode on a fresh host, where a real run installs the library first: all would be made.
        if module.check_mode and not any(map(os.path.exists, (module.params["ca_dir"], module.params["cert_dir"]))):
            module.exit_json(changed=True, ca_changed=True, server_changed=True, ca_certificate="", certificate="")
        module.fail_json(msg=missing_required_lib("cryptography (Debian: python3-cryptography)"))
    if not module.params["names"]:
        module.fail_json(msg="names must list at least one name")
    if bool(module.params["ca_certificate"]) != bool(module.params["ca_private_key"]):
        module.fail_json(msg="ca_certificate and ca_private_key go together: give both or neither")
    try:
        writes, paths, ca_pem = plan(module.params, datetime.datetime.now(datetime.timezone.utc))
        modes = wrong_modes(module.params, paths, writes)
        created = missing_directories(module.params)
        if not module.check_mode:
            for path in created:
                make_directory(path, DIRECTORY_MODE)
            # A new file gets its mode from the start, a replaced one the old one's: set it again.
            for path, text, mode in writes:
                set_mode(write_text(module, path, text, mode), mode)
            for path, mode in modes:
                set_mode(path, mode)
    except FileError as exc:
        module.fail_json(msg=str(exc))
    changed = {write.path for write in writes} | {path for path, _mode in modes} | set(created)
    certificate = next((write.text for write in writes if write.path == paths["crt"]), None)
    module.exit_json(changed=bool(changed),
                     ca_changed=bool(changed & {paths["ca_key"], paths["ca_crt"]}),
                     server_changed=bool(changed & {paths["key"], paths["crt"]}), ca_certificate=ca_pem,
                     certificate=read_text(paths["crt"]) if certificate is None else certificate)


if __name__ == "__main__":
    main()
