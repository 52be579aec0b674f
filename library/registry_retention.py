#!/usr/bin/python
"""Delete the tags a retention policy lets go, through the registry's HTTP API."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_retention
short_description: Apply a tag retention policy to a distribution registry
description:
  - Reads every repository of the registry at O(url) (its catalog), every tag, and
    what each tag points at (image manifests and indexes, with the date their
    images were built), and works out which tags O(rules) lets go.
  - A repository is governed by the first rule whose O(rules[].repositories)
    pattern matches its name; a repository no rule matches keeps every tag.
    Within a rule a tag goes only when it matches none of O(rules[].keep_tags),
    is not among the O(rules[].keep_last) newest of the other tags, and, when
    O(rules[].older_than) is set, is older than that.
  - Whatever the rules say, a tag O(immutable) guards stays.
  - >-
    What refers to an image by the tags a registry without the referrers API
    keeps for it (the OCI referrers tag schema's C(sha256-<hex>) index, and
    cosign's C(sha256-<hex>.sig), C(.att) and C(.sbom)) is no tag of the rules -
    it stays while its subject stays, and goes with it. One whose subject is
    gone (the registry answers 404 for it) is an orphan, reported, and deleted
    where a rule governs the repository. The manifests a referrers index holds
    go with it, by digest too.
  - Dry run unless O(apply) (and never in check mode) - the result reports, per
    repository, the tags and digests that go, and the bytes a garbage
    collection would free afterwards.
  - Distribution 2.x deletes manifests by digest only, which takes every tag
    of that digest away - with O(delete_tags=false) a digest is deleted only
    when every tag pointing at it goes, and never while a kept tag or a kept
    index still references it. Distribution 3.x deletes a tag alone
    (O(delete_tags=true)); its manifest is then untagged, and
    C(registry garbage-collect --delete-untagged) removes it.
  - Deleting needs C(storage.delete.enabled) in the registry's configuration;
    a registry that refuses deletes makes the module fail before it deletes
    anything else.
  - Speaks basic authentication (the htpasswd auth of the roles, or nginx's),
    or, for a registry that takes tokens, signs its own with the key the
    registry's token server signs with (O(token_key)) - a token for one
    repository (or the catalog) at a time, valid for a minute.
options:
  url:
    description: Root URL of the registry or its front end, C(https://host[:port]).
    type: str
    required: true
  username:
    description: User allowed to delete.
    type: str
  password:
    description: Password of O(username).
    type: str
  token_key:
    description: >-
      On the registry host, the PEM file of the token signing key (ES256); its certificate, which the
      registry's C(auth.token.rootcertbundle) vouches for, is the first of O(token_certificate).
    type: path
  token_certificate:
    description: PEM file whose first certificate is the one of O(token_key). Required with O(token_key).
    type: path
  token_service:
    description: >-
      The registry's C(auth.token.service) and C(auth.token.issuer), which tokens name as their audience
      and issuer. Required with O(token_key).
    type: str
  ca_path:
    description: PEM file of the CA that signed the registry's certificate; empty uses the system's CAs.
    type: path
  validate_certs:
    description: Check the registry's certificate.
    type: bool
    default: true
  rules:
    description: The policy, first matching rule first.
    type: list
    elements: dict
    required: true
    suboptions:
      repositories:
        description: Shell pattern of the repository names the rule governs, e.g. C(ci/*) or C(*).
        type: str
        required: true
      keep_last:
        description: >-
          How many of the newest tags, besides those O(rules[].keep_tags) names, always stay (by the build date
          of their images, then by name).
        type: int
        default: 0
      keep_tags:
        description: Regular expressions of tags that always stay (whole tag), e.g. C(latest) or C(v[0-9].*).
        type: list
        elements: str
        default: []
      older_than:
        description: >-
          Only tags older than this go, as a number and a unit, C(s), C(m), C(h), C(d) or C(w) (C(30d)); empty
          lets every tag outside the kept ones go. A rule sets O(rules[].keep_last), O(rules[].older_than) or both.
        type: str
        default: ""
  immutable:
    description: >-
      Immutable tags, which always stay, most specific rule first (as C(dockyard.registry.immutable_compile) gives
      registry_frontend_immutable_tags) - a repository is governed by the first rule whose O(immutable[].regex)
      matches its name.
    type: list
    elements: dict
    default: []
    suboptions:
      regex:
        description: Regular expression of the repository names the rule governs (whole name).
        type: str
        required: true
      tags:
        description: Regular expression of the tags it guards (whole tag).
        type: str
        required: true
  delete_tags:
    description: Delete tags one by one (distribution 3.x); false deletes manifests by digest (2.x).
    type: bool
    default: false
  apply:
    description: Delete what the policy lets go; false only reports it.
    type: bool
    default: false
  timeout:
    description: Seconds each HTTP request may take.
    type: int
    default: 60
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
  - A registry speaking the distribution API (v2), reachable from where the task runs.
author:
  - dockyard maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Report what the policy would delete (nothing is deleted).
  dockyard.registry.registry_retention:
    url: https://registry.example.com
    username: janitor
    password: "{{ vault_janitor_password }}"
    ca_path: /etc/docker/certs.d/registry.example.com/ca.crt
    rules:
      - repositories: "ci/*"
        keep_last: 10
        keep_tags: [latest, "v[0-9].*"]
        older_than: 30d
  delegate_to: localhost
  register: retention

- name: Delete it, on distribution 3.x.
  dockyard.registry.registry_retention:
    url: https://registry.example.com
    username: janitor
    password: "{{ vault_janitor_password }}"
    rules: "{{ retention_rules }}"
    delete_tags: true
    apply: true
  delegate_to: localhost
"""

