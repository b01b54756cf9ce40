"""`nurture chaos`: kill workers on a seeded schedule and prove the outcome does not change.

After Faust's killer test and Kafka Streams' exactly-once system test: one seeded input is
processed twice, once by a single worker without faults (the reference) and once by several
workers and a delivery consumer that are killed with SIGTERM, SIGINT and SIGKILL and restarted
at once; then both outcomes are read from Kafka and compared (docs/chaos.md).

Modules, in the order a run uses them: :mod:`~deploy.chaos.schedule` (the pure, seeded kill
schedule), :mod:`~deploy.chaos.inputs` (the seeded input and its publishing),
:mod:`~deploy.chaos.processes` (child processes and the kills), :mod:`~deploy.chaos.watch`
(committed offsets over time), :mod:`~deploy.chaos.progress` (pure: recovery times, stuck
partitions, percentiles), :mod:`~deploy.chaos.outcome` and :mod:`~deploy.chaos.outbox` (what a
run left in Kafka and in the Maildir), :mod:`~deploy.chaos.compare` (pure comparison),
:mod:`~deploy.chaos.harness` (the two runs), :mod:`~deploy.chaos.cleanup` (its topics and
groups) and :mod:`~deploy.chaos.report` (printing).
"""
