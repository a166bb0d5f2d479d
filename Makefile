# ckdoc build. `make` builds bin/ckdoc; `make test` runs every test; `make asan` builds and tests
# under AddressSanitizer + UBSan; `make bench`, `make demo`, `make fuzz`. Out-of-tree objects go
# to $(BUILD) so that several builds (plain, asan, fuzz) can live side by side.

BUILD ?= build
BIN   ?= bin
CC    ?= cc
CFLAGS ?= -O2 -g
SAN_FLAGS ?=
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. -MMD -MP
WARN  := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
# -fPIC: the CUDA plugin (below) links the library's objects it needs into a shared object.
ALL_CFLAGS = -std=gnu11 -fPIC $(WARN) $(CFLAGS) $(SAN_FLAGS)
# BLAS for the small matrix products (kernels/cpu/matmul.c): Debian's libblas-dev, the reference
# BLAS with its CBLAS interface (single-threaded, so results are deterministic).
LDLIBS += -lcjson -lxxhash -lblas -lpthread -lm
# The browser (tui/, the only curses user): wide-character ncurses.
NCURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
LDLIBS += $(NCURSES_LIBS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)

NVCC := $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
MPICC := $(shell command -v mpicc 2>/dev/null)

LIB_SRC  := $(sort $(wildcard inspect/*.c repair/*.c kernels/*.c kernels/cpu/*.c dist/*.c tests/gen/*.c tui/*.c))
SPEC_JSON := $(sort $(wildcard inspect/specs/*.json))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/specs_data.o
# CUDA back end (issue 3): built when nvcc is found, unless CUDA=0, as a plugin beside the binary
# ($(BIN)/ckdoc-cuda.so: kernels/cuda/*.cu plus the library objects they use, linked with the CUDA
# runtime) that kernels/backend.c loads on first use. So ckdoc itself neither loads the CUDA
# runtime (0.8 ms and 1.5 MB on every run) nor needs it to start on a machine without one.
# CK_HAVE_CUDA tells kernels/backend.c to look for the plugin.
LDLIBS += -ldl
ifneq ($(NVCC),)
ifneq ($(CUDA),0)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_SRC := $(sort $(wildcard kernels/cuda/*.cu))
CUDA_OBJ := $(CUDA_SRC:%.cu=$(BUILD)/%.o)
CUDA_PLUGIN := $(BIN)/ckdoc-cuda.so
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
CPPFLAGS += -DCK_HAVE_CUDA
NVCCFLAGS ?= -O2 --fmad=false -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
endif
endif
LIB      := $(BUILD)/libckdoc.a
MAIN_OBJ := $(BUILD)/ckdoc.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all test unit asan bench bench-gpu demo fuzz deps venv clean backends screenshots FORCE
all: $(BIN)/ckdoc $(CUDA_PLUGIN) backends

backends:
	@echo "ckdoc: back ends built: cpu$(if $(CUDA_SRC), cuda (nvcc at $(NVCC)),)$(if $(MPICC), (mpicc found: MPI arrives with the distributed issue),)"

$(BIN)/ckdoc: $(MAIN_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

$(CUDA_PLUGIN): $(CUDA_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-Bsymbolic $(ALL_LDFLAGS) -o $@ $(CUDA_OBJ) $(LIB) $(CUDA_LIBS) $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# The family specs are data, built into the binary.
$(BUILD)/gen/specs_data.c: $(SPEC_JSON) inspect/specs/embed.sh
	@mkdir -p $(@D)
	sh inspect/specs/embed.sh $@ $(SPEC_JSON)

$(BUILD)/gen/specs_data.o: $(BUILD)/gen/specs_data.c $(FLAGS_STAMP)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Objects are rebuilt when the flags change (a build dir keeps its objects between runs).
FLAGS_STAMP := $(BUILD)/.flags
$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(NVCC) $(NVCCFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(NVCC) $(NVCCFLAGS)' > $@
FORCE:

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The CPU kernels' inner loops are written for the vectorizer: -O3 (GCC's -O2 cost model skips most
# loops whose trip count is unknown), and no FMA contraction, so that every build and every
# runtime-dispatched clone (kernels/cpu/simd.h) rounds alike.
KERNEL_CFLAGS ?= -O3 -ffp-contract=off
$(BUILD)/kernels/cpu/%.o: ALL_CFLAGS += $(KERNEL_CFLAGS)

$(BUILD)/%.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -D_GNU_SOURCE -DCK_HAVE_CUDA -I. -Xcompiler -Wall,-Wextra,-ffp-contract=off,-fPIC -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# test_cuda also calls the CUDA code's host-side parts directly (and the back end through the plugin)
$(BUILD)/tests/test_cuda: tests/unit/test_cuda.c $(LIB) $(CUDA_OBJ) $(CUDA_PLUGIN)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CUDA_OBJ) $(LIB) $(if $(CUDA_OBJ),$(CUDA_LIBS)) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The GPU bench calls the CUDA back end's timing hooks directly (it skips itself without a device).
$(BUILD)/tools/bench_cuda: tests/tools/bench_cuda.c $(LIB) $(CUDA_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CUDA_OBJ) $(LIB) $(if $(CUDA_OBJ),$(CUDA_LIBS)) $(LDLIBS)

unit: $(UNIT_BIN) $(TOOL_BIN)

# The Python reference clients (safetensors, numpy, ml_dtypes) live in a test-only virtualenv.
venv: .venv/.stamp
.venv/.stamp: tests/interop/requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install -q --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

test: all unit venv
	CKDOC=$(abspath $(BIN)/ckdoc) TEST_BIN=$(abspath $(BUILD)) tests/run.sh

asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin CFLAGS="-O1 -g" \
	    SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

bench: all unit
	CKDOC=$(abspath $(BIN)/ckdoc) TEST_BIN=$(abspath $(BUILD)) tests/bench/run.sh

# The CUDA kernels on the GPU against a device-to-device copy (make bench runs it too).
bench-gpu: $(BUILD)/tools/bench_cuda
	$(BUILD)/tools/bench_cuda

# The main job on the bundled demo checkpoint (written by ckdoc itself: a small qwen3_moe with two
# real problems). check exits 1 because it finds them; that is the demo working.
demo: all
	rm -rf $(BUILD)/demo
	$(BIN)/ckdoc demo $(BUILD)/demo/checkpoint
	$(BIN)/ckdoc ls $(BUILD)/demo/checkpoint
	$(BIN)/ckdoc check $(BUILD)/demo/checkpoint --emit-plan $(BUILD)/demo/plan.json; test $$? -le 1
	@echo "demo: the suggested fixes are in $(BUILD)/demo/plan.json; browse it with: $(BIN)/ckdoc $(BUILD)/demo/checkpoint"

# PNGs of the browser on the demo checkpoint, for the README (tmux + aha + headless chromium,
# installed by the script itself when missing).
screenshots: $(BIN)/ckdoc
	sh tui/screenshots.sh $(BIN)/ckdoc screenshots

fuzz:
	tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

deps:
	sh tests/deps.sh

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(CUDA_OBJ:.o=.d)
