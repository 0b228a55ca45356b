/* anomaly report results/EXP --out report.html: the run on one page (viz.h). */
#include <omp.h>
#include <stdio.h>

#include "anomaly/args.h"
#include "anomaly/error.h"
#include "anomaly/viz.h"

int cmd_report(int argc, char **argv);

static const char usage[] =
    "results/EXP --out REPORT.html [--data DATA] [--answers ANSWERS.csv] [--submission SUB.csv]\n"
    "       [--explain EXPLAIN.txt] [--worst N] [--threads N]\n"
    "\n"
    "One self-contained HTML page (pictures inlined as base64 PNGs): the\n"
    "training settings, curves, the per-label table and confusion matrix of\n"
    "the submission (default EXP/sub_baseline_EXP.csv) against the answers\n"
    "(default DATA/test_answer.csv), the N test images the folds were surest\n"
    "of and wrong about with Grad-CAMs of the predicted and the true label\n"
    "(needs EXP/features_EXP.npy and --data), and the text of\n"
    "`anomaly ensemble ... --explain` saved in a file.";

int cmd_report(int argc, char **argv) {
    ReportConfig c = {0};
    const char *out = NULL;
    int threads = 0;
    c.worst = 8;
    const ArgSpec specs[] = {
        {"out", ARG_STRING, &out, "where to write the HTML page", NULL, 1},
        {"data", ARG_STRING, &c.data_path, "the data set (test images, test_answer.csv)", NULL, 0},
        {"answers", ARG_STRING, &c.answers, "index,label truth (default DATA/test_answer.csv)", NULL, 0},
        {"submission", ARG_STRING, &c.submission, "index,label predictions (default EXP/sub_baseline_EXP.csv)", NULL, 0},
        {"explain", ARG_STRING, &c.explain, "a file holding the output of anomaly ensemble --explain", NULL, 0},
        {"worst", ARG_INT, &c.worst, "wrong test images to show with their CAMs (default 8; 0: none)", NULL, 0},
        {"threads", ARG_INT, &threads, "OpenMP threads (default: all cores)", NULL, 0},
        {NULL, ARG_FLAG, NULL, NULL, NULL, 0},
    };
    const char *pos[1];
    if (args_parse("report", usage, specs, argc, argv, pos, 1) != 1)
        fatal("anomaly report: needs one experiment directory (see anomaly report --help)");
    if (c.worst < 0) fatal("anomaly report: --worst must be >= 0, not %d", c.worst);
    if (threads < 0) fatal("anomaly report: --threads must be positive, not %d", threads);
    if (threads > 0) omp_set_num_threads(threads);
    c.exp_dir = pos[0];
    char err[2048];
    if (report_write(&c, out, err, sizeof err)) fatal("anomaly report: %s", err);
    printf("%s\n", out);
    return 0;
}
