"""The grammars every value must match before it reaches a host or a generated file.

Each grammar is a kind of value (a host name, host[:port], a root URL, a port,
an instance name, a path on a managed host, a user name, a password, ...) with
one checking function and one sentence saying what is expected. The roles'
validate.yml files call these filters on the controller, before any task
changes anything; a refusal names the variable, shows the offending value
(never for secrets, and URLs without their credentials) and says what to give.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import json
import posixpath
import re
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import yaml
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^{LABEL}(?:\.{LABEL})*$")
PORT = re.compile(r"^[0-9]{1,5}$")
INSTANCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
PATH_PART = re.compile(r"^[A-Za-z0-9._+@-]+$")
EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9._%+-]+$")
DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")
URL_PATH = re.compile(r"^(?:/[A-Za-z0-9._~%-]*)*$")
EAB_KID = re.compile(r"^[A-Za-z0-9._~+/=-]{1,256}$")
BASE64URL = re.compile(r"^[A-Za-z0-9_-]{16,}={0,2}$")
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ACCESS_KEY = re.compile(r"^[A-Za-z0-9+/=._-]{1,128}$")
INVENTORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}$")
REDIS_PASSWORD = re.compile(r"^[A-Za-z0-9!#$%&()*+,./:;<=>?@\[\]^_`{|}~-]{16,512}$")
MEMORY = re.compile(r"^[1-9][0-9]{0,15}(?:[kmg]b?)?$", re.I)
REPOSITORY_PATTERN = re.compile(r"^[a-z0-9._/*?\[\]!-]{1,255}$")
ACCESS_PATTERN = re.compile(r"^[a-z0-9._/*-]{1,255}$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$")
AGE = re.compile(r"^[0-9]{1,6}[smhdw]$")
DISK_SIZE = re.compile(r"^[1-9][0-9]{0,12}[kmg]?$", re.I)
CALENDAR = re.compile(r"^[A-Za-z0-9 *:/,.~+-]{1,128}$")
IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(
    rf"^(?:{LABEL}(?:\.{LABEL})*(?::[0-9]{{1,5}})?/)?{IMAGE_COMPONENT}(?:/{IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")

# Directories a role must never take over (chmod, own, fill): the roots of the
# system, and trees that belong to the OS or to Docker itself.
SYSTEM_DIRS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt",
    "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
    "/etc/docker", "/etc/nginx", "/etc/ssl", "/etc/systemd", "/usr/local", "/var/cache", "/var/lib",
    "/var/log", "/var/tmp",
})
SYSTEM_TREES = ("/bin/", "/boot/", "/dev/", "/lib/", "/lib32/", "/lib64/", "/proc/", "/run/", "/sbin/",
                "/sys/", "/usr/bin/", "/usr/lib/", "/usr/sbin/", "/usr/share/", "/var/lib/docker/")

MAX_PASSWORD_BYTES = 72


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _ip(value):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def host(value):
    """A DNS name or an IP address, nothing else."""
    if not isinstance(value, str):
        return False
    if _ip(value) is not None:
        return True
    return len(value) <= 253 and bool(HOSTNAME.fullmatch(value))


def ip(value):
    return isinstance(value, str) and _ip(value) is not None


def dns_name(value):
    return isinstance(value, str) and _ip(value) is None and len(value) <= 253 and bool(HOSTNAME.fullmatch(value))


def port(value):
    if isinstance(value, str) and PORT.fullmatch(value):
        value = int(value)
    return _is_int(value) and 1 <= value <= 65535


def port_or_zero(value):
    return port(value) or value in (0, "0")


def batch(value):
    """A rollout batch as the play keyword serial takes it: a host count, or a percentage."""
    if isinstance(value, str) and value.endswith("%"):
        return percentage(value[:-1]) and value != "0%"
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value):
        value = int(value)
    return _is_int(value) and value > 0


def seconds(value):
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value):
        value = int(value)
    return _is_int(value) and 0 <= value <= 3600


def bcrypt_cost(value):
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,2}", value):
        value = int(value)
    return _is_int(value) and 4 <= value <= 14


def percentage(value):
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value):
        value = int(value)
    return _is_int(value) and 0 <= value <= 100


def _split_host_port(value):
    """Split host[:port] or [v6][:port]; return (host, port or None) or None."""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        address, rest = value[1:end], value[end + 1:]
        if _ip(address) is None or _ip(address).version != 6:
            return None
        if rest == "":
            return address, None
        return (address, rest[1:]) if rest.startswith(":") else None
    name, sep, number = value.partition(":")
    return name, (number if sep else None)


def host_port(value):
    if not isinstance(value, str) or not value:
        return False
    parts = _split_host_port(value)
    if parts is None:
        return False
    name, number = parts
    return (host(name) and (_ip(name) is None or ":" not in name or value.startswith("["))
            and (number is None or port(number)))


def cidr(value):
    """An IP address or a network in CIDR notation."""
    if not isinstance(value, str) or not re.fullmatch(r"^[0-9A-Fa-f.:]+(?:/[0-9]{1,3})?$", value):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _url(value, schemes, path_allowed):
    if not isinstance(value, str) or not re.fullmatch(r"^[\x21-\x7e]+$", value):
        return False
    try:
        parts = urlsplit(value)
        parsed_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in schemes or parts.query or parts.fragment or "#" in value or "?" in value:
        return False
    netloc = parts.netloc
    if "@" in netloc or not netloc or not host_port(netloc) or parsed_port == 0:
        return False
    if path_allowed:
        return bool(URL_PATH.fullmatch(parts.path))
    return parts.path in ("", "/")


def root_url(value):
    return _url(value, ("http", "https"), False)


def https_root_url(value):
    return _url(value, ("https",), False)


def mirror_url(value):
    """An https root URL, or one with a path of one registry host: a mirror host's route to that upstream's cache."""
    match = isinstance(value, str) and re.fullmatch(r"(https://[^/]+)(?:/([^/]+))?/?", value)
    return bool(match) and https_root_url(match[1]) and (match[2] is None or host_port(match[2]))


def repo_url(value):
    return _url(value, ("http", "https"), True)


def https_url(value):
    return _url(value, ("https",), True)


def insecure_registry(value):
    return host_port(value) or (isinstance(value, str) and "/" in value and cidr(value))


def instance_name(value):
    return isinstance(value, str) and bool(INSTANCE.fullmatch(value))


def file_name(value):
    return isinstance(value, str) and bool(PATH_PART.fullmatch(value)) and value not in (".", "..")


def host_path(value):
    """An absolute path of plain components, safe in a shell word and a volume spec."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 1024:
        return False
    parts = value.rstrip("/").split("/")[1:]
    return all(PATH_PART.fullmatch(part) and part not in (".", "..") for part in parts) and "//" not in value


