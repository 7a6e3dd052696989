"""Drum kits, a MIDI drum sampler and a StemGMD-style data engine."""
