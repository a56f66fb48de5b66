"""Building blocks of the tiny offline models (see ``proactive.tiny_models``)."""
