rule collect:
    input:
        traces=get_trial_files,
    output:
        traces="results/loss_traces.parquet",
    log:
        "results/logs/collect.log",
    benchmark:
        "results/benchmarks/collect.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        seeds=get_seeds,
        config_hash=get_trial_config_hash,
        iterations=get_iterations,
    script:
        "../scripts/collect.py"


rule fit_trials:
    input:
        traces="results/loss_traces.parquet",
    output:
        csv=report(
            "results/fits/coefficients.csv",
            caption="../report/coefficients.rst",
            category="Fits",
        ),
        parquet="results/fits/coefficients.parquet",
    log:
        "results/logs/fit_trials.log",
    benchmark:
        "results/benchmarks/fit_trials.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        degree=config["fit"]["degree"],
    script:
        "../scripts/fit_trials.py"


rule average_fits:
    input:
        coefficients="results/fits/coefficients.parquet",
        traces="results/loss_traces.parquet",
    output:
        average="results/fits/average.json",
    log:
        "results/logs/average_fits.log",
    benchmark:
        "results/benchmarks/average_fits.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        fit=config["fit"],
    script:
        "../scripts/average_fits.py"
