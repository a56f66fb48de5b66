"""``proactive view``: static pages to browse evaluation episodes and GRPO samples turn by turn."""
