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
        train_images="results/mnist/train-images-idx3-ubyte.gz",
        train_labels="results/mnist/train-labels-idx1-ubyte.gz",
        test_images="results/mnist/t10k-images-idx3-ubyte.gz",
        test_labels="results/mnist/t10k-labels-idx1-ubyte.gz",
    output:
        train_images="results/mnist/train_images.npy",
        train_labels="results/mnist/train_labels.npy",
        test_images="results/mnist/test_images.npy",
        test_labels="results/mnist/test_labels.npy",
    log:
        "results/logs/prepare_mnist.log",
    benchmark:
        "results/benchmarks/prepare_mnist.tsv"
    conda:
        "../envs/losscurve.yaml"
    script:
        "../scripts/prepare_mnist.py"
