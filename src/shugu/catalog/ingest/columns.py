"""Column names and types: what Delta can store, and how a file fits an existing table.

The rules: names Delta rejects are renamed; types are mapped to ones Delta can hold; new
columns are added; missing columns become null; a file's column may be widened into the
table's type (int -> bigger int or double, anything -> string) but never narrowed or
reinterpreted (string -> int is a conflict).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import Schema as DeltaSchema
from deltalake.schema import ArrayType, MapType, PrimitiveType, StructType

from shugu.catalog.ingest import errors

# Delta (without column mapping) refuses these in column names.
_BAD_NAME_CHARS = re.compile(r"[ ,;{}()\n\t=]")


def clean_names(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Delta-safe column names and {original: new} for the ones that changed."""
    cleaned: list[str] = []
    seen: set[str] = set()  # a set, not the list: wide files have thousands of columns
    renamed: dict[str, str] = {}
    for i, name in enumerate(names):
        new = _BAD_NAME_CHARS.sub("_", name.strip()) or f"column_{i + 1}"
        if new != name:
            renamed[name] = new
        if new in seen:
            raise errors.duplicate_column(new)
        seen.add(new)
        cleaned.append(new)
    return cleaned, renamed


def storable(name: str, t: pa.DataType) -> pa.DataType:
    """The type a column of arrow type `t` is kept as in Delta."""
    if pa.types.is_null(t):
        return pa.string()  # no values seen yet: text accepts whatever comes later
    if pa.types.is_dictionary(t):
        return storable(name, t.value_type)
    if pa.types.is_unsigned_integer(t):
        # Delta has only signed integers: take the next size up (uint64 must fit int64).
        return {8: pa.int16(), 16: pa.int32()}.get(t.bit_width, pa.int64())
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if (pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
            or pa.types.is_fixed_size_binary(t)):
        return pa.binary()
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", "UTC" if t.tz else None)  # Delta keeps microseconds
    if pa.types.is_time(t):
        return pa.string()  # Delta has no time-of-day type; keep the text
    if pa.types.is_decimal(t):
        if t.precision > 38:
            raise errors.unsupported_type(name, str(t))
        return pa.decimal128(t.precision, t.scale)
    if (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
            or pa.types.is_list_view(t) or pa.types.is_large_list_view(t)):
        return pa.list_(storable(name, t.value_type))
    if pa.types.is_map(t):
        return pa.map_(storable(name, t.key_type), storable(name, t.item_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, storable(f"{name}.{f.name}", f.type), f.nullable)
                          for f in t])
    if (pa.types.is_boolean(t) or pa.types.is_signed_integer(t) or pa.types.is_floating(t)
            or pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_date32(t)):
        return t
    raise errors.unsupported_type(name, str(t))


def _delta_name(t: object) -> str:
    if isinstance(t, PrimitiveType):
        return t.type
    if isinstance(t, ArrayType):
        return f"array<{_delta_name(t.element_type)}>"
    if isinstance(t, MapType):
        return f"map<{_delta_name(t.key_type)},{_delta_name(t.value_type)}>"
    if isinstance(t, StructType):
        return "struct<" + ",".join(f"{f.name}:{_delta_name(f.type)}" for f in t.fields) + ">"
    return str(t)


def type_name(t: pa.DataType) -> str:
    """The Delta name of a storable arrow type: long, double, string, timestamp_ntz, ..."""
    schema = DeltaSchema.from_arrow(pa.schema([pa.field("c", t)]))
    return _delta_name(schema.fields[0].type)


def describe(schema: pa.Schema) -> list[dict[str, object]]:
    """Columns as the catalog records them: [{"name", "type", "nullable"}]."""
    delta = DeltaSchema.from_arrow(schema)
    return [{"name": f.name, "type": _delta_name(f.type), "nullable": f.nullable}
            for f in delta.fields]


_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}


