"""``duck`` and ``gate``: dynamics keyed by another port (sidechain routing).

``duck`` compresses ``in`` by the level of ``key`` (cymbals ducked by the kick);
``gate`` opens ``in`` while ``key`` is above a threshold (the room mic opened by the
snare). The DSP is :mod:`drumflow.dsp.dynamics`. A key at another sample rate is
resampled to the input's, a key of another length is padded with silence or trimmed,
and each such change is a warning in the run manifest; ``key_mismatch: error`` makes
either a failure instead. Outputs keep the input's length, rate and channels;
lookahead is latency-compensated (no delay at the output).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from drumflow.node import NodeType, Params, Port, RunContext
from drumflow.ports import AUDIO, Audio

IN = Port("in", AUDIO, "audio whose level is changed")
KEY = Port("key", AUDIO, "audio that is listened to (the sidechain)")
OUT = Port("out", AUDIO, "processed audio: same length, rate and channels as 'in'")


def _lookahead() -> Any:
    return Field(0.0, ge=0.0, le=200.0,
                 description="react this much before the key; latency-compensated (no output delay)")


def _detector() -> Any:
    return Field("peak", description="key level: instantaneous peak, or RMS over rms_window_ms")


def _rms_window() -> Any:
    return Field(10.0, gt=0.0, le=1000.0, description="RMS averaging time constant in ms (detector: rms)")


def _stereo_link() -> Any:
    return Field(True, description="one gain for all channels, from the loudest key channel (rms: their mean "
                                   "power); false: channel by channel (a key of another channel count is downmixed)")


def _key_mismatch() -> Any:
    return Field("align", description="a key with another sample rate or length: align (resample, pad with "
                                      "silence or trim; noted in the manifest) or error")


class DuckParams(Params):
    threshold_db: float = Field(-30.0, ge=-100.0, le=0.0, description="key level (dBFS) above which 'in' is reduced")
    ratio: float = Field(4.0, ge=1.0, le=100.0, description="compression ratio (4: 4 dB over -> 1 dB over)")
    attack_ms: float = Field(5.0, ge=0.0, le=1000.0, description="attack time constant in ms (63 % of a step)")
    release_ms: float = Field(150.0, ge=0.0, le=10000.0, description="release time constant in ms")
    lookahead_ms: float = _lookahead()
    knee_db: float = Field(0.0, ge=0.0, le=48.0, description="soft knee width in dB (0: hard knee)")
    makeup_db: float = Field(0.0, ge=-60.0, le=60.0, description="gain in dB applied after the reduction")
    detector: Literal["peak", "rms"] = _detector()
    rms_window_ms: float = _rms_window()
    stereo_link: bool = _stereo_link()
    key_mismatch: Literal["align", "error"] = _key_mismatch()


class GateParams(Params):
    threshold_db: float = Field(-30.0, ge=-100.0, le=0.0, description="key level (dBFS) above which the gate opens")
    attack_ms: float = Field(0.5, ge=0.0, le=1000.0, description="opening time constant in ms")
    hold_ms: float = Field(50.0, ge=0.0, le=5000.0, description="stay open this long after the key falls below")
    release_ms: float = Field(100.0, ge=0.0, le=10000.0, description="closing time constant in ms")
    range_db: float = Field(-80.0, ge=-120.0, le=0.0, description="gain in dB when closed (-80: near silence)")
    lookahead_ms: float = _lookahead()
    detector: Literal["peak", "rms"] = _detector()
    rms_window_ms: float = _rms_window()
    stereo_link: bool = _stereo_link()
    key_mismatch: Literal["align", "error"] = _key_mismatch()


def _aligned_key(inputs: dict[str, Any], params: DuckParams | GateParams, ctx: RunContext):
    from drumflow.dsp.dynamics import align_key

    x: Audio = inputs["in"]
    key: Audio = inputs["key"]
    if params.key_mismatch == "error" and (key.sample_rate != x.sample_rate or key.frames != x.frames):
        raise ValueError(
            f"key is {key.frames} frames at {key.sample_rate} Hz but 'in' is {x.frames} frames at {x.sample_rate} Hz; "
            f"add a resample node before the key, or set key_mismatch: align")
    samples, notes = align_key(key.samples, key.sample_rate, x.frames, x.sample_rate, x.channels,
                               per_channel=not params.stereo_link)
    for note in notes:
        ctx.warn(note)
    return x, samples


def _common(params: DuckParams | GateParams) -> dict[str, Any]:
    return {"attack_ms": params.attack_ms, "release_ms": params.release_ms, "lookahead_ms": params.lookahead_ms,
            "detector": params.detector, "rms_window_ms": params.rms_window_ms, "stereo_link": params.stereo_link}


class Duck(NodeType):
    name = "duck"
    description = "Compress 'in' by the level of 'key' (sidechain ducking, e.g. cymbals under the kick)."
    version = "1"
    cacheable = False  # ~200x real time: recomputed from cached inputs rather than stored
    Params = DuckParams
    inputs = (IN, KEY)
    outputs = (OUT,)
    stem_input = "in"

    def run(self, inputs: dict[str, Any], params: DuckParams, ctx: RunContext) -> dict[str, Any]:
        from drumflow.dsp.dynamics import duck

        x, key = _aligned_key(inputs, params, ctx)
        out, _ = duck(x.samples, key, x.sample_rate, threshold_db=params.threshold_db, ratio=params.ratio,
                      knee_db=params.knee_db, makeup_db=params.makeup_db, **_common(params))
        return {"out": Audio(out, x.sample_rate)}


class Gate(NodeType):
    name = "gate"
    description = "Open 'in' while 'key' is above a threshold (keyed gate, e.g. the room mic opened by the snare)."
    version = "1"
    cacheable = False
    Params = GateParams
    inputs = (IN, KEY)
    outputs = (OUT,)
    stem_input = "in"

    def run(self, inputs: dict[str, Any], params: GateParams, ctx: RunContext) -> dict[str, Any]:
        from drumflow.dsp.dynamics import gate

        x, key = _aligned_key(inputs, params, ctx)
        out, _ = gate(x.samples, key, x.sample_rate, threshold_db=params.threshold_db, hold_ms=params.hold_ms,
                      range_db=params.range_db, **_common(params))
        return {"out": Audio(out, x.sample_rate)}
