"""Signal processing used by drumflow's node types (plain numpy/scipy on (channels, frames) arrays)."""
