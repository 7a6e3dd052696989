"""``gain``: multiply by a gain in dB."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from drumflow.node import NodeType, Params, RunContext
from drumflow.nodes import AUDIO_IN, AUDIO_OUT, db_to_gain


class GainParams(Params):
    gain_db: float = Field(0.0, ge=-120.0, le=60.0, description="gain in dB (negative attenuates)")


class Gain(NodeType):
    name = "gain"
    description = "Change the level by a fixed gain in dB."
    version = "1"
    cacheable = False
    Params = GainParams
    inputs = (AUDIO_IN,)
    outputs = (AUDIO_OUT,)

    def run(self, inputs: dict[str, Any], params: GainParams, ctx: RunContext) -> dict[str, Any]:
        audio = inputs["in"]
        return {"out": audio.with_samples(audio.samples * db_to_gain(params.gain_db))}
