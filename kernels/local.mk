# kernels: sources, tests and data of this folder (see ../Makefile.am).
