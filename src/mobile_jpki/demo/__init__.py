"""The seed scenario, end to end (`mobile-jpki demo`)."""
