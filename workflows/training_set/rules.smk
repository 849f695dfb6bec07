# The rules of workflows/training_set.smk (Snakemake's lint wants rules and functions apart).


rule ingest_reference:
    """The Reference Redshift Catalog (product or file) to standard columns, invalid rows counted."""
    input:
        REFERENCE["path"],
    output:
        parts=directory(f"{RESULTS}/ingest/reference"),
        stats=f"{RESULTS}/ingest/reference.json",
    params:
        reference=config["reference"],
        location=REFERENCE,
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/ingest_reference/ingest_reference.log",
    benchmark:
        f"{BENCH}/ingest_reference/ingest_reference.tsv"
    script:
        "../../scripts/ingest_reference.py"


if DIRECT:

    rule describe_photometry:
        """Rows and location of the HATS photometric catalog used as it is, for the summary."""
        input:
            catalog=PHOTOMETRY["path"],
            margin=config["photometry"]["margin_cache"],
        output:
            stats=f"{RESULTS}/ingest/photometry.json",
        conda:
            "../../envs/pzforge.yaml"
        log:
            f"{LOGS}/describe_photometry/describe_photometry.log",
        script:
            "../../scripts/describe_photometry.py"

else:

    rule ingest_photometry:
        """The photometric catalog, streamed to Parquet parts with phot_id, phot_ra, phot_dec."""
        input:
            PHOTOMETRY["path"],
        output:
            parts=directory(f"{RESULTS}/ingest/photometry"),
            stats=f"{RESULTS}/ingest/photometry.json",
        params:
            photometry=PHOTOMETRY_SETTINGS,
            reference=config["reference"],
        conda:
            "../../envs/pzforge.yaml"
        log:
            f"{LOGS}/ingest_photometry/ingest_photometry.log",
        benchmark:
            f"{BENCH}/ingest_photometry/ingest_photometry.tsv"
        script:
            "../../scripts/ingest_photometry.py"


rule make_training_set:
    """Crossmatch (margins), one row per photometric object, magnitudes, split; HATS + Parquet;
    the summary (JSON, text, Markdown page, PNG plots) from the rows while they are in memory."""
    input:
        reference=f"{RESULTS}/hats/reference",
        photometry=get_photometry_input(),
        photometry_margin=get_photometry_margin(),
        reference_rows=f"{RESULTS}/ingest/reference",
        reference_stats=f"{RESULTS}/ingest/reference.json",
        photometry_stats=f"{RESULTS}/ingest/photometry.json",
    output:
        hats=[directory(p) for p in get_training_hats()],
        parquet=get_training_parquet(),
        stats=f"{RESULTS}/training/match_stats.json",
        summary=f"{RESULTS}/summary.json",
        text=report(f"{RESULTS}/summary.txt", caption="report/summary.rst", category="Summary"),
        page=f"{RESULTS}/report/summary.md",
        plots=report(
            directory(f"{RESULTS}/report/plots"),
            patterns=["{name}.png"],
            caption="report/plot.rst",
            category="Training set",
            subcategory="Plots",
        ),
    params:
        crossmatch=config["crossmatch"],
        photometry=config["photometry"],
        magnitudes=config["magnitudes"],
        split=config["split"],
        allow_empty=config["allow_empty"],
        outputs=get_output_keys(),
        output_paths=get_output_paths(),
        report=config["report"],
        stamp=STAMP,
    threads: 1
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/make_training_set/make_training_set.log",
    benchmark:
        f"{BENCH}/make_training_set/make_training_set.tsv"
    script:
        "../../scripts/make_training_set.py"


rule export_rail:
    """A training set in the layout RAIL's informers read, and the stage settings to read it."""
    input:
        parquet=f"{RESULTS}/training/{{product}}.parquet",
    output:
        file=f"{RESULTS}/rail/{{product}}_rail.{{suffix}}",
        report=f"{RESULTS}/rail/{{product}}_rail.{{suffix}}.json",
    params:
        rail=config["output"]["rail"],
        bands=config["photometry"]["bands"],
    wildcard_constraints:
        suffix="hdf5|pq",
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/export_rail/{{product}}.{{suffix}}.log",
    script:
        "../../scripts/export_rail.py"


rule write_training_set_manifest:
    """What to register: each training set (HATS) with its Parquet, exports, summary and page."""
    input:
        hats=f"{RESULTS}/training/{{product}}_hats",
        parquet=f"{RESULTS}/training/{{product}}.parquet",
        exports=get_product_exports,
        summary=f"{RESULTS}/summary.json",
        page=f"{RESULTS}/report/summary.md",
        plots=f"{RESULTS}/report/plots",
    output:
        manifest=f"{RESULTS}/products/{{product}}.json",
    params:
        registry=REGISTRY,
        run_name=RUN,
        derived_from=get_derived_from(),
        photometry=config["photometry"],
        magnitudes=config["magnitudes"],
        split=config["split"]["method"],
    localrule: True
    conda:
        "../../envs/pzforge.yaml"
    log:
        f"{LOGS}/write_training_set_manifest/{{product}}.log",
    script:
        "../../scripts/write_training_set_manifest.py"
