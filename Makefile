# anomaly: build, test, demo.
#
#   make                 the library and the `anomaly` binary (float32)
#   make PRECISION=64    the same in double (build/f64)
#   make test            set-up check, both precisions, every test
#   make demo            the main job on the built-in data
#   make parity          regenerate PyTorch references and compare live
#   make CC=clang        build with clang (libomp)
#   make test SANITIZE=address,undefined   the suite under ASan + UBSan (build/f32-san)
#   make fuzz            libFuzzer harnesses of every parser (clang, build/fuzz)

PRECISION ?= 32
CC ?= cc
# SANITIZE=address,undefined builds into build/fNN-san with the sanitizers on.
SANITIZE ?=
SAN_SUFFIX := $(if $(SANITIZE),-san)
BUILD := build/f$(PRECISION)$(SAN_SUFFIX)
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
override CFLAGS += -std=c99 $(WARN) -fopenmp -pthread -Iinclude -D_POSIX_C_SOURCE=200809L -MMD -MP
ifeq ($(PRECISION),64)
override CFLAGS += -DANOMALY_F64
else ifneq ($(PRECISION),32)
$(error PRECISION must be 32 or 64)
endif
LDLIBS := -fopenmp -pthread -lopenblas -lpng -ljpeg -lm
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDLIBS += -fsanitize=$(SANITIZE)
endif

LIB_SRC := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all lib tests test demo parity bench deps clean fuzz fuzz-harnesses
all: $(BUILD)/anomaly
	@ln -sfn $(BUILD)/anomaly anomaly

lib: $(BUILD)/libanomaly.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libanomaly.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

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

test: deps
	$(MAKE) --no-print-directory PRECISION=32 WERROR=1 tests
	$(MAKE) --no-print-directory PRECISION=64 WERROR=1 tests
	@tests/run_tests.sh build/f32$(SAN_SUFFIX) build/f64$(SAN_SUFFIX)

demo: deps
	$(MAKE) --no-print-directory PRECISION=32 all
	@tools/demo.sh

parity:
	@tools/setup_deps.sh --torch
	$(MAKE) --no-print-directory PRECISION=32 tests
	$(MAKE) --no-print-directory PRECISION=64 tests
	@tools/parity.sh

bench:
	@tools/setup_deps.sh --torch
	$(MAKE) --no-print-directory PRECISION=32 all
	@tools/bench.sh

clean:
	rm -rf build anomaly

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
