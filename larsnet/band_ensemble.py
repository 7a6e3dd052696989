"""BandEnsemble: several band models in one file, separating with the mean of their masks.

Two band models trained apart make different mistakes (run 2 keeps more of the kick,
run 6 more of the toms), and the mean of their share masks is a little better on the
held-out kits than either (MODEL_CARD.md, run 6). Averaging *weights* needs checkpoints
of one run (:mod:`larsnet.train.averaging`); averaging *masks* works for any members
that share a band layout, even of different depths. The mean is taken at band
resolution, so the separator still applies one set of band masks block by block and
runs one iSTFT per stem: an ensemble costs its members' network passes and nothing else.

All members run on the deepest member's time grid (the input is padded to its
``time_multiple``), so a shallower member's stems near the end of a file differ slightly
from what it gives alone.

Config: ``arch="band_ensemble"``, ``arch_params={"members": [band_unet arch_params, ...]}``;
the STFT, stems and rate fields are the members' (they must agree).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from larsnet.bandnet import DEFAULT_PARAMS, BandUNet
from larsnet.model import ModelConfig, SeparationModel, register_architecture

LAYOUT_PARAMS = ("bands", "full_res_bins", "shares")
"""Parameters every member must share: the band layout (one interpolation to bins) and
whether the masks are shares (so the mean still sums to one)."""


def member_config(config: ModelConfig, params: dict) -> ModelConfig:
    """The ``band_unet`` config of one member of an ensemble config."""
    return dataclasses.replace(config, arch="band_unet", arch_params=dict(params))


class BandEnsemble(SeparationModel):
    """The mean of several :class:`BandUNet` members' band masks."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        members = config.arch_params.get("members")
        if not members:
            raise ValueError("band_ensemble needs arch_params['members'], a list of band_unet arch_params")
        layouts = {tuple({**DEFAULT_PARAMS, **m}[k] for k in LAYOUT_PARAMS) for m in members}
        if len(layouts) > 1:
            raise ValueError(f"band_ensemble members must share {', '.join(LAYOUT_PARAMS)}; got {sorted(layouts)}")
        self.config = config
        self.members = nn.ModuleList(BandUNet(member_config(config, m)) for m in members)
        # depths give strides 2**depth: the largest is a multiple of every other
        self.time_multiple = max(m.time_multiple for m in self.members)

    @property
    def masks_sum_to_one(self) -> bool:
        return self.members[0].masks_sum_to_one

    @property
    def band_interpolation(self) -> torch.Tensor:
        return self.members[0].band_interpolation

    def masks(self, mag: torch.Tensor) -> torch.Tensor:
        return self.members[0].unpool(self.band_masks(mag))

    def band_masks(self, mag: torch.Tensor) -> torch.Tensor:
        """The members' band masks ``[B, S, C, bands, T]``, averaged."""
        total = self.members[0].band_masks(mag)
        for member in self.members[1:]:
            total = total + member.band_masks(mag)
        return total / len(self.members)


def ensemble_of(models: Sequence[SeparationModel]) -> BandEnsemble:
    """One :class:`BandEnsemble` holding copies of ``models``' weights (band models only).

    An ensemble among ``models`` is unpacked into its members, so ensembles combine flat.
    """
    members: list[BandUNet] = []
    for model in models:
        members.extend(model.members if isinstance(model, BandEnsemble) else [model])
    if not members:
        raise ValueError("an ensemble needs at least one model")
    not_band = sorted({m.config.arch for m in members if not isinstance(m, BandUNet)})
    if not_band:
        raise ValueError(f"only band_unet models can be ensembled (their masks are averaged at band "
                         f"resolution); got {', '.join(not_band)}")
    base = dataclasses.replace(members[0].config, arch_params={})
    for member in members[1:]:
        if dataclasses.replace(member.config, arch_params={}) != base:
            raise ValueError("ensemble members must share stems, sample rate and STFT settings")
    config = dataclasses.replace(base, arch="band_ensemble",
                                 arch_params={"members": [dict(m.config.arch_params) for m in members]})
    ensemble = BandEnsemble(config)
    for target, source in zip(ensemble.members, members):
        target.load_state_dict(source.state_dict())
    return ensemble.eval()


register_architecture("band_ensemble", BandEnsemble)
