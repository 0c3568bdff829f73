"""Metering: usage records tied to entitlements, for billing."""
