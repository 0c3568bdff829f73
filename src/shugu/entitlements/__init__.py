"""Entitlements: the live right of a consumer organisation to use a product."""
