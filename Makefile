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
#   make CUDA=1          also the CUDA twin of the kernels (src/cuda, nvcc), build/cuda-f32
#   make CUDA=emu        the same kernels emulated on the CPU (no GPU, no nvcc), build/cudaemu-f32
#   make test SANITIZE=address,undefined   the suite under ASan + UBSan (build/f32-san)
#   make fuzz            libFuzzer harnesses of every parser (clang, build/fuzz)

PRECISION ?= 32
CC ?= cc
# SANITIZE=address,undefined builds into build/fNN-san with the sanitizers on.
SANITIZE ?=
SAN_SUFFIX := $(if $(SANITIZE),-san)
BUILD := build/f$(PRECISION)$(SAN_SUFFIX)
ifeq ($(CROSS),aarch64)
# Debian's gcc-aarch64-linux-gnu and the :arm64 libraries (tools/arm_check.sh installs them)
CC := aarch64-linux-gnu-gcc
AR := aarch64-linux-gnu-ar
BUILD := build/aarch64-f$(PRECISION)
else ifneq ($(CROSS),)
$(error CROSS must be aarch64 or empty)
endif
# FUZZ=1 (used by `make fuzz`): clang, libFuzzer instrumentation, build/fuzz.
ifeq ($(FUZZ),1)
override CC := clang
override SANITIZE := address,undefined,fuzzer-no-link
BUILD := build/fuzz
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
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDLIBS += -fsanitize=$(SANITIZE)
endif

# The CUDA twin (src/cuda/*.cu) is built only with CUDA=1; plain builds never
# call nvcc. Its own build directory keeps the two kinds of objects apart.
ifeq ($(CUDA),1)
CUDA_HOME ?= /usr/local/cuda
NVCC ?= $(CUDA_HOME)/bin/nvcc
BUILD := build/cuda-f$(PRECISION)
override CFLAGS += -DANOMALY_CUDA
# sm_90 (H100/H200) code plus PTX for newer GPUs; -fmad=false: no contraction
# into FMA outside cuBLAS, as the CPU kernels (ISO C) do not contract.
NVCCFLAGS ?= -O2 -g
override NVCCFLAGS += -std=c++17 -gencode arch=compute_90,code=[sm_90,compute_90] -fmad=false \
    -Iinclude -Xcompiler -Wall,-Wextra -MMD -MP
ifeq ($(WERROR),1)
override NVCCFLAGS += -Werror all-warnings -Xcompiler -Werror
endif
ifeq ($(PRECISION),64)
override NVCCFLAGS += -DANOMALY_F64
endif
CUDA_CC := $(NVCC)
CUDA_OBJ := $(patsubst %.cu,$(BUILD)/obj/%.o,$(sort $(wildcard src/cuda/*.cu)))
LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
endif
# CUDA=emu: the same kernels compiled as C++ for the CPU (src/cuda/emu.h), to
# test them where there is no GPU; check-cuda says it is an emulation.
ifeq ($(CUDA),emu)
BUILD := build/cudaemu-f$(PRECISION)
override CFLAGS += -DANOMALY_CUDA
CXX ?= g++
CUDA_CC := $(CXX)
NVCCFLAGS := -O2 -g -std=c++17 -Iinclude -Wall -Wextra -MMD -MP -include src/cuda/emu.h
ifeq ($(WERROR),1)
override NVCCFLAGS += -Werror
endif
ifeq ($(PRECISION),64)
override NVCCFLAGS += -DANOMALY_F64
endif
CUDA_OBJ := $(patsubst %.cu,$(BUILD)/obj/%.o,$(filter-out src/cuda/device.cu,$(sort $(wildcard src/cuda/*.cu)))) \
    $(BUILD)/obj/src/cuda/emu_runtime.o
LDLIBS += -lstdc++
endif

LIB_SRC := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all lib tests test demo demo-exact parity bench bench-mpi deps clean fuzz fuzz-harnesses
all: $(BUILD)/anomaly
ifeq ($(CROSS),)
	@ln -sfn $(BUILD)/anomaly anomaly
endif

lib: $(BUILD)/libanomaly.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Adam's square roots as vector instructions: without errno, which changes
# no value (src/ops/optim.c).
$(BUILD)/obj/src/ops/optim.o: override CFLAGS += -fno-math-errno

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CUDA_CC) $(NVCCFLAGS) $(if $(filter emu,$(CUDA)),-x c++) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CUDA_CC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/libanomaly.a: $(LIB_OBJ) $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/anomaly: $(CLI_OBJ) $(BUILD)/libanomaly.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libanomaly.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libanomaly.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libanomaly.a $(LDLIBS)

# LD_PRELOAD shim of the fault tests (tests/test_faults.sh): never sanitized.
$(BUILD)/tests/fault_shim.so: tests/fault/fault_shim.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) -shared -fPIC -o $@ $< -ldl

# Fuzz harnesses (tests/fuzz/fuzz_NAME.c). `make tests` links each with a
# plain main() that replays files (tests/test_fuzz_corpus.sh runs the
# committed corpora through them); `make fuzz` links them with libFuzzer.
FUZZ_NAMES := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
REPLAY_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZ_BIN := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
fuzz_ldflags = $(if $(filter args,$(1)),-Wl$(comma)--wrap=fatal)
comma := ,

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_file.h $(BUILD)/libanomaly.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/libanomaly.a $(LDLIBS) $(call fuzz_ldflags,$*)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_file.h $(BUILD)/libanomaly.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libanomaly.a $(LDLIBS) $(call fuzz_ldflags,$*)

fuzz-harnesses: $(FUZZ_BIN)

# libFuzzer harnesses in build/fuzz (clang); tests/fuzz/README.md says how to run them.
fuzz:
	@tools/setup_deps.sh --fuzz
	$(MAKE) --no-print-directory FUZZ=1 fuzz-harnesses

tests: $(BUILD)/anomaly $(TEST_BIN) $(BUILD)/tests/fault_shim.so $(REPLAY_BIN)

# Everything a fresh Debian machine needs (installs as root, else says how).
deps:
	@tools/setup_deps.sh

# The exact mode's golden test also runs on a clang build (build/clang-f32):
# the same bytes from both compilers.
# The builds use every core (JOBS=N to change); the tests run one at a time.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) --no-print-directory -j$(JOBS) PRECISION=32 WERROR=1 tests
	$(MAKE) --no-print-directory -j$(JOBS) PRECISION=64 WERROR=1 tests
ifeq ($(SANITIZE),)
	$(MAKE) --no-print-directory -j$(JOBS) PRECISION=32 WERROR=1 CC=clang BUILD=build/clang-f32 build/clang-f32/anomaly
	$(MAKE) --no-print-directory -j$(JOBS) PRECISION=64 MPI=1 WERROR=1 build/f64-mpi/anomaly
endif
	@tests/run_tests.sh build/f32$(SAN_SUFFIX) build/f64$(SAN_SUFFIX)

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

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(CUDA_OBJ:.o=.d)