def fits(src: pa.DataType, dst: pa.DataType) -> bool:
    """May values of storable type `src` be written into a column of type `dst`?"""
    if src == dst or pa.types.is_null(src):
        return True
    nested = (pa.types.is_list(src) or pa.types.is_struct(src) or pa.types.is_map(src))
    if pa.types.is_string(dst):
        return not nested and not pa.types.is_binary(src)
    if pa.types.is_integer(src):
        if pa.types.is_integer(dst):
            return bool(src.bit_width <= dst.bit_width)
        if pa.types.is_floating(dst):
            return True
        if pa.types.is_decimal(dst):
            return bool(_INT_DIGITS[src.bit_width] <= dst.precision - dst.scale)
        return False
    if pa.types.is_floating(src) and pa.types.is_floating(dst):
        return bool(src.bit_width <= dst.bit_width)
    if pa.types.is_decimal(src) and pa.types.is_decimal(dst):
        return bool(src.scale <= dst.scale
                    and src.precision - src.scale <= dst.precision - dst.scale)
    if nested:
        # Arrow names list items differently from Delta ("item" vs "element"): compare
        # what Delta would store.
        return type_name(src) == type_name(dst)
    return False


@dataclass(frozen=True)
class Plan:
    """How the file's columns become the table's columns for this ingest."""

    target: pa.Schema  # the table after this ingest: existing columns, then added ones
    sources: list[int | None]  # per target column: the file column feeding it, or None
    read_types: list[pa.DataType]  # per file column: the type to read or cast it as
    renamed: dict[str, str] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    # File columns whose read type is the existing table's (a misfit there is a conflict).
    table_typed: frozenset[int] = frozenset()


def plan(names: list[str], types: list[pa.DataType], existing: pa.Schema | None,
         partition_by: list[str], *, parsed_as_table_types: bool) -> Plan:
    """Fit a file's columns (original names, arrow types) onto the table's schema.

    `parsed_as_table_types`: the reader will parse text straight into the table's types
    (CSV), so a bad value is found while parsing instead of by comparing types here.
    """
    cleaned, renamed = clean_names(names)
    wanted = [storable(n, t) for n, t in zip(cleaned, types, strict=True)]
    position = {n: i for i, n in enumerate(cleaned)}
    if existing is None:
        missing = [p for p in partition_by if p not in position]
        if missing:
            raise errors.partition_column_missing(missing)
        target = pa.schema([pa.field(n, t) for n, t in zip(cleaned, wanted, strict=True)])
        return Plan(target, list(range(len(cleaned))), wanted, renamed, [])
    read_types = list(wanted)
    sources: list[int | None] = []
    for col in existing:
        i = position.get(col.name)
        sources.append(i)
        if i is None:
            continue
        if not parsed_as_table_types and not fits(wanted[i], col.type):
            raise errors.schema_conflict(col.name, type_name(col.type), type_name(wanted[i]))
        read_types[i] = col.type
    known = set(existing.names)
    added = [n for n in cleaned if n not in known]
    fields = list(existing) + [pa.field(n, wanted[position[n]]) for n in added]
    table_typed = frozenset(i for i in sources if i is not None)
    sources += [position[n] for n in added]
    return Plan(pa.schema(fields), sources, read_types, renamed, added, table_typed)


def conform(batch: pa.RecordBatch, plan: Plan) -> pa.RecordBatch:
    """Rename, reorder, cast and null-fill one batch into the target schema."""
    columns: list[pa.Array] = []
    for target, source in zip(plan.target, plan.sources, strict=True):
        if source is None:
            columns.append(pa.nulls(batch.num_rows, target.type))
            continue
        column = batch.column(source)
        if column.type != target.type:
            column = _cast(column, target)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=plan.target)


def _cast(column: pa.Array, target: pa.Field) -> pa.Array:
    # Safe casts only (overflow is an error) but sub-microsecond digits may go: Delta keeps
    # microseconds, as Spark does.
    options = pc.CastOptions(target.type, allow_time_truncate=True)
    try:
        return pc.cast(column, options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise errors.schema_conflict(target.name, type_name(target.type), str(column.type),
                                     str(exc)) from None
