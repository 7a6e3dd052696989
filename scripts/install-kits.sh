#!/usr/bin/env bash
# Install the acoustic drum kits larsnet can render with, from Debian packages.
# Needs root (or sudo). Kits land in /usr/share/hydrogen/data/drumkits, /usr/share/sounds/sf2,
# /usr/share/minuet/soundfonts and /usr/share/sonic-pi/samples; `larsnet kits` lists them.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  hydrogen-drumkits hydrogen-data \
  avldrums.lv2-soundfont \
  minuet-data \
  fluid-soundfont-gm timgm6mb-soundfont \
  sonic-pi-samples
