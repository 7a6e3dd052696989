"""Help texts that several commands share, kept apart so a command need not import another's stack."""

SPATIAL_HELP = ("Rounds of the multichannel Wiener filter after the masks (0: off; 3 suggested): each stem's "
                "stereo image is estimated and used, which lifts the kick and toms most; 3 rounds take about "
                "2.3x the time. Stems then sum to the mix.")
