"""Messages of the provider pages: ingest, revisions, registrations, listing, offers, usage."""

ZH: dict[str, str] = {
}

EN: dict[str, str] = {
}
