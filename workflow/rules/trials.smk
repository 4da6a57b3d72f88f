rule trial:
    input:
        train_images="results/mnist/train_images.npy",
        train_labels="results/mnist/train_labels.npy",
        test_images="results/mnist/test_images.npy",
        test_labels="results/mnist/test_labels.npy",
        code=get_trial_code(),
    output:
        trace="results/trials/seed-{seed}.parquet",
    log:
        "results/logs/trial/seed-{seed}.log",
    benchmark:
        "results/benchmarks/trial/seed-{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    group:
        "trials"
    conda:
        "../envs/losscurve.yaml"
    # Snakemake sets OPENBLAS_NUM_THREADS (and OMP/MKL) of the job to this count.
    threads: 1
    params:
        trial=get_trial_config,
        config_hash=get_trial_config_hash,
    script:
        "../scripts/trial.py"
