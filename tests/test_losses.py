import math

import pytest
import torch
import torch.nn as nn

from torchreid.losses import CenterLoss, CrossEntropyLoss, DeepSupervision, TripletLoss, apply_criterion


def test_cross_entropy_without_smoothing_is_plain_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    ours = CrossEntropyLoss(5, label_smooth=False)(logits, targets)
    assert torch.allclose(ours, nn.CrossEntropyLoss()(logits, targets))


def test_label_smoothing_hand_checked():
    # softmax([0, ln 3]) = [0.25, 0.75]; target class 1 with epsilon 0.1 -> soft target [0.05, 0.95]
    logits = torch.tensor([[0., math.log(3.)]])
    loss = CrossEntropyLoss(2, epsilon=0.1)(logits, torch.tensor([1]))
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_matches_seed_formula():
    torch.manual_seed(1)
    logits, targets = torch.randn(4, 7), torch.tensor([3, 0, 6, 3])
    soft = torch.full((4, 7), 0.1 / 7)
    soft[torch.arange(4), targets] += 0.9
    seed_value = (-soft * torch.log_softmax(logits, dim=1)).mean(0).sum()
    assert torch.allclose(CrossEntropyLoss(7)(logits, targets), seed_value)


def test_cross_entropy_rejects_wrong_class_count():
    with pytest.raises(ValueError, match='3 classes'):
        CrossEntropyLoss(4)(torch.zeros(2, 3), torch.tensor([0, 1]))


def test_triplet_hand_checked():
    # 1-D points: id 0 at 0 and 1, id 1 at 3 and 5. Only the anchor at 3 violates the margin:
    # hardest positive 2 (to 5), hardest negative 2 (to 1) -> 0.3; mean over 4 anchors = 0.075.
    features = torch.tensor([[0.], [1.], [3.], [5.]])
    loss = TripletLoss(margin=0.3)(features, torch.tensor([0, 0, 1, 1]))
    assert loss.item() == pytest.approx(0.075, abs=1e-5)


def test_triplet_matches_brute_force_and_has_finite_gradients():
    torch.manual_seed(2)
    features = torch.randn(8, 16, requires_grad=True)
    targets = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = TripletLoss(margin=0.5)(features, targets)
    expected = 0.
    for i in range(8):
        d = [(features[i] - features[j]).norm().item() for j in range(8)]
        pos = max(d[j] for j in range(8) if targets[j] == targets[i])
        neg = min(d[j] for j in range(8) if targets[j] != targets[i])
        expected += max(0., pos - neg + 0.5) / 8
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    duplicated = torch.ones(4, 3, requires_grad=True)  # zero distances must not give NaN gradients
    TripletLoss()(duplicated, torch.tensor([0, 0, 1, 1])).backward()
    assert torch.isfinite(duplicated.grad).all()


def test_triplet_needs_two_identities():
    with pytest.raises(ValueError, match='two identities'):
        TripletLoss()(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_center_loss_hand_checked_and_trains_centers():
    criterion = CenterLoss(num_classes=2, feat_dim=2)
    with torch.no_grad():
        criterion.centers.copy_(torch.tensor([[0., 0.], [1., 1.]]))
    features = torch.tensor([[3., 4.], [1., 2.]])
    loss = criterion(features, torch.tensor([0, 1]))
    assert loss.item() == pytest.approx((25. + 1.) / 2)
    loss.backward()
    assert torch.allclose(criterion.centers.grad, torch.tensor([[-3., -4.], [0., -1.]]))
    with pytest.raises(ValueError, match='2-dim'):
        criterion(torch.zeros(1, 3), torch.tensor([0]))


def test_deep_supervision_averages_outputs():
    criterion = nn.CrossEntropyLoss()
    targets = torch.tensor([0, 1])
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    expected = (criterion(a, targets) + criterion(b, targets)) / 2
    assert torch.allclose(DeepSupervision(criterion, (a, b), targets), expected)
    assert torch.allclose(apply_criterion(criterion, (a, b), targets), expected)
    assert torch.allclose(apply_criterion(criterion, a, targets), criterion(a, targets))


def test_default_margin_and_smoothing_are_the_seeds():
    # the seed's defaults: --margin 0.3 (same hand-checked case as above: 0.3 / 4 anchors) and epsilon 0.1
    features = torch.tensor([[0.], [1.], [3.], [5.]])
    assert TripletLoss().margin == 0.3
    assert TripletLoss()(features, torch.tensor([0, 0, 1, 1])).item() == pytest.approx(0.075, abs=1e-5)
    logits = torch.tensor([[0., math.log(3.)]])
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))
    assert CrossEntropyLoss(2)(logits, torch.tensor([1])).item() == pytest.approx(expected, rel=1e-6)
    unsmoothed = CrossEntropyLoss(2, label_smooth=False)(logits, torch.tensor([1])).item()
    assert unsmoothed == pytest.approx(-math.log(0.75), rel=1e-6)


def test_triplet_margin_only_counts_violating_anchors():
    # 1-D points: id 0 at 0 and 1, id 1 at 10 and 11: every d_ap = 1, d_an = 9 (anchors 1 and 10) or 10 (0 and 11)
    features = torch.tensor([[0.], [1.], [10.], [11.]])
    targets = torch.tensor([0, 0, 1, 1])
    assert TripletLoss(margin=7.9)(features, targets).item() == pytest.approx(0., abs=1e-6)
    # margin 9.5: anchors 1 and 10 violate by 1 - 9 + 9.5 = 1.5, anchors 0 and 11 (d_an 10) by 0.5 -> mean 1.0
    assert TripletLoss(margin=9.5)(features, targets).item() == pytest.approx(1.0, abs=1e-5)
