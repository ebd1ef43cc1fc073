"""Speed measurements, run with `make bench-*`; never timed asserts in tests."""
