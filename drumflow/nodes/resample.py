"""``resample``: change the sample rate with soxr."""
from __future__ import annotations

from typing import Any, Literal

import numpy as np
import soxr
from pydantic import Field

from drumflow.node import NodeType, Params, RunContext
from drumflow.nodes import AUDIO_IN, AUDIO_OUT


class ResampleParams(Params):
    sample_rate: int = Field(..., ge=8000, le=384000, description="output sample rate in Hz")
    quality: Literal["VHQ", "HQ", "MQ", "LQ", "QQ"] = Field("VHQ", description="soxr quality preset")


class Resample(NodeType):
    name = "resample"
    description = "Resample to another sample rate (soxr)."
    version = "1"
    cacheable = False
    Params = ResampleParams
    inputs = (AUDIO_IN,)
    outputs = (AUDIO_OUT,)

    def run(self, inputs: dict[str, Any], params: ResampleParams, ctx: RunContext) -> dict[str, Any]:
        audio = inputs["in"]
        if audio.sample_rate == params.sample_rate:
            return {"out": audio}
        # soxr works on (frames, channels)
        y = soxr.resample(audio.samples.T, audio.sample_rate, params.sample_rate, quality=params.quality)
        return {"out": type(audio)(np.ascontiguousarray(y.T, dtype=np.float32), params.sample_rate)}
