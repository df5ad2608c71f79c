"""Real peer systems for tests and the demo, started on the loopback interface.

:mod:`gateway.peers.tryton` runs a Tryton ERP seeded from TPC-H data
(:mod:`gateway.peers.tpch`, :mod:`gateway.peers.tryton_seed`). Nothing here is
used by a production gateway; it needs the project's ``peers`` extra.
"""