def host_dir(value):
    """A host_path that is no system directory and lies in no system tree."""
    if not host_path(value):
        return False
    normal = value.rstrip("/") or "/"
    return normal not in SYSTEM_DIRS and not (normal + "/").startswith(SYSTEM_TREES)


def restore_archive(value):
    """A host_path, or newest: the newest archive of the registry in its backup directory."""
    return value == "newest" or host_path(value)


def user_name(value):
    return isinstance(value, str) and bool(USER.fullmatch(value))


def password(value):
    return (isinstance(value, str) and 0 < len(value.encode()) <= MAX_PASSWORD_BYTES
            and not re.search(r"[\x00\r\n]", value))


def secret(value):
    return isinstance(value, str) and bool(re.fullmatch(r"^[^\x00-\x1f\x7f]{1,4096}$", value))


def email(value):
    if not isinstance(value, str) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(EMAIL_LOCAL.fullmatch(local)) and dns_name(domain) and "." in domain


def duration(value):
    return isinstance(value, str) and bool(DURATION.fullmatch(value))


def image(value):
    return isinstance(value, str) and len(value) <= 512 and bool(IMAGE.fullmatch(value))


def s3_bucket(value):
    return isinstance(value, str) and bool(S3_BUCKET.fullmatch(value)) and ".." not in value


