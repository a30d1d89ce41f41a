# mmapfs - a FUSE file system of mmap(2) views. `make help` lists the targets.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
BUILD     := build
PKGS      := fuse3 inih cunit
APT_PKGS  := libfuse3-dev fuse3 libinih-dev libcunit1-dev pkg-config python3 valgrind groff-base \
             sqlite3 python3-lmdb lmdb-utils rsync
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) -Iinclude -DMMAPFS_VERSION='"$(VERSION)"' \
             -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS       = $(shell pkg-config --libs fuse3 inih 2>/dev/null) -lpthread
TEST_LIBS  = $(shell pkg-config --libs fuse3 inih cunit 2>/dev/null) -lpthread
SANITIZE  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The core knows no FUSE: one library that the daemon, the unit tests and
# the fuzzers link. The FUSE side translates requests into core calls.
CORE_SRC  := src/size.c src/errors.c src/view.c src/entry.c src/config.c src/log.c \
             src/fault.c src/thread.c src/stable.c src/cow.c src/instance.c src/region.c src/ctl.c src/node.c \
             src/table.c src/flusher.c
FUSE_SRC  := src/notify.c src/writeback.c src/coherence.c src/fs.c src/cli.c src/child.c src/daemon.c src/main.c
# The FUSE side's bookkeeping, unit-tested without a kernel.
UNIT_FUSE := src/notify.c src/writeback.c src/coherence.c
UNIT_SRC  := $(wildcard tests/unit/*.c)
HEADERS   := $(wildcard include/*.h src/*.h)

FUZZ_CC   := clang
FUZZ_FLAGS:= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_SRC  := $(CORE_SRC)
FUZZERS   := ctl config
FUZZ_TIME ?= 60

.PHONY: all bench-quick deps fuzz-deps test unit-test integration-test asan-test valgrind-test model-test \
        stress bench fuzz run clean \
        install uninstall help

all: $(BUILD)/mmapfs

help:
	@echo "make run     install what is missing, build, mount conf/demo.ini on ./mnt"
	@echo "make test    install what is missing, build, run every test"
	@echo "make all | clean | install | uninstall (PREFIX=$(PREFIX) DESTDIR=...)"

# Debian's packages, installed only when something is missing. The program
# tests use sqlite3, mdb_stat, rsync and Debian's python3-lmdb, which only
# /usr/bin/python3 imports (tests/integration/test_programs.py looks there).
deps:
	@if ! pkg-config --exists $(PKGS) 2>/dev/null || ! command -v fusermount3 >/dev/null \
	    || ! command -v python3 >/dev/null || ! command -v valgrind >/dev/null \
	    || ! command -v groff >/dev/null || ! command -v sqlite3 >/dev/null \
	    || ! command -v mdb_stat >/dev/null || ! command -v rsync >/dev/null \
	    || ! /usr/bin/python3 -c 'import lmdb' 2>/dev/null; then \
		echo "installing $(APT_PKGS)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi

# One core library per build flavour: build/ and build/asan/.
$(BUILD)/libmmapfs-core.a: $(CORE_SRC) $(HEADERS) | $(BUILD)/core
	@rm -f $@
	cd $(BUILD)/core && $(CC) $(ALL_CFLAGS:-Iinclude=-I$(CURDIR)/include) -c $(addprefix $(CURDIR)/,$(CORE_SRC))
	ar rcs $@ $(BUILD)/core/*.o

$(BUILD)/asan/libmmapfs-core.a: $(CORE_SRC) $(HEADERS) | $(BUILD)/asan/core
	@rm -f $@
	cd $(BUILD)/asan/core && $(CC) $(ALL_CFLAGS:-Iinclude=-I$(CURDIR)/include) $(SANITIZE) -c $(addprefix $(CURDIR)/,$(CORE_SRC))
	ar rcs $@ $(BUILD)/asan/core/*.o

$(BUILD)/mmapfs: $(FUSE_SRC) $(HEADERS) $(BUILD)/libmmapfs-core.a
	$(CC) $(ALL_CFLAGS) -o $@ $(FUSE_SRC) $(BUILD)/libmmapfs-core.a $(LIBS)

$(BUILD)/unit-tests: $(UNIT_SRC) $(HEADERS) $(BUILD)/libmmapfs-core.a
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $(UNIT_SRC) $(UNIT_FUSE) $(BUILD)/libmmapfs-core.a $(TEST_LIBS)

$(BUILD)/asan/mmapfs: $(FUSE_SRC) $(HEADERS) $(BUILD)/asan/libmmapfs-core.a
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -o $@ $(FUSE_SRC) $(BUILD)/asan/libmmapfs-core.a $(LIBS)

$(BUILD)/asan/unit-tests: $(UNIT_SRC) $(HEADERS) $(BUILD)/asan/libmmapfs-core.a
	$(CC) $(ALL_CFLAGS) $(SANITIZE) -Itests/unit -o $@ $(UNIT_SRC) $(UNIT_FUSE) $(BUILD)/asan/libmmapfs-core.a $(TEST_LIBS)

$(BUILD) $(BUILD)/core $(BUILD)/asan/core $(BUILD)/fuzz:
	mkdir -p $@

# clang and its sanitizer runtime, for the fuzzers only.
fuzz-deps:
	@if ! command -v $(FUZZ_CC) >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; (void)n; return 0; }' \
	    | $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then \
		echo "installing clang libclang-rt-14-dev"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev; \
	fi

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(HEADERS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=gnu11 -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE \
		-D_FILE_OFFSET_BITS=64 -o $@ $< $(FUZZ_SRC) -linih -lpthread

# Each fuzzer runs FUZZ_TIME seconds from the seed corpus; what it finds new
# goes to build/fuzz/corpus-*, never into the tracked seeds.
fuzz: fuzz-deps
	$(MAKE) $(addprefix $(BUILD)/fuzz/fuzz-,$(FUZZERS))
	@for f in $(FUZZERS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$f && \
		echo "fuzzing $$f for $(FUZZ_TIME) s" && \
		$(BUILD)/fuzz/fuzz-$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			$(BUILD)/fuzz/corpus-$$f tests/fuzz/corpus/$$f 2>$(BUILD)/fuzz/$$f.log \
			|| { tail -40 $(BUILD)/fuzz/$$f.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' $(BUILD)/fuzz/$$f.log; \
	done

test: deps
	$(MAKE) unit-test integration-test asan-test valgrind-test
	$(MAKE) stress STRESS_TIME=10
	$(MAKE) fuzz FUZZ_TIME=10

unit-test: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

integration-test: $(BUILD)/mmapfs
	python3 tests/integration/run.py --binary $(BUILD)/mmapfs

valgrind-test: $(BUILD)/unit-tests
	valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/unit-tests

# Readers, writers and an admin loop on every view at once (tests/stress/).
STRESS_TIME ?= 60
stress: $(BUILD)/mmapfs
	python3 tests/stress/stress.py --binary $(BUILD)/mmapfs --seconds $(STRESS_TIME)

# The views against direct access and peers, as ratios (docs/performance.md).
# It installs what it needs (fio, libfuse3-dev's examples, fuse-overlayfs,
# sqlite3) with apt-get. bench-quick: every row once, small sizes, no docs.
bench: $(BUILD)/mmapfs
	python3 bench/bench.py --binary $(BUILD)/mmapfs

bench-quick: $(BUILD)/mmapfs
	python3 bench/bench.py --binary $(BUILD)/mmapfs --quick --no-docs

# The differential test, long: thousands of random steps per seed.
model-test: $(BUILD)/mmapfs
	MMAPFS_MODEL_STEPS=4000 MMAPFS_MODEL_SEEDS=1,2,3,4,5,6,7,8 \
	MMAPFS_MODEL_MAP_STEPS=1500 MMAPFS_MODEL_MAP_SEEDS=1,2,3,4,5,6,7,8 \
		python3 tests/integration/run.py --binary $(BUILD)/mmapfs -k test_model --timeout 1200

asan-test: $(BUILD)/asan/unit-tests $(BUILD)/asan/mmapfs
	ASAN_OPTIONS=detect_leaks=1 $(BUILD)/asan/unit-tests
	python3 tests/integration/run.py --binary $(BUILD)/asan/mmapfs

# The demo works on copies in demo/ (ignored by git): it never changes a
# tracked file. Ctrl-C unmounts.
run: deps
	$(MAKE) all
	rm -rf demo && mkdir -p demo mnt
	cp conf/demo.ini conf/lorem.txt demo/
	$(BUILD)/mmapfs demo/demo.ini mnt -f

INSTALLED := bin/mmapfs share/man/man1/mmapfs.1 lib/systemd/system/mmapfs@.service \
             share/doc/mmapfs/examples/demo.ini share/doc/mmapfs/examples/lorem.txt

install: $(BUILD)/mmapfs
	install -D -m 0755 $(BUILD)/mmapfs $(DESTDIR)$(PREFIX)/bin/mmapfs
	install -D -m 0644 docs/mmapfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/mmapfs.1
	mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|g' conf/mmapfs@.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/mmapfs@.service
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/mmapfs/examples conf/demo.ini conf/lorem.txt

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))

clean:
	rm -rf $(BUILD)
