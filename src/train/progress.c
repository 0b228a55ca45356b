/* Progress lines and bars on stderr (see progress.h). */
#include "anomaly/progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_CELLS 24
#define BAR_REDRAW_SECONDS 0.2

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int progress_style_parse(const char *s) {
    if (strcmp(s, "auto") == 0) return PROGRESS_STYLE_AUTO;
    if (strcmp(s, "on") == 0) return PROGRESS_STYLE_ON;
    if (strcmp(s, "off") == 0) return PROGRESS_STYLE_OFF;
    return -1;
}

void progress_format_duration(char *buf, size_t len, double seconds) {
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e9) {
        snprintf(buf, len, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

void progress_format(char *buf, size_t len, const char *what, size_t done, size_t total, size_t images,
                     double elapsed, int width) {
    double rate = elapsed > 0 ? (double)images / elapsed : 0;
    /* Batches are alike in size, so the time per batch so far predicts the rest. */
    double eta = done > 0 ? elapsed / (double)done * (double)(total - (done < total ? done : total)) : -1;
    char eta_s[32];
    progress_format_duration(eta_s, sizeof eta_s, eta);
    if (width <= 0) {
        snprintf(buf, len, "%s %zu/%zu batches, %.1f img/s, ETA %s", what, done, total, rate, eta_s);
        return;
    }
    char bar[128];
    if (width > (int)sizeof bar - 3) width = (int)sizeof bar - 3;
    int fill = total > 0 ? (int)((double)done / (double)total * width) : 0;
    if (fill > width) fill = width;
    int k = 0;
    bar[k++] = '[';
    for (int i = 0; i < width; i++) bar[k++] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[k++] = ']';
    bar[k] = '\0';
    snprintf(buf, len, "%s %zu/%zu %s %.1f img/s ETA %s", what, done, total, bar, rate, eta_s);
}

void progress_begin(Progress *p, ProgressStyle style, const char *what, size_t total_batches) {
    memset(p, 0, sizeof *p);
    p->off = style == PROGRESS_STYLE_OFF;
    p->bar = style == PROGRESS_STYLE_ON || (style == PROGRESS_STYLE_AUTO && isatty(STDERR_FILENO));
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total_batches;
    p->start = p->last = now_seconds();
}

void progress_update(Progress *p, size_t done, size_t images) {
    p->done = done;
    p->images = images;
    if (p->off) return;
    double t = now_seconds();
    int last_batch = done >= p->total;
    if (p->bar ? t - p->last < BAR_REDRAW_SECONDS && !last_batch : t - p->last < PROGRESS_LINE_SECONDS) return;
    p->last = t;
    char line[256];
    progress_format(line, sizeof line, p->what, done, p->total, images, t - p->start, p->bar ? BAR_CELLS : 0);
    if (p->bar) {
        fprintf(stderr, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void progress_end(Progress *p) {
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}