def s3_region(value):
    return isinstance(value, str) and bool(S3_REGION.fullmatch(value))


def access_key(value):
    return isinstance(value, str) and bool(ACCESS_KEY.fullmatch(value))


def inventory_name(value):
    return isinstance(value, str) and bool(INVENTORY_NAME.fullmatch(value))


def redis_password(value):
    return isinstance(value, str) and bool(REDIS_PASSWORD.fullmatch(value))


def memory(value):
    return isinstance(value, str) and bool(MEMORY.fullmatch(value))


def disk_size(value):
    return isinstance(value, str) and bool(DISK_SIZE.fullmatch(value))


def repository_pattern(value):
    return isinstance(value, str) and bool(REPOSITORY_PATTERN.fullmatch(value))


def access_pattern(value):
    return isinstance(value, str) and bool(ACCESS_PATTERN.fullmatch(value))


def tag_pattern(value):
    return isinstance(value, str) and bool(TAG_PATTERN.fullmatch(value))


def age(value):
    return isinstance(value, str) and bool(AGE.fullmatch(value))


def regex(value):
    if not isinstance(value, str) or not 0 < len(value) <= 256 or re.search(r"[\x00-\x1f]", value):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def calendar(value):
    return isinstance(value, str) and bool(CALENDAR.fullmatch(value)) and value.strip() == value


def count(value):
    return _is_int(value) and int(value) >= 0


