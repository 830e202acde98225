# cli/: the tetri command, one file per subcommand.
tetri_SOURCES += cli/main.c cli/commands.h cli/cmd_workload.c cli/cmd_sim.c cli/cmd_report.c \
  cli/cmd_plot.c cli/cmd_profile.c cli/cmd_demo.c cli/cmd_policies.c cli/serve_gpu.h cli/serve_gpu.c \
  cli/cmd_profile_measure.c cli/cmd_validate.c cli/sim_command.h

# `tetri validate` on the emulated backend: its numbers against the database it wrote, --from-db,
# --strict, the option errors (--live gpu in a build without CUDA).
TESTS += tests/cli_validate.sh
EXTRA_DIST += tests/cli_validate.sh
