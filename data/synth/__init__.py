"""The synthetic ProactiveBench: seven procedurally drawn scenarios in the official on-disk format."""

from data.synth.generate import GeneratorError, benchmark_stage, generate_benchmark, reachable_views

__all__ = ["GeneratorError", "benchmark_stage", "generate_benchmark", "reachable_views"]
