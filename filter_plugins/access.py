"""Per-repository access rules and immutable tags: their checks, and their compilation into nginx maps.

A rule names a repository pattern (an exact name, or a name with '*' standing
for any characters, '/' included) and who may pull and who may push there:
user names, or group names that stand for their members. Push includes
delete, and whoever may push may pull. A rule may also let anyone pull
without logging in (anonymous), where nginx lets anonymous requests in.

A repository is governed by the most specific pattern that matches it: an
exact name before any pattern with a '*'; then the pattern with more
characters other than '*'; then the rule listed first. A repository no rule
matches is closed to everyone, and so is anything not granted.

The compiled form is what the vhost template writes into nginx map blocks
(the map semantics: exact keys first, then the regular expressions in order):
the regular expressions use only literal characters from the repository-name
alphabet, character classes and anchors, so nothing from a rule can break out
of its quoted place in the file; the values were checked by their grammars
(filter_plugins/dockyard.py) before this runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

# What a repository name is made of in the paths and queries nginx sees.
NAME_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# A slash as a client writes it in a query (Go's url.Values writes %2F).
QUERY_SLASH = "(?:/|%2[Ff])"
NAME = f"{NAME_COMPONENT}(?:/{NAME_COMPONENT})*"
QUERY_NAME = f"{NAME_COMPONENT}(?:{QUERY_SLASH}{NAME_COMPONENT})*"
DIGEST = "[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
REFERENCE = f"(?:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}|{DIGEST})"
# An upload session's id (distribution: [a-zA-Z0-9-_.=]+), never "." or "..".
UPLOAD = "[a-zA-Z0-9_=-][a-zA-Z0-9_.=-]*"
# A query value: no "&" or ";" (both end a pair in some Go versions), no "+".
QUERY_VALUE = "[A-Za-z0-9._~%:=-]*"
# A character of a tag (distribution: [\w][\w.-]{0,127}).
TAG_CHARACTER = "[A-Za-z0-9_.-]"
# The tags that hold what refers to a manifest where the registry has no
# referrers API (the OCI referrers tag schema's index, cosign's signatures,
# attestations and SBOMs): their tools push them again with each addition.
REFERRER_TAG = "sha256-[0-9a-f]{64}(?:[.](?:sig|att|sbom))?"
# A manifest's path: its repository and its reference.
MANIFEST_ROUTE = f"^/v2/({NAME})/manifests/({REFERENCE})(?:[?]|$)"
# distribution's routes below /v2/<name>/ (registry/api/v2/descriptors.go).
REPOSITORY_ROUTE = (f"^/v2/({NAME})/(?:manifests/{REFERENCE}|blobs/{DIGEST}|blobs/uploads/(?:{UPLOAD})?|tags/list)"
                    "(?:[?]|$)")

# Every request distribution 2.x and 3.x serve: its routes (registry/api/v2/
# descriptors.go), the methods their handlers take (registry/handlers/*.go)
# and the query keys those handlers read, each key once or more, in any order.
# An upload session's digest is read by PUT alone; clients send it with the
# session's other methods too. "ns" is what containerd adds to every request
# it sends a registry it uses as a mirror, "origin" the source's registry that
# go-containerregistry (crane) sends with a mount: the registry reads neither.
# "from" (a mount's source, read by an upload's start alone) is no route's
# key: it is let through only where MOUNT says, once, and only from a
# repository the user may pull.


class Route(NamedTuple):
    """A route and the methods of it that take one right."""
    name: str
    shown: str  # the path as the docs show it
    path: str  # the path as a regular expression
    methods: str
    keys: tuple  # the query keys
    right: str  # "pull" or "push" on <name> (the vhost's action map gives it by method), or who may


ROUTES = [Route(*route) for route in [
    ("base", "/v2/", "/v2/", "GET HEAD", (), "anyone who logs in"),
    ("catalog", "/v2/_catalog", "/v2/_catalog", "GET", ("n", "last"), "registry_frontend_access_catalog"),
    ("tags", "/v2/<name>/tags/list", f"/v2/{NAME}/tags/list", "GET", ("n", "last", "ns"), "pull"),
    ("manifest", "/v2/<name>/manifests/<reference>", f"/v2/{NAME}/manifests/{REFERENCE}", "GET HEAD", ("ns",),
     "pull"),
    ("manifest", "/v2/<name>/manifests/<reference>", f"/v2/{NAME}/manifests/{REFERENCE}", "PUT DELETE", ("ns",),
     "push"),
    ("blob", "/v2/<name>/blobs/<digest>", f"/v2/{NAME}/blobs/{DIGEST}", "GET HEAD", ("ns",), "pull"),
    ("blob", "/v2/<name>/blobs/<digest>", f"/v2/{NAME}/blobs/{DIGEST}", "DELETE", ("ns",), "push"),
    ("blob-upload", "/v2/<name>/blobs/uploads/", f"/v2/{NAME}/blobs/uploads/", "POST",
     ("digest", "mount", "origin", "ns"), "push"),
    ("blob-upload-chunk", "/v2/<name>/blobs/uploads/<uuid>", f"/v2/{NAME}/blobs/uploads/{UPLOAD}", "GET HEAD",
     ("_state", "digest", "ns"), "pull"),
    ("blob-upload-chunk", "/v2/<name>/blobs/uploads/<uuid>", f"/v2/{NAME}/blobs/uploads/{UPLOAD}",
     "PATCH PUT DELETE", ("_state", "digest", "ns"), "push"),
]]
# The one request that may name a mount's source: an upload's start.
MOUNT = ("blob-upload", "POST")


def _pairs(keys):
    """key=value pairs with these keys, as a regular expression."""
    return f"(?:{'|'.join(keys)})={QUERY_VALUE}"


def _requests():
    """[(regex of "<method>:<request URI>", value)]: "-" for a request a route takes, "$1" (the source) for a mount."""
    requests = []
    for route in ROUTES:
        keys = route.keys
        query = f"(?:[?]{_pairs(keys)}(?:&{_pairs(keys)})*)?" if keys else ""
        requests.append((f"^(?:{'|'.join(route.methods.split())}):{route.path}{query}$", "-"))
        if (route.name, route.methods) == MOUNT:
            mount = f"[?](?:{_pairs(keys)}&)*from=({QUERY_NAME})(?:&{_pairs(keys)})*"
            requests.append((f"^{route.methods}:{route.path}{mount}$", "$1"))
    return requests


def dockyard_access_routes():
    """The requests the rules let through, for the docs: [{route, path, methods, keys, right}]."""
    return [{"route": route.name, "path": route.shown, "methods": route.methods.split(),
             "keys": list(route.keys) + (["from"] if (route.name, route.methods) == MOUNT else []),
             "right": route.right}
            for route in ROUTES]


def _glob(pattern, slash, anything):
    """The pattern as a regular expression, '*' as anything."""
    literal = {"/": slash, ".": "[.]"}
    return "".join(anything if char == "*" else literal.get(char, char) for char in pattern)


def _pattern_regex(pattern, slash, anything):
    """The pattern as an anchored regular expression, '*' as anything."""
    return "^(?:" + _glob(pattern, slash, anything) + ")$"


def _specificity(indexed):
    index, rule = indexed
    pattern = rule["repository"]
    return ("*" in pattern, -len(pattern.replace("*", "")), index)


def _members(names, groups):
    """The user names that names stand for, groups expanded, in a stable order."""
    users = []
    for name in names or []:
        for user in groups.get(name, [name]):
            if user not in users:
                users.append(user)
    return users


def dockyard_access_compile(rules, groups=None, catalog=None):
    """The rules as the vhost's maps need them.

    Returns {"rules": [{"token", "exact", "regex", "query_regex", "pull",
    "push", "anonymous"}] most specific first, "catalog": [users],
    "route": regex of a repository path and its name, "requests": [{"regex",
    "value"}] every request distribution serves, "$1" the source of a mount}.
    """
    groups = dict(groups or {})
    compiled = []
    for index, rule in sorted(enumerate(rules or []), key=_specificity):
        pattern = rule["repository"]
        push = _members(rule.get("push"), groups)
        pull = _members(list(rule.get("pull") or []) + list(rule.get("push") or []), groups)
        compiled.append({
            "token": f"r{index + 1}",
            "repository": pattern,
            "exact": "*" not in pattern,
            "regex": _pattern_regex(pattern, "/", "[a-z0-9._/-]*"),
            "query_regex": _pattern_regex(pattern, QUERY_SLASH, f"(?:[a-z0-9._/-]|{QUERY_SLASH})*"),
            "pull": pull,
            "push": push,
            "anonymous": bool(rule.get("anonymous")),
        })
    return {"rules": compiled, "catalog": _members(catalog, groups), "route": REPOSITORY_ROUTE,
            "requests": [{"regex": regex, "value": value} for regex, value in _requests()]}


def dockyard_immutable_compile(rules, groups=None):
    """The immutable-tag rules as the vhost's maps and the retention need them.

    Returns {"rules": [{"token", "repository", "exact", "regex", "tags",
    "key", "exempt"}] most specific first, "manifest": regex of a manifest's
    path, its repository and its reference, "digest": regex of a digest, unanchored}.
    "tags" is a regular expression of the whole tags a rule guards (its
    except and the referrer tags left out), "key" the same after
    "<token>:", and "exempt" the users who may still push and delete them,
    groups expanded.
    """
    groups = dict(groups or {})
    compiled = []
    for index, rule in sorted(enumerate(rules or []), key=_specificity):
        token = f"i{index + 1}"
        guarded = "|".join(_glob(tag, "/", f"{TAG_CHARACTER}*") for tag in rule.get("tags", ["*"]))
        excepted = "|".join(_glob(tag, "/", f"{TAG_CHARACTER}*") for tag in rule.get("except") or [])
        tags = f"(?!{REFERRER_TAG}$)" + (f"(?!(?:{excepted})$)" if excepted else "") + f"(?:{guarded})$"
        compiled.append({
            "token": token,
            "repository": rule["repository"],
            "exact": "*" not in rule["repository"],
            "regex": _pattern_regex(rule["repository"], "/", "[a-z0-9._/-]*"),
            "tags": f"^{tags}",
            "key": f"^{token}:{tags}",
            "exempt": _members(rule.get("users"), groups),
        })
    return {"rules": compiled, "manifest": MANIFEST_ROUTE, "digest": DIGEST}


def _listed(value):
    return ", ".join(f'"{name}"' for name in value)


def _rules_refusals(rules, variable, fields, known, users_variable):
    """Each rule of variable, where it is, and sentences for it repeating a pattern or its fields naming nobody known."""
    seen = {}
    for index, rule in enumerate(rules or []):
        where = f"{variable}[{index}] ({rule['repository']})"
        refused = []
        if rule["repository"] in seen:
            refused.append(f"{where} repeats the pattern of {variable}[{seen[rule['repository']]}]: give each pattern "
                           "one rule.")
        seen.setdefault(rule["repository"], index)
        for field in fields:
            unknown = [name for name in rule.get(field) or [] if name not in known]
            if unknown:
                refused.append(f"{where}.{field} names {_listed(unknown)}, neither a user in {users_variable} "
                               "nor a group of registry_frontend_access_groups.")
        yield where, rule, refused


def dockyard_access_refusals(rules, groups, catalog, users, anonymous_allowed, users_variable):
    """Sentences for rules that name nobody known, repeat a pattern, or open what the auth mode keeps closed.

    users: the user names the front end's auth mode knows (users_variable says where
    they come from); anonymous_allowed: whether anonymous requests reach nginx's rules.
    """
    if not rules:
        return []  # the groups and the catalog's users only matter to rules
    sentences = []
    users = list(users or [])
    groups = groups or {}
    if not isinstance(groups, Mapping):
        return [f"registry_frontend_access_groups must be a mapping of group names to lists of user names, "
                f"not {type(groups).__name__}."]
    for group, members in groups.items():
        if group in users:
            sentences.append(f'registry_frontend_access_groups names a group "{group}", which is also a user name '
                             f"in {users_variable}: give the group another name.")
        unknown = [member for member in members or [] if member not in users]
        if unknown:
            sentences.append(f'registry_frontend_access_groups["{group}"] lists {_listed(unknown)}, not in '
                             f"{users_variable}: add the user there, or take the name out.")
    known = set(users) | set(groups)
    for where, rule, refused in _rules_refusals(rules, "registry_frontend_access_rules", ("pull", "push"), known,
                                                users_variable):
        sentences += refused
        if rule.get("anonymous") and not anonymous_allowed:
            sentences.append(f"{where} lets anonymous requests pull, but with registry_frontend_auth registry the "
                             "registry asks every request for a password: use registry_frontend_auth anonymous_pull, "
                             "or set anonymous to false.")
    unknown = [name for name in catalog or [] if name not in known]
    if unknown:
        sentences.append(f"registry_frontend_access_catalog names {_listed(unknown)}, neither a user in "
                         f"{users_variable} nor a group of registry_frontend_access_groups.")
    return sentences


def dockyard_immutable_refusals(rules, groups, users, users_variable):
    """Sentences for immutable-tag rules that guard no tag, repeat a pattern, or exempt nobody known."""
    sentences = []
    known = set(users or []) | set(groups or {})
    for where, rule, refused in _rules_refusals(rules, "registry_frontend_immutable_tags", ("users",), known,
                                                users_variable):
        sentences += refused
        if not rule.get("tags", ["*"]):
            sentences.append(f"{where} has an empty tags list, which guards no tag: name the tags, or take the rule out.")
    return sentences


class FilterModule:
    def filters(self):
        return {
            "access_compile": dockyard_access_compile,
            "access_refusals": dockyard_access_refusals,
            "immutable_compile": dockyard_immutable_compile,
            "immutable_refusals": dockyard_immutable_refusals,
        }
