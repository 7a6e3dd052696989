"""``normalize``: set the peak level (dBFS) or the integrated loudness (LUFS, pyloudnorm)."""
from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from drumflow.node import NodeType, Params, RunContext
from drumflow.nodes import AUDIO_IN, AUDIO_OUT, db_to_gain


class NormalizeParams(Params):
    peak_dbfs: float | None = Field(None, le=0.0, description="target sample peak in dBFS (e.g. -1)")
    loudness_lufs: float | None = Field(None, le=0.0, ge=-70.0,
                                        description="target integrated loudness in LUFS (ITU-R BS.1770, e.g. -14)")
    ceiling_dbfs: float | None = Field(None, le=0.0,
                                       description="with loudness_lufs: lower the gain so the peak stays below this")

    @model_validator(mode="after")
    def _one_target(self) -> "NormalizeParams":
        if (self.peak_dbfs is None) == (self.loudness_lufs is None):
            raise ValueError("set exactly one of peak_dbfs or loudness_lufs")
        if self.ceiling_dbfs is not None and self.loudness_lufs is None:
            raise ValueError("ceiling_dbfs goes with loudness_lufs; with peak_dbfs it is the target already")
        return self


def peak_db(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


class Normalize(NodeType):
    name = "normalize"
    description = "Normalise to a peak level in dBFS, or to an integrated loudness in LUFS (pyloudnorm)."
    version = "1"
    cacheable = False
    Params = NormalizeParams
    inputs = (AUDIO_IN,)
    outputs = (AUDIO_OUT,)

    def run(self, inputs: dict[str, Any], params: NormalizeParams, ctx: RunContext) -> dict[str, Any]:
        audio = inputs["in"]
        x = audio.samples
        peak = peak_db(x)
        if not np.isfinite(peak):
            ctx.warn("input is silent; left unchanged")
            return {"out": audio}
        if params.peak_dbfs is not None:
            gain_db = params.peak_dbfs - peak
        else:
            import pyloudnorm

            meter = pyloudnorm.Meter(audio.sample_rate)
            if audio.frames < int(meter.block_size * audio.sample_rate):
                ctx.warn(f"input is shorter than {meter.block_size} s; loudness cannot be measured, left unchanged")
                return {"out": audio}
            loudness = meter.integrated_loudness(x.T.astype(np.float64))
            if not np.isfinite(loudness):
                ctx.warn("input is below the loudness gate (near silence); left unchanged")
                return {"out": audio}
            gain_db = params.loudness_lufs - loudness
            if params.ceiling_dbfs is not None and peak + gain_db > params.ceiling_dbfs:
                ctx.warn(f"gain limited by ceiling_dbfs={params.ceiling_dbfs}: "
                         f"reaches {loudness + params.ceiling_dbfs - peak:.1f} LUFS, not {params.loudness_lufs}")
                gain_db = params.ceiling_dbfs - peak
        return {"out": audio.with_samples(x * db_to_gain(gain_db))}
