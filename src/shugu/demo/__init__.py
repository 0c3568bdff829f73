"""Demo participants and data for `shugu demo`."""
