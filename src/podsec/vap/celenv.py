"""The CEL environment of a Kubernetes API server, on cel-expr-python.

`Environment(version)` compiles expressions as an API server of that version accepts
them in a new ValidatingAdmissionPolicy: with the CEL features and libraries of its
compatibility version (one minor release before it, k8s.io/component-base), with the
variables the admission plugin declares (``object``, ``oldObject``, ``request``,
``namespaceObject``, ``params`` when the policy has a ``paramKind``, and
``variables.<name>`` typed by each variable's own expression), and with the result
type each kind of expression must have.

Variables are lazy, as in Kubernetes' composition (cel/composition.go): a `Scope` holds
one evaluation's inputs, and a variable is computed the first time an expression of that
evaluation uses it, then reused; an error is remembered too and surfaces, named, only in
the expressions that use the variable. (Expressions reach variables through functions;
`celtext` rewrites ``variables.x`` to ``variables.x()``.)
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel

from podsec.vap import celtext, k8slib

Version = tuple[int, int]

OLDEST: Version = (1, 28)
NEWEST: Version = (1, 37)
"""The Kubernetes versions podsec can emulate (ValidatingAdmissionPolicy with variables and
namespaceObject exists from 1.28; 1.37 is the newest release podsec knows)."""


def compatibility(version: Version) -> Version:
    """The CEL a server of ``version`` accepts in new objects: that of the release before it."""
    return (version[0], version[1] - 1)


def parse_version(text: str) -> Version:
    m = re.fullmatch(r"v?1\.(0|[1-9][0-9]*)", text.strip())
    if m is None:
        raise ValueError(f'invalid Kubernetes version "{text}": expected 1.N, such as 1.33')
    version = (1, int(m.group(1)))
    if not OLDEST <= version <= NEWEST:
        raise ValueError(f"Kubernetes {text}: podsec emulates 1.{OLDEST[1]} to 1.{NEWEST[1]}")
    return version


# (extension, cel-expr-python config name and version, first Kubernetes version, last+1)
_EXTENSIONS: tuple[tuple[str, int | None, Version, Version | None], ...] = (
    ("strings", 0, (1, 0), (1, 29)),
    ("strings", 2, (1, 29), None),
    ("optional", None, (1, 28), None),
    ("sets", None, (1, 29), None),
    ("two-var-comprehensions", None, (1, 32), None),
    ("lists", 2, (1, 34), None),  # cel-go ext.Lists v3 has exactly cel-cpp's v2 functions
)


def _config(version: Version) -> Any:
    lines = ["extensions:"]
    for name, ext_version, since, until in _EXTENSIONS:
        if since <= version and (until is None or version < until):
            lines.append(f"  - name: {name}")
            if ext_version is not None:
                lines.append(f"    version: {ext_version}")
    return cel.NewEnvConfigFromYaml("\n".join(lines) + "\n")


class CompileError(Exception):
    """An expression the API server would refuse (``compilation failed: ...``)."""


@dataclass(frozen=True, slots=True)
class Program:
    expression: str  # as the user wrote it
    compiled: Any  # cel.Expression
    result: str  # the result type's name, for error messages
    optional: bool = False  # a variable of optional type, held as a list of zero or one value

    def declared_type(self) -> Any:
        """The type a variable defined by this program has in later expressions."""
        if self.result == "dyn" or self.result.startswith("type"):
            return cel.Type.DYN
        return self.compiled.return_type()


_RESULT = {"bool": ("bool",), "string": ("string",), "annotation": ("string", "null_type"), "any": ()}
_UNANSWERED = (
    "the authorizer library asks the cluster's authorization, which podsec does not have offline: "
    "give every check an answer with --authorizer allow or --authorizer deny"
)
_CROSS_NUMERIC = re.compile(
    r"found no matching overload for '_(?:<|<=|>|>=|==|!=)_' applied to '\((?:int|uint|double), "
)
_DECLARED = ("object", "oldObject", "request", "namespaceObject")
_UNDEFINED_VARIABLE = re.compile(r"undeclared reference to 'variables\.([_a-zA-Z0-9]+)' \(in container ''\)")


def _type_name(t: Any) -> str:
    name = str(t.name()).lower()
    return {"null": "null_type"}.get(name, name)


class Environment:
    """Compiles the expressions of one policy for one Kubernetes version.

    ``variables`` are the policy's variables compiled so far, in order: each is visible
    to later expressions as ``variables.<name>``.
    """

    def __init__(
        self,
        version: Version,
        *,
        params: bool,
        variables: Sequence[tuple[str, Program]] = (),
        authorizer: str = "none",
    ) -> None:
        """``authorizer``: "declared" (``authorizer`` and ``authorizer.requestResource`` exist),
        "unanswered" (they would, but podsec has no answer for them) or "none" (as in messages)."""
        self.version = version
        self.cel_version = compatibility(version)
        self.variables = {name: program.optional for name, program in variables}
        self.authorizer = authorizer
        names: dict[str, Any] = dict.fromkeys(_DECLARED, cel.Type.DYN)
        if params:
            names["params"] = cel.Type.DYN
        if authorizer == "declared":
            names |= {"authorizer": k8slib.AUTHORIZER, "authorizer.requestResource": k8slib.RESOURCE_CHECK}
        functions = k8slib.declarations(self.cel_version)
        for name, program in variables:
            overload = cel.Overload(
                f"podsec_variable_{name}", program.declared_type(), [], impl=_variable(name, program)
            )
            functions.append(cel.FunctionDecl(f"variables.{name}", [overload]))
        self._env = cel.NewEnv(k8slib.POOL, config=_config(self.cel_version), variables=names, functions=functions)

    def compile(self, expression: str, result: str) -> Program:
        """Compile ``expression``, which must give ``result`` (bool, string, annotation or any)."""
        try:
            text = celtext.rewrite(
                expression, variables=self.variables, formats=self.cel_version >= k8slib.FORMAT_SINCE
            )
        except celtext.TextError as exc:
            if str(exc) == "unterminated string":
                text = celtext.Rewritten(expression, expression, ())  # the parser says it better
            else:
                raise CompileError(f"compilation failed: ERROR: <input>: {exc}") from None
        try:
            compiled = self._env.compile(text.text)
        except RuntimeError as exc:
            message = str(exc).removeprefix("INVALID_ARGUMENT: ").removesuffix(" [INVALID_ARGUMENT]").strip()
            if self.authorizer == "unanswered" and "undeclared reference to 'authorizer'" in message:
                raise CompileError(_UNANSWERED) from None
            if self.cel_version >= (1, 28) and _only_cross_numeric(message):
                # Kubernetes enables cross-type numeric comparisons (1 < 1.5); cel-cpp's checker
                # refuses them, its runtime compares across types: evaluate such an expression unchecked.
                return Program(expression, self._env.compile(text.text, disable_check=True), "dyn")
            message = _UNDEFINED_VARIABLE.sub(r"undefined field '\1'", text.error(message))
            raise CompileError(f"compilation failed: {message}") from None
        missing = celtext.not_runnable(expression)
        if missing is not None:
            raise CompileError(
                f"podsec cannot evaluate {missing} offline (cel-cpp's runtime has no map-building "
                "comprehensions); the API server accepts it"
            )
        got = _type_name(compiled.return_type())
        wanted = _RESULT[result]
        if wanted and got not in wanted:
            if len(wanted) == 1:
                raise CompileError(f"must evaluate to {wanted[0]} but got {got}")
            raise CompileError(f"must evaluate to one of [{' '.join(wanted)}] but got {got}")
        return Program(expression, compiled, got)

    def compile_variable(self, expression: str) -> Program:
        """A variable's expression; one of optional type is kept as a list of zero or one value."""
        program = self.compile(expression, "any")
        if not program.result.startswith("optional_type"):
            return program
        text = celtext.rewrite(expression, variables=self.variables, formats=self.cel_version >= k8slib.FORMAT_SINCE)
        wrapped = self._env.compile(f"[{text.text}].filter(o, o.hasValue()).map(o, o.value())")
        return Program(expression, wrapped, _type_name(wrapped.return_type()), optional=True)

    def activation(self, data: Mapping[str, Any]) -> Any:
        """The inputs of one evaluation, converted to CEL once for all its expressions."""
        return self._env.Activation(data=dict(data))


