#ifndef WARDEN_FUZZ_DRIVER_H
#define WARDEN_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the process's arguments and `test_one_input`. SwiftPM links each executable with
/// `main` renamed to `<target>_main`, so each fuzzer defines that symbol and calls this (libFuzzer's
/// `LLVMFuzzerRunDriver`) instead of relying on libFuzzer's own `main`.
int warden_fuzz_run(int argc, char **argv, int (*test_one_input)(const uint8_t *data, size_t size));

#endif
