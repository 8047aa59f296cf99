"""Fault tolerance of the embedded (SQLite) store with real processes and real files:
`idgraph ingest` and `idgraph serve` killed with SIGKILL at seeded points and run again,
and concurrent writers (HTTP and CLI) on one store file. Helpers in
:mod:`tests.fault.common`.

Settings: ``IDGRAPH_FAULT_KILLS`` (default 3) is how many kill points the ingest test tries
(the server test kills one fewer, at least one); ``IDGRAPH_FAULT_SEED`` (default 1414)
seeds every random choice; ``IDGRAPH_FAULT_BUSY_MS`` (default 5) is how long the concurrent
test's server waits for the write lock. Each test prints the kill points it tried (``-s``,
or ``-rA``) and records them as the junit property ``kill_point(s)``."""
