#!/usr/bin/env python3
"""What AWS calls a Lambda function's code can reach, read from the Rust
source (no compiler needed), for scripts/lib/check_template.py.

    rust_reach.py FUNCTION...     prints what each function crate reaches

A deliberately small approximation of a call graph:

- every `fn` of `shared/src` (the library), of `functions/<name>/src` and of
  the other workspace crates the function crate depends on by path
  (`[dependencies]` of its Cargo.toml, `dep = { path = ".." }` or
  `dep.workspace = true` resolved through the root Cargo.toml's
  `[workspace.dependencies]`, transitively; the agent API's `api/src` for
  `agent-api`), test modules left out, with its body; comments, strings and
  char literals are blanked first, so braces and names inside them do not
  count; a dependency crate's functions sit under its name as code spells it
  (`helpdesk_api::router`);
- calls are `name(` (a free function), `path::name(` (a function of a module
  or a type named `path`; `self::`, `super::` and `crate::` by the caller's
  own module, its parent and its crate's root, each with its submodules,
  for re-exports) and `.name(` (a method, resolved to every method of that
  name, with or without arguments as the call has them); `mod name { .. }`
  inside a file is a module too; calls go down the crates' dependency
  graph only (the library never calls into the API crate);
- functions passed as values count as called (with any arguments):
  `path::name` not followed by `(` (axum's `get(tickets::list)`,
  `.map(cursor::decode)`), and a bare `name` as an argument (`.map_err(
  json_error)`) when a free function of that name is in the same module;
- the entry points are the crate's `main` and every method of an `impl` of
  a trait from outside the workspace in the function crate and its
  dependency crates (not the library): those are called by a framework or
  by an operator, never by name (axum's `FromRequestParts` extractor runs
  before the handler that takes it, `IntoResponse`, `From` for `?`);
- the library's ports are leaves, not followed: a call of a store method
  (`store.get_ticket(..)`: a method of one of the store's capability
  traits, `TicketStore`, `ClaimStore`, ..., which `Store` gathers), and `blobs.put`, `mail.send`, `events.publish`,
  `webhooks.post` on the `Services` fields of the port traits. Which AWS
  operations a port call makes is read from its AWS implementation
  (`impl BlobStore for S3Blobs`, `impl TicketStore for DynamoStore`, ...): the SDK
  operations (`.get_item()`, `.put_object()`, `.send_email()`, ...) in the
  method and in the helpers it calls in the implementation's files (of its
  type, of other types such as a listing's `Range`, free); DynamoDB
  transaction items (`Put::builder()`, `Update::builder()`, ...) count as
  the item actions that authorise them, and a Query names its index
  (`.index_name(keys::GSI3)`, or `.index_name(range.index)` with the
  constants those helpers set that field to: `index: keys::GSI4`);
- SDK operations called directly by reachable code (the mail intake's raw
  mail reader) count as they are.

It over-approximates (a method name resolves to every method of that name;
a variable named like a free function of its module counts as that
function) and can still miss calls made through closures stored elsewhere
or trait objects of the crates' own traits; check_template.py compares
what it finds with its declared table in both directions, so either kind of
mistake shows as a finding to look at, not as silence.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared" / "src"
# The library's crate: a path dependency on it is the library itself, read
# once for every function (with its ports as leaves), not a dependency crate.
LIBRARY_CRATE = ROOT / "shared"

# SDK fluent operation (called with no arguments: `.get_item()`) -> IAM action.
# TransactWriteItems has no IAM action of its own (its items are authorised
# one by one, see TRANSACTION_ITEMS); it is recorded so the caller can tell.
SDK_OPERATIONS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_get_items": "dynamodb:GetItem",
    "transact_write_items": "(TransactWriteItems)",
    "get_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
    "send_email": "ses:SendEmail",
    "send_raw_email": "ses:SendRawEmail",
    "put_events": "events:PutEvents",
    "send_message": "sqs:SendMessage",
}
# Items of a TransactWriteItems call, built as `Put::builder()` etc.
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Port traits of the library, the Services field that holds each, and the
# file with its AWS implementation (the type named here).
PORTS = {
    "Store": ("store", "store/dynamo", "DynamoStore"),
    "BlobStore": ("blobs", "blobs.rs", "S3Blobs"),
    "MailTransport": ("mail", "mail/transport.rs", "SesTransport"),
    "EventPublisher": ("events", "automation/bus.rs", "EventBridgeBus"),
    "WebhookSender": ("webhooks", "automation/webhook.rs", "HttpWebhooks"),
}
# The store's capability traits (shared/src/store/mod.rs): `Store` gathers
# them and has no methods of its own, so its methods are theirs.
STORE_TRAITS = {
    "TicketStore", "TimelineStore", "ContactStore", "ClaimStore", "CounterStore",
    "SlaDueIndex", "MailLogStore", "CredentialStore", "RollupStore", "ChangeFeedSource",
}

# Configuration keys whose value names an environment variable the code
# reads (a form's signature secret, the reply-token key, a webhook's URL and
# Telegram chat): a function body that mentions the key (or what it became)
# and looks a variable up reads the variable the key names. Validation,
# which only checks the names, does not look anything up.
CONFIG_LOOKUPS = {
    "secret_env": (r"\.secret_env\b", r"\.secret\s*\("),
    # (the start's check of its length looks it up too)
    "reply_token_secret_env": (r"\.reply_token_secret_env\b", r"\.secret\s*\(|\bcheck_reply_token_secret\s*\("),
    "url_env": (r"\bWebhookTarget\s*::\s*Env\b", r"\.secret\s*\("),
    "chat_id_env": (r"\.chat_id_env\b", r"\.var\s*\("),
}

KEYWORDS = {
    "if", "while", "for", "match", "loop", "return", "fn", "in", "as", "move",
    "let", "mut", "ref", "where", "impl", "dyn", "else", "async", "await",
    "unsafe", "use", "pub", "crate", "super", "self", "mod", "struct", "enum",
    "trait", "type", "const", "static", "break", "continue", "box", "yield",
}


# ------------------------------------------------------------- source text

def blank(text: str, keep_strings: bool = False) -> str:
    """The source with comments, string and char literals replaced by spaces
    (newlines kept, so offsets stay), so that only code is left to scan;
    with keep_strings, string literals stay (for the names they hold)."""
    out = list(text)
    i, n = 0, len(text)

    def wipe(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif (m := re.match(r'b?r(#*)"', text[i:i + 40])) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = m.group(1)
            end = text.find('"' + hashes, i + m.end())
            end = n if end < 0 else end + 1 + len(hashes)
            if not keep_strings:
                wipe(i + m.end(), end - 1 - len(hashes))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if not keep_strings:
                wipe(i + 1, j)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'", text[i:i + 12])
            if m:
                wipe(i + 1, i + m.end() - 1)
                i += m.end()
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)


def matching_brace(text: str, open_at: int) -> int:
    """Index just past the `}` that closes the `{` at open_at."""
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(text)


def test_items(code: str) -> list[tuple[int, int]]:
    """Where the `#[cfg(test)]` items (test modules, test-only functions) are."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        spans.append((m.start(), matching_brace(code, brace)))
    return spans