def date(value):
    """A day as YYYY-MM-DD: text, or the date YAML reads from it unquoted."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return True
    if not (isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def eab_kid(value):
    return isinstance(value, str) and bool(EAB_KID.fullmatch(value))


def eab_hmac_key(value):
    return isinstance(value, str) and bool(BASE64URL.fullmatch(value))


class Grammar(NamedTuple):
    check: Callable[[object], bool]
    # What to give, as the refusal says it.
    expected: str
    # Whether a refusal shows the value (never a secret's).
    visible: bool
    # The part of the value that is checked and shown (a path's file name), if not all of it.
    part: Callable[[str], str] | None = None


# The grammars an option's argument spec may name (grammar: NAME).
GRAMMARS = {
    "host": Grammar(host, "a bare host name or IP address (letters, digits, '-' and '.'; no scheme, port, path or spaces)", True),
    "ip": Grammar(ip, "an IP address such as 127.0.0.1 or 10.0.0.5", True),
    "host_port": Grammar(host_port, "host[:port] as in image names, e.g. registry.example.com:5000 or [2001:db8::1]:443 "
                         "(no scheme, path or spaces; port 1-65535)", True),
    "cidr": Grammar(cidr, "an IP address or a CIDR network such as 10.0.0.0/8", True),
    "port": Grammar(port, "a port number from 1 to 65535", True),
    "port_or_zero": Grammar(port_or_zero, "a port number from 1 to 65535, or 0 for none", True),
    "batch": Grammar(batch, "a number of hosts, or a percentage of the group such as 25%", True),
    "bcrypt_cost": Grammar(bcrypt_cost, "a bcrypt cost from 4 to 14 (each step doubles the time a password's check takes)",
                           True),
    "percentage": Grammar(percentage, "a whole number from 0 to 100", True),
    "seconds": Grammar(seconds, "a whole number of seconds from 0 to 3600", True),
    "root_url": Grammar(root_url, "the root URL of a registry, http(s)://host[:port], with no credentials, path, "
                        "query or spaces (give an account in the username and password settings)", True),
    "https_root_url": Grammar(https_root_url, "an https:// root URL, https://host[:port], with no credentials, path, "
                              "query or spaces", True),
    "mirror_url": Grammar(mirror_url, "an https:// root URL, https://host[:port], or one with the upstream's host as "
                          "its path, https://host[:port]/upstream (a mirror host's route), with no credentials, "
                          "query or spaces", True),
    "repo_url": Grammar(repo_url, "an http(s):// URL with no credentials, query, fragment or spaces", True),
    "endpoint_url": Grammar(root_url, "an http(s)://host[:port] URL with no credentials, path, query or spaces", True),
    "https_url": Grammar(https_url, "an https:// URL with no credentials, query, fragment or spaces", True),
    "insecure_registry": Grammar(insecure_registry, "host[:port] as in image names, or a CIDR network such as "
                                 "10.1.0.0/16 (no scheme or path)", True),
    "instance_name": Grammar(instance_name, "1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit "
                             "(it names a container, files and an nginx vhost)", True),
    "file_name": Grammar(file_name, "a plain file name (letters, digits, '.', '_', '+', '@' or '-')", True,
                         posixpath.basename),
    "host_path": Grammar(host_path, "an absolute path of plain components (letters, digits, '.', '_', '+', '@', '-'; "
                         "no '..', spaces, quotes or shell characters)", True),
    "host_dir": Grammar(host_dir, "an absolute path of plain components (letters, digits, '.', '_', '+', '@', '-'; "
                        "no '..', spaces or shell characters), below a system directory such as /srv, "
                        "/var/lib or /etc, never the system directory itself", True),
    "restore_archive": Grammar(restore_archive, "newest, or an absolute path of plain components (letters, digits, "
                               "'.', '_', '+', '@', '-'; no '..', spaces, quotes or shell characters)", True),
    "user_name": Grammar(user_name, "1 to 64 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or "
                         "digit (no ':', spaces or line breaks)", True),
    "password": Grammar(password, "1 to 72 bytes (bcrypt ignores the rest) without line breaks or NUL", False),
    "secret": Grammar(secret, "1 to 4096 characters without line breaks or other control characters", False),
    "email": Grammar(email, "an e-mail address such as ops@example.com", True),
    "duration": Grammar(duration, "a Go duration such as 168h or 90m", True),
    "image": Grammar(image, "an image reference such as registry:2 or mirror.example.com/library/registry:3.0.0", True),
    "s3_bucket": Grammar(s3_bucket, "an S3 bucket name: 3 to 63 lower-case letters, digits, '.' or '-', starting and "
                         "ending with a letter or digit", True),
    "s3_region": Grammar(s3_region, "a region name such as us-east-1 (lower-case letters, digits and '-')", True),
    "access_key": Grammar(access_key, "an access key id as the S3 service gave it (letters, digits and '+/=._-')", False),
    "inventory_name": Grammar(inventory_name, "an inventory host name (letters, digits, '_', '.', ':' or '-')", True),
    "redis_password": Grammar(redis_password, "16 to 512 letters, digits or punctuation (no spaces, quotes or backslashes)",
                              False),
    "memory": Grammar(memory, "a redis memory size such as 512mb or 2gb (a number, optionally with k, kb, m, mb, g or gb)",
                      True),
    "disk_size": Grammar(disk_size, "a size such as 512m or 10g (a number, optionally with k, m or g)", True),
    "repository_pattern": Grammar(repository_pattern, "a shell pattern of repository names such as ci/* or team-?/app "
                                  "(lower-case letters, digits, '._/-' and '*?[]!')", True),
    "access_pattern": Grammar(access_pattern, "a repository name, or one with '*' for any characters ('/' too), such as "
                              "team-a/* or base/python (lower-case letters, digits, '._/-' and '*')", True),
    "tag_pattern": Grammar(tag_pattern, "a tag, or one with '*' for any characters, such as v* or release-* (letters, "
                           "digits, '_.-' and '*', not starting with '.' or '-')", True),
    "age": Grammar(age, "a number and a unit, s, m, h, d or w, such as 30d", True),
    "regex": Grammar(regex, "a (Python) regular expression of at most 256 characters, such as v[0-9].*", True),
    "calendar": Grammar(calendar, "a systemd calendar expression such as daily or Sun *-*-* 03:00 (letters, digits, "
                        "spaces and '*:/,.~+-')", True),
    "count": Grammar(count, "a whole number, 0 or more", True),
    "date": Grammar(date, "a day such as 2027-06-30 (YYYY-MM-DD)", True),
    "eab_kid": Grammar(eab_kid, "an EAB key id as the CA gave it (letters, digits and '._~+/=-')", True),
    "eab_hmac_key": Grammar(eab_hmac_key, "the CA's base64url HMAC key (at least 16 characters of A-Z, a-z, 0-9, '-', '_')",
                            False),
}


def _shown(value):
    """The value as a refusal shows it: JSON-quoted (line breaks visible), URL credentials masked."""
    if isinstance(value, str):
        value = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1***@", value)
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _refusal(variable, value, name):
    grammar = GRAMMARS[name]
    if grammar.part and isinstance(value, str):
        value = grammar.part(value)
    if grammar.check(value):
        return None
    if grammar.visible:
        return f"{variable} {_shown(value)} is not valid: give {grammar.expected}."
    return f"{variable} is not valid: give {grammar.expected}."


def dockyard_refusals(checks):
    """Sentences for the values computed from options that break their grammar.

    checks: a list of [what, value, grammar]. The grammar may be prefixed with
    "list:" (the value is a list and each item must match).
    """
    return [sentence for what, value, grammar in checks
            for sentence in _value_refusals(what, value, {"type": "list", "grammar": grammar.removeprefix("list:")}
                                            if grammar.startswith("list:") else {"grammar": grammar})]


def _may_be_empty(spec):
    """Whether an empty value ("" or null; a list's is null) stands for none: the option's default is one."""
    return spec.get("default", "unset") in ("", None)


def _items(value):
    """A list's items, a flattened list of lists (the members of groups)."""
    return [item for entry in value for item in (entry if isinstance(entry, (list, tuple)) else [entry])]


def _value_refusals(variable, value, spec):
    """Sentences for a value that breaks the grammar its spec declares (a list's items, a record's fields, a
    group mapping's names and members)."""
    if value is None or isinstance(value, str) and value == "" and spec.get("type") != "list":
        if _may_be_empty(spec):
            return []
    if spec.get("type") == "list":
        if spec.get("options"):
            return _record_refusals(variable, value, spec["options"])
        if not isinstance(value, (list, tuple)):
            return [f"{variable} must be a list, not {_shown(value)}."]
        return [s for s in (_refusal(f"{variable}[{i}]", item, spec["grammar"]) for i, item in enumerate(value)) if s]
    if spec.get("type") == "dict":
        if not isinstance(value, Mapping):
            return [f"{variable} must be a mapping, not {_shown(value)}."]
        items = {"type": "list", "grammar": spec["grammar"]}
        return (_value_refusals(f"{variable} names", list(value), items)
                + _value_refusals(f"{variable} members", _items(value.values()), items))
    return [s for s in [_refusal(variable, value, spec["grammar"])] if s]


def _record_refusals(variable, records, fields):
    """Sentences for the records (mappings) of a list whose fields break their grammars or repeat a field
    declared unique. A field that is absent passes (the argument spec says which are required), and so does a
    null one without a default; a null one with a default passes as an option's empty value does (keep_last:
    null is refused, older_than: null passes)."""
    if not isinstance(records, (list, tuple)):
        return [f"{variable} must be a list of mappings, not {_shown(records)}."]
    sentences = []
    seen = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            sentences.append(f"{variable}[{index}] must be a mapping.")
            continue
        for field, spec in fields.items():
            if "grammar" in spec and field in record and (record[field] is not None or "default" in spec):
                sentences += _value_refusals(f"{variable}[{index}].{field}", record[field], spec)
            if spec.get("unique") and field in record:
                key = str(record[field])
                if key in seen.setdefault(field, {}):
                    sentences.append(f"{variable}[{index}] repeats {field} {_shown(record[field])} "
                                     f"of {variable}[{seen[field][key]}]: each must be listed once.")
                seen[field].setdefault(key, index)
    return sentences


def _checked(spec):
    return "grammar" in spec or any("grammar" in field or field.get("unique")
                                    for field in (spec.get("options") or {}).values())


def dockyard_option_refusals(options, values):
    """Sentences for the options whose value breaks the grammar their argument spec declares.

    options: the options of a role's argument spec, {name: spec}; an option's
    spec may name a grammar (grammar: NAME, a key of GRAMMARS), and so may the
    fields of a list of records, which may also be declared unique (unique:
    true). A list's items each match the grammar, a mapping's names and
    members do (groups), and an empty value ("" or null) passes where the
    option's default is one.
    values: the options' values, in the order of options.
    """
    return [sentence for (name, spec), value in zip(options.items(), values, strict=True) if _checked(spec)
            for sentence in _value_refusals(name, value, spec)]


def dockyard_retention_refusals(rules, variable):
    """Sentences for the retention rules that would let every tag go (their grammars are checked before)."""
    return [f"{variable}[{index}] ({rule.get('repositories')}) sets neither keep_last above 0 nor older_than, so every "
            "tag keep_tags does not name would go: set keep_last, older_than or both."
            for index, rule in enumerate(rules) if not (int(rule.get("keep_last", 0)) or rule.get("older_than"))]


def dockyard_in_state(records, state):
    """The records (dicts) whose state is state; a record without one is present."""
    return [record for record in records if record.get("state", "present") == state]


def dockyard_redact(records, fields=("password",)):
    """The records without their secret fields, for loops, labels and messages.

    Each record gets has_<field>, true where that field was set and not empty.
    """
    redacted = []
    for record in records:
        public = {k: v for k, v in record.items() if k not in fields}
        public.update({f"has_{field}": bool(record.get(field)) for field in fields})
        redacted.append(public)
    return redacted


def dockyard_uncovered(names, subject_alt_names):
    """The names that a certificate's subject alternative names do not cover.

    subject_alt_names as community.crypto reports them ("DNS:a.example.com",
    "IP:192.0.2.1"); a DNS wildcard covers exactly one label.
    """
    dns = [san[4:].lower().rstrip(".") for san in subject_alt_names or [] if san.startswith("DNS:")]
    ips = {_ip(san[3:]) for san in subject_alt_names or [] if san.startswith("IP:")} - {None}
    uncovered = []
    for name in names:
        address = _ip(name)
        if address is not None:
            covered = address in ips
        else:
            name = name.lower().rstrip(".")
            covered = name in dns or any(
                pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]
                for pattern in dns)
        if not covered:
            uncovered.append(name)
    return uncovered


