"""The peer a user would otherwise pick: the original project's AWS Glue-style Spark job.

Classic Spark on the JVM in local mode, JSON in, the same trust and join rules as the
lakehouse, Parquet out with overwrite (no Delta, no MERGE, no incremental state):

    python benchmarks/peers/classic_spark.py LANDING OUTPUT
"""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F


def trusted_customers(customers: DataFrame) -> DataFrame:
    latest = Window.partitionBy("email").orderBy(F.col("lastUpdateDate").desc())
    return (
        customers.where(F.col("email").isNotNull())
        .withColumn("rank", F.row_number().over(latest))
        .where((F.col("rank") == 1) & F.col("shareWithResearchAsOfDate").isNotNull())
        .drop("rank")
    )


def main(landing: str, output: str) -> None:
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("stedi-classic")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        # Older exports spell `timeStamp`: keep it apart from `timestamp`.
        .config("spark.sql.caseSensitive", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    customers = trusted_customers(spark.read.json(f"{landing}/customer/*.json"))
    raw = spark.read.json(f"{landing}/accelerometer/*.json")
    accelerometer = raw.select(
        "user", F.coalesce("timestamp", "timeStamp").cast("long").alias("timestamp"), "x", "y", "z"
    )
    steps = spark.read.json(f"{landing}/step_trainer/*.json")

    accelerometer_trusted = accelerometer.join(
        customers.select(F.col("email").alias("user"), "serialNumber", "shareWithResearchAsOfDate"),
        "user",
    ).where(F.col("timestamp") >= F.col("shareWithResearchAsOfDate"))
    moments = accelerometer_trusted.select(
        "serialNumber", F.col("timestamp").alias("sensorReadingTime")
    ).distinct()
    step_trainer_trusted = steps.join(moments, ["serialNumber", "sensorReadingTime"], "left_semi")
    machine_learning = step_trainer_trusted.join(
        accelerometer_trusted.withColumnRenamed("timestamp", "sensorReadingTime"),
        ["serialNumber", "sensorReadingTime"],
    )
    tables = {
        "customer_trusted": customers,
        "accelerometer_trusted": accelerometer_trusted.drop("shareWithResearchAsOfDate"),
        "step_trainer_trusted": step_trainer_trusted,
        "machine_learning_curated": machine_learning.drop("user", "shareWithResearchAsOfDate"),
    }
    for name, frame in tables.items():
        frame.write.mode("overwrite").parquet(f"{output}/{name}")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
