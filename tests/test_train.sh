#!/usr/bin/env bash
# anomaly train end to end on a tiny data set (24 images of 12 labels, 32 px,
# efficientnet-b0): the results layout, resume after --stop_after_epoch and
# after kill -9 giving the same bytes as an uninterrupted run (with another
# thread count), finished runs skipped, one_class with --pretrained, and
# every bad input refused with one line and nothing written. Prints
# ok/FAIL/skip lines like the C tests.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${ANOMALY_BIN:-build/f32/anomaly}
names="train_baseline_layout train_resume_identical train_resume_after_kill train_resume_bad_images train_skips_done train_one_class train_errors train_profile"

if [ ! -x "$bin" ]; then
    for n in $names; do echo "FAIL $n: no anomaly binary at $bin"; done
    exit 1
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d /tmp/anomaly_train_sh.XXXXXX)
bg=
trap '[ -n "$bg" ] && kill -9 "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
. "$repo/tests/lib.sh"

# The data: bottle, screw and toothbrush images of a small look-alike set.
small_train_set "$bin" . 2

common="--data_path d --arch 0 --img_size 32 --batch_size 4 --epochs 3 --fold 3 --folds 1 --lr 1e-3 --progress off"
run_dir=0/Fold1_E0

# ---- an uninterrupted run ----
start=$(date +%s)
if ! "$bin" train $common --results ra --threads 1 > a.out 2> a.err; then
    note "uninterrupted run failed: $(tail -n 1 a.err)"
fi
ra=ra/$run_dir
for f in ra/0/train_args.csv ra/0/labels.csv ra/0/3-Fold_idx.npy $ra/log.csv $ra/train_state.safetensors $ra/done; do
    [ -f "$f" ] || note "missing $f"
done
grep -q '^no d/3-Fold_idx.npy: wrote 3 stratified folds' a.out || note "no notice about the generated fold file"
[ "$(grep -c '^fold 1 epoch [1-3]/3 train_loss [0-9.]* train_f1 [0-9.]* val_loss [0-9.]* val_f1 [0-9.]* lr 0.001 [0-9.]*s' a.out)" = 3 ] ||
    note "expected 3 epoch lines like 'fold 1 epoch 1/3 train_loss ...': $(cat a.out)"
[ "$(head -n 1 $ra/log.csv)" = "epoch,train_loss,train_f1,val_loss,val_f1,lr,seconds,saved" ] || note "log.csv header"
[ "$(wc -l < $ra/log.csv)" = 4 ] || note "log.csv should have 3 epochs"
[ "$(sed -n 2p $ra/log.csv | cut -d, -f8)" = 1 ] || note "the first epoch must save (its loss is the best so far)"
[ -f $ra/model_1.safetensors ] || note "no model_1.safetensors"
for kv in model,efficientnet model_name,efficientnet-b0 arch,0 num_classes,12 arcface,0 img_size,32 \
    same_padding,static criterion,smoothing aug_ver,2 fold,3 train_method,baseline seed,42; do
    grep -qx "$kv" ra/0/train_args.csv || note "train_args.csv lacks the row $kv"
done
[ "$(head -n 1 ra/0/labels.csv)" = label ] && [ "$(wc -l < ra/0/labels.csv)" = 13 ] || note "labels.csv: header + 12 labels"
[ -s a.err ] && note "stderr not empty with --progress off: $(head -n 2 a.err)"
report train_baseline_layout

# ---- stopped after epoch 1 (two threads), resumed (one thread) ----
"$bin" train $common --results rb --threads 2 --stop_after_epoch 1 > b1.out 2> b1.err || note "first part failed: $(tail -n 1 b1.err)"
[ -f rb/$run_dir/done ] && note "a run stopped after epoch 1 must not be done"
grep -q "continue with --resume" b1.out || note "no hint to resume"
"$bin" train $common --results rb --threads 1 > b2.out 2> b2.err && note "a second run into the same experiment without --resume must fail"
"$bin" train $common --results rb --threads 1 --resume > b3.out 2> b3.err || note "resume failed: $(tail -n 1 b3.err)"
grep -q "resuming after epoch 1" b3.out || note "resume did not say where it continues: $(head -n 1 b3.out)"
grep -q "epoch 1/3" b3.out && note "resume repeated epoch 1"
same_run $ra rb/$run_dir "stop + resume"
report train_resume_identical