def dockyard_present_keys(config, keys):
    """The keys, each a dotted path such as section or section.key.subkey, that the configuration mapping has."""
    present = []
    for key in keys:
        value = config or {}
        for name in key.split("."):
            if not isinstance(value, dict) or name not in value:
                break
            value = value[name]
        else:
            present.append(key)
    return present


# daemon.json keys dockerd (20.10 up to 28.x) reads on Linux, by JSON type.
DAEMON_KEYS = {
    bool: ["cri-containerd", "debug", "experimental", "icc", "init", "ip-forward", "ip-forward-no-drop", "ip-masq",
           "ip6tables", "iptables", "ipv6", "live-restore", "no-new-privileges", "raw-logs", "rootless",
           "selinux-enabled", "tls", "tlsverify", "userland-proxy", "allow-direct-routing"],
    int: ["cpu-rt-period", "cpu-rt-runtime", "max-concurrent-downloads", "max-concurrent-uploads",
          "max-download-attempts", "mtu", "network-control-plane-mtu", "network-diagnostic-port",
          "oom-score-adjust", "shutdown-timeout", "swarm-raft-election-tick", "swarm-raft-heartbeat-tick"],
    str: ["api-cors-header", "bip", "bip6", "bridge", "bridge-accept-fwmark", "cgroup-parent", "cluster-advertise",
          "cluster-store", "containerd", "containerd-namespace", "containerd-plugin-namespace", "data-root",
          "default-cgroupns-mode", "default-gateway", "default-gateway-v6", "default-init", "default-ipc-mode",
          "default-runtime", "default-shm-size", "exec-root", "firewall-backend", "fixed-cidr", "fixed-cidr-v6",
          "group", "host-gateway-ip", "init-path", "ip", "log-driver", "log-format", "log-level", "metrics-addr",
          "pidfile", "resolv-conf", "seccomp-profile", "storage-driver", "swarm-default-advertise-addr",
          "tlscacert", "tlscert", "tlskey", "userland-proxy-path", "userns-remap"],
    list: ["allow-nondistributable-artifacts", "authorization-plugins", "cdi-spec-dirs", "default-address-pools",
           "dns", "dns-opts", "dns-search", "exec-opts", "host-gateway-ips", "hosts", "insecure-registries",
           "labels", "node-generic-resources", "registry-mirrors", "storage-opts"],
    dict: ["builder", "cluster-store-opts", "default-network-opts", "default-ulimits", "features", "log-opts",
           "proxies", "runtimes"],
}
DAEMON_TYPES = {key: kind for kind, keys in DAEMON_KEYS.items() for key in keys}
JSON_NAMES = {bool: "true or false", int: "a whole number", str: "a string", list: "a list", dict: "a mapping"}


