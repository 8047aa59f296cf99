"""Chunks of pairs compared in forked worker processes (identity/matching/chunk_workers.py):
answers in order, from other processes, the same as comparing here."""

from __future__ import annotations

import os

from identity.matching.chunk_workers import over_chunks


def test_chunks_are_answered_in_order_by_other_processes() -> None:
    parent = os.getpid()
    chunks = [(start, start + 3) for start in range(0, 30, 3)]
    seen = list(over_chunks(lambda a, b: (list(range(a, b)), os.getpid()), chunks, workers=2))
    assert [chunk for chunk, _ in seen] == chunks
    assert [n for _, (numbers, _) in seen for n in numbers] == list(range(30))
    assert parent not in {pid for _, (_, pid) in seen}


def test_one_chunk_or_one_worker_is_answered_here() -> None:
    parent = os.getpid()
    for chunks, workers in (([(0, 5)], 2), ([(0, 2), (2, 4)], 1)):
        seen = list(over_chunks(lambda a, b: os.getpid(), chunks, workers=workers))
        assert {pid for _, pid in seen} == {parent}
