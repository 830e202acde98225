# tests/fuzz/: libFuzzer targets for the trace and profile readers (make fuzz), and their corpus replayed by make check.
