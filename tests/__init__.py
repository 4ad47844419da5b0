"""The test suite. A package, so that `tests/network/` can never shadow the `network` package on sys.path."""
