"""Static pages to browse evaluation episodes turn by turn (the writer behind ``proactive view``)."""
