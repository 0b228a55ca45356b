"""Writes the scikit-learn references that tests/test_metrics.c compares with.

Run with a Python that has scikit-learn (Debian: apt-get install python3-sklearn):
    /usr/bin/python3 tools/make_metrics_fixtures.py [--out tests/fixtures/metrics/sklearn.txt]

The file holds one block per case, each line `key v0 v1 ...`:
    case NAME N C          N samples, labels in [0, C)
    truth ... / pred ...   the label arrays
    labels ...             sklearn's scored labels (sorted union)
    precision / recall / f1 / support ...   precision_recall_fscore_support(average=None)
    macro P R F            average='macro' precision, recall, f1_score
    accuracy A
Floats are Python reprs, so strtod reads back the exact doubles.
Cases are random but seeded, with labels missing from the truth, from the
prediction, or from both, and large label counts (88 as in the competition,
300 to reach NumPy's recursive pairwise summation).
"""
import argparse
import os
import random
import warnings

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def random_case(rng):
    c = rng.randint(2, 12)
    n = rng.randint(1, 200)
    # truth from one random subset of labels, wrong predictions from another,
    # so some labels are only true and some only predicted
    true_set = rng.sample(range(c), rng.randint(1, c))
    wrong_set = rng.sample(range(c), rng.randint(1, c))
    q = rng.choice([0.0, 0.3, 0.7, 0.9, 1.0])
    truth = [rng.choice(true_set) for _ in range(n)]
    pred = [t if rng.random() < q else rng.choice(wrong_set) for t in truth]
    return c, truth, pred


def competition_case(rng, c, n_good, n_bad, p_right):
    truth = []
    for label in range(c):
        truth += [label] * (n_good if label % 6 == 0 else rng.randint(*n_bad))
    rng.shuffle(truth)
    pred = [t if rng.random() < p_right else rng.randrange(c) for t in truth]
    return c, truth, pred


def cases():
    rng = random.Random(20220101)
    out = [("random%02d" % i,) + random_case(rng) for i in range(40)]
    out.append(("hand_all_right", 4, [0, 1, 2, 3, 3], [0, 1, 2, 3, 3]))
    out.append(("hand_all_wrong", 3, [0, 0, 1, 1], [1, 2, 0, 2]))
    out.append(("hand_one_sample", 5, [3], [3]))
    out.append(("hand_only_predicted", 6, [1, 1, 1, 1], [1, 5, 1, 4]))
    out.append(("labels88",) + competition_case(rng, 88, 40, (4, 24), 0.85))
    out.append(("labels300",) + competition_case(rng, 300, 12, (2, 9), 0.6))
    return out


def fmt(xs):
    return " ".join(repr(float(x)) for x in xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/metrics/sklearn.txt")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    warnings.simplefilter("ignore")  # zero_division='warn' warns; the values are what we test
    with open(a.out, "w") as f:
        f.write("# written by tools/make_metrics_fixtures.py with scikit-learn %s, numpy %s\n"
                % (sklearn.__version__, np.__version__))
        for name, c, truth, pred in cases():
            t, p = np.array(truth), np.array(pred)
            labels = np.unique(np.concatenate([t, p]))
            prec, rec, f1, sup = precision_recall_fscore_support(t, p, average=None)
            mp, mr, mf, _ = precision_recall_fscore_support(t, p, average="macro")
            assert mf == f1_score(t, p, average="macro")
            f.write("case %s %d %d\n" % (name, len(truth), c))
            f.write("truth %s\n" % " ".join(map(str, truth)))
            f.write("pred %s\n" % " ".join(map(str, pred)))
            f.write("labels %s\n" % " ".join(map(str, labels)))
            f.write("precision %s\nrecall %s\nf1 %s\n" % (fmt(prec), fmt(rec), fmt(f1)))
            f.write("support %s\n" % " ".join(map(str, sup)))
            f.write("macro %s\n" % fmt([mp, mr, mf]))
            f.write("accuracy %r\n" % float(accuracy_score(t, p)))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
