"""Rooflines: the GPU spec database with sources (`roofline.specs`), the roofline maths (`roofline.roof`),
the rule for a compute rate a GPU lacks (`roofline.rates`), the one resolution of a `--gpu` target with spec
files, what-ifs and measured ceilings (`roofline.target`, `roofline.whatif`), the performance model and its
cross-generation carry, and the `gpubench specs` command (`roofline.specs_cli`). The analytical half needs
neither torch nor a GPU."""
