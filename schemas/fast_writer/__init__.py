"""A compiled Avro writer for the common case of a record: the producers' fast path.

fastavro's ``schemaless_writer`` costs ~7 µs for a small activity event, most of it spent
checking union branches one by one against the value (``["null", "string"]`` fields) and
copying the record for the timestamp conversion. :class:`~.builders.FastWriter` compiles one
schema into closures that check and write each field in one pass, straight to single-object
bytes.

It is a *conservative* fast path, never the judge: ``FastWriter.encode`` returns None for
anything it is not certain about (a wrong type, a naive datetime, an unknown field, an empty
required id, an ``int`` beyond 32 bits, a type it does not compile such as fixed or general
unions), and the caller then asks the full codec (:class:`schemas.subject_codec.SubjectCodec`),
which either encodes the record after all or raises the :class:`~schemas.errors.ValidationError`
naming the field. What it does encode is byte-for-byte what the codec writes (tested against it
in ``tests/test_producers_fast_writer.py``).

* :mod:`.primitives`  varints and the checked writer of each Avro type
* :mod:`.templates`   the generated code: one straight-line function per record type
* :mod:`.builders`    ``FastWriter``, ``activity_writer`` (producers), ``fast_encoder`` (worker)
"""
