"""Benchmarks of the stream layer and the synthetic load they (and the tests) publish.

* :mod:`streams.bench.loadgen`    deterministic synthetic activity, encoded or published
* :mod:`streams.bench.scoring`    the pure score model alone (``python -m streams.bench.scoring``)
* :mod:`streams.bench.processor`  ``nurture bench processor``: the worker's processing, no Kafka
* :mod:`streams.bench.worker`     ``nurture bench worker``: one worker vs the raw consumer ceiling
* :mod:`streams.bench.replay`     ``nurture bench replay``: rebuild throughput vs a live worker

The producers' and the contract's own benches stay in their layers (producers/bench.py,
producers/gateway/bench.py, schemas/bench.py): each measures code of that layer only.
"""
