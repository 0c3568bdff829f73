"""Differential privacy for sandbox aggregates: OpenDP noise and a budget kept in our database.

`mechanisms` turns exact aggregates (computed by the engine over clamped values) into noisy
releases; `accuracy` says how far a release may be from the truth; `budget` is the per
entitlement privacy budget that every release debits.
"""
