"""``fx``: a pedalboard effect chain.

Each chain entry names a plugin and its parameters::

    chain:
      - {plugin: HighpassFilter, cutoff_frequency_hz: 30}
      - {plugin: Compressor, threshold_db: -18, ratio: 4}
      - {plugin: path/to/Plugin.vst3, params: {mix: 0.5}}   # VST3 / AU via pedalboard.load_plugin

Built-in plugins and their parameters are read from pedalboard itself (the signature of
each plugin's constructor), so a graph is checked against the installed pedalboard at
validation time: unknown plugin or parameter names get a did-you-mean, values of the
wrong type or out of the plugin's range are reported with the entry's line. Plugins are
built inside ``run`` (pedalboard objects cannot be pickled), one fresh chain per call,
so every track starts from a reset state.
"""
from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from pydantic import Field

from drumflow.errors import did_you_mean
from drumflow.node import CheckInfo, Issue, NodeType, Params, RunContext
from drumflow.nodes import AUDIO_IN, AUDIO_OUT

EXTERNAL_SUFFIXES = (".vst3", ".component", ".vst")
_NOT_PLUGINS = {"Plugin", "Chain", "Mix", "Pedalboard", "PluginContainer", "ExternalPlugin", "VST3Plugin",
                "AudioUnitPlugin", "IIRFilter"}
_PATH_PARAMS = {("Convolution", "impulse_response_filename")}


@dataclass(frozen=True)
class PluginParam:
    name: str
    kind: str  # "float", "bool", "str", "path", "enum"
    default: Any  # None when required
    required: bool
    choices: type[enum.Enum] | None = None  # an enum type: values are its member names

    def describe(self) -> str:
        if self.choices is not None:
            return f"one of {', '.join(self.choices.__members__)}"
        return self.kind


@dataclass(frozen=True)
class PluginInfo:
    name: str
    cls: type
    params: dict[str, PluginParam]


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _param_from_doc(plugin: str, cls: type, piece: str) -> PluginParam | None:
    m = re.match(r"(\w+)\s*:\s*([^=]+?)\s*(?:=\s*(.+))?$", piece)
    if not m or m.group(1) == "self":
        return None
    name, typ, default = m.group(1), m.group(2), m.group(3)
    enum_type = None
    if (plugin, name) in _PATH_PARAMS:
        kind = "path"
    elif typ in ("float", "Optional[float]", "int"):
        kind = "float"
    elif typ == "bool":
        kind = "bool"
    elif typ == "str":
        kind = "str"
    else:  # pedalboard_native.LadderFilter.Mode, pedalboard_native.Resample.Quality, ...
        attrs = typ.split(".")[1:]
        obj: Any = __import__("pedalboard")
        for a in attrs:
            obj = getattr(obj, a, None)
        if isinstance(obj, type) and hasattr(obj, "__members__"):
            kind, enum_type = "enum", obj
        else:
            kind = "any"
    value: Any = None
    if default is not None:
        if kind == "float":
            value = None if default == "None" else float(default)
        elif kind == "bool":
            value = default == "True"
        elif kind == "enum":
            value = default.split(".")[-1].split(":")[0].strip("<> ")
        else:
            value = None if default == "None" else default.strip("'\"")
    return PluginParam(name, kind, value, default is None, enum_type)


@lru_cache(maxsize=1)
def builtin_plugins() -> dict[str, PluginInfo]:
    """Every built-in pedalboard plugin with its constructor parameters."""
    import pedalboard

    out: dict[str, PluginInfo] = {}
    for name in dir(pedalboard):
        cls = getattr(pedalboard, name)
        if name.startswith("_") or name in _NOT_PLUGINS or not isinstance(cls, type):
            continue
        if not issubclass(cls, pedalboard.Plugin):
            continue
        doc = (cls.__init__.__doc__ or "").strip().splitlines()
        if not doc or not doc[0].startswith("__init__("):
            continue
        inner = doc[0][len("__init__("): doc[0].rindex(")")]
        params = [p for p in (_param_from_doc(name, cls, piece) for piece in _split_top(inner)) if p]
        out[name] = PluginInfo(name, cls, {p.name: p for p in params})
    return out


