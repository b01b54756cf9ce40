"""The fast writer's primitives: Avro's varints and the checked writers of each type.

Each writer appends a value's Avro bytes to ``out`` or raises :class:`NotFastError` when the
value is not one the fast path is certain about (the full codec then decides). The compiled
record functions (:mod:`schemas.fast_writer.templates`) inline the common ones and call the
rest; :class:`~schemas.fast_writer.builders.FastWriter` picks them per schema type.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sized
from datetime import datetime
from typing import Any

from schemas.timestamps import EPOCH

Write = Callable[[bytearray, Any], None]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
#: zigzag varints of 0..63 (string lengths, union indexes, array counts): one byte each.
SMALL = [bytes((2 * n,)) for n in range(64)]
MISSING = object()
#: Most remembered values of each ``repeated_text`` field.
MEMO_SIZE = 256


class NotFastError(Exception):
    """The value is not one the fast path writes: the full codec decides."""


#: Two varint bytes (both with the continuation bit) of every 14-bit group pair.
PAIRS = [bytes(((pair & 0x7F) | 0x80, (pair >> 7) | 0x80)) for pair in range(1 << 14)]


def varint(out: bytearray, value: int) -> None:
    """Avro's zigzag varint of a long (the caller checked the 64-bit range)."""
    value = (value << 1) ^ (value >> 63)
    if 1 << 49 <= value < 1 << 56:  # 8 bytes: every timestamp of this century, 2 at a time
        out += PAIRS[value & 0x3FFF]
        out += PAIRS[value >> 14 & 0x3FFF]
        out += PAIRS[value >> 28 & 0x3FFF]
        out += PAIRS[value >> 42]
        out[-1] &= 0x7F  # the last byte ends the varint
        return
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def refuse(out: bytearray, value: Any) -> None:
    raise NotFastError


def write_null(out: bytearray, value: Any) -> None:
    if value is not None:
        raise NotFastError


def write_string(out: bytearray, value: Any) -> None:
    if type(value) is not str:
        raise NotFastError
    data = value.encode()  # UnicodeEncodeError (lone surrogates) is refused by encode()
    size = len(data)
    if size < 64:
        out += SMALL[size]
    else:
        varint(out, size)
    out += data


def write_bytes(out: bytearray, value: Any) -> None:
    if type(value) is not bytes:
        raise NotFastError
    varint(out, len(value))
    out += value


def write_boolean(out: bytearray, value: Any) -> None:
    if type(value) is not bool:
        raise NotFastError
    out.append(1 if value else 0)


def write_int(out: bytearray, value: Any) -> None:
    if type(value) is not int or not INT_MIN <= value <= INT_MAX:
        raise NotFastError
    varint(out, value)


def write_long(out: bytearray, value: Any) -> None:
    if type(value) is not int or not LONG_MIN <= value <= LONG_MAX:
        raise NotFastError
    varint(out, value)


pack_double = struct.Struct("<d").pack


def write_double(out: bytearray, value: Any) -> None:
    if type(value) is not float:
        raise NotFastError
    out += pack_double(value)


def write_timestamp_micros(out: bytearray, value: Any) -> None:
    """An aware datetime (or its microseconds since the epoch) as a long."""
    if type(value) is datetime:
        if value.tzinfo is None:
            raise NotFastError
        delta = value - EPOCH
        value = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    write_long(out, value)


PRIMITIVES: dict[str, Write] = {
    "null": write_null,
    "string": write_string,
    "bytes": write_bytes,
    "boolean": write_boolean,
    "int": write_int,
    "long": write_long,
    "double": write_double,
}


def block_count(out: bytearray, value: Any, kind: type[Sized]) -> None:
    """The item count that opens an array's or map's one block (none when it is empty)."""
    if type(value) is not kind:
        raise NotFastError
    count = len(value)
    if count:
        if count < 64:
            out += SMALL[count]
        else:
            varint(out, count)


def array_writer(write_item: Write) -> Write:
    def array(out: bytearray, value: Any) -> None:
        block_count(out, value, list)
        for item in value:
            write_item(out, item)
        out.append(0)

    return array


def map_writer(write_value: Write) -> Write:
    """A map with string keys, in the mapping's order (as fastavro writes it). The bytes of
    up to :data:`MEMO_SIZE` keys are remembered (maps keyed by a few names, such as event
    types); double values are written inline."""
    memo: dict[str, bytes] = {}

    def key_bytes(key: Any) -> bytes:
        if type(key) is not str:
            raise NotFastError
        encoded = key.encode()
        data = zigzag(len(encoded)) + encoded
        if len(memo) < MEMO_SIZE:
            memo[key] = data
        return data

    def avro_map(out: bytearray, value: Any) -> None:
        block_count(out, value, dict)
        for key, item in value.items():
            out += memo.get(key) or key_bytes(key)
            write_value(out, item)
        out.append(0)

    def map_of_doubles(out: bytearray, value: Any) -> None:
        block_count(out, value, dict)
        for key, item in value.items():
            out += memo.get(key) or key_bytes(key)
            if type(item) is not float:
                raise NotFastError
            out += pack_double(item)
        out.append(0)

    return map_of_doubles if write_value is write_double else avro_map


def enum_writer(symbols: list[str]) -> Write:
    index = {symbol: zigzag(i) for i, symbol in enumerate(symbols)}

    def enum(out: bytearray, value: Any) -> None:
        found = index.get(value) if type(value) is str else None
        if found is None:
            raise NotFastError
        out += found

    return enum


def zigzag(value: int) -> bytes:
    """The zigzag varint bytes of ``value``."""
    out = bytearray()
    varint(out, value)
    return bytes(out)
