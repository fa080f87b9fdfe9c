"""Bad-input sweep over the evaluation functions that take plain features and labels: NaN
features, float labels, mismatched lengths, empty arrays and wrong ranks all raise a P2IError
naming the argument."""
import numpy as np
import pytest
import torch

from p2ikit import evaluate as ev
from p2ikit import metrics
from p2ikit.core import BadInput, P2IError

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 8)).astype(np.float32)
Y = np.arange(40) % 4
VF = torch.randn(40, 3, 8)
T = torch.randn(4, 8)

nan_x = X.copy()
nan_x[3, 2] = np.nan
BAD_FEATURES = {"nan": (nan_x, "non-finite"), "rank1": (X[:, 0], "shape"),
                "empty": (X[:0], "empty"), "short": (X[:30], "M=")}

# (call taking the bad features, argument name in the message)
FEATURE_CALLS = {
    "fit_linear": (lambda x: ev.fit_linear(x, Y), "features"),
    "linear_probe_episodes": (lambda x: ev.linear_probe_episodes(x, Y, [None]), "features"),
    "svm.train": (lambda x: ev.linear_svm_protocol(x, Y, X, Y, X, Y), "train_features"),
    "svm.val": (lambda x: ev.linear_svm_protocol(X, Y, x, Y, X, Y), "val_features"),
    "svm.test": (lambda x: ev.linear_svm_protocol(X, Y, X, Y, x, Y), "test_features"),
}


@pytest.mark.parametrize("call", list(FEATURE_CALLS))
@pytest.mark.parametrize("bad", list(BAD_FEATURES))
def test_bad_features(call, bad):
    f, arg = FEATURE_CALLS[call]
    x, what = BAD_FEATURES[bad]
    with pytest.raises(P2IError) as e:
        f(x)
    msg = str(e.value)
    if bad == "short":     # the labels disagree with the features
        assert "`labels`" in msg or "_labels`" in msg, msg
    else:
        assert f"`{arg}`" in msg and what in msg, msg


@pytest.mark.parametrize("labels,what", [(Y.astype(float), "integer"), (-Y - 1, "negative"),
                                         (Y[:, None], "shape")])
def test_bad_labels(labels, what):
    for f in (lambda y: ev.fit_linear(X, y),
              lambda y: metrics.classification_report(torch.randn(40, 4), y),
              lambda y: ev.search_view_weights(VF, y, T)):
        with pytest.raises(BadInput, match=what):
            f(labels)


def test_bad_view_features():
    with pytest.raises(BadInput, match="`view_features`"):
        ev.zero_shot_logits(VF[0], T)
    with pytest.raises(BadInput, match="`text_features` has D=5"):
        ev.zero_shot_logits(VF, T[:, :5])
    nan = VF.clone()
    nan[0, 0, 0] = float("nan")
    with pytest.raises(BadInput, match="`val_view_features` has 1 non-finite"):
        ev.search_view_weights(nan, Y, T)
    with pytest.raises(BadInput, match="`val_labels` has M=39"):
        ev.search_view_weights(VF, Y[:39], T)
    with pytest.raises(BadInput, match="`grid`"):
        ev.search_view_weights(VF, Y, T, grid=(-1.0, 1.0))
    with pytest.raises(BadInput, match="K=3"):
        ev.fit_inter_view_adapter(VF, Y, T[:3], epochs=1)
    with pytest.raises(BadInput, match="`ratio`"):
        ev.InterViewAdapter(3, 8, ratio=1.5)


def test_bad_choices_and_reports():
    with pytest.raises(BadInput, match="`classifier`"):
        ev.fit_linear(X, Y, classifier="knn")
    with pytest.raises(BadInput, match="`C`"):
        ev.fit_linear(X, Y, C=0)
    with pytest.raises(BadInput, match="`Cs`"):
        ev.linear_svm_protocol(X, Y, X, Y, X, Y, Cs=())
    with pytest.raises(BadInput, match="`mode`"):
        ev.base_novel_report(torch.randn(40, 4), Y, [0], [1], mode="gzsl")
    with pytest.raises(BadInput, match="separate"):
        ev.base_novel_report(torch.tensor(Y), Y, [0], [1])
    with pytest.raises(BadInput, match="no sample"):
        ev.base_novel_report(torch.randn(8, 4), Y[:8] % 2, [0], [3])
    with pytest.raises(BadInput, match="out of range"):
        metrics.confusion_matrix(torch.tensor([5]), torch.tensor([0]), 3)
    with pytest.raises(BadInput, match="`values`"):
        metrics.summarize([])
    with pytest.raises(BadInput, match="`row`"):
        metrics.ResultTable().add({})
    with pytest.raises(BadInput, match="episode 0"):
        ev.linear_probe_episodes(X, Y, [type("E", (), {"support": [0, 1], "query": [99]})()])