def _only_cross_numeric(message: str) -> bool:
    errors = [line for line in message.splitlines() if line.startswith("ERROR:")]
    return bool(errors) and all(_CROSS_NUMERIC.search(line) for line in errors)


class EvalError(Exception):
    """A CEL evaluation error, worded as cel-go words it where podsec knows the wording."""


class Unsupported(Exception):
    """Something the API server would do that podsec cannot do offline (an input error, not a verdict)."""


_STATUS = re.compile(r"^[A-Z_]+: ")
_WORDING = (
    (re.compile(r'^Key not found in map : "?(.*?)"?$'), r"no such key: \1"),
    (re.compile(r"^No value with name \"(.*)\" found in Activation$"), r"no such attribute: \1"),
    (re.compile(r"^divide by zero$"), "division by zero"),
    (re.compile(r"^modulus by zero$"), "modulus by zero"),
    (re.compile(r"^Index error: index=(-?\d+) size=(\d+)$"), r"index out of bounds: \1"),
    (re.compile(r"^No matching overloads found : (.*)$"), lambda m: _no_overload(m.group(1))),
    (re.compile(r"^cannot convert (\w+) to (\w+)$"), r"type conversion error from '\1' to '\2'"),
)


_CPP_TYPES = {"int64": "int", "uint64": "uint"}
_CALL = re.compile(r"^(?:\((\w+)\)\.)?([\w.@]+)\((.*)\)$")


