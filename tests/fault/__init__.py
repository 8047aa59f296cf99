"""Fault tolerance of the embedded (SQLite) store with real processes and real files:
`idgraph ingest` and `idgraph serve` killed with SIGKILL at seeded points and run again,
and concurrent writers (HTTP and CLI) on one store file. Helpers in
:mod:`tests.fault.common`; ``IDGRAPH_FAULT_KILLS`` (default 3) sets how many kill points
each kill test tries."""
