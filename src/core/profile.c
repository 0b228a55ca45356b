/* Time per op type and per layer (see profile.h).
 *
 * Timings go into an open-addressing table keyed by the (op, layer, phase)
 * pointers, so recording costs a hash and a compare; the report merges
 * entries whose names are equal strings. */
#include "anomaly/profile.h"
#include "anomaly/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct Slot {
    const char *op, *layer;
    int phase, used;
    double seconds;
    long calls;
} Slot;

static int enabled;
static Slot *slots;
static size_t cap, count;
static const char *current_layer;
static double flops;

void profile_enable(int on) { enabled = on; }
int profile_enabled(void) { return enabled; }

void profile_reset(void) {
    free(slots);
    slots = NULL;
    cap = count = 0;
    current_layer = NULL;
    flops = 0;
}

void profile_add_flops(double f) {
    if (enabled) flops += f;
}

double profile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double profile_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double profile_start(void) { return enabled ? profile_now() : 0; }

const char *profile_layer(void) { return current_layer; }

static size_t slot_hash(const char *op, const char *layer, int phase) {
    uint64_t h = (uint64_t)(uintptr_t)op * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uintptr_t)layer * 0xC2B2AE3D27D4EB4Full + (uint64_t)phase;
    return (size_t)(h ^ (h >> 29));
}

static Slot *find_slot(Slot *table, size_t tcap, const char *op, const char *layer, int phase) {
    size_t i = slot_hash(op, layer, phase) & (tcap - 1);
    while (table[i].used &&
           !(table[i].op == op && table[i].layer == layer && table[i].phase == phase))
        i = (i + 1) & (tcap - 1);
    return &table[i];
}

static void grow(void) {
    size_t ncap = cap ? 2 * cap : 1024;
    Slot *n = xcalloc(ncap, sizeof *n, "the profile table");
    for (size_t i = 0; i < cap; i++)
        if (slots[i].used) *find_slot(n, ncap, slots[i].op, slots[i].layer, slots[i].phase) = slots[i];
    free(slots);
    slots = n;
    cap = ncap;
}

void profile_stop(double start, const char *op, const char *layer, ProfilePhase phase) {
    if (!enabled || start == 0) return;
    const double dt = profile_now() - start;
    if (layer) current_layer = layer;
    else layer = current_layer;
    if (!layer) layer = "(model input)";
    if (2 * (count + 1) > cap) grow();
    Slot *s = find_slot(slots, cap, op, layer, (int)phase);
    if (!s->used) {
        s->used = 1;
        s->op = op;
        s->layer = layer;
        s->phase = (int)phase;
        count++;
    }
    s->seconds += dt;
    s->calls++;
}

/* One row of a report: a name and seconds per phase. */
typedef struct Row {
    char name[128];
    double sec[3];
    long calls;
} Row;

static double row_total(const Row *r) { return r->sec[0] + r->sec[1] + r->sec[2]; }

static int by_total_desc(const void *a, const void *b) {
    const double x = row_total(a), y = row_total(b);
    return x < y ? 1 : x > y ? -1 : strcmp(((const Row *)a)->name, ((const Row *)b)->name);
}

/* Merges the slots into rows named by key(slot); returns the row count. */
static size_t gather(Row *rows, void (*key)(const Slot *, char *, size_t)) {
    size_t n = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!slots[i].used) continue;
        char name[128];
        key(&slots[i], name, sizeof name);
        size_t j = 0;
        while (j < n && strcmp(rows[j].name, name) != 0) j++;
        if (j == n) {
            memset(&rows[n], 0, sizeof rows[n]);
            snprintf(rows[n].name, sizeof rows[n].name, "%s", name);
            n++;
        }
        rows[j].sec[slots[i].phase] += slots[i].seconds;
        rows[j].calls += slots[i].calls;
    }
    qsort(rows, n, sizeof *rows, by_total_desc);
    return n;
}

static void key_op(const Slot *s, char *out, size_t len) { snprintf(out, len, "%s", s->op); }
static void key_layer(const Slot *s, char *out, size_t len) { snprintf(out, len, "%s", s->layer); }
/* The module that holds the layer: its name without the last component
 * ("_blocks.3._bn1" -> "_blocks.3", "layer2.0.conv1" -> "layer2.0"). */
static void key_block(const Slot *s, char *out, size_t len) {
    snprintf(out, len, "%s", s->layer);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static void print_rows(FILE *f, const char *title, const Row *rows, size_t n, size_t limit,
                       int steps, double whole) {
    fprintf(f, "%-34s %9s %9s %9s %9s %6s %7s\n", title, "forward", "backward", "update",
            "total", "%", "calls");
    double rest = 0;
    for (size_t i = 0; i < n; i++) {
        const double tot = row_total(&rows[i]) / steps;
        if (i >= limit) {
            rest += tot;
            continue;
        }
        fprintf(f, "%-34.34s %9.4f %9.4f %9.4f %9.4f %6.1f %7.1f\n", rows[i].name,
                rows[i].sec[0] / steps, rows[i].sec[1] / steps, rows[i].sec[2] / steps, tot,
                whole > 0 ? 100 * tot / whole : 0, (double)rows[i].calls / steps);
    }
    if (n > limit)
        fprintf(f, "%-34s %9s %9s %9s %9.4f %6.1f\n", "(the rest)", "", "", "", rest,
                whole > 0 ? 100 * rest / whole : 0);
}

void profile_report(FILE *f, int steps, double wall) {
    if (steps < 1) steps = 1;
    Row *rows = xcalloc(count ? count : 1, sizeof *rows, "the profile report");
    size_t n = gather(rows, key_op);
    double timed = 0;
    for (size_t i = 0; i < n; i++) timed += row_total(&rows[i]);
    timed /= steps;
    const double per_step = wall > 0 ? wall / steps : timed;
    fprintf(f, "profile: %d step(s), %.4f s per step, %.4f s in timed ops", steps, per_step, timed);
    if (wall > 0) fprintf(f, ", %.4f s other (loss, glue, allocation)", per_step - timed);
    fprintf(f, "\n");
    if (flops > 0)
        fprintf(f, "profile: %.3f GFLOP per step in convolutions and linear layers, %.1f GFLOP/s\n",
                flops / steps / 1e9, flops / steps / 1e9 / per_step);
    fprintf(f, "\n");
    print_rows(f, "op (seconds per step)", rows, n, n, steps, per_step);
    fprintf(f, "\n");
    n = gather(rows, key_block);
    print_rows(f, "module", rows, n, 25, steps, per_step);
    fprintf(f, "\n");
    n = gather(rows, key_layer);
    print_rows(f, "layer (+ unnamed ops after it)", rows, n, 30, steps, per_step);
    free(rows);
}

size_t profile_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long pages_total = 0, pages_resident = 0;
    const int got = fscanf(f, "%lu %lu", &pages_total, &pages_resident);
    fclose(f);
    return got == 2 ? (size_t)pages_resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

size_t profile_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}
