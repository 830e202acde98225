# host/: the serving loop the simulator and the live backends share, and the one plan validator.
libtetri_a_SOURCES += host/plan_check.h host/plan_check.c host/backend.h host/host.h host/host.c
