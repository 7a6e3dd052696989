"""Click subcommands of the ``larsnet`` CLI, one module each; thin layers over the library."""
