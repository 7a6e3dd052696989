"""``mix``: sum named inputs with per-input gain, pan, mute and solo."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from pydantic import Field

from drumflow.errors import did_you_mean, one_of
from drumflow.node import CheckInfo, Issue, NodeType, Params, RunContext
from drumflow.nodes import AUDIO_OUT, db_to_gain
from drumflow.ports import AUDIO, Audio


class MixParams(Params):
    gain_db: dict[str, float] = Field(default_factory=dict, description="input name -> gain in dB (default 0)")
    pan: dict[str, float] = Field(default_factory=dict, description="input name -> pan, -1 (left) .. 1 (right)")
    mute: list[str] = Field(default_factory=list, description="inputs left out of the mix")
    solo: list[str] = Field(default_factory=list, description="if any: only these inputs are mixed")
    master_gain_db: float = Field(0.0, description="gain in dB applied to the sum")


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power balance, unity at the centre: (1, 1) at 0, (0, sqrt 2) at +1."""
    angle = (pan + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(angle), math.sqrt(2.0) * math.sin(angle)


class Mix(NodeType):
    name = "mix"
    description = "Sum any number of named audio inputs, with per-input gain_db, pan, mute and solo."
    version = "1"
    cacheable = False
    Params = MixParams
    inputs = ()
    variadic = AUDIO
    outputs = (AUDIO_OUT,)

    def check(self, params: MixParams, info: CheckInfo) -> Iterable[Issue]:
        if not info.input_names:
            yield Issue("mix has no inputs", hint="e.g. in: {kick: split.kick, snare: split.snare}")
        for field_name in ("gain_db", "pan", "mute", "solo"):
            names = getattr(params, field_name)
            for i, name in enumerate(names):
                if name not in info.input_names:
                    path = (field_name, name) if isinstance(names, dict) else (field_name, i)
                    hint = did_you_mean(name, info.input_names) or f"inputs are {one_of(info.input_names)}"
                    yield Issue(f"'{field_name}' names '{name}', which is not an input of this mix", path, hint,
                                key=isinstance(names, dict))
        for name, pan in params.pan.items():
            if not -1.0 <= pan <= 1.0:
                yield Issue(f"pan of '{name}' is {pan}; it must be between -1 (left) and 1 (right)", ("pan", name))

    def run(self, inputs: dict[str, Any], params: MixParams, ctx: RunContext) -> dict[str, Any]:
        items: dict[str, Audio] = inputs
        rates = {a.sample_rate for a in items.values()}
        if len(rates) > 1:
            detail = ", ".join(f"{n}: {a.sample_rate} Hz" for n, a in items.items())
            raise ValueError(f"inputs have different sample rates ({detail}); add a resample node before the mix")
        rate = rates.pop()
        frames = max(a.frames for a in items.values())
        active = [n for n in items if n not in params.mute and (not params.solo or n in params.solo)]
        out = np.zeros((2, frames), dtype=np.float32)
        for name in active:
            x = items[name].samples
            if x.shape[0] == 1:
                x = np.repeat(x, 2, axis=0)
            elif x.shape[0] != 2:
                raise ValueError(f"input '{name}' has {x.shape[0]} channels; mix takes mono or stereo")
            g = db_to_gain(params.gain_db.get(name, 0.0))
            left, right = pan_gains(params.pan.get(name, 0.0))
            out[0, : x.shape[1]] += x[0] * np.float32(g * left)
            out[1, : x.shape[1]] += x[1] * np.float32(g * right)
        if params.master_gain_db:
            out *= np.float32(db_to_gain(params.master_gain_db))
        return {"out": Audio(out, rate)}
