"""Sample-data simulator: a seeded, vectorised B2B SaaS customer base in the contract's tables.

The public entry points are re-exported by :mod:`vitals.features.simulate`; the modules here each
build one part: the calendar, the population of accounts, their hidden health, the subscription
lifecycle, product events, and the feedback tables (tickets, surveys, sentiment).
"""
