"""Messages of the operator pages: review queues and settlements."""

ZH: dict[str, str] = {
}

EN: dict[str, str] = {
}
