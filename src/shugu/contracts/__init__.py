"""Offers, usage policies, negotiation (Dataspace Protocol states) and agreements."""