def _no_overload(call: str) -> str:
    """cel-go's words for a call no overload takes. Operators and the standard library's functions
    of two arguments say no more, its functions of one name themselves, and the functions of the
    extensions and of Kubernetes' libraries (dispatched by decls) name the argument types too."""
    m = _CALL.match(call)
    if m is None:
        return "no such overload"
    receiver, name, args = m.groups()
    name = _USER_NAMES.get(name, name)
    types = [t.strip() for t in ([receiver] if receiver else []) + (args.split(",") if args else [])]
    if not name[0].isalpha():
        return "no such overload"
    if name in _STANDARD:
        return f"no such overload: {name}" if len(types) == 1 else "no such overload"
    return f"no such overload: {name}({', '.join(_CPP_TYPES.get(t, t) for t in types)})"


_STANDARD = frozenset(
    (
        *("size", "matches", "contains", "startsWith", "endsWith", "type", "dyn"),
        *("int", "uint", "double", "string", "bytes", "bool", "duration", "timestamp"),
        *("getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear"),
        *("getHours", "getMinutes", "getSeconds", "getMilliseconds"),
    )
)
_USER_NAMES = {internal: name for name, internal in celtext.INDEX_OF.items()}


def error_text(raw: str) -> str:
    text = _STATUS.sub("", raw.strip(), count=1)
    for pattern, replacement in _WORDING:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text


class Scope:
    """One evaluation: its inputs, and the variables computed so far (values or errors)."""

    def __init__(self, env: Environment, data: Mapping[str, Any]) -> None:
        self.activation = env.activation(data)
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.unsupported: str | None = None  # cel-cpp could not run an expression at all


_SCOPE: contextvars.ContextVar[Scope] = contextvars.ContextVar("podsec_vap_scope")


def _variable(name: str, program: Program) -> Any:
    def value() -> Any:
        scope = _SCOPE.get()
        if name in scope.values:
            return scope.values[name]
        if name not in scope.errors:
            try:
                scope.values[name] = result = _eval(program, scope)
                return result
            except EvalError as exc:
                scope.errors[name] = str(exc)
            except Unsupported as exc:
                scope.unsupported = scope.errors[name] = str(exc)
        raise k8slib.CelError(f'composited variable "{name}" fails to evaluate: {scope.errors[name]}')

    return value


def _eval(program: Program, scope: Scope) -> Any:
    try:
        value = program.compiled.eval(scope.activation)
    except RuntimeError as exc:  # cel-cpp refuses to run it at all (a function it lacks at runtime)
        raise Unsupported(f"cel-cpp cannot evaluate '{program.expression}': {error_text(str(exc))}") from None
    if value.type() == cel.Type.ERROR:
        raise EvalError(error_text(str(value.value())))
    return _plain(value)


def run(program: Program, scope: Scope) -> Any:
    """Evaluate ``program`` in ``scope``; the plain Python result, `EvalError`, or `Unsupported`
    when cel-cpp cannot run it (then no verdict may come from it)."""
    token = _SCOPE.set(scope)
    try:
        result = _eval(program, scope)
    except EvalError:
        if scope.unsupported is not None:
            raise Unsupported(scope.unsupported) from None
        raise
    finally:
        _SCOPE.reset(token)
    return result


def _plain(value: Any) -> Any:
    result = value.plain_value()
    if isinstance(result, bytearray):
        return bytes(result)
    return result
