"""The `latentbridge` command line: the root parser, `doctor`, `models`, `bank`, `bench`."""
