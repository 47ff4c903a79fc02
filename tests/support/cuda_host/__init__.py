"""Host emulation of the suite's CUDA C kernels (emu.h), for logic tests on machines without a GPU."""
