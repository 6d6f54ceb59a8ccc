#!/usr/bin/env python3
"""The issue's peer (TF-IDF word 1-2-grams + char_wb n-grams, LinearSVC C=1, scikit-learn) on
the same splits and with the same protocol as `frontdoor eval`, so the two can be compared
row for row:

- CLINC150: train on train.jsonl with its `oos` rows as a class ("oos-train", as the engine's
  `out_of_scope_intent`), out-of-scope threshold on the top decision value picked by 5-fold
  cross-validation on train with an out-of-scope prior of 0.032258 (`--cv 5 --oos-prior
  0.032258`), tested on val.jsonl: in-scope accuracy (a rejection counts as wrong), oos recall,
  and top-1 (threshold off, oos class excluded).
- BANKING77: every 10th row of each intent of train.jsonl held out (`--holdout 10`).
- HWU64: train.jsonl against val.jsonl.

Needs scikit-learn (`pip install scikit-learn`); not run by CI.

    python3 scripts/peer_baseline.py [DATASETS_DIR]   # default ../shared/datasets
"""
import json
import sys

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

OOS = "oos"
PRIOR = 0.032258


def load(path):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r["text"] for r in rows], np.array([r["intent"] for r in rows])


def holdout(texts, labels, k):
    seen, train, test = {}, [], []
    for i, y in enumerate(labels):
        seen[y] = seen.get(y, 0) + 1
        (test if seen[y] % k == 0 else train).append(i)
    pick = lambda idx: ([texts[i] for i in idx], labels[idx])
    return pick(train), pick(test)


class Peer:
    def __init__(self, texts, labels):
        self.word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        x = hstack([self.word.fit_transform(texts), self.char.fit_transform(texts)]).tocsr()
        self.svm = LinearSVC(C=1.0).fit(x, labels)

    def scores(self, texts):
        x = hstack([self.word.transform(texts), self.char.transform(texts)]).tocsr()
        return self.svm.decision_function(x)

    def predict(self, texts, exclude=None):
        """(top label, its decision value) per text; `exclude` never wins top-1."""
        s = self.scores(texts)
        classes = self.svm.classes_
        if exclude is not None:
            s = s.copy()
            s[:, classes == exclude] = -np.inf
        top = s.argmax(1)
        return classes[top], s[np.arange(len(texts)), top]


def decide(top, value, threshold):
    """The engine's rule: the oos class ranked first rejects at any threshold."""
    return np.where((top == OOS) | (value < threshold), OOS, top)


def objective(gold, pred):
    ins = gold != OOS
    in_acc = np.mean(pred[ins] == gold[ins])
    recall = np.mean(pred[~ins] == OOS)
    return (1 - PRIOR) * in_acc + PRIOR * recall


def cv_threshold(texts, labels, folds=5, seed=42):
    top = np.empty(len(texts), dtype=object)
    value = np.empty(len(texts))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        m = Peer([texts[i] for i in tr], labels[tr])
        t, v = m.predict([texts[i] for i in te])
        top[te], value[te] = t, v
    candidates = np.unique(np.concatenate([value, [-np.inf]]))
    best = max(candidates, key=lambda t: (objective(labels, decide(top, value, t)), -t))
    return best


def clinc(d):
    tr_x, tr_y = load(f"{d}/clinc150/train.jsonl")
    te_x, te_y = load(f"{d}/clinc150/val.jsonl")
    t = cv_threshold(tr_x, tr_y)
    m = Peer(tr_x, tr_y)
    top, value = m.predict(te_x)
    pred = decide(top, value, t)
    ins = te_y != OOS
    top1, _ = m.predict([x for x, i in zip(te_x, ins) if i], exclude=OOS)
    print(
        f"CLINC150 val: in-scope {100 * np.mean(pred[ins] == te_y[ins]):.2f}%  "
        f"oos recall {100 * np.mean(pred[~ins] == OOS):.1f}%  "
        f"top-1 {100 * np.mean(top1 == te_y[ins]):.2f}%  (threshold {t:.3f} by 5-fold CV on train)"
    )
    for t in (-np.inf, -0.5, -0.4, -0.3):
        pred = decide(top, value, t)
        print(
            f"  curve at {t:>5}: in-scope {100 * np.mean(pred[ins] == te_y[ins]):.2f}%  "
            f"oos recall {100 * np.mean(pred[~ins] == OOS):.1f}%"
        )


def top1(name, train, test):
    m = Peer(*train)
    pred, _ = m.predict(test[0])
    print(f"{name}: top-1 {100 * np.mean(pred == test[1]):.2f}%")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets"
    clinc(d)
    top1("BANKING77 holdout 10", *holdout(*load(f"{d}/banking77/train.jsonl"), 10))
    top1("HWU64 val", load(f"{d}/hwu64/train.jsonl"), load(f"{d}/hwu64/val.jsonl"))


if __name__ == "__main__":
    main()
