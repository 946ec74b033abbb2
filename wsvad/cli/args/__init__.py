"""Argument definitions of each subcommand, kept apart from the code that runs them so that
building the parser (for `--help`) imports nothing heavy."""