# ---- killed with SIGKILL after the first epoch line, resumed ----
"$bin" train $common --results rc --threads 1 > c1.out 2> c1.err &
bg=$!
for _ in $(seq 1 600); do
    grep -q "epoch 1/3" c1.out 2>/dev/null && break
    kill -0 "$bg" 2>/dev/null || break
    sleep 0.05
done
kill -9 "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
bg=
if [ -f rc/$run_dir/done ]; then
    note "the run finished before it could be killed (machine too fast for this test?)"
else
    "$bin" train $common --results rc --threads 1 --resume > c2.out 2> c2.err || note "resume failed: $(tail -n 1 c2.err)"
    same_run $ra rc/$run_dir "kill -9 + resume"
fi
report train_resume_after_kill

# ---- unreadable images skipped, stopped after epoch 1, resumed ----
# The resumed part must leave out the images the first part skipped, as
# the uninterrupted run's later epochs do, and end with the same bytes.
cp -r d dbad
for f in $(awk -F, 'NR == 2 || NR == 9 { print $2 }' dbad/train/train_df.csv); do
    head -c 100 "d/train/$f" > "dbad/train/$f"
done
bad_common="${common/--data_path d/--data_path dbad} --skip_bad_images"
"$bin" train $bad_common --results ba --threads 1 > ba.out 2> ba.err || note "uninterrupted run failed: $(tail -n 1 ba.err)"
[ "$(grep -c 'skipping unreadable image' ba.err)" = 2 ] ||
    note "expected two images skipped, once each: $(grep -c 'skipping unreadable image' ba.err) warnings"
"$bin" train $bad_common --results bb --threads 2 --stop_after_epoch 1 > bb1.out 2> bb1.err ||
    note "first part failed: $(tail -n 1 bb1.err)"
"$bin" train $bad_common --results bb --threads 1 --resume > bb2.out 2> bb2.err || note "resume failed: $(tail -n 1 bb2.err)"
grep -q 'skipping unreadable image' bb2.err && note "the resumed part found the skipped images again"
same_run ba/$run_dir bb/$run_dir "skipped images + stop + resume"
report train_resume_bad_images

