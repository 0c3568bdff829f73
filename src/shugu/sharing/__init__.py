"""Delta Sharing delivery: the protocol server and shugu's signed file URLs."""
