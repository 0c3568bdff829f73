"""Messages of the consumer pages: negotiations, agreements, sharing profile, sandbox, invoices."""

ZH: dict[str, str] = {
}

EN: dict[str, str] = {
}
