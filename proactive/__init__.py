"""proactive-recipes command line and model utilities (tiny offline models, release, studies)."""

from proactive.logs import quiet_library_warnings

quiet_library_warnings()  # first: some libraries warn while they are imported
