/* An experiment's trained model, for pictures that need one (viz.h). */
#include <stdio.h>

#include "anomaly/error.h"
#include "anomaly/tester.h"
#include "anomaly/viz.h"

Model *exp_first_model(const char *exp_dir, TestModel *tm, char ***labels, int *n_labels, char *ckpt,
                       size_t ckpt_len, char *err, size_t errlen) {
    char path[4096], labels_path[4096], ck[4096], run_dir[4096];
    TrainArgs ta;
    path_printf(path, sizeof path, "%s/train_args.csv", exp_dir);
    if (train_args_read(path, &ta, err, errlen)) return NULL;
    int bad = test_model_from_args(&ta, path, tm, err, errlen);
    train_args_free(&ta);
    if (bad) return NULL;
    RunLog *logs;
    int n_runs;
    if (exp_logs_read(exp_dir, &logs, &n_runs, err, errlen)) return NULL;
    path_printf(run_dir, sizeof run_dir, "%s/%s", exp_dir, logs[0].name);
    exp_logs_free(logs, n_runs);
    /* a one-class run has its own label list */
    path_printf(labels_path, sizeof labels_path, "%s/labels.csv", run_dir);
    FILE *f = fopen(labels_path, "r");
    if (f) fclose(f);
    else path_printf(labels_path, sizeof labels_path, "%s/labels.csv", exp_dir);
    if (latest_checkpoint(run_dir, ck, sizeof ck) <= 0) {
        snprintf(err, errlen, "%s: no checkpoint (model_<epoch>.safetensors)", run_dir);
        return NULL;
    }
    if (labels_read(labels_path, labels, n_labels, err, errlen)) return NULL;
    ModelConfig mc = model_config_default(tm->name, *n_labels);
    mc.arcface = tm->arcface;
    mc.same_padding = tm->same_padding;
    mc.image_size = tm->pad_size;
    Model *m = model_create(&mc);
    if (tester_load(m, ck, labels_path, err, errlen)) {
        model_free(m);
        labels_free(*labels, *n_labels);
        *labels = NULL;
        return NULL;
    }
    if (ckpt) snprintf(ckpt, ckpt_len, "%s", ck);
    return m;
}
