"""Which problem codes each public operation can answer, read from the code itself.

For a gateway route: the route function and its dependencies are read (their source, as an
AST), every ``DomainError`` they construct is a code they can answer, and every function or
method of the project they call is read the same way. A call to a service behind the gateway
(``services.send("mailbox", "POST", f"/internal/...")``) brings in what that service's internal
route can answer, found the same way in the service's own code: a 4xx passes through unchanged,
a 5xx becomes ``service_unavailable``. A method is resolved through the receiver's annotation
(``service: PatientMessages = ...``) when there is one, else through every method of that name
in the package: the result may list a code more, never one fewer.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FunctionType, ModuleType
from typing import Any

from fastapi.routing import APIRoute, APIRouter

from mes_platform.errors import DomainError
from mes_platform.problems import problem_response

__all__ = ["Raised", "Reach", "public_codes"]

# The service names the gateway calls, and the package that answers each.
SERVICE_PACKAGES = {
    "conversation": "mes_conversation",
    "conversation_reads": "mes_conversation",
    "mailbox": "mes_mailbox",
    "identity": "mes_identity",
    "directory": "mes_pharmacy_directory",
    "notifier": "mes_notifier",
}
# Codes that cannot reach a caller of the public API: the gateway always presents the internal
# credential, and every service answers its refusals with a code (``upstream_refused`` is the
# gateway's fallback for one that would not).
UNREACHABLE = {"internal_credential_required", "upstream_refused"}
_HTTP_METHODS = {"get", "post", "put", "delete", "patch"}
# Methods of the built-in types (``row.get``, ``data.decode``): on a receiver of unknown type,
# most likely one of those, not the project's method of the same name.
_BUILTIN_METHODS = {
    name
    for kind in (dict, list, str, bytes, set, tuple)
    for name in dir(kind)
    if not name.startswith("_")
}


@dataclass(frozen=True, order=True)
class Raised:
    code: str
    status: int


@dataclass(frozen=True)
class Upstream:
    service: str
    method: str
    path: str


def _modules(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    yield root
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=package + "."):
        if any(part in info.name for part in (".testing", "devstack", ".migrations", "__main__")):
            continue
        yield importlib.import_module(info.name)


def _path_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{x}" for part in node.values
        )
    return None


class Reach:
    """Problem codes reachable from functions of the packages ``own``."""

    def __init__(self, own: tuple[str, ...], *, injected: bool = False) -> None:
        self.own = own
        self.injected = injected
        self.by_name: dict[str, list[Callable[..., Any]]] = {}
        self.functions: set[Callable[..., Any]] = set()
        self._modules = [m for package in own for m in _modules(package)]
        for module in self._modules:
            for value in vars(module).values():
                if inspect.isclass(value) and self._is_own(value):
                    for name, member in vars(value).items():
                        if isinstance(member, (staticmethod, classmethod)):
                            member = member.__func__
                        if inspect.isfunction(member):
                            self.by_name.setdefault(name, []).append(member)
                elif inspect.isfunction(value) and self._is_own(value):
                    self.functions.add(value)
        self._memo: dict[
            Callable[..., Any], tuple[set[Raised], set[Upstream], list[Callable[..., Any]]]
        ] = {}

    def _is_own(self, obj: Any) -> bool:
        module = getattr(obj, "__module__", "") or ""
        return any(module == p or module.startswith(p + ".") for p in self.own)

    def routers(self) -> list[APIRouter]:
        found = {
            id(v): v for m in self._modules for v in vars(m).values() if isinstance(v, APIRouter)
        }
        return list(found.values())

    def of(self, fn: Callable[..., Any]) -> tuple[set[Raised], set[Upstream]]:
        """What ``fn`` and everything it calls can raise, and the services they call."""
        raised: set[Raised] = set()
        upstream: set[Upstream] = set()
        seen: set[Callable[..., Any]] = set()
        todo = [inspect.unwrap(fn)]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            own_raised, own_upstream, callees = self._direct(current)
            raised |= own_raised
            upstream |= own_upstream
            todo.extend(callees)
        return raised, upstream

    def _direct(
        self, fn: Callable[..., Any]
    ) -> tuple[set[Raised], set[Upstream], list[Callable[..., Any]]]:
        if fn in self._memo:
            return self._memo[fn]
        raised: set[Raised] = set()
        upstream: set[Upstream] = set()
        callees: list[Callable[..., Any]] = []
        self._memo[fn] = (raised, upstream, callees)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return self._memo[fn]
        definition = tree.body[0]
        if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
            definition.decorator_list = []  # a route's metadata is not what it runs
        scope = _Scope(fn)
        for node in ast.walk(tree):
            if isinstance(node, (ast.AnnAssign, ast.arg)) and node.annotation is not None:
                target = node.target if isinstance(node, ast.AnnAssign) else node
                name = target.id if isinstance(target, ast.Name) else getattr(target, "arg", None)
                if name:
                    scope.annotate(name, node.annotation)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                service = _client_of(node.value, scope)
                if service:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            scope.clients[target.id] = service
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            call = _upstream_call(node, scope)
            if call is not None:
                upstream.add(call)
                continue
            for target in self._targets(node.func, scope):
                if target is problem_response:
                    found = _problem_response(node)
                    if found is not None:
                        raised.add(found)
                elif inspect.isclass(target) and issubclass(target, DomainError):
                    found = _domain_error(node, target)
                    if found is not None:
                        raised.add(found)
                elif callable(target) and self._is_own(target):
                    callees.append(inspect.unwrap(target))
        return self._memo[fn]

    def _targets(self, func: ast.expr, scope: _Scope) -> list[Any]:
        if isinstance(func, ast.Name):
            value = scope.lookup(func.id)
            return [] if value is None else [value]
        if isinstance(func, ast.Attribute):
            receiver = scope.resolve(func.value)
            if inspect.ismodule(receiver) or inspect.isclass(receiver):
                value = getattr(receiver, func.attr, None)
                if value is not None and (self._is_own(value) or inspect.isclass(value)):
                    return [value]
                if value is None and self.injected and inspect.isclass(receiver):
                    return self._injected(func.attr, scope.package)
                return []
            if receiver is None and not (self.injected and func.attr in _BUILTIN_METHODS):
                # Unknown receiver: any method of that name in the caller's own package.
                top = scope.package
                return [
                    m for m in self.by_name.get(func.attr, []) if m.__module__.split(".")[0] == top
                ]
        return []

    def _injected(self, attr: str, package: str) -> list[Any]:
        """``self._decode(cursor)`` where ``_decode`` is a function given to the constructor
        (``decode=decode_cursor``): the package's functions named after it."""
        stem = attr.lstrip("_") + "_"
        return [
            f
            for f in self.functions
            if f.__name__.startswith(stem) and f.__module__.split(".")[0] == package
        ]


