# tests/mpi_env.sh: sourced by the tests that run mpirun (cli_sweep_mpi.sh, cli_serve_mpi.sh,
# gpu/serve_gpu.sh): what Open MPI needs to run there. It refuses root without the first two
# (CI containers run as root), 2 ranks may exceed a CI machine's cores (oversubscribe), and
# containers often lack the kernel's single-copy mechanism.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl_vader_single_copy_mechanism
