"""Reports: read results files (never torch or `kernels`, so they run anywhere) and render tables,
roofline plots, the HTML page, cross-GPU comparisons and the regression gate."""
