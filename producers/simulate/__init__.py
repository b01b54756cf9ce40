"""`nurture simulate`: a seeded synthetic population of candidates and their journeys.

:func:`generate` is the pure, reproducible core (tests and benchmarks reuse it);
:mod:`producers.simulate.output` writes its records to a JSON-lines file or to Kafka.
"""

from producers.simulate.generate import DEFAULT_END, SimRecord, generate

__all__ = ["DEFAULT_END", "SimRecord", "generate"]