RETURN = r"""
repositories:
  description: >-
    Per repository that loses something, keeps immutable tags its rule lets go, or holds orphans, what goes
    and what stays (immutable - those tags; orphans - the referrer tags whose subject is gone); a referrer tag
    that goes is named with its kind (referrers, signature, attestation or sbom) and its subject.
  returned: always
  type: list
  elements: dict
  sample:
    - name: ci/app
      rule: "ci/*"
      delete: [{tag: build-17, digest: "sha256:3f1c..."},
               {tag: sha256-3f1c....sig, digest: "sha256:a2e4...", kind: signature, subject: "sha256:3f1c..."}]
      delete_digests: ["sha256:3f1c..."]
      keep: [latest, build-18, build-19, sha256-5d0a....sig]
      immutable: [latest]
      orphans: [sha256-9e3b....sig]
bytes_freed:
  description: >-
    Bytes of manifests, configs and layers that nothing kept references any more: what a garbage
    collection after the deletes frees (the layers of untagged index children only with --delete-untagged).
  returned: always
  type: int
  sample: 734003200
applied:
  description: Whether the deletes were made (false in a dry run and in check mode).
  returned: always
  type: bool
  sample: false
"""

import base64
import datetime
import fnmatch
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
from typing import NamedTuple

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import ConnectionError as UrlError
from ansible.module_utils.urls import open_url

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
except ImportError:
    x509 = None

ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    token_key=dict(type="path", no_log=False),
    token_certificate=dict(type="path", no_log=False),
    token_service=dict(type="str", no_log=False),
    ca_path=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    rules=dict(type="list", elements="dict", required=True, options=dict(
        repositories=dict(type="str", required=True),
        keep_last=dict(type="int", default=0),
        keep_tags=dict(type="list", elements="str", default=[]),
        older_than=dict(type="str", default=""),
    )),
    immutable=dict(type="list", elements="dict", default=[], options=dict(
        regex=dict(type="str", required=True),
        tags=dict(type="str", required=True),
    )),
    delete_tags=dict(type="bool", default=False),
    apply=dict(type="bool", default=False),
    timeout=dict(type="int", default=60),
)

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
IMAGE_TYPES = ("application/vnd.oci.image.manifest.v1+json",
               "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join(INDEX_TYPES + IMAGE_TYPES)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A tag that holds what refers to another manifest, its subject, where the
# registry has no referrers API: the OCI referrers tag schema's index
# (sha256-<hex>) and cosign's signatures, attestations and SBOMs.
REFERRER_TAG = re.compile(r"(sha256)-([0-9a-f]{64})(?:\.(sig|att|sbom))?")
KINDS = {None: "referrers", "sig": "signature", "att": "attestation", "sbom": "sbom"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class RetentionError(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status  # the HTTP status the registry answered with, if it answered


def seconds(duration):
    """30d -> 2592000; empty -> None."""
    if not duration:
        return None
    match = re.fullmatch(r"([0-9]+)([smhdw])", duration)
    if not match:
        raise RetentionError(f"older_than {duration!r} is not a number and a unit (s, m, h, d or w), e.g. 30d")
    return int(match.group(1)) * UNITS[match.group(2)]


def parse_created(value):
    """An image config's created time (RFC 3339, nanoseconds allowed); the epoch when absent or odd."""
    if not isinstance(value, str):
        return EPOCH
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if not match:
        return EPOCH
    base, fraction, zone = match.groups()
    text = base + "." + (fraction or "0")[:6].ljust(6, "0") + ("+00:00" if zone == "Z" else zone)
    return datetime.datetime.fromisoformat(text)


def check_rules(rules):
    for number, rule in enumerate(rules):
        where = f"rules[{number}] ({rule['repositories']})"
        if rule["keep_last"] < 0:
            raise RetentionError(f"{where}: keep_last must be 0 or more")
        if not rule["keep_last"] and not rule["older_than"]:
            raise RetentionError(f"{where} sets neither keep_last nor older_than, so it would delete every tag "
                                 "that keep_tags does not name; set one of them")
        seconds(rule["older_than"])
        for pattern in rule["keep_tags"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RetentionError(f"{where}: keep_tags {pattern!r} is not a regular expression: {exc}") from exc


class Response(NamedTuple):
    headers: dict
    body: bytes


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenSigner:
    """Bearer tokens a registry with token auth takes: ES256 JWTs signed with its token server's key, whose
    certificate the x5c header carries, each granting one repository (or the catalog) for a minute."""

    def __init__(self, key_path, certificate_path, service):
        try:
            with open(key_path, "rb") as key, open(certificate_path, "rb") as certificate:
                self.key = serialization.load_pem_private_key(key.read(), None)
                leaf = x509.load_pem_x509_certificate(certificate.read())  # the first of the file
        except (OSError, ValueError) as exc:
            raise RetentionError(f"cannot read the token signing key or certificate: {exc}") from exc
        self.x5c = [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]
        self.service = service

    def authorization(self, path):
        # /v2/_catalog, or /v2/NAME/tags/list, /v2/NAME/manifests/REFERENCE and /v2/NAME/blobs/DIGEST.
        parts = path.split("?")[0].split("/")
        if parts[2:] == ["_catalog"]:
            access = {"type": "registry", "name": "catalog", "actions": ["*"]}
        else:
            access = {"type": "repository", "name": "/".join(parts[2:-2]), "actions": ["pull", "delete"]}
        now = int(time.time())
        claims = {"iss": self.service, "aud": self.service, "sub": "dockyard-retention", "iat": now,
                  "nbf": now - 10, "exp": now + 60, "jti": secrets.token_hex(16), "access": [access]}
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        signed = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        r, s = utils.decode_dss_signature(self.key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
        return "Bearer " + signed + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class Registry:
    """The distribution API at url, with basic authentication or tokens of its token server's key."""

    def __init__(self, url, username, password, ca_path, validate_certs, timeout, signer=None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.ca_path = ca_path
        self.validate_certs = validate_certs
        self.signer = signer
        self.headers = {}
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def request(self, method, path, accept=None):
        headers = dict(self.headers, **({"Accept": accept} if accept else {}))
        if self.signer:
            headers["Authorization"] = self.signer.authorization(path)
        try:
            with open_url(self.url + path, method=method, headers=headers, timeout=self.timeout,
                          validate_certs=self.validate_certs, ca_path=self.ca_path) as response:
                return Response(dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:500]
            raise RetentionError(f"{method} {path} answered {exc.code}: {body.strip()}", exc.code) from exc
        except (urllib.error.URLError, UrlError, OSError) as exc:
            raise RetentionError(f"{method} {self.url}{path} failed: {exc}") from exc

    def paged(self, path, key):
        """Every entry of a paginated list (the catalog, a repository's tags)."""
        entries, next_path = [], path + ("&" if "?" in path else "?") + "n=1000"
        while next_path:
            response = self.request("GET", next_path)
            entries += json.loads(response.body).get(key) or []
            link = response.headers.get("Link") or response.headers.get("link") or ""
            match = re.match(r'<([^>]+)>;\s*rel="next"', link)
            next_path = urllib.parse.urlsplit(match.group(1))._replace(scheme="", netloc="").geturl() if match else None
        return entries

    def catalog(self):
        return self.paged("/v2/_catalog", "repositories")

    def tags(self, repository):
        return self.paged(f"/v2/{repository}/tags/list", "tags")

    def manifest(self, repository, reference):
        response = self.request("GET", f"/v2/{repository}/manifests/{reference}", accept=ACCEPT)
        digest = response.headers.get("Docker-Content-Digest") or response.headers.get("docker-content-digest")
        return digest, json.loads(response.body), len(response.body)

    def config_created(self, repository, digest):
        body = self.request("GET", f"/v2/{repository}/blobs/{digest}").body
        try:
            config = json.loads(body)
        except ValueError:  # an artifact's config need not be JSON
            return EPOCH
        return parse_created(config.get("created") if isinstance(config, dict) else None)

    def exists(self, repository, digest):
        try:
            self.request("HEAD", f"/v2/{repository}/manifests/{digest}", accept=ACCEPT)
        except RetentionError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete(self, repository, reference):
        self.request("DELETE", f"/v2/{repository}/manifests/{reference}")


def describe(registry, repository, reference, manifests):
    """Read a manifest (and an index's children) into manifests: digest -> facts."""
    digest, body, size = registry.manifest(repository, reference)
    if digest in manifests:
        return digest
    media_type = body.get("mediaType", "")
    if media_type in INDEX_TYPES or "manifests" in body:
        children = [describe(registry, repository, child["digest"], manifests) for child in body["manifests"]]
        manifests[digest] = {"size": size, "children": children, "blobs": {},
                             "created": max((manifests[c]["created"] for c in children), default=EPOCH)}
    else:
        blobs = {layer["digest"]: layer.get("size", 0) for layer in body.get("layers", [])}
        config = body.get("config") or {}
        if config.get("digest"):
            blobs[config["digest"]] = config.get("size", 0)
        created = registry.config_created(repository, config["digest"]) if config.get("digest") else EPOCH
        manifests[digest] = {"size": size, "children": [], "blobs": blobs, "created": created}
    return digest


def read(registry):
    """Every repository: its tags -> digest, and the manifests they reach."""
    repositories = {}
    for repository in registry.catalog():
        manifests, tags = {}, {}
        for tag in registry.tags(repository):
            tags[tag] = describe(registry, repository, tag, manifests)
        subjects = {subject(tag) for tag in tags} - {None} - set(manifests)
        repositories[repository] = {"tags": tags, "manifests": manifests,
                                    "missing": {digest for digest in subjects if not registry.exists(repository, digest)}}
    return repositories


def subject(tag):
    """The digest of the subject a referrer tag names, or None."""
    match = REFERRER_TAG.fullmatch(tag)
    return f"{match.group(1)}:{match.group(2)}" if match else None


def reach(digests, manifests):
    """The digests and every index child below them."""
    seen, todo = set(), list(digests)
    while todo:
        digest = todo.pop()
        if digest not in seen:
            seen.add(digest)
            todo += manifests[digest]["children"]
    return seen


def referrer(tag):
    """{kind, subject} of a referrer tag; {} for any other."""
    match = REFERRER_TAG.fullmatch(tag)
    return {"kind": KINDS[match.group(3)], "subject": subject(tag)} if match else {}


def plan(repositories, rules, now, delete_tags, immutable=()):
    """What goes: per repository, the tags, the digests to delete, the tags kept (the immutable ones the rules
    let go named); and the bytes freed."""
    report, kept_blobs, freed = [], {}, {}
    for name, repository in sorted(repositories.items()):
        tags, manifests = repository["tags"], repository["manifests"]
        subjects = {t: digest for t in tags if (digest := subject(t))}
        images = [t for t in tags if t not in subjects]
        rule = next((r for r in rules if fnmatch.fnmatchcase(name, r["repositories"])), None)
        keep = set(images)
        if rule is not None:
            keep = {t for t in images if any(re.fullmatch(p, t) for p in rule["keep_tags"])}
            newest = sorted(set(images) - keep, key=lambda t: (manifests[tags[t]]["created"], t), reverse=True)
            keep |= set(newest[:rule["keep_last"]])
            age = seconds(rule["older_than"])
            if age is not None:
                keep |= {t for t in images if (now - manifests[tags[t]]["created"]).total_seconds() <= age}
        guard = next((g for g in immutable if re.fullmatch(g["regex"], name)), None)
        spared = sorted(t for t in set(images) - keep if guard and re.fullmatch(guard["tags"], t))
        keep |= set(spared)
        # What refers to an image stays with it and goes with it; what refers
        # to a manifest that is gone is an orphan, which goes where a rule governs.
        kept_subjects = reach({tags[t] for t in keep}, manifests)
        present = reach({tags[t] for t in images}, manifests)
        orphans = sorted(t for t, digest in subjects.items() if digest in repository.get("missing", ()))
        keep |= {t for t, digest in subjects.items()
                 if digest in kept_subjects or (digest not in present and (t not in orphans or rule is None))}
        protected = reach({tags[t] for t in keep}, manifests)
        going = sorted(t for t in tags if t not in keep)
        if delete_tags:
            # Tags go one by one; the manifests left untagged (and the
            # children of an untagged index) go at the next collection.
            references = going
            gone = {tags[t] for t in going} - {tags[t] for t in keep}
            removed = reach(gone, manifests) - protected
        else:
            # A digest goes with all its tags: one a kept tag shares, or a
            # kept index holds, stays, and so do its other tags.
            gone = {tags[t] for t in going} - protected
            keep |= {t for t in going if tags[t] not in gone}
            going = [t for t in going if tags[t] in gone]
            # A referrers index's children refer to its subject alone: they go with it.
            gone |= reach({tags[t] for t in going if t in subjects}, manifests) - protected
            references = sorted(gone)
            removed = gone
        for digest in protected:
            kept_blobs[digest] = manifests[digest]["size"]
            kept_blobs.update(manifests[digest]["blobs"])
        for digest in removed:
            freed[digest] = manifests[digest]["size"]
            freed.update(manifests[digest]["blobs"])
        if going or spared or orphans:
            report.append({"name": name, "rule": rule["repositories"] if rule else None,
                           "delete": [dict({"tag": t, "digest": tags[t]}, **referrer(t)) for t in going],
                           "delete_digests": sorted(gone), "keep": sorted(keep), "immutable": spared,
                           "orphans": orphans, "references": references})
    # What every repository keeps is kept: registries share blobs across repositories.
    bytes_freed = sum(size for digest, size in freed.items() if digest not in kept_blobs)
    return report, bytes_freed


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[("username", "token_key")],
                           required_by={"token_key": ("token_certificate", "token_service")})
    params = module.params
    applying = params["apply"] and not module.check_mode
    if params["token_key"] and x509 is None:
        module.fail_json(msg=missing_required_lib("cryptography (Debian: python3-cryptography)"))
    try:
        signer = TokenSigner(params["token_key"], params["token_certificate"],
                             params["token_service"]) if params["token_key"] else None
        registry = Registry(params["url"], params["username"], params["password"], params["ca_path"],
                            params["validate_certs"], params["timeout"], signer)
        check_rules(params["rules"])
        report, bytes_freed = plan(read(registry), params["rules"], datetime.datetime.now(datetime.timezone.utc),
                                   params["delete_tags"], params["immutable"])
        if applying:
            for repository in report:
                for reference in repository["references"]:
                    registry.delete(repository["name"], reference)
    except RetentionError as exc:
        module.fail_json(msg=str(exc))
    for repository in report:
        del repository["references"]
    deleting = any(repository["delete"] for repository in report)
    module.exit_json(changed=deleting and (applying or module.check_mode), repositories=report,
                     bytes_freed=bytes_freed, applied=applying)


if __name__ == "__main__":
    main()
