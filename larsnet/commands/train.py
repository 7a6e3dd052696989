"""``larsnet train``: flags -> datasets + :class:`larsnet.train.trainer.Trainer`."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from larsnet.errors import OptionError


DEFAULT_STEPS = 20_000


def _arch_params(pairs: tuple[str, ...]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise OptionError(f"--arch-param {pair!r}: expected KEY=VALUE, e.g. width=24")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _with_arch_params(model, overrides: dict, source: str):
    """The ``--init`` model rebuilt with ``overrides`` (e.g. shares=true) and its weights.

    Only settings that leave every weight's shape alone can change; anything else is
    refused with the offending keys named."""
    from larsnet.model import ModelConfig, build_model

    data = model.config.to_dict()
    data["arch_params"] = {**data["arch_params"], **overrides}
    rebuilt = build_model(ModelConfig.from_dict(data))
    try:
        rebuilt.load_state_dict(model.state_dict())
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise OptionError(f"--arch-param {overrides} changes the shapes of {source}'s weights ({first}); "
                          "with --init only shape-preserving settings such as shares=true may change") from None
    rebuilt.provenance = getattr(model, "provenance", {})
    return rebuilt.train(model.training)


def _focus(pairs: tuple[str, ...]) -> dict[str, float]:
    """``("toms=0.2", ...)`` -> ``{"toms": 0.2}``; the dataset checks stems and the total."""
    focus = {}
    for pair in pairs:
        stem, sep, value = pair.partition("=")
        try:
            focus[stem.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OptionError(f"--focus {pair!r}: expected STEM=PROBABILITY, e.g. toms=0.2")
    return focus


def _augmentation(no_augment: bool, pairs: tuple[str, ...]):
    """The paper's augmentation (or none) with ``NAME=VALUE`` overrides, e.g. ``pitch_shift=0.5``
    or ``gain_db=-9,0`` for a range; unknown names and bad values are one-line errors."""
    from larsnet.data.dataset import Augmentation

    if no_augment:
        if pairs:
            raise OptionError("--no-augment and --augment-param contradict each other; give one of them")
        return Augmentation(p_example=0.0)
    defaults = Augmentation()
    fields = [f.name for f in dataclasses.fields(Augmentation)]
    overrides: dict = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise OptionError(f"--augment-param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        try:
            parts = [float(v) for v in value.split(",")]
        except ValueError:
            parts = []
        is_range = isinstance(getattr(defaults, name), tuple)
        if len(parts) != (2 if is_range else 1):
            shape = "two numbers LO,HI" if is_range else "a number"
            raise OptionError(f"--augment-param {pair!r}: {name} takes {shape}")
        overrides[name] = tuple(parts) if is_range else parts[0]
    return Augmentation(**overrides)


@click.command("train")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder: last.pt (resumable state), best.pt, final.pt, log.csv.")
@click.option("--arch", default="band_unet", show_default=True, help="band_unet (ours) or larsnet (the paper's five U-Nets).")
@click.option("--arch-param", "arch_param", multiple=True, help="Architecture size, e.g. width=24 depth=4 bands=256.")
@click.option("--init", "init_model", default=None, help="Fine-tune from a model: default, a .pt file or an official folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--steps", type=int, default=None, help="Training steps (the lr schedule spans them). [default: 20000; with --resume: the run's own]")
@click.option("--max-minutes", type=float, default=None, help="Stop (with checkpoints) after this much training time.")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--segment-frames", type=int, default=256, show_default=True, help="Training segment in STFT frames.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--lr-final", type=float, default=1e-4, show_default=True)
@click.option("--warmup-steps", type=int, default=200, show_default=True, help="Linear learning-rate warm-up.")
@click.option("--loss-l1", type=float, default=1.0, show_default=True, help="Weight of the paper's masked-magnitude L1.")
@click.option("--loss-nsdr", type=float, default=0.0, show_default=True, help="Weight of the spectral nSDR term.")
@click.option("--loss-leak", type=float, default=1.0, show_default=True,
              help="Weight of the energy a stem takes when it is absent (added with --loss-nsdr); higher keeps "
                   "sparse stems such as toms from taking the kick's low end.")
@click.option("--loss-spatial", type=float, default=0.0, show_default=True,
              help="Weight of the nSDR after the multichannel Wiener filter (--spatial-iterations at inference), "
                   "added to the other terms: trains the weights the filter uses.")
@click.option("--spatial-rounds", type=int, default=3, show_default=True,
              help="Filter rounds inside the --loss-spatial term (as --spatial-iterations).")
@click.option("--data", type=click.Choice(["gmd", "folder"]), default="gmd", show_default=True,
              help="gmd: render on the fly from MIDI and kits; folder: a StemGMD-style folder on disk.")
@click.option("--gmd", "gmd_root", type=click.Path(path_type=Path), default=None, help="Groove MIDI Dataset folder.")
@click.option("--kits", default=None,
              help="Comma-separated training kits (default: every installed kit not held out); "
                   "synthetic-metal-<seed> adds a generated hi-hat and cymbal kit (docs/kits.md).")
@click.option("--folder", type=click.Path(path_type=Path), default=None, help="StemGMD-style folder for --data folder.")
@click.option("--no-augment", is_flag=True, help="Turn off the paper's augmentations.")
@click.option("--augment-param", "augment_param", multiple=True,
              help="NAME=VALUE: change one augmentation setting, e.g. p_example=0.8 pitch_semitones=4 "
                   "eq_peak=0.7 gain_db=-9,0 (names: larsnet.data.dataset.Augmentation).")
@click.option("--focus", "focus", multiple=True,
              help="STEM=P: centre a share P of segments on a hit of STEM, e.g. --focus toms=0.2 (sparse stems).")
@click.option("--val-clips", type=int, default=12, show_default=True, help="Validation clips (GMD validation split, held-out kits); 0 = none.")
@click.option("--val-seconds", type=float, default=10.0, show_default=True)
@click.option("--eval-every", type=int, default=500, show_default=True)
@click.option("--snapshot-every", type=int, default=0, show_default=True,
              help="Keep the model every N steps in OUT/snapshots/ for `larsnet average` (0: never).")
@click.option("--ema", "ema", type=float, default=0.0, show_default=True,
              help="Validate and save a moving average of the weights with this decay per step, e.g. 0.999 "
                   "(0: the raw weights).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes for rendering.")
@click.option("-d", "--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto (bf16 autocast on cuda).")
@click.option("--quiet", is_flag=True)
def command(out_dir, arch, arch_param, init_model, resume, steps, max_minutes, batch_size, segment_frames, lr,
            lr_final, warmup_steps, loss_l1, loss_nsdr, loss_leak, loss_spatial, spatial_rounds, data, gmd_root, kits, folder, no_augment, augment_param, focus, val_clips, val_seconds,
            eval_every, snapshot_every, ema, seed, threads, workers, device, quiet):
    """Train a separation model (ours or the paper's configuration) on rendered or on-disk data."""
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from larsnet.checkpoint import resolve_model
    from larsnet.data.dataset import FixedEvalSet, OnTheFlyDataset, StemGMDDataset
    from larsnet.data.dataset import segment_samples_for_frames
    from larsnet.separator import resolve_device
    from larsnet.train.trainer import TrainConfig, Trainer

    if not 0.0 <= ema < 1.0:
        raise OptionError(f"--ema {ema}: the decay must be in [0, 1), e.g. 0.999 (about the last 1000 steps)")
    if loss_spatial < 0 or spatial_rounds < 1:
        raise OptionError(f"--loss-spatial must be >= 0 and --spatial-rounds >= 1, got {loss_spatial} and {spatial_rounds}")
    if threads:
        torch.set_num_threads(threads)
    device = str(resolve_device(device))
    segment = segment_samples_for_frames(segment_frames)
    config = TrainConfig(arch=arch, arch_params=_arch_params(arch_param) or None, steps=steps or DEFAULT_STEPS,
                         lr=lr, lr_final=lr_final, warmup_steps=warmup_steps, weight_l1=loss_l1, weight_nsdr=loss_nsdr, weight_leak=loss_leak,
                         weight_spatial=loss_spatial, spatial_rounds=spatial_rounds, seed=seed,
                         eval_every=eval_every, snapshot_every=snapshot_every, max_minutes=max_minutes,
                         ema_decay=ema)
    kit_names = [k.strip() for k in kits.split(",")] if kits else None
    focus_probs = _focus(focus)
    augmentation = _augmentation(no_augment, augment_param)
    if data == "folder" and augment_param:
        raise OptionError("--augment-param applies to --data gmd (rendered on the fly); a folder's audio is used as it is")
    provenance = {"data": data, "kits": kit_names or "all installed, not held out", "segment_frames": segment_frames,
                  "batch_size": batch_size, "focus": focus_probs,
                  "augmentation": dataclasses.asdict(augmentation) if data == "gmd" else "none (audio from disk)"}
    if resume:
        # the stored schedule unless --steps extends it: a resumed run must not stretch its lr decay
        trainer = Trainer.resume(out_dir, device=device, max_minutes=max_minutes,
                                 **({"steps": steps} if steps else {}),
                                 **({"snapshot_every": snapshot_every} if snapshot_every else {}),
                                 **({"ema_decay": ema} if ema else {}))
    else:
        model = resolve_model(init_model) if init_model else None
        if model is not None:
            provenance["init"] = str(init_model)
            if arch_param:
                model = _with_arch_params(model, _arch_params(arch_param), str(init_model))
        trainer = Trainer(config, out_dir, model=model, device=device, provenance=provenance)

    if data == "folder":
        if folder is None:
            raise OptionError("--data folder needs --folder PATH (a StemGMD-style folder)")
        dataset = StemGMDDataset(folder, segment_samples=segment)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                            generator=torch.Generator().manual_seed(seed))

        def batches():
            while True:
                yield from loader
    else:
        dataset = OnTheFlyDataset.from_gmd(gmd_root, kits=kit_names, segment_samples=segment, seed=seed,
                                           augmentation=augmentation, examples_per_epoch=None, focus=focus_probs)
        dataset.set_epoch(trainer.step)  # a resumed run draws fresh, still reproducible, examples
        loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)

        def batches():
            yield from loader

    validation = []
    if val_clips:
        evalset = FixedEvalSet.from_gmd(gmd_root, split="validation", clip_s=val_seconds, seed=seed, max_clips=val_clips)
        validation = [evalset.render(i) for i in range(len(evalset))]

    bar = tqdm(total=trainer.config.steps, initial=trainer.step, disable=quiet, unit="step", dynamic_ncols=True)

    def progress(step: int, row: dict) -> None:
        bar.update(step - bar.n)
        shown = {k: f"{v:.3g}" for k, v in row.items() if k in ("loss", "l1", "nsdr_db", "val_mean")}
        bar.set_postfix(shown)

    try:
        row = trainer.fit(batches(), validation, progress=progress)
    except KeyboardInterrupt:
        bar.close()
        click.echo(f"interrupted at step {trainer.step}; resume with: larsnet train -o {out_dir} --resume", err=True)
        raise SystemExit(130)
    bar.close()
    click.echo(f"done: step {trainer.step}, {trainer.audio_seconds / 3600:.2f} h of audio in "
               f"{trainer.train_seconds / 60:.1f} min; models in {out_dir} (best.pt, final.pt)")
    if row:
        click.echo(json.dumps({k: round(v, 3) for k, v in row.items()}))
