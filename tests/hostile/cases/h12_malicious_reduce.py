"""scaled_dot_product_attention returns objects with a malicious __reduce__ / __reduce_ex__
(os.system("touch <marker>")): a plain object as the output and a Tensor subclass as the
weights. Unpickling either anywhere would create a marker file.

The wire format never unpickles: nothing may run in the grader (the marker directory stays
empty) and the attention tests fail saying what arrived ("expected a Tensor" / "expected plain
data"). Multi-head attention and everything above it fail too (the output is not a tensor);
positional encoding and the causal mask keep their points.
"""

EXPECT = {
    "attacked": ["sdpa", "mha", "encoder", "model"],
    "statuses": ["FAILED", "ERROR"],
    "keep": ["positional", "causal"],
    "outputs": {"test_sdpa_matches_reference": ["expected plain data", "expected a Tensor"],
                "test_sdpa_weights_match_reference": ["expected a Tensor"],
                "test_sdpa_shapes": ["expected plain data", "expected a Tensor"]},
}

SOURCE = '''
import os

import torch

_MARKER = "@@MARKER_DIR@@/reduce-@@CASE@@"


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {_MARKER}-object",))


class PayloadTensor(torch.Tensor):
    def __reduce_ex__(self, protocol):
        return (os.system, (f"touch {_MARKER}-tensor",))


_honest_sdpa = scaled_dot_product_attention


def scaled_dot_product_attention(Q, K, V, mask=None):
    output, weights = _honest_sdpa(Q, K, V, mask)
    return Payload(), weights.as_subclass(PayloadTensor)
'''
