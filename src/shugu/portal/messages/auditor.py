"""Messages of the auditor pages: ledger explorer and certificate verifier."""

ZH: dict[str, str] = {
}

EN: dict[str, str] = {
}
