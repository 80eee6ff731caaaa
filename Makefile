# aigw: `make run` serves the gateway locally, `make test` runs every test.
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
OPT ?= -O2 -g

PKGS = libcurl json-c libjwt libpq openssl libpcre2-8
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wold-style-definition -Wformat=2 -Wvla -Wwrite-strings \
       -Wpointer-arith -Wcast-align -fno-common -Werror
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) \
             $(OPT) -fstack-protector-strong -MMD -MP \
             $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lfcgi -lpthread
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
else
ALL_CFLAGS += -D_FORTIFY_SOURCE=2
endif

B = build
FCGI_SRCS = $(wildcard fcgi/*.c fcgi/providers/*.c)
FCGI_OBJS = $(FCGI_SRCS:%.c=$(B)/%.o)
# FastCGI-free helpers that the batch tools share with the worker.
SHARED_OBJS = $(B)/fcgi/apikey.o $(B)/fcgi/buf.o $(B)/fcgi/xalloc.o
REPORT_COMMON = $(patsubst %.c,$(B)/%.o,$(filter-out report/aigw-%.c,\
                $(wildcard report/*.c)))
MOCK_SRCS = $(wildcard tests/mock/*.c)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

BINS = fcgi/aigw-fcgi report/aigw-admin report/aigw-report \
       tests/mock/mock-provider

.PHONY: all deps run stop test unit integration bench bench-quota asan \
        migrate install clean distclean bench-report
all: $(BINS)

V ?= 0
ifeq ($(V),0)
Q = @
endif

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

fcgi/aigw-fcgi: $(FCGI_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

report/aigw-admin: $(B)/report/aigw-admin.o $(REPORT_COMMON) $(SHARED_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

report/aigw-report: $(B)/report/aigw-report.o $(REPORT_COMMON) $(SHARED_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

tests/mock/mock-provider: $(MOCK_SRCS:%.c=$(B)/%.o)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lpthread

# Unit tests include the module's .c to reach its statics; they link the
# rest of the worker's objects except main and the module itself.
$(B)/unit/test_%: tests/unit/test_%.c $(filter-out $(B)/fcgi/main.o,\
                  $(FCGI_OBJS)) tests/unit/t.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(filter-out $(B)/fcgi/main.o $(B)/fcgi/$*.o $(B)/fcgi/providers/$*.o \
	    tests/unit/t.h,$(filter %.o,$^)) $(LDFLAGS) $(LIBS)

deps:
	@bash tests/stack.sh deps

# Serves the gateway on http://127.0.0.1:8080 until Ctrl-C (or `make stop`).
run: deps all
	@bash tests/run.sh

stop:
	@bash tests/stack.sh down

migrate:
	@bash tests/stack.sh pg-start
	@bash tests/stack.sh migrate

test: deps all $(UNIT_BINS)
	@bash tests/run-tests.sh

unit: all $(UNIT_BINS)
	@bash tests/run-tests.sh unit

integration: all
	@bash tests/run-tests.sh integration

bench: deps all
	@bash tests/bench.sh

# Global-quota admissions per second on one subject: leases vs per request.
bench-quota: deps all $(B)/bench/quota-bench
	@bash tests/bench/quota-bench.sh

$(B)/bench/quota-bench: tests/bench/quota-bench.c $(filter-out \
                        $(B)/fcgi/main.o,$(FCGI_OBJS))
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)

# Chargeback reports over ~10M synthetic events (slow; not part of test).
bench-report: deps all
	@bash tests/bench/report-bench.sh

asan:
	$(MAKE) clean
	$(MAKE) SANITIZE=address,undefined OPT="-O1 -g" all $(UNIT_BINS)
	ASAN_OPTIONS=detect_leaks=0 AIGW_SANITIZED=1 bash tests/run-tests.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/aigw/sql
	install -m 755 fcgi/aigw-fcgi report/aigw-admin report/aigw-report \
	    $(DESTDIR)$(PREFIX)/bin
	install -m 644 sql/*.sql $(DESTDIR)$(PREFIX)/share/aigw/sql

clean:
	rm -rf $(B) $(BINS)

distclean: clean
	-bash tests/stack.sh down
	rm -rf var tests/client/node_modules

-include $(shell find $(B) -name '*.d' 2>/dev/null)