class _Scope:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.globals: dict[str, Any] = getattr(fn, "__globals__", {})
        try:  # the names a nested function takes from the one around it
            self.closure = dict(inspect.getclosurevars(fn).nonlocals)
        except (TypeError, ValueError):
            self.closure = {}
        self.types: dict[str, Any] = {}
        self.clients: dict[str, str] = {}
        self.package = (getattr(fn, "__module__", "") or "").split(".")[0]
        owner = fn.__qualname__.rsplit(".", 2)
        if len(owner) > 1 and owner[-2] != "<locals>":
            cls = self.globals.get(owner[-2])
            if inspect.isclass(cls):
                self.types["self"] = cls
                self.types["cls"] = cls

    def lookup(self, name: str) -> Any:
        if name in self.closure:
            return self.closure[name]
        return self.globals.get(name)

    def annotate(self, name: str, annotation: ast.expr) -> None:
        node = annotation
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Annotated"
            and isinstance(node.slice, ast.Tuple)
        ):
            node = node.slice.elts[0]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = ast.parse(node.value, mode="eval").body
        value = self.resolve(node)
        if value is None and isinstance(node, ast.Name):
            alias = self.globals.get(node.id)
            if typing.get_origin(alias) is typing.Annotated:
                value = typing.get_args(alias)[0]
        if inspect.isclass(value):
            self.types[name] = value

    def resolve(self, node: ast.expr) -> Any:
        """A module or class an expression names, an instance's class, or None."""
        if isinstance(node, ast.Name):
            if node.id in self.types:
                return self.types[node.id]
            value = self.globals.get(node.id)
            return value if inspect.ismodule(value) or inspect.isclass(value) else None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base is not None:
                value = getattr(base, node.attr, None)
                if inspect.ismodule(value) or inspect.isclass(value):
                    return value
        return None

    def text(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            value = self.globals.get(node.id)
            return value if isinstance(value, str) else None
        return _path_text(node)


def _client_of(call: ast.Call, scope: _Scope) -> str | None:
    """``services.client("mailbox")``: the service a raw client talks to."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "client" and call.args:
        name = scope.text(call.args[0])
        if name in SERVICE_PACKAGES:
            return name
    return None


def _path_of(node: ast.expr, scope: _Scope) -> str | None:
    """The path an argument gives: written there, or built by a helper of the module that
    returns an f-string of its parameters (``_document(f"/{id}", owner)``)."""
    text = _path_text(node)
    if text is not None or not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return text
    helper = scope.lookup(node.func.id)
    if not inspect.isfunction(helper):
        return None
    try:
        definition = ast.parse(textwrap.dedent(inspect.getsource(helper))).body[0]
    except (OSError, TypeError, SyntaxError):
        return None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    given = {
        param.arg: _path_text(arg) or "{x}"
        for param, arg in zip(definition.args.args, node.args, strict=False)
    }
    for statement in ast.walk(definition):
        if isinstance(statement, ast.Return) and isinstance(statement.value, ast.JoinedStr):
            return "".join(
                part.value
                if isinstance(part, ast.Constant)
                else given.get(getattr(part.value, "id", ""), "{x}")
                if isinstance(part, ast.FormattedValue)
                else "{x}"
                for part in statement.value.values
            )
    return None


def _upstream_call(call: ast.Call, scope: _Scope) -> Upstream | None:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "stream_to_mailbox" and len(call.args) >= 2:
        # mes_gateway.uploads: a caller's file streamed to the mailbox's ``path`` (a POST).
        path = _path_text(call.args[1])
        return Upstream("mailbox", "POST", path) if path else None
    if isinstance(func, ast.Name) and func.id == "download_from_mailbox" and len(call.args) >= 2:
        # mes_gateway.uploads: a file of the mailbox's ``path`` streamed back (a GET).
        path = _path_text(call.args[1])
        return Upstream("mailbox", "GET", path) if path else None
    if not isinstance(func, ast.Attribute):
        return None
    args = call.args
    if func.attr in ("send", "get") and args:
        service = scope.text(args[0])
        if service in SERVICE_PACKAGES:
            if func.attr == "get" and len(args) >= 2:
                path = _path_of(args[1], scope)
                return Upstream(service, "GET", path) if path else None
            if func.attr == "send" and len(args) >= 3:
                method, path = scope.text(args[1]), _path_of(args[2], scope)
                return Upstream(service, method or "", path) if path else None
    service = None
    if isinstance(func.value, ast.Name):
        service = scope.clients.get(func.value.id)
    elif isinstance(func.value, ast.Call):  # services.client("mailbox").post(...)
        service = _client_of(func.value, scope)
    if service is not None:
        if func.attr in _HTTP_METHODS and args:
            path = _path_text(args[0])
            return Upstream(service, func.attr.upper(), path) if path else None
        if func.attr == "build_request" and len(args) >= 2:
            method, path = scope.text(args[0]), _path_text(args[1])
            return Upstream(service, method or "", path) if path else None
    return None


def _domain_error(call: ast.Call, cls: type[DomainError]) -> Raised | None:
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    code: Any = cls.code
    status: Any = cls.status
    if "code" in keywords:
        code = keywords["code"].value if isinstance(keywords["code"], ast.Constant) else None
    if "status" in keywords:
        status = keywords["status"].value if isinstance(keywords["status"], ast.Constant) else None
    if not isinstance(code, str) or not isinstance(status, int):
        return None  # computed: a service's problem passed through, found at its source
    return Raised(code, status)


def _problem_response(call: ast.Call) -> Raised | None:
    """``problem_response(429, "code", ...)``: a problem answered without raising."""
    if len(call.args) < 2:
        return None
    status, code = call.args[:2]
    if (
        isinstance(status, ast.Constant)
        and isinstance(code, ast.Constant)
        and isinstance(status.value, int)
        and isinstance(code.value, str)
    ):
        return Raised(code.value, status.value)
    return None


def _route_functions(route: APIRoute) -> Iterator[Callable[..., Any]]:
    yield route.endpoint
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, FunctionType):
            yield dependant.call
        stack.extend(dependant.dependencies)


def _same_path(called: str, template: str) -> bool:
    """Whether a path the gateway builds (``{x}`` where it formats a value) may be one the
    route's template matches."""
    ours, theirs = called.split("?")[0].split("/"), template.split("/")
    return len(ours) == len(theirs) and all(
        a == b or "{" in a or "{" in b for a, b in zip(ours, theirs, strict=True)
    )


class _Services:
    def __init__(self) -> None:
        self._reach: dict[str, Reach] = {}
        self._memo: dict[Upstream, set[Raised]] = {}

    def codes(self, call: Upstream) -> set[Raised]:
        if call in self._memo:
            return self._memo[call]
        package = SERVICE_PACKAGES[call.service]
        reach = self._reach.setdefault(package, Reach((package, "mes_platform"), injected=True))
        raised: set[Raised] = set()
        matched = False
        for router in reach.routers():
            for route in router.routes:
                if not isinstance(route, APIRoute) or call.method not in route.methods:
                    continue
                if _same_path(call.path, route.path):
                    matched = True
                    for fn in _route_functions(route):
                        raised |= reach.of(fn)[0]
        if not matched:
            raise LookupError(f"no internal route of {package} answers {call}")
        self._memo[call] = raised
        return raised


def public_codes(routes: list[APIRoute]) -> dict[str, set[Raised]]:
    """For each operation id, the problems its route can answer."""
    gateway = Reach(("mes_gateway", "mes_platform"))
    services = _Services()
    out: dict[str, set[Raised]] = {}
    for route in routes:
        raised: set[Raised] = set()
        for fn in _route_functions(route):
            own, upstream = gateway.of(fn)
            raised |= own
            for call in upstream:
                for problem in services.codes(call):
                    if problem.status >= 500:
                        problem = Raised("service_unavailable", 503)
                    raised.add(problem)
        key = route.operation_id or route.name
        out[key] = {r for r in raised if r.code not in UNREACHABLE}
    return out
