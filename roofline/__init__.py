"""Rooflines: the GPU spec database with sources (`roofline.specs`), the roofline maths (`roofline.roof`) and
the `gpubench specs` command (`roofline.specs_cli`). The analytical half needs neither torch nor a GPU."""