def dockyard_daemon_config_refusals(config, variable, refused=None):
    """Sentences for daemon.json keys that would keep dockerd from starting.

    refused: {key: reason} for keys the caller must not set at all.
    """
    if not isinstance(config, Mapping):
        return [f"{variable} must be a mapping of daemon.json keys, not {_shown(config)}."]
    sentences = []
    for key, value in config.items():
        if refused and key in refused:
            sentences.append(f"{variable} sets {_shown(key)}, {refused[key]}")
            continue
        kind = DAEMON_TYPES.get(key)
        if kind is None:
            sentences.append(f"{variable} sets {_shown(key)}, which is no daemon.json key dockerd knows: "
                             "dockerd would refuse to start (a misspelling?).")
        elif not (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
            sentences.append(f"{variable}[{_shown(key)}] is {_shown(value)}, but dockerd wants "
                             f"{JSON_NAMES[kind]} there and would refuse to start.")
    return sentences


# The options typed a number or true/false in the roles' argument specs.
# The collection's root (this file is its plugins/filter/dockyard.py).
COLLECTION = Path(__file__).parents[2]
SCALAR_KINDS = {"int": "a number", "float": "a number", "bool": "true or false"}


@functools.cache
def dockyard_scalar_options(roles_dir):
    """{option: type} of the number and true/false options of roles_dir/*/meta/argument_specs.yml (roles_dir relative
    to the collection's root)."""
    kinds = {}
    for spec in sorted((COLLECTION / roles_dir).glob("*/meta/argument_specs.yml")):
        options = yaml.safe_load(spec.read_text())["argument_specs"]["main"]["options"]
        kinds.update({name: option["type"] for name, option in options.items() if option.get("type") in SCALAR_KINDS})
    return kinds


def _typed(kind, text):
    """The value the text stands for, or None when it stands for none."""
    text = text.strip()
    if kind == "bool":
        return True if text.lower() in BOOLEANS_TRUE else False if text.lower() in BOOLEANS_FALSE else None
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        return None


def dockyard_text_refusals(values, kinds):
    """Sentences for the options of kinds ({option: type}) whose value (values: {option: value} of those set) is
    text: ansible-playbook -e name=value passes text, which the roles would compare as text, and a template reads
    any text but an empty one as true, "false" too."""
    sentences = []
    for name, kind in kinds.items():
        value = values.get(name)
        if not isinstance(value, str):
            continue
        typed = _typed(kind, value)
        example = f"-e '{json.dumps({name: typed})}'" if typed is not None else f"-e '{{\"{name}\": ...}}'"
        sentences.append(
            f"{name} is the text {_shown(value)}, but it takes {SCALAR_KINDS[kind]}"
            + (" (a template reads any text but an empty one as true)" if kind == "bool" else "")
            + f": give it unquoted in the inventory, or as JSON on the command line, {example}"
            " (-e name=value passes text).")
    return sentences


def _command_line_vars():
    """The variables of this run's -e options, or None where they cannot be read (a vaulted file)."""
    from ansible import context
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import load_extra_vars

    if not context.CLIARGS.get("extra_vars"):
        return {}
    try:
        return load_extra_vars(DataLoader())
    except Exception:  # noqa: BLE001 - any unreadable -e leaves the check to the run itself
        return None


def dockyard_keyword_refusals(values, defaults, host):
    """Sentences for play keywords (serial, max_fail_percentage) the inventory sets.

    A play keyword is read once for the whole play, from -e and the role's
    defaults: a value the inventory gives a host is not used, although the
    host's tasks see it. values: {name: the value this host sees}; defaults:
    the role's defaults/main.yml.
    """
    given = _command_line_vars()
    if given is None:
        return []
    sentences = []
    for name, value in values.items():
        in_force = given.get(name, defaults.get(name))
        if value != in_force:
            sentences.append(
                f"{name} is {json.dumps(value)} for {host} in the inventory, but the rollout's play reads it only "
                f"from the command line and the role's default, so it would run with {json.dumps(in_force)}: "
                f"give it as -e '{json.dumps({name: value})}' and take it out of the inventory.")
    return sentences


def dockyard_archive_image_ids(path):
    """The IDs of the images a `docker save` archive holds, read on the controller.

    Its images' config digests (manifest.json), which Docker's own image store
    gives as image IDs, and the manifest digests of an OCI layout (index.json),
    which containerd's store gives. Empty for a file that is not such an
    archive: the role then copies and loads it as before.
    """
    ids = []
    try:
        with tarfile.open(path) as archive:
            names = set(archive.getnames())
            if "manifest.json" in names:
                ids += ["sha256:" + Path(image["Config"]).name.removesuffix(".json")
                        for image in json.load(archive.extractfile("manifest.json"))]
            if "index.json" in names:
                ids += [entry["digest"] for entry in json.load(archive.extractfile("index.json")).get("manifests", [])]
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, AttributeError):
        return []
    return ids


def dockyard_mirror_location(url):
    """A mirror's URL (grammar mirror_url) as containers-registries.conf names its location: host[:port][/path].

    A host with neither a dot nor a port gets its port written out: containers/image would read a bare
    "mirror/library/busybox" as a repository of Docker Hub, and refuse it. Its certs.d folder takes the same
    host[:port].
    """
    parts = urlsplit(url)
    host = parts.netloc if re.search(r"[.:]", parts.netloc) or parts.netloc == "localhost" else parts.netloc + ":443"
    return host + parts.path.rstrip("/")


class FilterModule:
    def filters(self):
        return {
            "refusals": dockyard_refusals,
            "option_refusals": dockyard_option_refusals,
            "retention_refusals": dockyard_retention_refusals,
            "in_state": dockyard_in_state,
            "redact": dockyard_redact,
            "uncovered": dockyard_uncovered,
            "present_keys": dockyard_present_keys,
            "daemon_config_refusals": dockyard_daemon_config_refusals,
            "scalar_options": dockyard_scalar_options,
            "text_refusals": dockyard_text_refusals,
            "keyword_refusals": dockyard_keyword_refusals,
            "archive_image_ids": dockyard_archive_image_ids,
            "mirror_location": dockyard_mirror_location,
        }
