"""Build the self-contained report page."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.comparison_report import REPORT_SECTIONS
from losscurve.report import write_report

write_report(
    inputs=dict(snakemake.input.items()),
    config=snakemake.params.config,
    output=snakemake.output.html,
    sections=REPORT_SECTIONS,
)
