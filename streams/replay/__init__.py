"""Replay and backfill (issue #8): rebuild the worker's state, rehearse a new configuration in a
sandbox, inspect and redrive dead letters, export and import topic ranges.

Reprocessing runs outside faust as a batch path over the same pure functions the worker calls
(:func:`streams.worker.engagement.score_candidate`, then the campaign engine through
:mod:`streams.worker.campaigns`), one process per group of partitions; see docs/replay.md for
the order it applies records in and why it equals the live worker's result.
"""
