"""Evaluation harness: batched multi-turn ProactiveBench episodes, acc / psr with bootstrap CIs,
reports, plots and the open-ended protocol with an LLM judge."""
