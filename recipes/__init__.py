"""The SFT and GRPO recipes (``recipes.sft``, ``recipes.grpo``) and their configs, shipped with the package.

``<model>/<method>.yaml`` (real models), ``tiny/`` and ``quickstart/`` (CPU), ``studies/`` (study files and
the Slurm template). Run a recipe from a clone (``accelerate launch recipes/grpo.py --config
recipes/tiny/grpo.yaml``) or from an installed wheel (``accelerate launch -m recipes.grpo --config tiny/grpo``):
``--config`` takes a path or the name of a shipped config (``proactive.configs``).
"""
