"""A correct submission written differently from the reference: logsumexp instead of max and sum."""
EXPECT = {"full_marks": True, "lose": [], "keep": []}


def softmax(x, dim=-1):
    return torch.exp(x - torch.logsumexp(x, dim=dim, keepdim=True))


class Classifier(nn.Module):
    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.hidden = nn.Linear(d_in, d_hidden)
        self.out = nn.Linear(d_hidden, n_classes)

    def forward(self, x):
        return softmax(self.out(self.hidden(x).clamp(min=0)), dim=-1)
