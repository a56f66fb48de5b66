"""The synthetic ProactiveBench: seven procedurally drawn scenarios in the official on-disk format."""

from data.synth.generate import GeneratorError, generate_benchmark, reachable_views

__all__ = ["GeneratorError", "generate_benchmark", "reachable_views"]
