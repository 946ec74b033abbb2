"""VadCLIP finds planted anomalies on the toy feature set; its test windows, graphs and top-k means by hand."""

import math

import pytest
import torch

from wsvad.methods import create
from wsvad.methods.vadclip import distance_graph, similarity_graph, top_k_mean, window_mask
from wsvad.train import TrainOptions, train


@pytest.fixture
def one_thread():
    """Small nets on a shared machine: one intra-op thread is faster than oversubscribed cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_vadclip_finds_planted_anomalies(toy, one_thread):
    # Official architecture and losses; lr 1e-3 (2e-5 is for 10 epochs of 16 000 UCF-Crime crops) and
    # one CLIP text block (a random tower: no CLIP weights offline) keep the run to 20 steps.
    result = train(toy, "vadclip", {"batch_size": 8, "lr": 1e-3, "text_layers": 1},
                   TrainOptions(seed=0, max_steps=20, eval_every=20, select_on="last"))
    losses = {k: v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert set(losses) == {"loss/clas2", "loss/clasm", "loss/text_divergence", "loss/total"}
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert result.metrics["auc"] >= 0.85, result.metrics


@pytest.fixture(scope="module")
def small():
    return create("vadclip", 16, {"segments": 8, "window": 4, "text_layers": 1},
                  class_names=["Normal", "Arson", "RoadAccidents"]).eval()


def test_window_mask_and_distance_graph():
    m = window_mask(10, 4)                   # windows [0, 4), [4, 10): the tail joins the last full window
    assert torch.equal(m == 0, torch.block_diag(torch.ones(4, 4), torch.ones(6, 6)).bool())
    g = distance_graph(3)
    assert g[0, 2].item() == pytest.approx(math.exp(-2 / math.e)) and g[1, 1].item() == 1.0


def test_similarity_graph_is_a_thresholded_softmax_on_the_valid_block():
    x = torch.tensor([[[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [5.0, 5.0]]])
    adj = similarity_graph(x, torch.tensor([3]), 0.7)
    cos01 = 1 / math.sqrt(1.01)                            # > 0.7, kept; cos(0, 2) = 0 → thresholded to 0
    row0 = torch.softmax(torch.tensor([1.0, cos01, 0.0]), 0)
    torch.testing.assert_close(adj[0, 0, :3], row0)
    assert adj[0, 3].abs().sum() == 0 and adj[0, :, 3].abs().sum() == 0


def test_top_k_mean_uses_lengths():
    values = torch.arange(40.0).view(1, 40).repeat(2, 1)
    # l = 40 → k = 3: mean(39, 38, 37); l = 15 → k = 1: 14
    torch.testing.assert_close(top_k_mean(values, torch.tensor([40, 15])), torch.tensor([38.0, 14.0]))


def test_prompts_are_class_names_with_a_lower_case_first_letter(small):
    tokens = small.clip_text.tokenize(["normal", "arson", "roadAccidents"])
    assert torch.equal(small.prompt_tokens, tokens)


@pytest.mark.parametrize("t", [1, 5, 8, 13, 16])
def test_score_windows_equal_separate_padded_windows(small, t):
    video = torch.randn(2, t, 16)
    scores = small.score(video)                            # crop 0 only
    assert scores.shape == (t,)
    with torch.no_grad():
        for start in range(0, t, 8):                       # each window alone, zero-padded, its own length
            part = video[0, start:start + 8]
            x = torch.nn.functional.pad(part, (0, 0, 0, 8 - part.shape[0]))[None]
            want = torch.sigmoid(small.binary_logits(small.encode_video(x, torch.tensor([part.shape[0]]))))[0]
            torch.testing.assert_close(scores[start:start + 8], want[:part.shape[0]])


def test_forward_infers_lengths_from_zero_padding(small):
    x = torch.randn(2, 1, 8, 16)
    x[0, :, 5:] = 0
    out = small(x)
    assert out.extras["lengths"].tolist() == [5, 8]
    torch.testing.assert_close(out.extras["logits1"], small(x, lengths=torch.tensor([5, 8])).extras["logits1"])


def test_text_adapter_only_when_widths_differ(small):
    assert small.text_adapter is not None and small.text_adapter.out_features == 16
    assert create("vadclip", 512, {"segments": 8, "text_layers": 1}).text_adapter is None