# ---- a finished run is skipped ----
before=$(md5sum $ra/* | md5sum)
"$bin" train $common --results ra --threads 1 --resume > s.out 2> s.err || note "resume of a finished run failed"
grep -q "finished before.*skipped" s.out || note "no skip message: $(cat s.out)"
grep -q "epoch 1/3" s.out && note "a finished run was trained again"
[ "$before" = "$(md5sum $ra/* | md5sum)" ] || note "a skipped run's files changed"
report train_skips_done

# ---- one_class, ArcFace, from 1000-class weights, with a progress bar ----
"$bin" init --model efficientnet-b0 --num_classes 1000 --out imnet.safetensors > /dev/null
"$bin" train --data_path d --arch 0 --img_size 32 --batch_size 8 --epochs 2 --train_method one_class \
    --classes toothbrush --arcloss arcface --pretrained imnet.safetensors --threads 1 --results ro --progress on --lr 1e-3 \
    > o.out 2> o.err || note "one_class run failed: $(tail -n 1 o.err)"
od=ro/0/toothbrush_E0
[ "$(tr '\n' ' ' < $od/labels.csv 2>/dev/null)" = "label null toothbrush-defective toothbrush-good " ] ||
    note "one-class labels.csv: $(tr '\n' ' ' < $od/labels.csv 2>/dev/null)"
ls ro/0 | grep -q '^bottle_E0$' && note "--classes toothbrush also trained bottle"
grep -q "head of imnet.safetensors does not fit 3 classes" o.out || note "no notice about the re-initialised head"
grep -q '^class toothbrush epoch 1/2 train_loss [0-9.]* train_f1 [0-9.]* lr 0.001' o.out || note "epoch line: $(cat o.out)"
grep -q "val_loss" o.out && note "one_class has no validation"
[ -f $od/done ] && [ -f $od/model_1.safetensors -o -f $od/model_2.safetensors ] || note "one-class run incomplete"
[ "$(sed -n 2p $od/log.csv | cut -d, -f4,5)" = "," ] || note "one-class log.csv must leave the val columns empty"
grep -q "arcface,1" ro/0/train_args.csv || note "--arcloss arcface must record arcface,1"
grep -q $'\r' o.err && grep -q "img/s" o.err || note "--progress on drew no bar on stderr"
report train_one_class

# ---- bad input: one line on stderr, status != 0, nothing written ----
"$bin" init --model efficientnet-b1 --num_classes 12 --out b1.safetensors > /dev/null
touch afile
mkdir -p dbad && cp -r d/train d/test d/test_df.csv dbad/ && cp syn/5-Fold_idx.npy dbad/
refuse() { # $1 what, $2 expected text in the message, then the flags
    local what=$1 want=$2
    shift 2
    rm -rf rx
    local snap
    snap=$(ls -R ra rb 2>/dev/null | md5sum)
    "$bin" train --data_path d --arch 0 --img_size 32 --batch_size 4 --epochs 1 --fold 3 --threads 1 \
        --results rx "$@" > e.out 2> e.err
    local rc=$?
    [ $rc -ne 0 ] || note "$what: exit status 0"
    [ "$(wc -l < e.err)" = 1 ] && grep -q '^anomaly: error: ' e.err || note "$what: not one error line: $(cat e.err)"
    grep -q -- "$want" e.err || note "$what: message lacks '$want': $(cat e.err)"
    [ -e rx ] && note "$what: wrote $(find rx | head -n 3 | tr '\n' ' ')"
    [ "$snap" = "$(ls -R ra rb 2>/dev/null | md5sum)" ] || note "$what: changed an existing experiment"
}
refuse "unknown flag" "unknown flag --bogus" --bogus 1
refuse "unknown value" "must be one of Adam|SGD" --optimizer Adamw
refuse "bad number" "needs a whole number" --epochs three
refuse "aug_ver" "aug_ver must be 1 or 2" --aug_ver 3
refuse "missing data" "no such data directory" --data_path nowhere
refuse "fold file of another data set" "does not fit the 24 train images" --data_path dbad --fold 5
refuse "fold out of range" "between 1 and 3" --folds 4
refuse "pretrained of another architecture" "does not fit efficientnet-b0" --pretrained b1.safetensors
refuse "missing pretrained" "missing.safetensors" --pretrained missing.safetensors
refuse "unwritable results folder" "cannot create the folder" --results afile/sub
refuse "cuda" "no CUDA path" --device cuda
refuse "unknown class" "no class 'cabel'" --train_method one_class --classes cabel
refuse "model family" "not a resnext model" --model resnext --model_name efficientnet-b0
refuse "arc targets" "--arc_targets" --arcloss arcface --arc_targets 99
refuse "existing run without --resume" "already holds a run" --results ra --epochs 3 --lr 1e-3
refuse "other flags on resume" "trained with img_size '32', not '48'" --results ra --resume --img_size 48
if [ "$(id -u)" != 0 ]; then
    mkdir -p ro_dir && chmod 555 ro_dir
    refuse "read-only results folder" "cannot" --results ro_dir/sub
fi
report train_errors

# --profile: a table per run, and the same weights as without it.
"$bin" train $common --epochs 1 --results prof --profile > prof.out 2>&1 || note "--profile run failed: $(tail -n 1 prof.out)"
grep -q "^op (seconds per step)" prof.out || note "no per-op table in the --profile output"
grep -q "^_blocks.0 " prof.out || note "no per-layer table in the --profile output"
"$bin" train $common --epochs 1 --results noprof > /dev/null 2>&1 || note "plain 1-epoch run failed"
cmp -s prof/$run_dir/model_1.safetensors noprof/$run_dir/model_1.safetensors || note "--profile changed the weights"
report train_profile

elapsed=$(($(date +%s) - start))
echo "# test_train.sh: ${elapsed}s"
exit $failed
