"""How a caller may steer ingestion; every field defaults to detection.

`checked()` refuses unusable options with 422 before any byte of the upload is accepted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shugu.catalog.ingest import errors

# An empty cell is null, in every column type (see docs/catalog.md, CSV values).
DEFAULT_NULL_VALUES = ("",)
MAX_NULL_VALUES = 20
MAX_NULL_VALUE_CHARS = 50
# Delimiters a CSV may use besides tab: printable ASCII that is not a letter, digit or
# quote (pyarrow splits on one byte, so a multi-byte character cannot be one).
_DELIMITERS = "\t" + "".join(chr(c) for c in range(0x20, 0x7F)
                             if not chr(c).isalnum() and chr(c) not in "\"'")


class IngestOptions(BaseModel):
    format: Literal["auto", "csv", "parquet", "arrow"] = "auto"
    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    null_values: list[str] | None = None  # CSV cells read as null; default: the empty cell

    def checked(self) -> IngestOptions:
        """These options with the delimiter normalised, or a 422 naming what is wrong."""
        delimiter = self.delimiter
        if delimiter is not None:
            delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
            if len(delimiter) != 1 or delimiter not in _DELIMITERS:
                raise errors.invalid_option(
                    "invalid_delimiter",
                    f"the delimiter must be one printable ASCII character other than a "
                    f"letter, digit or quote, or tab; not {delimiter[:20]!r}",
                    delimiter=delimiter[:20])
        if self.encoding is not None and (len(self.encoding) > 40
                                          or not self.encoding.isprintable()):
            raise errors.encoding_error(f"unknown encoding {self.encoding[:40]!r}")
        nulls = self.null_values
        if nulls is not None:
            if len(nulls) > MAX_NULL_VALUES:
                raise errors.invalid_option(
                    "invalid_null_values", f"at most {MAX_NULL_VALUES} null markers")
            for marker in nulls:
                if (len(marker) > MAX_NULL_VALUE_CHARS or "\n" in marker or "\r" in marker
                        or "\x00" in marker or (delimiter is not None and delimiter in marker)):
                    raise errors.invalid_option(
                        "invalid_null_values",
                        f"a null marker is at most {MAX_NULL_VALUE_CHARS} characters on one "
                        f"line, without NUL or the delimiter: not {marker[:20]!r}",
                        marker=marker[:20])
            nulls = list(dict.fromkeys(nulls))
        return self.model_copy(update={"delimiter": delimiter, "null_values": nulls})

    def nulls(self) -> list[str]:
        return list(DEFAULT_NULL_VALUES if self.null_values is None else self.null_values)
