"""Content-addressed cache of node results.

A node's key is the SHA-256 of its type name, implementation version, validated params
(defaults filled in, so writing a default explicitly changes nothing), any extra
fingerprint the type adds (a model file's content hash) and the keys of its inputs. An
input file's key is the hash of its bytes. So changing a compressor threshold changes
the key of that fx node and of everything downstream, never of the separation.

An entry is a folder ``<root>/<key[:2]>/<key>/`` holding ``meta.json`` (what each
output port holds) and one ``.npy`` per array; it is written to a temp folder and
renamed, so a killed run never leaves a half entry. Default root: ``$DRUMFLOW_CACHE``
or ``<out>/.drumflow-cache``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from drumflow.errors import CacheError
from drumflow.ports import PORT_TYPES, PortType

CACHE_FORMAT = 1
ENV_VAR = "DRUMFLOW_CACHE"
DIR_NAME = ".drumflow-cache"


def canonical_json(value: Any) -> str:
    """Stable JSON text; raises TypeError for anything that has no faithful JSON form
    (a key must never depend on an object's repr)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def node_key(type_name: str, version: str, params: Mapping[str, Any], fingerprint: Mapping[str, Any],
             inputs: Mapping[str, str]) -> str:
    """The cache key; ``inputs`` maps input port -> ``"<upstream key>:<upstream port>"``."""
    payload = {"cache_format": CACHE_FORMAT, "type": type_name, "version": version, "params": params,
               "fingerprint": fingerprint, "inputs": inputs}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def file_key(content_sha256: str) -> str:
    return hashlib.sha256(f"file:{CACHE_FORMAT}:{content_sha256}".encode()).hexdigest()


def default_root(out_dir: Path) -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else out_dir / DIR_NAME


@dataclass
class CacheInfo:
    root: Path
    entries: int
    bytes: int


class Cache:
    """Node outputs by key, on disk."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return (self._dir(key) / "meta.json").is_file()

    def load(self, key: str) -> dict[str, Any]:
        """Port name -> value; :class:`CacheError` if the entry is unreadable."""
        folder = self._dir(key)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in meta["arrays"]}
            out = {}
            for port, item in meta["ports"].items():
                port_type: PortType = PORT_TYPES[item["type"]]
                out[port] = port_type.load({k: arrays[a] for k, a in item["arrays"].items()}, item["meta"])
            return out
        except (OSError, ValueError, KeyError) as exc:
            raise CacheError(f"cache entry {folder} is unreadable ({type(exc).__name__}); "
                             "run `drumflow cache clear` or use --no-cache") from exc

    def store(self, key: str, outputs: Mapping[str, Any], port_types: Mapping[str, PortType],
              info: Mapping[str, Any] | None = None) -> None:
        """Write an entry atomically; arrays shared between ports (a stem and the stem set) are stored once."""
        if self.has(key):
            return
        final = self._dir(key)
        tmp = final.parent / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            tmp.mkdir(parents=True)
            by_id: dict[int, str] = {}
            ports = {}
            for port, value in outputs.items():
                port_type = port_types[port]
                arrays, meta = port_type.dump(value)
                names = {}
                for name, array in arrays.items():
                    if id(array) not in by_id:
                        by_id[id(array)] = f"a{len(by_id)}"
                        np.save(tmp / f"{by_id[id(array)]}.npy", np.ascontiguousarray(array), allow_pickle=False)
                    names[name] = by_id[id(array)]
                ports[port] = {"type": port_type.name, "arrays": names, "meta": meta}
            meta_doc = {"cache_format": CACHE_FORMAT, "key": key, "arrays": sorted(set(by_id.values())),
                        "ports": ports, "info": dict(info or {})}
            (tmp / "meta.json").write_text(json.dumps(meta_doc, indent=1, default=str))
            try:
                os.replace(tmp, final)
            except OSError:  # another worker stored the same key first
                if not self.has(key):
                    raise
        except OSError as exc:
            raise CacheError(f"cannot write to the cache {self.root}: {exc.strerror or exc}; "
                             "free some space, pick another with $DRUMFLOW_CACHE, or run with --no-cache") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def info(self) -> CacheInfo:
        entries = 0
        size = 0
        if self.root.is_dir():
            for meta in self.root.glob("*/*/meta.json"):
                entries += 1
                size += sum(f.stat().st_size for f in meta.parent.iterdir())
        return CacheInfo(self.root, entries, size)

    def clear(self) -> int:
        """Remove every entry; returns how many there were. Only removes what looks like ours."""
        n = self.info().entries
        if self.root.is_dir():
            for sub in self.root.iterdir():
                if sub.is_dir() and len(sub.name) == 2:
                    shutil.rmtree(sub, ignore_errors=True)
            last = self.root / "last"
            if last.is_dir():
                shutil.rmtree(last, ignore_errors=True)
        return n

    # -- why something re-runs ------------------------------------------------------------
    def _last_file(self, scope: str) -> Path:
        return self.root / "last" / f"{hashlib.sha256(scope.encode()).hexdigest()[:32]}.json"

    def last(self, scope: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._last_file(scope).read_text())
        except (OSError, ValueError):
            return None

    def remember(self, scope: str, components: Mapping[str, Any]) -> None:
        path = self._last_file(scope)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
            tmp.write_text(canonical_json(components))
            os.replace(tmp, path)
        except OSError:
            pass  # the reason log is a nicety; never fail a run for it


def why_rerun(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str:
    """A short reason a node runs again, comparing its key components with the last run's."""
    if previous is None:
        return "not run before"
    changed = [k for k in ("version", "params", "fingerprint", "inputs") if previous.get(k) != current.get(k)]
    if not changed:
        return "cache entry missing"
    if "params" in changed:
        old, new = previous.get("params") or {}, current.get("params") or {}
        names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return "params changed: " + ", ".join(names)
    return {"version": "implementation version changed", "fingerprint": "model or plugin file changed",
            "inputs": "an input changed"}[changed[0]]
