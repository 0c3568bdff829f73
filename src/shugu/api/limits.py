"""The ranges and lengths every API input is declared with, in one place.

Integers are bounded by where they are stored: ids, revision numbers and other Integer
columns fit PostgreSQL's INTEGER (2^31 - 1); counters, sizes and money fit BIGINT (2^63 - 1,
also SQLite's limit). Declaring the range in the type makes FastAPI refuse a value outside
it with 422 `invalid_request` and shows it in the OpenAPI, instead of letting the database
overflow (a 500). tests/api/test_limits.py checks that every integer the OpenAPI takes
has a range and every string a maximum length.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from shugu.pagination import MAX_LIMIT

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# The bound declared for BIGINT values (counts, sizes, versions): 2^63 - 1 itself turns into
# 2^63 in the OpenAPI (JSON schema numbers are doubles); 10^18 is exact and ample.
BIG_MAX = 10**18

# Text lengths (characters). Generous for people, small enough that no field can carry
# megabytes into every later read.
NAME_MAX = 200
NOTE_MAX = 2_000
DESCRIPTION_MAX = 10_000
LONG_TEXT_MAX = 20_000
PASSWORD_MAX = 1_000  # argon2 hashes any length; a megabyte password is a denial of service
QUERY_TEXT_MAX = 500  # search terms, filters and other short query parameters
TOKEN_MAX = 200       # page tokens and similar opaque strings

# -- path parameters -----------------------------------------------------------------------
Id = Annotated[int, Path(ge=1, le=INT32_MAX, description="a positive id")]
Number = Annotated[int, Path(ge=1, le=INT32_MAX, description="a revision number")]
Seq = Annotated[int, Path(ge=0, le=BIG_MAX, description="a ledger sequence number")]

# -- query parameters ----------------------------------------------------------------------
IdFilter = Annotated[int | None, Query(ge=1, le=INT32_MAX)]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT,
                                    description=f"items per page, 1 to {MAX_LIMIT}")]
PageToken = Annotated[str | None, Query(max_length=TOKEN_MAX,
                                        description="next_page_token of the previous page")]
TreeSize = Annotated[int | None, Query(ge=0, le=BIG_MAX,
                                         description="a tree size; default: the current size")]
TreeSizeRequired = Annotated[int, Query(ge=0, le=BIG_MAX, description="a tree size")]
RulesVersion = Annotated[int | None, Query(ge=1, le=INT32_MAX,
                                          description="a version of the rules; default: current")]
QueryText = Annotated[str | None, Query(max_length=QUERY_TEXT_MAX)]
SearchText = Annotated[str, Query(max_length=QUERY_TEXT_MAX)]
FileName = Annotated[str, Query(min_length=1, max_length=300)]

# -- body fields ---------------------------------------------------------------------------
IdRef = Annotated[int, Field(ge=1, le=INT32_MAX)]
NumberRef = Annotated[int, Field(ge=1, le=INT32_MAX)]
Count = Annotated[int, Field(ge=0, le=BIG_MAX)]
Name = Annotated[str, Field(max_length=NAME_MAX)]
Note = Annotated[str, Field(max_length=NOTE_MAX)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX)]
LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX)]
# Tags are normalised and held to 100 characters by the catalog (400 invalid_tag); this is
# the outer bound on what is read at all.
Tag = Annotated[str, Field(max_length=NAME_MAX)]
Password = Annotated[str, Field(min_length=8, max_length=PASSWORD_MAX)]
