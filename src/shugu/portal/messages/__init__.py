"""The portal's message catalogue, one module per section (same keys in ZH and EN)."""