def is_external(name: str) -> bool:
    return name.lower().endswith(EXTERNAL_SUFFIXES) or "/" in name or "\\" in name


def _coerce(info: PluginInfo, p: PluginParam, value: Any) -> Any:
    """YAML value -> constructor argument, or ValueError with what to write instead."""
    if p.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{info.name}.{p.name} must be a number, got {value!r}")
        return float(value)
    if p.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{info.name}.{p.name} must be true or false, got {value!r}")
        return value
    if p.kind == "enum":
        assert p.choices is not None
        if not isinstance(value, str) or value not in p.choices.__members__:
            hint = did_you_mean(str(value), p.choices.__members__) or f"use one of {', '.join(p.choices.__members__)}"
            raise ValueError(f"{info.name}.{p.name} cannot be {value!r} ({hint})")
        return p.choices.__members__[value]
    if p.kind in ("str", "path"):
        if not isinstance(value, str):
            raise ValueError(f"{info.name}.{p.name} must be text, got {value!r}")
        return value
    return value


def build_plugin(entry: dict[str, Any]) -> Any:
    """One chain entry -> a pedalboard plugin (raises ValueError with a one-line reason)."""
    import pedalboard

    name = entry["plugin"]
    if is_external(name):
        plugin = pedalboard.load_plugin(name)
        for key, value in (entry.get("params") or {}).items():
            setattr(plugin, key, value)
        return plugin
    info = builtin_plugins()[name]
    kwargs = {k: _coerce(info, info.params[k], v) for k, v in entry.items() if k != "plugin"}
    return info.cls(**kwargs)


class FxParams(Params):
    chain: list[dict[str, Any]] = Field(
        default_factory=list,
        description="plugins in order: {plugin: Compressor, threshold_db: -18, ...} or {plugin: x.vst3, params: {...}}")


