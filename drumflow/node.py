"""What a node type declares, and what it gets when it checks or runs.

A node type is a class with a name, a one-line description, an implementation
``version`` (bump it when outputs change for the same inputs and params: it is part of
every cache key), a pydantic ``Params`` model, typed input and output ports, and one
pure method::

    run(inputs: dict[port, value], params: Params, ctx: RunContext) -> dict[port, value]

``run`` must depend only on its inputs and params (the cache relies on it); ``ctx``
carries the track name and output folder for sinks, a seed, warnings and progress.
Third-party node types subclass :class:`NodeType` and register it under the
``drumflow.nodes`` entry-point group (see docs/graphs.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Literal, Mapping, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from drumflow.ports import PortType


class Params(BaseModel):
    """Base of every node's parameter model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


@dataclass(frozen=True)
class Port:
    """One input or output; an input ``type`` may be a tuple of accepted types."""

    name: str
    type: PortType | tuple[PortType, ...]
    description: str = ""
    required: bool = True
    warn_unused: bool = True

    @property
    def types(self) -> tuple[PortType, ...]:
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def type_name(self) -> str:
        return "|".join(t.name for t in self.types)

    def accepts(self, t: PortType) -> bool:
        return any(t is own for own in self.types)


@dataclass(frozen=True)
class Issue:
    """A problem found by :meth:`NodeType.check`; ``path`` points into the params (for the line)."""

    problem: str
    path: tuple[Any, ...] = ()
    hint: str | None = None
    key: bool = False  # True: point at the key (unknown name), not the value


@dataclass(frozen=True)
class CheckInfo:
    """What :meth:`NodeType.check` may know besides the params."""

    node_id: str
    input_names: tuple[str, ...]
    input_types: Mapping[str, PortType]
    stem: str | None = None  # the stem feeding this node, if one can be traced


@dataclass
class RunContext:
    """Everything a running node may use besides inputs and params."""

    node_id: str
    track: str
    out_dir: Path
    seed: int
    stem: str | None = None
    protected: frozenset[Path] = frozenset()  # input files: never written to
    warnings: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    progress: Callable[[int, int | None], None] | None = None

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return "|".join(str(a) for a in get_args(annotation))
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class NodeType:
    """Base class of node types; subclasses fill in the class attributes and ``run``."""

    name: ClassVar[str]
    description: ClassVar[str]
    version: ClassVar[str] = "1"
    Params: ClassVar[type[Params]] = NoParams
    inputs: ClassVar[tuple[Port, ...]] = ()
    outputs: ClassVar[tuple[Port, ...]] = ()
    variadic: ClassVar[PortType | None] = None
    """If set, the node takes any number of named inputs of this type (like ``mix``)."""
    sink: ClassVar[bool] = False
    """Writes files; never cached, never reported as an unused node."""
    cacheable: ClassVar[bool] = True
    """Store results in the cache. Cheap sample-wise nodes (gain, mix, ...) say False: they
    recompute in milliseconds from cached inputs, and only when something downstream runs."""
    stem_outputs: ClassVar[bool] = False
    """Each output port named after a stem carries that stem (lets ``export`` fill ``{stem}``)."""
    stem_input: ClassVar[str | None] = None
    """With several inputs: the one whose stem the outputs carry (``duck``'s ``in``, not its ``key``)."""

    def check(self, params: Params, info: CheckInfo) -> Iterable[Issue]:
        """Static checks beyond the params model (plugins exist, names valid, ...)."""
        return ()

    def prepare(self, params: dict[str, Any], base_dir: Path) -> dict[str, Any]:
        """Raw params -> params with relative file paths made absolute against ``base_dir``."""
        return params

    def fingerprint(self, params: Params) -> dict[str, Any]:
        """Extra cache-key material, e.g. the content hash of a model file a param names."""
        return {}

    def planned_outputs(self, params: Params, track: str, out_dir: Path, node_id: str, stem: str | None,
                        input_type: PortType | None) -> list[Path]:
        """Files a sink will write for ``track`` (checked before anything runs)."""
        return []

    def run(self, inputs: dict[str, Any], params: Params, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError

    # -- declared, so the CLI, the schema and the docs need no other source -------------
    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        return cls.Params.model_json_schema()

    @classmethod
    def describe_params(cls) -> list[tuple[str, str, str, str]]:
        """``(name, type, default, description)`` for each parameter."""
        rows = []
        for name, f in cls.Params.model_fields.items():
            ann = _type_name(f.annotation)
            default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
            rows.append((name, ann, default, f.description or ""))
        return rows
