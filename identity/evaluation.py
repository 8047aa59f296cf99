"""Matching quality against a ground truth: pairwise and B-cubed precision, recall and F1.

Pairs are counted from cluster sizes (a contingency table), never enumerated. B-cubed
scores each record: the share of its cluster that is its entity (precision) and the
share of its entity that is in its cluster (recall), averaged over records; unlike
pairwise scores it is not dominated by the largest clusters.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from identity.errors import ConfigError

RecordKey = tuple[str, str]
"""A record as (source, record key)."""

CLUSTER_COLUMNS = ("entity_id", "profile_id")
"""Accepted names of the third column: a truth file's entity, an export's profile."""


@dataclass(frozen=True, slots=True)
class PairwiseScores:
    """Pairwise scores of a predicted clustering against the truth, over the records in both.

    A pair is two records in the same cluster. Precision is 1.0 when nothing was paired (no
    pair can be wrong) and recall is 1.0 when the truth has no pairs; F1 is 0.0 only when
    both are 0.0.
    """

    true_positive_pairs: int
    false_positive_pairs: int
    false_negative_pairs: int
    precision: float
    recall: float
    f1: float
    records_compared: int
    records_only_predicted: int  # left out: not in the truth
    records_only_truth: int  # left out: not in the prediction
    over_merged_clusters: int  # predicted clusters holding more than one truth entity
    under_merged_entities: int  # truth entities split over more than one predicted cluster
    bcubed_precision: float = 1.0
    bcubed_recall: float = 1.0
    bcubed_f1: float = 1.0


def load_assignment(path: Path) -> dict[RecordKey, str]:
    """Read ``source,record_key,entity_id`` (truth) or ``source,record_key,profile_id`` (export).

    An empty cluster value (a record in no profile) becomes a label of its own, so the
    record counts as a singleton. Raises :class:`ConfigError` naming the file and line.
    """
    where = str(path)
    assignment: dict[RecordKey, str] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or len(header) != 3 or header[:2] != ["source", "record_key"]:
                raise ConfigError(
                    f"line 1: the header must be source,record_key,{'|'.join(CLUSTER_COLUMNS)}, "
                    f"not {','.join(header or [])!r}",
                    path=where,
                )
            if header[2] not in CLUSTER_COLUMNS:
                raise ConfigError(
                    f"line 1: the third column must be one of {', '.join(CLUSTER_COLUMNS)}, "
                    f"not {header[2]!r}",
                    path=where,
                )
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if len(row) != 3:
                    raise ConfigError(
                        f"line {line}: expected 3 values, found {len(row)}",
                        path=where,
                    )
                source, key, cluster = row
                if not source or not key:
                    raise ConfigError(
                        f"line {line}: source and record_key are required", path=where
                    )
                if (source, key) in assignment:
                    raise ConfigError(
                        f"line {line}: record ({source}, {key}) appears a second time", path=where
                    )
                # No profile id holds NUL, so an unassigned record shares its label with none.
                assignment[source, key] = cluster or f"\0{source}\0{key}"
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror}", path=where) from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise ConfigError(f"not a UTF-8 CSV file: {error}", path=where) from error
    return assignment


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(
    predicted: Mapping[RecordKey, str | None], truth: Mapping[RecordKey, str]
) -> PairwiseScores:
    """Pairwise precision and recall of ``predicted`` against ``truth``.

    Only records in both maps are compared; a record predicted as ``None`` is a singleton.
    Linear in the number of records: pairs are summed as C(n, 2) over the cluster sizes and
    over the cells of the predicted x truth contingency table.
    """
    cells: Counter[tuple[str, str]] = Counter()
    predicted_sizes: Counter[str] = Counter()
    truth_sizes: Counter[str] = Counter()
    clusters_of_entity: defaultdict[str, set[str | RecordKey]] = defaultdict(set)
    compared = 0
    for record, entity in truth.items():
        if record not in predicted:
            continue
        compared += 1
        truth_sizes[entity] += 1
        cluster = predicted[record]
        if cluster is None:
            # A singleton of its own: pairs with nothing, but splits its entity.
            clusters_of_entity[entity].add(record)
            continue
        cells[cluster, entity] += 1
        predicted_sizes[cluster] += 1
        clusters_of_entity[entity].add(cluster)

    true_positive = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in predicted_sizes.values())
    truth_pairs = sum(_pairs(n) for n in truth_sizes.values())
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / truth_pairs if truth_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    entities_per_cluster = Counter(cluster for cluster, _ in cells)
    singletons = compared - sum(predicted_sizes.values())
    singletons_recall = sum(
        1 / truth_sizes[entity]
        for entity, clusters in clusters_of_entity.items()
        for c in clusters
        if isinstance(c, tuple)
    )
    if compared:
        b_precision = (
            sum(n * n / predicted_sizes[c] for (c, _), n in cells.items()) + singletons
        ) / compared
        b_recall = (
            sum(n * n / truth_sizes[t] for (_, t), n in cells.items()) + singletons_recall
        ) / compared
    else:
        b_precision = b_recall = 1.0
    b_f1 = 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0
    return PairwiseScores(
        true_positive_pairs=true_positive,
        false_positive_pairs=predicted_pairs - true_positive,
        false_negative_pairs=truth_pairs - true_positive,
        precision=precision,
        recall=recall,
        f1=f1,
        records_compared=compared,
        records_only_predicted=len(predicted) - compared,
        records_only_truth=len(truth) - compared,
        over_merged_clusters=sum(1 for n in entities_per_cluster.values() if n > 1),
        under_merged_entities=sum(1 for c in clusters_of_entity.values() if len(c) > 1),
        bcubed_precision=b_precision,
        bcubed_recall=b_recall,
        bcubed_f1=b_f1,
    )
