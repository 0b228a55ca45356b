/* Progress of a long loop on stderr: a bar redrawn in place (batches,
 * images/s, ETA) when stderr is a terminal or the bar is asked for, plain
 * lines at most every PROGRESS_LINE_SECONDS otherwise, nothing when off.
 * Stdout stays clean for the results. */
#ifndef ANOMALY_PROGRESS_H
#define ANOMALY_PROGRESS_H

#include <stddef.h>

typedef enum ProgressStyle {
    PROGRESS_STYLE_AUTO = 0, /* bar on a terminal, periodic lines elsewhere */
    PROGRESS_STYLE_ON = 1,   /* the bar, wherever stderr goes */
    PROGRESS_STYLE_OFF = 2
} ProgressStyle;

#define PROGRESS_LINE_SECONDS 10.0

/* "auto", "on", "off"; -1 for anything else. */
int progress_style_parse(const char *s);

typedef struct Progress {
    int bar;          /* 1: redraw in place */
    int off;
    char what[96];    /* "fold 1 epoch 3/100 train" */
    size_t total;     /* batches */
    size_t done, images;
    double start, last;
    int drawn;        /* a bar is on the screen */
} Progress;

void progress_begin(Progress *p, ProgressStyle style, const char *what, size_t total_batches);
/* After each batch: batches done so far and images they held. */
void progress_update(Progress *p, size_t done, size_t images);
/* Clears the bar so the next stdout line starts clean. */
void progress_end(Progress *p);

/* The text of one update, without "\r" or newline:
 * "<what> 12/40 [=====>    ] 35.2 img/s ETA 0:12". width: bar cells (0: no
 * bar, the plain-line form "<what> 12/40 batches, 35.2 img/s, ETA 0:12"). */
void progress_format(char *buf, size_t len, const char *what, size_t done, size_t total, size_t images,
                     double elapsed, int width);
/* Seconds as "m:ss" or "h:mm:ss" ("?" when not finite or negative). */
void progress_format_duration(char *buf, size_t len, double seconds);

#endif
