import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.dockyard.registry.plugins.modules import registry_own_ca as mod


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "ca").mkdir()
    (tmp_path / "tls").mkdir()
    return tmp_path


def call(run_module, dirs, check_mode=False, **args):
    args = dict(dict(ca_dir=str(dirs / "ca"), ca_common_name="dockyard registry CA (r1)", cert_dir=str(dirs / "tls"),
                     names=["registry.example.com", "10.0.0.5"], valid_days=90, renew_days=30), **args)
    return run_module(mod.main, args, check_mode=check_mode)


def cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def verify(leaf, ca):
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))


def test_makes_a_ca_and_a_server_certificate_it_signed_with_every_name(run_module, dirs):
    result = call(run_module, dirs)
    assert result["changed"] and result["ca_changed"] and result["server_changed"]
    ca, leaf = cert(dirs / "ca" / "ca.crt"), cert(dirs / "tls" / "fullchain.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject.rfc4514_string() == "CN=dockyard registry CA (r1)"
    verify(leaf, ca)
    assert leaf.issuer == ca.subject and leaf.subject.rfc4514_string() == "CN=registry.example.com"
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["registry.example.com"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert (mod.expires(leaf) - mod.starts(leaf)).days == 90
    assert mode(dirs / "ca" / "ca.key") == 0o600 and mode(dirs / "tls" / "privkey.pem") == 0o600
    assert mode(dirs / "ca" / "ca.crt") == 0o644 and mode(dirs / "tls" / "fullchain.pem") == 0o644


def test_a_second_run_changes_nothing(run_module, dirs):
    call(run_module, dirs)
    before = {path: path.read_bytes() for path in dirs.glob("*/*")}
    result = call(run_module, dirs)
    assert not result["changed"] and not result["ca_changed"] and not result["server_changed"]
    assert {path: path.read_bytes() for path in dirs.glob("*/*")} == before


def ca_curve_made(dirs, run_module, **args):
    assert call(run_module, dirs, **args)["ca_changed"]
    verify(cert(dirs / "tls" / "fullchain.pem"), cert(dirs / "ca" / "ca.crt"))
    return cert(dirs / "ca" / "ca.crt").public_key().curve.name


def test_a_ca_is_made_on_the_curve_asked_and_a_kept_one_keeps_its_own(run_module, dirs):
    assert ca_curve_made(dirs, run_module) == "secp384r1"
    for path in (dirs / "ca").glob("*"):
        path.unlink()
    assert ca_curve_made(dirs, run_module, ca_curve="P-256") == "secp256r1"
    result = call(run_module, dirs)
    assert not result["changed"] and cert(dirs / "ca" / "ca.crt").public_key().curve.name == "secp256r1"


def test_other_names_sign_the_server_certificate_again_with_the_same_key_and_ca(run_module, dirs):
    call(run_module, dirs)
    ca, key = (dirs / "ca" / "ca.crt").read_bytes(), (dirs / "tls" / "privkey.pem").read_bytes()
    result = call(run_module, dirs, names=["registry.example.com", "mirror.example.com"])
    assert result["server_changed"] and not result["ca_changed"]
    assert (dirs / "ca" / "ca.crt").read_bytes() == ca and (dirs / "tls" / "privkey.pem").read_bytes() == key
    names = cert(dirs / "tls" / "fullchain.pem").extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["registry.example.com", "mirror.example.com"]


def test_a_certificate_in_its_renewal_window_is_signed_again(run_module, dirs):
    call(run_module, dirs, valid_days=20)
    serial = cert(dirs / "tls" / "fullchain.pem").serial_number
    result = call(run_module, dirs, valid_days=20, renew_days=30)
    assert result["server_changed"]
    assert cert(dirs / "tls" / "fullchain.pem").serial_number != serial


def test_a_new_ca_signs_the_server_certificate_again(run_module, dirs):
    call(run_module, dirs)
    (dirs / "ca" / "ca.key").unlink()
    (dirs / "ca" / "ca.crt").unlink()
    result = call(run_module, dirs)
    assert result["ca_changed"] and result["server_changed"]
    verify(cert(dirs / "tls" / "fullchain.pem"), cert(dirs / "ca" / "ca.crt"))


def test_a_wrong_mode_is_fixed_and_the_key_kept(run_module, dirs):
    call(run_module, dirs)
    key = dirs / "tls" / "privkey.pem"
    before = key.read_bytes()
    key.chmod(0o644)
    result = call(run_module, dirs)
    assert result["changed"] and result["server_changed"]
    assert mode(key) == 0o600 and key.read_bytes() == before


def test_a_pkcs8_key_made_elsewhere_is_kept(run_module, dirs):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (dirs / "tls" / "privkey.pem").write_bytes(pem)
    (dirs / "tls" / "privkey.pem").chmod(0o600)
    call(run_module, dirs)
    assert (dirs / "tls" / "privkey.pem").read_bytes() == pem
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert(dirs / "tls" / "fullchain.pem").public_key().public_bytes(serialization.Encoding.PEM, public) == \
        key.public_key().public_bytes(serialization.Encoding.PEM, public)


def test_check_mode_reports_and_writes_nothing(run_module, dirs):
    result = call(run_module, dirs, check_mode=True)
    assert result["changed"] and result["ca_changed"] and result["server_changed"]
    assert list(dirs.glob("*/*")) == []


def test_check_mode_on_a_host_without_the_directories_reports(run_module, tmp_path):
    result = call(run_module, tmp_path / "new", check_mode=True)
    assert result["changed"] and result["server_changed"]
    assert not (tmp_path / "new").exists()


def test_a_key_that_cannot_be_read_is_refused_and_nothing_is_written(run_module, dirs):
    (dirs / "tls" / "privkey.pem").write_text("not a key\n")
    result = call(run_module, dirs)
    assert result["failed"]
    assert result["msg"] == f"{dirs / 'tls' / 'privkey.pem'} is not a PEM private key without a passphrase; " \
                            "remove it for a new one"
    assert not (dirs / "ca" / "ca.key").exists()


def test_makes_the_missing_directories_and_keeps_their_mode(run_module, tmp_path):
    result = call(run_module, tmp_path / "new")
    assert result["changed"]
    assert mode(tmp_path / "new" / "ca") == 0o750 and mode(tmp_path / "new" / "tls") == 0o750
    (tmp_path / "new" / "tls").chmod(0o755)
    result = call(run_module, tmp_path / "new")
    assert result["changed"] and not result["server_changed"] and mode(tmp_path / "new" / "tls") == 0o750
    assert not call(run_module, tmp_path / "new")["changed"]


def test_returns_the_ca_certificate_and_the_certificate_it_keeps(run_module, dirs):
    made = call(run_module, dirs)
    assert made["ca_certificate"] == (dirs / "ca" / "ca.crt").read_text()
    assert made["certificate"] == (dirs / "tls" / "fullchain.pem").read_text()
    kept = call(run_module, dirs)
    assert (kept["ca_certificate"], kept["certificate"]) == (made["ca_certificate"], made["certificate"])
    # Signed again for other names: the new one.
    signed = call(run_module, dirs, names=["other.example.com"])
    assert signed["server_changed"] and signed["certificate"] != made["certificate"]
    assert signed["certificate"] == (dirs / "tls" / "fullchain.pem").read_text()


def another_host(run_module, tmp_path):
    """The CA files of another host of the same name (made by this module there)."""
    (tmp_path / "other" / "ca").mkdir(parents=True)
    (tmp_path / "other" / "tls").mkdir()
    call(run_module, tmp_path / "other")
    return (tmp_path / "other" / "ca" / "ca.crt").read_text(), (tmp_path / "other" / "ca" / "ca.key").read_text()


def test_a_given_ca_replaces_the_hosts_own_and_signs_its_certificate_again(run_module, dirs, tmp_path):
    call(run_module, dirs)
    key = (dirs / "tls" / "privkey.pem").read_bytes()
    certificate, private_key = another_host(run_module, tmp_path)
    result = call(run_module, dirs, ca_certificate=certificate, ca_private_key=private_key)
    assert result["changed"] and result["ca_changed"] and result["server_changed"]
    assert result["ca_certificate"] == certificate
    assert (dirs / "ca" / "ca.crt").read_text() == certificate and (dirs / "ca" / "ca.key").read_text() == private_key
    assert mode(dirs / "ca" / "ca.key") == 0o600
    verify(cert(dirs / "tls" / "fullchain.pem"), x509.load_pem_x509_certificate(certificate.encode()))
    assert (dirs / "tls" / "privkey.pem").read_bytes() == key
    assert not call(run_module, dirs, ca_certificate=certificate, ca_private_key=private_key)["changed"]


def test_a_given_ca_on_a_fresh_host_signs_its_first_certificate(run_module, dirs, tmp_path):
    certificate, private_key = another_host(run_module, tmp_path)
    result = call(run_module, dirs, ca_certificate=certificate, ca_private_key=private_key)
    assert result["ca_changed"] and result["server_changed"]
    verify(cert(dirs / "tls" / "fullchain.pem"), x509.load_pem_x509_certificate(certificate.encode()))


def test_a_given_certificate_of_another_key_is_refused_and_nothing_is_written(run_module, dirs, tmp_path):
    certificate = another_host(run_module, tmp_path)[0]
    wrong = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    result = call(run_module, dirs, ca_certificate=certificate, ca_private_key=wrong)
    assert result["failed"] and result["msg"] == "ca_certificate is not the certificate of ca_private_key"
    assert list((dirs / "ca").iterdir()) + list((dirs / "tls").iterdir()) == []
    half = call(run_module, dirs, ca_certificate=certificate)
    assert half["failed"] and half["msg"] == "ca_certificate and ca_private_key go together: give both or neither"


def test_check_mode_without_the_library_reports_a_fresh_host_as_all_to_make(run_module, tmp_path, monkeypatch):
    monkeypatch.setattr(mod, "x509", None)
    fresh = dict(ca_dir=str(tmp_path / "ca"), cert_dir=str(tmp_path / "tls"))
    checked = call(run_module, tmp_path, check_mode=True, **fresh)
    assert checked["changed"] and checked["ca_changed"] and checked["server_changed"]
    assert not (tmp_path / "ca").exists()
    (tmp_path / "ca").mkdir()
    made = call(run_module, tmp_path, check_mode=True, **fresh)
    assert made["failed"] and "cryptography (Debian: python3-cryptography)" in made["msg"]
