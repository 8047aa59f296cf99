"""The Spark engine as a `spark-submit` application: the link job on the session spark-submit
configured (master, deploy mode, resources), the store and the match rows named as
arguments (docs/scale.md). `idgraph link --engine spark` is the same job started from the
command line with a session of its own."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from identity.errors import IdgraphError
from identity.graph import IdentityGraph
from identity.matching.spark import link_with_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="idgraph-spark-link", description=__doc__)
    parser.add_argument("--store", required=True, help="store URL the links are written to")
    parser.add_argument("--rules", type=Path, help="rules file (default: the packaged one)")
    parser.add_argument(
        "--match-rows",
        help="Parquet or CSV match rows of this store (`idgraph export-match-rows`) on a "
        "path the cluster reads (hdfs://, s3://, dbfs:/); default: exported from the store",
    )
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("idgraph-link").getOrCreate()
    graph = IdentityGraph.open(args.store, args.rules)
    try:
        with tempfile.TemporaryDirectory(prefix="idgraph-link-") as work:
            found = link_with_spark(
                graph.probabilistic(),
                spark,
                match_rows=args.match_rows,
                work_dir=Path(work),
                progress=lambda message: print(message, file=sys.stderr, flush=True),
            )
    except IdgraphError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        graph.close()
        spark.stop()
    report = found.report
    print(
        f"{report.records:,} records, {report.candidate_pairs:,} candidate pairs: "
        f"{report.links:,} links, {report.reviews:,} for review; profiles "
        f"{report.profiles_merged:,} merged, {report.profiles_split:,} split; "
        f"{found.components.count:,} components of MATCH links (largest "
        f"{found.components.largest:,})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