def wipe_spans(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
    return text


# ---------------------------------------------------------------- the graph

@dataclass
class Fn:
    name: str
    file: Path
    module: tuple[str, ...]   # e.g. ("mail", "ingest"); a function crate's start with its name
    owner: str | None         # the impl's or trait's type name, None for a free function
    trait_impl: str | None    # the trait of `impl Trait for Type`
    has_params: bool          # takes arguments besides self
    body: str                 # code only
    text: str                 # the same with its string literals
    crate: str | None = None  # None: the library; else the module prefix of its crate

    @property
    def label(self) -> str:
        place = "::".join(self.module)
        return f"{place}::{self.owner + '::' if self.owner else ''}{self.name}"


@dataclass
class Reach:
    """What one function crate reaches."""

    functions: set[str] = field(default_factory=set)
    store_methods: set[str] = field(default_factory=set)
    port_calls: set[tuple[str, str]] = field(default_factory=set)   # (trait, method)
    direct_ops: dict[str, set[str]] = field(default_factory=dict)   # IAM action -> fn labels
    env_names: dict[str, set[str]] = field(default_factory=dict)    # HELPDESK_* literal -> fn labels
    config_env: dict[str, set[str]] = field(default_factory=dict)   # config key naming a variable -> fn labels


def module_of(path: Path, crate: str | None, base: Path | None = None) -> tuple[str, ...]:
    """The module path of a source file: the library's from `shared/src`,
    a crate's from its `src` (`base`), under the crate's name."""
    if base is None:
        base = SHARED if crate is None else ROOT / "functions" / crate / "src"
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts and parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(([crate] if crate else []) + parts)


def parse_fns(path: Path, crate: str | None, base: Path | None = None) -> list[Fn]:
    source = path.read_text(encoding="utf-8")
    code = blank(source)
    tests = test_items(code)
    code = wipe_spans(code, tests)
    strings = wipe_spans(blank(source, keep_strings=True), tests)
    module = module_of(path, crate, base)
    blocks = []   # (start, end, owner, trait)
    for m in re.finditer(r"\b(impl|trait)\b", code):
        head_end = len(code)
        depth = 0
        for k in range(m.end(), len(code)):
            ch = code[k]
            if ch in "<(":
                depth += 1
            elif ch in ">)":
                depth -= 1
            elif ch == ";" and depth <= 0:
                head_end = -1
                break
            elif ch == "{" and depth <= 0:
                head_end = k
                break
        if head_end < 0 or head_end == len(code):
            continue
        head = code[m.end():head_end]
        head = re.sub(r"\bwhere\b.*", "", head, flags=re.S)
        if m.group(1) == "trait":
            name = re.match(r"\s*(\w+)", head)
            if name:
                blocks.append((head_end, matching_brace(code, head_end), name.group(1), None))
            continue
        head = re.sub(r"^\s*<[^{]*?>\s*(?=[A-Za-z&(])", "", head)
        trait = None
        if " for " in head:
            trait_part, head = head.split(" for ", 1)
            # The trait's own name, not its generic arguments'
            # (`FromRequestParts<Api>`, `From<AgentError>`).
            while re.search(r"<[^<>]*>", trait_part):
                trait_part = re.sub(r"<[^<>]*>", "", trait_part)
            names = re.findall(r"[A-Z]\w*", trait_part)
            trait = names[-1] if names else None
        names = re.findall(r"\b([A-Z]\w*)\b", head)
        owner = names[0] if names else head.strip()
        blocks.append((head_end, matching_brace(code, head_end), owner, trait))

    # Inline modules (`mod cursor { .. }`), outermost first.
    mods = [(m.end() - 1, matching_brace(code, m.end() - 1), m.group(1))
            for m in re.finditer(r"\bmod\s+(\w+)\s*\{", code)]
    fns = []
    for m in re.finditer(r"\bfn\s+([a-z_][a-z0-9_]*)", code):
        # The parameter list, then the body (or `;` for a declaration).
        paren = code.find("(", m.end())
        if paren < 0:
            continue
        depth, k = 0, paren
        while k < len(code):
            if code[k] in "([":
                depth += 1
            elif code[k] in ")]":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        params = code[paren + 1:k]
        params = re.sub(r"^\s*&?\s*('\w+\s+)?(mut\s+)?self\b[^,]*,?", "", params).strip()
        j = k
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j >= len(code) or code[j] == ";":
            continue
        end = matching_brace(code, j)
        owner = trait = None
        for start, stop, block_owner, block_trait in blocks:
            if start < m.start() < stop:
                owner, trait = block_owner, block_trait
        inner = tuple(name for start, stop, name in mods if start < m.start() < stop)
        fns.append(Fn(m.group(1), path, module + inner, owner, trait, bool(params), code[j:end], strings[j:end], crate))
    return fns


CALL = re.compile(r"(?:(\w+)\s*(::)\s*|(\.)\s*)?\b([a-z_][a-z0-9_]*)\s*(?:::\s*<[^()]*?>\s*)?\(\s*(\))?")
RECEIVER = re.compile(r"(\w+)\s*(?:\(\s*\))?\s*$")
# A function named as a value: `path::name` that is not called, not a path
# going on (`::`), a macro (`!`), generic (`<`) or a struct literal (`{`).
VALUE_PATH = re.compile(r"(?<!\w)(\w+)\s*::\s*([a-z_][a-z0-9_]*)\b(?!\s*(?:\(|::|!|<|\{))")
# A bare name as a whole argument: `.map_err(json_error)`, `f(a, name)`.
VALUE_ARG = re.compile(r"(?<=[(,])\s*([a-z_][a-z0-9_]*)\s*(?=[,)])")


def calls(body: str):
    """(kind, path, name, receiver, empty) for each call in a body: kind is
    'method', 'path' or 'free'; and for each function named as a value,
    'value' (`path::name`, path set) or 'arg' (a bare name as an argument),
    whose `empty` is None (any arguments)."""
    for m in CALL.finditer(body):
        path, colons, dot, name, empty = m.groups()
        if name in KEYWORDS:
            continue
        if dot:
            before = body[:m.start()]
            receiver = RECEIVER.search(before[-80:])
            yield "method", None, name, receiver.group(1) if receiver else None, bool(empty)
        elif colons:
            yield "path", path, name, None, bool(empty)
        else:
            yield "free", None, name, None, bool(empty)
    for m in VALUE_PATH.finditer(body):
        path, name = m.groups()
        if name not in KEYWORDS:
            yield "value", path, name, None, None
    for m in VALUE_ARG.finditer(body):
        if m.group(1) not in KEYWORDS:
            yield "arg", None, m.group(1), None, None


def path_dependencies(crate_dir: Path) -> list[tuple[str, Path]]:
    """The workspace crates `crate_dir` depends on by path, transitively
    (its `[dependencies]`; `dep.workspace = true` through the root
    Cargo.toml's `[workspace.dependencies]`), as (the name code spells them
    by, crate directory), without the library (shared/)."""
    root = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    workspace = (root.get("workspace") or {}).get("dependencies") or {}
    found: dict[Path, str] = {}
    todo = [crate_dir]
    while todo:
        here = todo.pop()
        manifest = tomllib.loads((here / "Cargo.toml").read_text(encoding="utf-8"))
        for key, spec in (manifest.get("dependencies") or {}).items():
            if not isinstance(spec, dict):
                continue
            if "path" in spec:
                target = (here / spec["path"]).resolve()
            elif spec.get("workspace") and isinstance(workspace.get(key), dict) and "path" in workspace[key]:
                target = (ROOT / workspace[key]["path"]).resolve()
            else:
                continue
            if target == LIBRARY_CRATE.resolve() or target in found or target == crate_dir.resolve():
                continue
            found[target] = key.replace("-", "_")
            todo.append(target)
    return sorted(((name, path) for path, name in found.items()), key=lambda item: str(item[1]))


def declared_traits(files: list[Path]) -> set[str]:
    """The traits these sources declare (the workspace's own traits)."""
    return {m.group(1) for path in files
            for m in re.finditer(r"\btrait\s+([A-Za-z_]\w*)", blank(path.read_text(encoding="utf-8")))}


class Code:
    """The library and the function crates, parsed once."""

    def __init__(self) -> None:
        self.library = [fn for path in sorted(SHARED.rglob("*.rs")) for fn in parse_fns(path, None)]
        self.crates: dict[str, list[Fn]] = {}
        self.traits = self._port_methods()
        self._reach: dict[str, Reach] = {}
        self._ports: dict | None = None

    def sources(self, name: str) -> list[tuple[str, Path]]:
        """(module prefix, src directory) of function crate `name` and of
        the workspace crates it depends on by path (not the library)."""
        crate_dir = ROOT / "functions" / name
        return [(name, crate_dir / "src")] + [(dep, path / "src") for dep, path in path_dependencies(crate_dir)]

    def source_files(self, name: str) -> list[Path]:
        """Every source file the function's code is read from, the library's
        included."""
        return sorted(SHARED.rglob("*.rs")) + [p for _, src in self.sources(name) for p in sorted(src.rglob("*.rs"))]

    def crate(self, name: str) -> list[Fn]:
        """The functions of function crate `name` and its dependency crates."""
        if name not in self.crates:
            self.crates[name] = [fn for prefix, src in self.sources(name)
                                 for path in sorted(src.rglob("*.rs")) for fn in parse_fns(path, prefix, src)]
        return self.crates[name]

    def _port_methods(self) -> dict[str, set[str]]:
        methods: dict[str, set[str]] = {}
        for path in SHARED.rglob("*.rs"):
            code = blank(path.read_text(encoding="utf-8"))
            for m in re.finditer(r"pub trait (\w+)[^{]*\{", code):
                trait = "Store" if m.group(1) in STORE_TRAITS else m.group(1)
                if trait in PORTS:
                    body = code[m.end() - 1:matching_brace(code, m.end() - 1)]
                    methods.setdefault(trait, set()).update(re.findall(r"\bfn\s+(\w+)", body))
        return methods

    def in_port(self, fn: Fn) -> bool:
        """Part of a port's implementations, which the graph does not follow
        (port calls are leaves): all of store/, and in the other port files
        the trait impls and the methods of the AWS implementation types."""
        if not fn.file.is_relative_to(SHARED):
            return False
        rel = fn.file.relative_to(SHARED).as_posix()
        if rel.startswith("store/"):
            return True
        in_port_file = any(rel == impl_file for _, impl_file, _ in PORTS.values())
        aws_types = {impl_type for _, _, impl_type in PORTS.values()}
        return in_port_file and (fn.trait_impl in PORTS or fn.owner in aws_types)

    # ------------------------------------------------------------- reach

    def reach(self, crate: str) -> Reach:
        if crate not in self._reach:
            self._reach[crate] = self._walk(crate)
        return self._reach[crate]

    def _walk(self, crate: str) -> Reach:
        own = self.crate(crate)
        pool = [fn for fn in self.library + own if not self.in_port(fn)]
        by_name: dict[str, list[Fn]] = {}
        for fn in pool:
            by_name.setdefault(fn.name, []).append(fn)
        field_trait = {field_name: trait for trait, (field_name, _, _) in PORTS.items()}
        # Calls go down the dependency graph only: the library calls the
        # library, a dependency crate itself, its own dependencies and the
        # library, the function crate all of them (a bare `list(` in the
        # library is not the API's handler `list`).
        visible: dict[str | None, set[str | None]] = {None: {None}}
        for prefix, src in self.sources(crate):
            below = {dep for dep, _ in path_dependencies(src.parent)}
            visible[prefix] = {prefix, None} | below
        visible[crate] = set(visible)

        result = Reach()
        # main, and what a framework or an operator calls: the methods of
        # impls of traits from outside the workspace in these crates.
        own_src = ROOT / "functions" / crate / "src"
        workspace_traits = declared_traits(self.source_files(crate))
        todo = [fn for fn in own if fn.name == "main" and fn.owner is None and fn.file.is_relative_to(own_src)]
        todo += [fn for fn in own if fn.trait_impl is not None and fn.trait_impl not in workspace_traits]
        seen: set[int] = set()
        while todo:
            fn = todo.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            result.functions.add(fn.label)
            for op, action in direct_operations(fn.body):
                result.direct_ops.setdefault(action, set()).add(fn.label)
            for name in re.findall(r'"(HELPDESK_[A-Z0-9_]+)"', fn.text):
                result.env_names.setdefault(name, set()).add(fn.label)
            for key, (mention, lookup) in CONFIG_LOOKUPS.items():
                if re.search(mention, fn.body) and re.search(lookup, fn.body):
                    result.config_env.setdefault(key, set()).add(fn.label)
            for kind, path, name, receiver, empty in calls(fn.body):
                if kind == "method" and name in self.traits.get("Store", set()):
                    result.store_methods.add(name)
                    continue
                if kind == "method" and receiver in field_trait and name in self.traits.get(field_trait[receiver], set()):
                    result.port_calls.add((field_trait[receiver], name))
                    continue
                for target in by_name.get(name, []):
                    if target.crate not in visible.get(fn.crate, {None}):
                        continue
                    if kind == "method" and receiver == "self":
                        ok = target.owner in (fn.owner, fn.trait_impl)
                    elif kind == "method":
                        ok = target.owner is not None
                    elif kind in ("path", "value"):
                        if path == "Self":
                            ok = target.owner == fn.owner
                        elif path[:1].isupper():
                            ok = target.owner == path
                        elif path in ("self", "super", "crate"):
                            # This module, its parent, the crate's root, or
                            # (re-exported) one of their submodules.
                            home = {"self": fn.module, "super": fn.module[:-1],
                                    "crate": fn.module[:1] if fn.crate else ()}[path]
                            ok = (target.owner is None and target.crate == fn.crate
                                  and target.module[:len(home)] == home)
                        else:
                            ok = target.owner is None and path in target.module
                    elif kind == "arg":
                        ok = target.owner is None and target.module == fn.module
                    else:
                        ok = target.owner is None
                    # A function value is called with whatever it is given.
                    if ok and (empty is None or empty != target.has_params):
                        todo.append(target)
        return result

    # ----------------------------------------------- what each port does on AWS

    def port_operations(self) -> dict[tuple[str, str], set[tuple[str, str]]]:
        """(trait, method) -> {(IAM action, resource hint)} of the port's AWS
        implementation; the resource hint is 'table', 'index/<name>' or ''."""
        if self._ports is not None:
            return self._ports
        out: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._ports = out
        for trait, (_, impl_file, impl_type) in PORTS.items():
            base = SHARED / impl_file
            files = sorted(base.rglob("*.rs")) if base.is_dir() else [base]
            fns = [fn for path in files for fn in parse_fns(path, None)]
            consts = {}
            for path in files:
                for m in re.finditer(r'const\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', path.read_text(encoding="utf-8")):
                    consts[m.group(1)] = m.group(2)
            # Helpers: the implementation's other functions, free or of a
            # type (the store's own methods, a listing's `Range::of`).
            helpers: dict[str, list[Fn]] = {}
            for fn in fns:
                if fn.trait_impl is None:
                    helpers.setdefault(fn.name, []).append(fn)
            implemented = STORE_TRAITS if trait == "Store" else {trait}
            for fn in fns:
                if fn.owner != impl_type or fn.trait_impl not in implemented:
                    continue
                reached: list[Fn] = []
                todo, seen = [fn], set()
                while todo:
                    cur = todo.pop()
                    if id(cur) in seen:
                        continue
                    seen.add(id(cur))
                    reached.append(cur)
                    for kind, path, name, _, _ in calls(cur.body):
                        for h in helpers.get(name, []):
                            if kind == "method":
                                ok = h.owner is not None
                            elif kind in ("path", "value") and path == "Self":
                                ok = h.owner == cur.owner
                            elif kind in ("path", "value") and path[:1].isupper():
                                ok = h.owner == path
                            elif kind in ("path", "value"):
                                ok = h.owner is None and path in h.module
                            else:
                                ok = h.owner is None
                            if ok:
                                todo.append(h)
                fields = index_fields(reached, consts)
                ops: set[tuple[str, str]] = set()
                for cur in reached:
                    ops |= operations_with_resources(cur.body, consts, fields)
                out[(trait, fn.name)] = ops
        return out


def direct_operations(body: str, strict: bool = True):
    """SDK operations called in a body. Outside the store (strict), a
    DynamoDB one counts only where the body names a table (`.table_name(`):
    `.query()` alone is also, say, a URI's query string."""
    names_table = re.search(r"\.table_name\s*\(", body)
    for m in re.finditer(r"\.\s*([a-z_0-9]+)\s*\(\s*\)", body):
        action = SDK_OPERATIONS.get(m.group(1))
        if action and (not strict or not action.startswith(("dynamodb:", "(")) or names_table):
            yield m.group(1), action


def index_fields(fns: list[Fn], consts: dict[str, str]) -> dict[str, set[str]]:
    """Struct fields these functions set to a string constant (`index:
    keys::GSI4` in a listing's `Range`): field -> the constants' values, for
    a Query whose index is such a field (`.index_name(range.index)`)."""
    out: dict[str, set[str]] = {}
    for fn in fns:
        for m in re.finditer(r"\b([a-z_]\w*)\s*:\s*(?:\w+\s*::\s*)*([A-Z][A-Z0-9_]*)\b", fn.body):
            if m.group(2) in consts:
                out.setdefault(m.group(1), set()).add(consts[m.group(2)])
    return out


def operations_with_resources(body: str, consts: dict[str, str],
                              fields: dict[str, set[str]] | None = None) -> set[tuple[str, str]]:
    """The SDK operations of one function body with their resource hints.
    A Query's index is a constant (`.index_name(keys::GSI3)`) or a field set
    to constants in the code around it (`.index_name(range.index)`, see
    index_fields); any other expression is an index the check cannot name,
    which shows as a difference rather than as a Query on the table."""
    ops = set()
    indexes = set()
    for arg in re.findall(r"\.index_name\(\s*([^()]*?)\s*\)", body):
        if re.fullmatch(r"[\w:]+", arg) and arg.split("::")[-1] in consts:
            indexes.add(consts[arg.split("::")[-1]])
        elif (m := re.fullmatch(r"[\w.]*\.(\w+)", arg)) and (fields or {}).get(m.group(1)):
            indexes |= fields[m.group(1)]
        else:
            indexes.add(f"<unknown: {arg}>")
    for op, action in direct_operations(body, strict=False):
        if action == "dynamodb:Query":
            for index in indexes or {None}:
                ops.add((action, f"index/{index}" if index else "table"))
        elif action.startswith("dynamodb:"):
            ops.add((action, "table"))
        else:
            ops.add((action, ""))
    for item, action in TRANSACTION_ITEMS.items():
        if re.search(rf"\b{item}\s*::\s*builder\s*\(", body):
            ops.add((action, "table"))
    return ops


def main(argv: list[str]) -> int:
    code = Code()
    ports = code.port_operations()
    for crate in argv or sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "Cargo.toml").exists()):
        reach = code.reach(crate)
        read = ", ".join(src.relative_to(ROOT).as_posix() for _, src in code.sources(crate))
        print(f"{crate}: {len(reach.functions)} functions reached (shared/src, {read})")
        print(f"  store methods: {', '.join(sorted(reach.store_methods))}")
        print(f"  port calls:    {', '.join(f'{t}::{m}' for t, m in sorted(reach.port_calls))}")
        for action, where in sorted(reach.direct_ops.items()):
            print(f"  direct {action}: {', '.join(sorted(where))}")
        print(f"  HELPDESK_*:    {', '.join(sorted(reach.env_names))}")
        for key, where in sorted(reach.config_env.items()):
            print(f"  config {key}: {', '.join(sorted(where))}")
        actions = set()
        for method in reach.store_methods:
            actions |= ports.get(("Store", method), set())
        for call in reach.port_calls:
            actions |= ports.get(call, set())
        print(f"  AWS actions:   {', '.join(f'{a} {r}'.strip() for a, r in sorted(actions))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
