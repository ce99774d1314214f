"""A classic bug: softmax always normalises the last dimension, whatever `dim` says."""
EXPECT = {"full_marks": False, "lose": ["test_softmax_along_other_dims"],
          "keep": ["test_softmax_matches_reference", "classifier", "speed"]}


def softmax(x, dim=-1):
    exps = (x - x.max(dim=-1, keepdim=True).values).exp()
    return exps / exps.sum(dim=-1, keepdim=True)


class Classifier(nn.Module):
    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.out = nn.Linear(d_hidden, n_classes)

    def forward(self, x):
        return softmax(self.out(torch.relu(self.hidden(x))), dim=-1)
