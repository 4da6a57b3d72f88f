"""Download one MNIST file from the first mirror that serves a verified copy."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.mnist import DownloadSettings, download

download(
    filename=snakemake.wildcards.name + ".gz",
    dest=snakemake.output.gz,
    mirrors=snakemake.params.mirrors,
    sha256=snakemake.params.sha256,
    settings=DownloadSettings(**snakemake.params.settings),
)
