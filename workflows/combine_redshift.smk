# Combine Redshift Catalogs: ingest each catalog -> one HATS catalog + margin -> duplicate pairs
# and groups -> resolution -> combined catalog (HATS, Parquet, exports) -> summary -> registry.


include: "../rules/ingest.smk"
include: "../rules/partition.smk"
include: "../rules/dedup.smk"
include: "../rules/export.smk"
include: "../rules/register.smk"
