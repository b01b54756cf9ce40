"""Crypto-shredding of personal data: per-candidate data keys, sealed contacts, the key topic.

The contract side (pure, no Kafka client): how a profile's ``contact`` is sealed
(:mod:`.contact`), how data keys are wrapped and kept on ``candidate.keys`` (:mod:`.data_keys`,
:mod:`.kek`) and where the key-encryption key comes from (:mod:`.settings`).
See docs/privacy.md.
"""
