"""The benchmarks in bench/."""
