# How good is the quartic? Experiments (config experiments and the long run) reuse the trial and
# analysis rules under results/experiments/{experiment}/; the rules after them compare curve
# families, extrapolate over the long run, draw seed bands and calibrate against the paper.


use rule trial as experiment_trial with:
    output:
        trace="results/experiments/{experiment}/trials/seed-{seed}.parquet",
    log:
        "results/logs/experiments/{experiment}/trial/seed-{seed}.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/trial/seed-{seed}.tsv"
    wildcard_constraints:
        experiment="|".join(map(re.escape, get_experiments())),
        seed=r"\d+",


use rule collect as experiment_collect with:
    output:
        traces="results/experiments/{experiment}/loss_traces.parquet",
    log:
        "results/logs/experiments/{experiment}/collect.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/collect.tsv"


use rule fit_trials as experiment_fit_trials with:
    input:
        traces="results/experiments/{experiment}/loss_traces.parquet",
    output:
        csv="results/experiments/{experiment}/fits/coefficients.csv",
        parquet="results/experiments/{experiment}/fits/coefficients.parquet",
    log:
        "results/logs/experiments/{experiment}/fit_trials.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/fit_trials.tsv"


use rule average_fits as experiment_average_fits with:
    input:
        coefficients="results/experiments/{experiment}/fits/coefficients.parquet",
        traces="results/experiments/{experiment}/loss_traces.parquet",
    output:
        average="results/experiments/{experiment}/fits/average.json",
    log:
        "results/logs/experiments/{experiment}/average_fits.log",
    benchmark:
        "results/benchmarks/experiments/{experiment}/average_fits.tsv"


rule compare_models:
    input:
        traces="results/loss_traces.parquet",
    output:
        csv=report(
            "results/model_comparison.csv",
            caption="../report/model_comparison_table.rst",
            category="How good is the quartic?",
        ),
        json="results/fits/families.json",
    log:
        "results/logs/compare_models.log",
    benchmark:
        "results/benchmarks/compare_models.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        holdout_fractions=config["curves"]["holdout_fractions"],
    script:
        "../scripts/compare_models.py"


rule extrapolate:
    input:
        traces="results/experiments/long-run/loss_traces.parquet",
    output:
        csv=report(
            "results/tables/extrapolation.csv",
            caption="../report/extrapolation_table.rst",
            category="How good is the quartic?",
        ),
        json="results/fits/extrapolation.json",
    log:
        "results/logs/extrapolate.log",
    benchmark:
        "results/benchmarks/extrapolate.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        fit_iterations=config["trials"]["iterations"],
        tolerance=config["curves"]["horizon_tolerance"],
    script:
        "../scripts/extrapolate.py"


rule confidence_bands:
    input:
        families="results/fits/families.json",
    output:
        json="results/fits/confidence_bands.json",
    log:
        "results/logs/confidence_bands.log",
    benchmark:
        "results/benchmarks/confidence_bands.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        fit=config["fit"],
    script:
        "../scripts/confidence_bands.py"


rule calibrate:
    input:
        averages=get_calibration_inputs("fits/average.json"),
        traces=get_calibration_inputs("loss_traces.parquet"),
    output:
        csv=report(
            "results/tables/calibration.csv",
            caption="../report/calibration_table.rst",
            category="How good is the quartic?",
        ),
        json="results/fits/calibration.json",
    log:
        "results/logs/calibrate.log",
    benchmark:
        "results/benchmarks/calibrate.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        experiments=config["experiments"],
    script:
        "../scripts/calibrate.py"


rule comparison_figures:
    input:
        traces="results/loss_traces.parquet",
        families="results/fits/families.json",
        long_run="results/experiments/long-run/loss_traces.parquet",
        extrapolation="results/fits/extrapolation.json",
        bands="results/fits/confidence_bands.json",
        calibration="results/fits/calibration.json",
    output:
        model_comparison_png=report(
            "results/figures/model_comparison.png",
            caption="../report/model_comparison.rst",
            category="How good is the quartic?",
            subcategory="PNG",
        ),
        model_comparison_svg=report(
            "results/figures/model_comparison.svg",
            caption="../report/model_comparison.rst",
            category="How good is the quartic?",
            subcategory="SVG",
        ),
        extrapolation_png=report(
            "results/figures/extrapolation.png",
            caption="../report/extrapolation.rst",
            category="How good is the quartic?",
            subcategory="PNG",
        ),
        extrapolation_svg=report(
            "results/figures/extrapolation.svg",
            caption="../report/extrapolation.rst",
            category="How good is the quartic?",
            subcategory="SVG",
        ),
        confidence_bands_png=report(
            "results/figures/confidence_bands.png",
            caption="../report/confidence_bands.rst",
            category="How good is the quartic?",
            subcategory="PNG",
        ),
        confidence_bands_svg=report(
            "results/figures/confidence_bands.svg",
            caption="../report/confidence_bands.rst",
            category="How good is the quartic?",
            subcategory="SVG",
        ),
        calibration_png=report(
            "results/figures/calibration.png",
            caption="../report/calibration.rst",
            category="How good is the quartic?",
            subcategory="PNG",
        ),
        calibration_svg=report(
            "results/figures/calibration.svg",
            caption="../report/calibration.rst",
            category="How good is the quartic?",
            subcategory="SVG",
        ),
    log:
        "results/logs/comparison_figures.log",
    benchmark:
        "results/benchmarks/comparison_figures.tsv"
    conda:
        "../envs/losscurve.yaml"
    script:
        "../scripts/comparison_figures.py"
