/* CSV reader (csv_read): tables of the data set and submissions. */
#include "anomaly/csv.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    CsvTable t;
    char err[512];
    if (csv_read(fuzz_file(data, size, ".csv"), &t, err, sizeof err) == 0) {
        (void)csv_find_column(&t, "label");
        for (size_t r = 0; r < t.n_rows; r++)
            for (int c = 0; c < t.n_cols; c++) (void)csv_cell(&t, r, c)[0];
        csv_free(&t);
    }
    return 0;
}
