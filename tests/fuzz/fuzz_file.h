/* Shared by the fuzz harnesses whose parser reads a file by name: the input
 * goes to a per-process file in /dev/shm (or /tmp), rewritten every call. */
#ifndef ANOMALY_FUZZ_FILE_H
#define ANOMALY_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *fuzz_file(const uint8_t *data, size_t size, const char *ext) {
    static char path[256];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/anomaly_fuzz_%ld%s", dir, (long)getpid(), ext);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
    return path;
}

#endif
