"""proactive-recipes command line and model utilities (tiny offline models, release, studies)."""
