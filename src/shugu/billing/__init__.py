"""Billing: usage into invoices, revenue splits, settlements and trade vouchers (交易凭证)."""
