"""Write the coefficient table beside the paper's (Markdown and HTML)."""

from losscurve.joblog import redirect_to_log

redirect_to_log(snakemake.log[0])

from losscurve.tables import write_tables

write_tables(
    coefficients_path=snakemake.input.coefficients,
    average_path=snakemake.input.average,
    markdown_output=snakemake.output.markdown,
    html_output=snakemake.output.html,
)
