"""scaled_dot_product_attention redefined as an endless loop.

Every test that runs attention (sdpa, multi-head attention, encoder, model, speed, training)
must end in TIMEOUT (or CRASHED once the crash budget is spent), and the tests that never call
attention must keep their points: the positional encoding and the causal mask.

Note: with max_worker_deaths = 3, the third timeout spends the budget and every later test is
CRASHED unrun, positional ones included; "keep positional" then fails by design of the budget.
"""

EXPECT = {
    "attacked": ["sdpa", "mha", "encoder", "model"],
    "statuses": ["TIMEOUT"],
    "keep": ["positional", "causal"],
    "max_seconds": 120,  # each of about 45 attention tests costs a short timeout and a fresh worker
}

SOURCE = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    while True:
        pass
'''
