"""The Spark session behind `idgraph link --engine spark`: started from a master URL, with
its scratch space and logs in a temporary folder, quiet, without the web UI; a clear error
when pyspark or Java is missing."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from identity.errors import EngineUnavailable
from identity.matching.spark import install_hint

# Spark's own log lines go to a file in the session's folder, warnings and worse only: the
# command's progress is the CLI's to print.
_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
"""


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@contextmanager
def spark_session(
    master: str, conf: Mapping[str, str] | None = None, partitions: int | None = None
) -> Iterator[Any]:
    """A Spark session on ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``, ...),
    stopped on leaving unless it was already running (a notebook's, a test's). Local
    masters run their Python workers on this interpreter, so they see this install."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise EngineUnavailable(f"pyspark is not installed: {install_hint()}") from error
    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    if _java() is None:
        raise EngineUnavailable(
            f"Spark needs Java and none was found (set JAVA_HOME or put java on PATH): "
            f"{install_hint()}"
        )
    scratch = Path(tempfile.mkdtemp(prefix="idgraph-spark-"))
    log_config = scratch / "log4j2.properties"
    log_config.write_text(_LOG4J.format(path=scratch / "spark.log"))
    java_options = f"-Dlog4j.configurationFile=file:{log_config}"
    builder = (
        SparkSession.builder.master(master)
        .appName("idgraph-link")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master.startswith("local"):
        # pyspark starts its Python workers with PYSPARK_PYTHON (else whatever `python3`
        # is on PATH, without idgraph's packages).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Shuffle files in the temporary folder: on a cluster each node has its own.
        builder = builder.config("spark.local.dir", str(scratch / "local")).config(
            "spark.sql.shuffle.partitions", str(partitions or 8)
        )
    elif partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    for key, value in (conf or {}).items():
        if key == "spark.driver.extraJavaOptions":
            value = f"{java_options} {value}"
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: pyspark's error types vary by cause
        shutil.rmtree(scratch, ignore_errors=True)
        raise EngineUnavailable(f"Spark did not start on {master}: {error}") from error
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        shutil.rmtree(scratch, ignore_errors=True)
