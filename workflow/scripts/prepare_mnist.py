"""Decode one split's IDX images and labels into memory-mappable .npy arrays."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.mnist import prepare

prepare(
    images_gz=snakemake.input.images,
    labels_gz=snakemake.input.labels,
    images_npy=snakemake.output.images,
    labels_npy=snakemake.output.labels,
)
