"""The accelerate launch configs (single GPU, multi GPU, DeepSpeed ZeRO-2/3, FSDP2, CPU), shipped with the package
so that ``proactive.configs.accelerate_config("cpu")`` finds them from a wheel install too."""
