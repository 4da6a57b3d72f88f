"""Decode the IDX images and labels of both splits into memory-mappable .npy arrays."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.mnist import prepare

for split in ("train", "test"):
    prepare(
        images_gz=snakemake.input[f"{split}_images"],
        labels_gz=snakemake.input[f"{split}_labels"],
        images_npy=snakemake.output[f"{split}_images"],
        labels_npy=snakemake.output[f"{split}_labels"],
    )
