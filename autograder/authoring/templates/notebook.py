# %% [markdown]
# # $assignment: softmax and a small classifier
#
# Fill in the cells marked `raise NotImplementedError()`. Run the notebook from the top: each
# part ends with a test cell, and a test that passes prints nothing. Your work is graded by
# hidden tests that compare your code with a reference solution on other inputs.

# %%
import torch
import torch.nn as nn

# %% [markdown]
# ## Part 1: softmax
#
# $\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$, taken along the dimension `dim`. Subtract the
# largest entry first: the result is the same and `exp` never overflows.

# %%
def softmax(x, dim=-1):
    """exp(x) normalised to sum to 1 along `dim`, computed stably; same shape as x."""
    ### BEGIN SOLUTION
    shifted = x - x.max(dim=dim, keepdim=True).values  # the largest entry becomes 0
    exps = shifted.exp()
    return exps / exps.sum(dim=dim, keepdim=True)
    ### END SOLUTION

# %%
# TEST softmax (1 point)
x = torch.randn(4, 7)
assert softmax(x).shape == (4, 7), f"softmax keeps the shape: expected (4, 7), got {tuple(softmax(x).shape)}"
assert torch.allclose(softmax(x, dim=0).sum(dim=0), torch.ones(7)), "softmax(x, dim=0) should sum to 1 along dim 0"
assert torch.isfinite(softmax(1000 * x)).all(), "softmax of large inputs should stay finite: subtract the max first"

# %% [markdown]
# ## Part 2: a two-layer classifier
#
# `Classifier(d_in, d_hidden, n_classes)` maps inputs `(B, d_in)` to class probabilities
# `(B, n_classes)`: `nn.Linear` named `hidden`, a ReLU, `nn.Linear` named `out`, then your softmax.

# %%
class Classifier(nn.Module):
    """Linear -> ReLU -> Linear -> softmax: class probabilities (B, n_classes) for inputs (B, d_in)."""

    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        ### BEGIN SOLUTION
        self.hidden = nn.Linear(d_in, d_hidden)
        self.out = nn.Linear(d_hidden, n_classes)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return softmax(self.out(torch.relu(self.hidden(x))), dim=-1)  # (B, n_classes)
        ### END SOLUTION

# %%
# TEST classifier (1 point)
model = Classifier(d_in=10, d_hidden=32, n_classes=3)
probs = model(torch.randn(5, 10))
assert probs.shape == (5, 3), f"expected probabilities of shape (5, 3), got {tuple(probs.shape)}"
assert torch.allclose(probs.sum(dim=-1), torch.ones(5)), "each row of probabilities should sum to 1"
