rule download_mnist:
    output:
        gz="results/mnist/{name}.gz",
    log:
        "results/logs/download_mnist/{name}.log",
    benchmark:
        "results/benchmarks/download_mnist/{name}.tsv"
    wildcard_constraints:
        name="|".join(FILES),
    conda:
        "../envs/losscurve.yaml"
    params:
        mirrors=config["mnist"]["mirrors"],
        sha256=lambda wildcards: config["mnist"]["sha256"][wildcards.name],
        settings=get_download_settings(),
    script:
        "../scripts/download_mnist.py"


rule prepare_mnist:
    input:
        unpack(get_idx_files),
    output:
        images="results/mnist/{split}_images.npy",
        labels="results/mnist/{split}_labels.npy",
    log:
        "results/logs/prepare_mnist/{split}.log",
    benchmark:
        "results/benchmarks/prepare_mnist/{split}.tsv"
    wildcard_constraints:
        split="train|test",
    conda:
        "../envs/losscurve.yaml"
    script:
        "../scripts/prepare_mnist.py"
