report: "../report/workflow.rst"


rule figures:
    input:
        traces="results/loss_traces.parquet",
        coefficients="results/fits/coefficients.parquet",
        average="results/fits/average.json",
    output:
        trial_fit_png=report(
            "results/figures/trial_fit.png",
            caption="../report/trial_fit.rst",
            category="Figures",
            subcategory="PNG",
        ),
        trial_fit_svg=report(
            "results/figures/trial_fit.svg",
            caption="../report/trial_fit.rst",
            category="Figures",
            subcategory="SVG",
        ),
        all_trials_png=report(
            "results/figures/all_trials.png",
            caption="../report/all_trials.rst",
            category="Figures",
            subcategory="PNG",
        ),
        all_trials_svg=report(
            "results/figures/all_trials.svg",
            caption="../report/all_trials.rst",
            category="Figures",
            subcategory="SVG",
        ),
        paper_comparison_png=report(
            "results/figures/paper_comparison.png",
            caption="../report/paper_comparison.rst",
            category="Figures",
            subcategory="PNG",
        ),
        paper_comparison_svg=report(
            "results/figures/paper_comparison.svg",
            caption="../report/paper_comparison.rst",
            category="Figures",
            subcategory="SVG",
        ),
    log:
        "results/logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        "../envs/losscurve.yaml"
    script:
        "../scripts/figures.py"


rule tables:
    input:
        coefficients="results/fits/coefficients.parquet",
        average="results/fits/average.json",
    output:
        markdown=report(
            "results/tables/coefficients.md",
            caption="../report/coefficients_table.rst",
            category="Tables",
        ),
        html=report(
            "results/tables/coefficients.html",
            caption="../report/coefficients_table.rst",
            category="Tables",
        ),
    log:
        "results/logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    conda:
        "../envs/losscurve.yaml"
    script:
        "../scripts/tables.py"


rule report:
    input:
        traces="results/loss_traces.parquet",
        coefficients="results/fits/coefficients.parquet",
        average="results/fits/average.json",
        trial_fit="results/figures/trial_fit.png",
        all_trials="results/figures/all_trials.png",
        paper_comparison="results/figures/paper_comparison.png",
    output:
        html="results/report.html",
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    conda:
        "../envs/losscurve.yaml"
    params:
        config=config,
    script:
        "../scripts/report.py"