class Fx(NodeType):
    name = "fx"
    description = "Run a pedalboard effect chain: built-in plugins by name, VST3/AU plugins by path."
    version = "1"
    Params = FxParams
    inputs = (AUDIO_IN,)
    outputs = (AUDIO_OUT,)

    def prepare(self, params: dict[str, Any], base_dir: Path) -> dict[str, Any]:
        chain = params.get("chain")
        if not isinstance(chain, list):
            return params
        out = []
        for entry in chain:
            if isinstance(entry, dict) and isinstance(entry.get("plugin"), str):
                entry = dict(entry)
                if is_external(entry["plugin"]):
                    entry["plugin"] = str((base_dir / Path(entry["plugin"]).expanduser()).resolve())
                for plugin, key in _PATH_PARAMS:
                    if entry["plugin"] == plugin and isinstance(entry.get(key), str):
                        entry[key] = str((base_dir / Path(entry[key]).expanduser()).resolve())
            out.append(entry)
        return {**params, "chain": out}

    def check(self, params: FxParams, info: CheckInfo) -> Iterable[Issue]:
        plugins = builtin_plugins()
        for i, entry in enumerate(params.chain):
            at = ("chain", i)
            name = entry.get("plugin")
            if not isinstance(name, str):
                yield Issue("each chain entry needs 'plugin: NAME'", at, "e.g. {plugin: Compressor, threshold_db: -18}")
                continue
            if is_external(name):
                yield from self._check_external(entry, at)
                continue
            if name not in plugins:
                hint = did_you_mean(name, plugins) or "see `drumflow nodes fx` for built-in plugins, or give a .vst3 path"
                yield Issue(f"unknown pedalboard plugin '{name}'", at + ("plugin",), hint)
                continue
            plugin = plugins[name]
            bad = False
            for key, value in entry.items():
                if key == "plugin":
                    continue
                if key not in plugin.params:
                    hint = did_you_mean(key, plugin.params) or f"{name} takes {', '.join(plugin.params) or 'no parameters'}"
                    yield Issue(f"unknown parameter '{key}' of {name}", at + (key,), hint, key=True)
                    bad = True
                    continue
                try:
                    _coerce(plugin, plugin.params[key], value)
                except ValueError as exc:
                    yield Issue(str(exc), at + (key,))
                    bad = True
            missing = [p.name for p in plugin.params.values() if p.required and p.name not in entry]
            if missing:
                yield Issue(f"{name} needs {', '.join(missing)}", at, f"add {missing[0]}: ...")
                bad = True
            if not bad:  # the plugin's own range checks, at validation time
                try:
                    build_plugin(entry)
                except Exception as exc:  # noqa: BLE001 - pedalboard raises ValueError/RuntimeError
                    yield Issue(f"{name}: {str(exc).strip().splitlines()[0]}", at)

    def _check_external(self, entry: dict[str, Any], at: tuple[Any, ...]) -> Iterable[Issue]:
        extra = [k for k in entry if k not in ("plugin", "params")]
        if extra:
            yield Issue(f"put the parameters of an external plugin under 'params', not '{extra[0]}'", at + (extra[0],),
                        key=True)
        if not Path(entry["plugin"]).exists():
            yield Issue(f"plugin file {entry['plugin']} does not exist", at + ("plugin",),
                        "give the path of a .vst3 or .component")
            return
        if entry.get("params") is not None and not isinstance(entry["params"], dict):
            yield Issue("'params' must be a mapping of parameter names to values", at + ("params",))
            return
        try:
            import pedalboard

            plugin = pedalboard.load_plugin(entry["plugin"])
        except Exception as exc:  # noqa: BLE001
            yield Issue(f"cannot load plugin: {str(exc).strip().splitlines()[0]}", at + ("plugin",))
            return
        for key in entry.get("params") or {}:
            if key not in plugin.parameters:
                yield Issue(f"unknown parameter '{key}' of {Path(entry['plugin']).name}", at + ("params", key),
                            did_you_mean(key, plugin.parameters), key=True)

    def fingerprint(self, params: FxParams) -> dict[str, Any]:
        files = {}
        for entry in params.chain:
            for plugin, key in _PATH_PARAMS:
                if entry.get("plugin") == plugin and isinstance(entry.get(key), str) and Path(entry[key]).is_file():
                    files[entry[key]] = hashlib.sha256(Path(entry[key]).read_bytes()).hexdigest()
            if is_external(str(entry.get("plugin", ""))) and Path(entry["plugin"]).exists():
                files[entry["plugin"]] = str(Path(entry["plugin"]).stat().st_mtime_ns)
        return {"files": files} if files else {}

    def run(self, inputs: dict[str, Any], params: FxParams, ctx: RunContext) -> dict[str, Any]:
        import pedalboard

        audio = inputs["in"]
        board = pedalboard.Pedalboard([build_plugin(e) for e in params.chain])
        y = board(np.ascontiguousarray(audio.samples), audio.sample_rate)
        return {"out": audio.with_samples(y)}

    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        kinds = {"float": {"type": "number"}, "bool": {"type": "boolean"}, "str": {"type": "string"},
                 "path": {"type": "string"}, "any": {}}
        for info in builtin_plugins().values():
            props: dict[str, Any] = {"plugin": {"const": info.name}}
            for p in info.params.values():
                s = {"enum": list(p.choices.__members__)} if p.choices is not None else dict(kinds[p.kind])
                if p.default is not None:
                    s["default"] = p.default
                props[p.name] = s
            required = ["plugin"] + [p.name for p in info.params.values() if p.required]
            items.append({"type": "object", "properties": props, "required": required, "additionalProperties": False})
        items.append({"type": "object", "description": "a VST3/AU plugin by path",
                      "properties": {"plugin": {"type": "string", "pattern": r"(\.vst3|\.component|\.vst)$"},
                                     "params": {"type": "object"}},
                      "required": ["plugin"], "additionalProperties": False})
        return {"type": "object", "additionalProperties": False,
                "properties": {"chain": {"type": "array", "items": {"anyOf": items},
                                         "description": cls.Params.model_fields["chain"].description}}}
