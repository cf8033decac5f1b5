"""The command line (core/cli/): one file per verb module, plus the option checks every verb shares."""
