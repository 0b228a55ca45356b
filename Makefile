# anomaly: build, test, demo.
#
#   make                 the library and the `anomaly` binary (float32)
#   make PRECISION=64    the same in double (build/f64)
#   make test            set-up check, both precisions, every test
#   make demo            the main job on the built-in data
#   make demo-exact      the same in the exact mode (same bytes on every CPU)
#   make parity          regenerate PyTorch references and compare live
#   make CC=clang        build with clang (libomp)
#   make CROSS=aarch64   cross-build for ARM64 into build/aarch64-f32 (run it
#                        under qemu: tools/arm_check.sh)
#   make MPI=1           data- and fold-parallel over MPI, with mpicc (build/f32-mpi)
#   make bench-mpi       1 vs 2 ranks on a train step, bytes all-reduced

PRECISION ?= 32
CC ?= cc
BUILD := build/f$(PRECISION)
ifeq ($(CROSS),aarch64)
# Debian's gcc-aarch64-linux-gnu and the :arm64 libraries (tools/arm_check.sh installs them)
CC := aarch64-linux-gnu-gcc
AR := aarch64-linux-gnu-ar
BUILD := build/aarch64-f$(PRECISION)
else ifneq ($(CROSS),)
$(error CROSS must be aarch64 or empty)
endif

WARN := -Wall -Wextra
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
override CFLAGS += -std=c99 -ffp-contract=off $(WARN) -fopenmp -pthread -Iinclude -D_POSIX_C_SOURCE=200809L -MMD -MP
ifeq ($(PRECISION),64)
override CFLAGS += -DANOMALY_F64
else ifneq ($(PRECISION),32)
$(error PRECISION must be 32 or 64)
endif
# MPI=1: src/dist over OpenMPI (mpicc); its own build folder, so the plain
# build never links MPI. mpicc wraps $$OMPI_CC (e.g. OMPI_CC=clang).
ifeq ($(MPI),1)
override CC := mpicc
BUILD := $(BUILD)-mpi
override CFLAGS += -DANOMALY_MPI
endif
LDLIBS := -fopenmp -pthread -lopenblas -lpng -ljpeg -lm

LIB_SRC := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all lib tests test demo demo-exact parity bench bench-mpi deps clean
all: $(BUILD)/anomaly
ifeq ($(CROSS),)
	@ln -sfn $(BUILD)/anomaly anomaly
endif

lib: $(BUILD)/libanomaly.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libanomaly.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/anomaly: $(CLI_OBJ) $(BUILD)/libanomaly.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libanomaly.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libanomaly.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libanomaly.a $(LDLIBS)

tests: $(BUILD)/anomaly $(TEST_BIN)

# Everything a fresh Debian machine needs (installs as root, else says how).
deps:
	@tools/setup_deps.sh

# The exact mode's golden test also runs on a clang build (build/clang-f32):
# the same bytes from both compilers.
test: deps
	$(MAKE) --no-print-directory PRECISION=32 WERROR=1 tests
	$(MAKE) --no-print-directory PRECISION=64 WERROR=1 tests
	$(MAKE) --no-print-directory PRECISION=32 WERROR=1 CC=clang BUILD=build/clang-f32 build/clang-f32/anomaly
	$(MAKE) --no-print-directory PRECISION=64 MPI=1 WERROR=1 build/f64-mpi/anomaly
	@tests/run_tests.sh build/f32 build/f64

demo: deps
	$(MAKE) --no-print-directory PRECISION=32 all
	@tools/demo.sh

# The same demo in the exact mode: the numbers every CPU reproduces.
demo-exact: deps
	$(MAKE) --no-print-directory PRECISION=32 all
	@DEMO_EXACT=1 DEMO_OUT=demo_exact_out tools/demo.sh

parity:
	@tools/setup_deps.sh --torch
	$(MAKE) --no-print-directory PRECISION=32 tests
	$(MAKE) --no-print-directory PRECISION=64 tests
	@tools/parity.sh

bench:
	@tools/setup_deps.sh --torch
	$(MAKE) --no-print-directory PRECISION=32 all
	@tools/bench.sh

# ARM64: cross-build and run the default tests under qemu (not part of `make test`)
.PHONY: arm-check
arm-check:
	@tools/arm_check.sh

# The exact mode's golden sums from the ARM64 build under qemu.
.PHONY: arm-golden
arm-golden:
	@tools/arm_check.sh golden
# 1 and 2 ranks of one thread on a b0 train step (tools/bench_mpi.sh).
bench-mpi:
	@tools/setup_deps.sh
	$(MAKE) --no-print-directory PRECISION=32 MPI=1 build/f32-mpi/anomaly
	@tools/bench_mpi.sh

clean:
	rm -rf build anomaly

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
